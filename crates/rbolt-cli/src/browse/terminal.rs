//! The terminal while the browser runs: raw mode and the alternate screen, always given back —
//! on return, on error (a drop guard), on panic (a hook that restores before the message
//! prints) and around Ctrl-Z (restore, stop, take the screen back on resume).

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

/// The terminal in raw mode on the alternate screen; restored when dropped.
pub(crate) struct Screen {
    pub(crate) terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Screen")
    }
}

/// Gives the terminal back: cooked mode, the normal screen, a visible cursor. Safe to call
/// more than once.
pub(crate) fn restore() {
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    let _ = execute!(out, LeaveAlternateScreen, Show);
    let _ = out.flush();
}

fn take_over() -> io::Result<()> {
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)
}

/// A panic restores the terminal first, so the message lands on the normal screen.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

impl Screen {
    pub(crate) fn enter() -> io::Result<Self> {
        install_panic_hook();
        take_over()?;
        // From here on the guard restores whatever happens.
        let mut s = Self {
            terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
        };
        s.terminal.clear()?;
        Ok(s)
    }

    /// Ctrl-Z: hand the terminal back, stop like any job, and take it again on `fg`.
    pub(crate) fn suspend(&mut self) -> io::Result<()> {
        restore();
        // The default action (stop), even though a handler watches for SIGTSTP from outside.
        signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTSTP)?;
        // Running again (SIGCONT).
        take_over()?;
        self.terminal.clear()
    }

    /// Writes raw bytes to the terminal (an OSC 52 clipboard sequence).
    pub(crate) fn write_raw(&mut self, b: &[u8]) -> io::Result<()> {
        let w = self.terminal.backend_mut();
        w.write_all(b)?;
        Write::flush(w)
    }
}

/// Signals from outside the terminal: a stop (`kill -TSTP`) suspends cleanly, and a hang-up,
/// interrupt or termination ends the browser through the normal exit, which restores the
/// terminal.
#[derive(Debug)]
pub(crate) struct Signals {
    stop: Arc<AtomicBool>,
    quit: Arc<AtomicBool>,
}

impl Signals {
    pub(crate) fn watch() -> io::Result<Self> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGTSTP};
        let s = Self {
            stop: Arc::new(AtomicBool::new(false)),
            quit: Arc::new(AtomicBool::new(false)),
        };
        signal_hook::flag::register(SIGTSTP, s.stop.clone())?;
        for sig in [SIGHUP, SIGINT, SIGTERM] {
            signal_hook::flag::register(sig, s.quit.clone())?;
        }
        // The event loop notices the flag within a quarter second, unless the terminal hung
        // up: then reading it never returns (crossterm retries the end of file, and no
        // SIGHUP need come), so this watchman ends the process when the terminal is gone or
        // the loop did not answer a signal. No transaction is open while the loop waits.
        let quit = s.quit.clone();
        std::thread::spawn(move || {
            use std::io::IsTerminal;
            loop {
                std::thread::sleep(Duration::from_millis(200));
                if !io::stdin().is_terminal() {
                    std::process::exit(1);
                }
                if quit.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_secs(1));
                    restore();
                    eprintln!("Error: interrupted");
                    std::process::exit(1);
                }
            }
        });
        Ok(s)
    }

    /// A stop was asked for since the last call.
    pub(crate) fn stop(&self) -> bool {
        self.stop.swap(false, Ordering::Relaxed)
    }

    pub(crate) fn quit(&self) -> bool {
        self.quit.load(Ordering::Relaxed)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}
