//! `rbolt browse FILE [BUCKET…]` (alias `tui`): a terminal browser for bbolt files. Opens
//! read-only with a shared lock unless `--write`; shows a bucket tree, a virtualised key list
//! and an inspector with views for binary, text, JSON, integers and times; seeks, searches,
//! checks, exports and decodes pages without ever loading a whole bucket.
//!
//! The pieces: [`data`] reads the file; [`state`] (with [`prompt`], [`pagenav`], [`keylist`]
//! and [`tree`]) is the state machine; [`render`] draws it; [`jobs`] runs long work on
//! threads; [`terminal`] owns the terminal. This file is the event loop that ties them
//! together.

mod data;
mod jobs;
mod json;
mod keylist;
mod layout;
mod pagenav;
mod pages;
mod prompt;
mod render;
mod state;
mod terminal;
mod tree;
mod views;

#[cfg(test)]
mod tests;

use crate::Ctx;
use crate::cli::BucketFormat;
use crate::cli::browse::BrowseArgs;
use crate::error::CliError;
use ratatui::crossterm::event::{self, Event};
use ratatui::layout::Rect;
use state::Effect;
use std::io::IsTerminal;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

/// Runs the browser until the user quits.
pub(crate) fn run(a: &BrowseArgs, ctx: &Ctx) -> Result<(), CliError> {
    let args = &a.pos.args;
    if args.is_empty() {
        return Err(crate::error::min_args(1, 0));
    }
    let path = crate::source::path_arg(&args[0]);
    let start = args[1..]
        .iter()
        .map(|s| match a.bucket_format {
            BucketFormat::Raw => Ok(s.as_bytes().to_vec()),
            BucketFormat::Hex => crate::values::unhex(s.as_bytes()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The file first: a missing, locked or damaged file is reported the same way everywhere.
    let mut data = data::Data::open(path, a.write, ctx.timeout)?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::msg("browse needs a terminal"));
    }
    let (w, h) = ratatui::crossterm::terminal::size()?;
    let mut app = state::App::new(&data, Rect::new(0, 0, w, h), &start)?;
    let theme = render::Theme {
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let signals = terminal::Signals::watch()?;
    let mut screen = terminal::Screen::enter()?;
    let mut job: Option<jobs::Job> = None;
    // A switch for the tests that prove a panic gives the terminal back; inert otherwise.
    let test_panic = std::env::var_os("RBOLT_BROWSE_TEST_PANIC").is_some_and(|v| v == "1");
    // For measuring: one line per input and per frame with its time in microseconds.
    let mut timings = std::env::var_os("RBOLT_BROWSE_TIMINGS")
        .map(std::fs::File::create)
        .transpose()?
        .map(std::io::BufWriter::new);
    // Drawn again only after something happened.
    let mut dirty = true;
    loop {
        if dirty {
            let t = Instant::now();
            screen
                .terminal
                .draw(|f| render::draw(f, &mut app, &data, theme))?;
            if let Some(w) = &mut timings {
                writeln!(w, "draw {}", t.elapsed().as_micros())?;
            }
            dirty = false;
        }
        if test_panic {
            panic!("RBOLT_BROWSE_TEST_PANIC is set");
        }
        // Short waits while a job reports, and often enough to notice signals otherwise.
        let wait = Duration::from_millis(if job.is_some() { 100 } else { 250 });
        if signals.quit() {
            return Err(CliError::msg("interrupted"));
        }
        if signals.stop() {
            screen.suspend()?;
            dirty = true;
            continue;
        }
        if event::poll(wait)? {
            dirty = true;
            // Everything already typed is handled before the next draw, so held-down keys
            // never queue up behind frames.
            loop {
                let ev = event::read()?;
                let t = Instant::now();
                let effect = match ev {
                    Event::Key(k) => app.on_key(&mut data, k),
                    Event::Resize(w, h) => {
                        app.resize(Rect::new(0, 0, w, h));
                        Effect::None
                    }
                    _ => Effect::None,
                };
                if let Some(w) = &mut timings {
                    writeln!(w, "input {}", t.elapsed().as_micros())?;
                }
                match effect {
                    Effect::None => {}
                    Effect::Quit => return Ok(()),
                    Effect::Suspend => screen.suspend()?,
                    Effect::Copy(b) => {
                        let seq = format!("\x1b]52;c;{}\x07", views::base64(&b));
                        screen.write_raw(seq.as_bytes())?;
                    }
                    Effect::Start(spec) => job = Some(jobs::spawn(data.db(), spec)),
                    Effect::Cancel => {
                        if let Some(j) = &job {
                            j.cancel();
                        }
                    }
                }
                if !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        if let Some(j) = &job {
            loop {
                match j.rx.try_recv() {
                    Ok(m) => {
                        dirty = true;
                        let done = matches!(m, jobs::JobMsg::Done(_));
                        app.on_job(m);
                        if done {
                            job = None;
                            break;
                        }
                    }
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                        dirty = true;
                        app.on_job(jobs::JobMsg::Done(Err("the job stopped".into())));
                        job = None;
                        break;
                    }
                }
            }
        }
    }
}
