//! Progress bars: on stderr, only where a person watches (a terminal, never with
//! `--progress never` or `--quiet`, and always cleared before the command's last
//! output so the terminal ends on a clean line.

use crate::cli::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Whether bars are drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    on: bool,
}

impl Policy {
    pub(crate) fn new(mode: Progress, quiet: bool) -> Self {
        let on = !quiet
            && match mode {
                Progress::Never => false,
                Progress::Auto => std::io::stderr().is_terminal(),
            };
        Self { on }
    }

    /// A bar counting to `len` units called `what` ("pages", "bytes", "ops"); hidden when
    /// bars are off.
    pub(crate) fn bar(&self, len: u64, what: &str) -> ProgressBar {
        if !self.on {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(10));
        let template = if what == "bytes" {
            "{prefix} [{bar:40}] {bytes}/{total_bytes} ({eta})".to_string()
        } else {
            format!("{{prefix}} [{{bar:40}}] {{pos}}/{{len}} {what} ({{eta}})")
        };
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        pb.set_style(style);
        pb
    }

    /// A spinner with the elapsed time, for work whose size is not known up front.
    pub(crate) fn spinner(&self, what: &str) -> ProgressBar {
        if !self.on {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{spinner} {prefix} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        pb.set_style(style);
        pb.set_prefix(what.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(100));
        pb
    }
}
