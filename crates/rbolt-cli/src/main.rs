//! `rbolt`: bbolt's command-line tool for bbolt files, with the same commands, flags, output
//! and errors, plus lock timeouts, JSON output and progress bars.
//!
//! This file owns the process: it reads argv (rewriting bbolt 1.4's single-dash flags),
//! turns clap's errors into bbolt's, runs the command with a buffered stdout and maps the
//! outcome to an exit code (0, or 1 for every error; a closed pipe is not an error).
#![forbid(unsafe_code)]

mod browse;
mod cli;
mod cmd;
mod compat;
mod error;
mod goprint;
mod json;
mod pack;
mod pagemap;
mod progress;
mod raw;
mod source;
mod svg;
mod values;
mod walk;

use clap::{CommandFactory, FromArgMatches};
use error::CliError;
use std::ffi::OsString;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

/// What every command gets besides its own arguments.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// Lock timeout for read commands; `None` waits forever.
    pub(crate) timeout: Option<Duration>,
    /// Whether progress bars may be drawn.
    pub(crate) progress: progress::Policy,
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let compat = compat::is_compat(&argv);
    let name = if compat { "bbolt" } else { "rbolt" };
    let mut command = cli::Cli::command().name(name).bin_name(name);
    let argv = compat::rewrite_single_dash(argv, &command);

    let matches = match command.try_get_matches_from_mut(argv) {
        Ok(m) => m,
        Err(e) => return compat::report_clap_error(e, &mut command, name, compat),
    };
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return compat::report_clap_error(e, &mut command, name, compat),
    };
    let sub_path = compat::subcommand_path(&matches);

    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = run(cli, name, &mut out).and_then(|()| out.flush().map_err(CliError::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) if e.is_silent() => {
            let _ = out.flush();
            ExitCode::from(e.code())
        }
        Err(e) => {
            // What the command printed before failing belongs before the error (bbolt's
            // `check` lists problems, then fails).
            let _ = out.flush();
            drop(out);
            compat::report_error(&e, &mut command, &sub_path, name, compat);
            ExitCode::from(e.code())
        }
    }
}

fn run(cli: cli::Cli, name: &'static str, out: &mut dyn Write) -> Result<(), CliError> {
    if cli.version {
        writeln!(out, "{name} version {}", env!("CARGO_PKG_VERSION"))?;
        return Ok(());
    }
    let Some(command) = cli.command else {
        let mut c = cli::Cli::command().name(name).bin_name(name);
        write!(out, "{}", c.render_long_help())?;
        return Ok(());
    };
    let timeout = source::parse_timeout(&cli.timeout).map_err(|e| {
        CliError::usage(format!(
            "invalid argument {} for \"--timeout\" flag: {e}",
            values::go_quote(cli.timeout.as_bytes())
        ))
    })?;
    let ctx = Ctx {
        timeout,
        progress: progress::Policy::new(cli.progress, cli.quiet),
    };
    cmd::run(command, &ctx, name, out)
}
