//! The tool's error: a message printed as `Error: <message>` on stderr, and whether it is a
//! usage error (which gets a pointer to `--help`, or bbolt's usage block in compat mode).
//! Every error exits 1, as in bbolt.

use std::fmt;
use std::io;

/// What went wrong, in bbolt's words where bbolt has them.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    usage: bool,
    broken_pipe: bool,
    /// The exit code: 1 unless a command says otherwise (`diff` uses 2 for errors).
    code: u8,
    /// Nothing to print: the exit code is the whole answer (`diff` finding differences).
    silent: bool,
}

impl CliError {
    /// A runtime error (a missing bucket, a corrupt file...).
    pub(crate) fn msg(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
            broken_pipe: false,
            code: 1,
            silent: false,
        }
    }

    /// Ends the command with `code` and no message.
    pub(crate) fn exit(code: u8) -> Self {
        Self {
            code,
            silent: true,
            ..Self::msg("")
        }
    }

    /// The same error, exiting with `code`.
    pub(crate) fn with_code(self, code: u8) -> Self {
        Self { code, ..self }
    }

    pub(crate) fn code(&self) -> u8 {
        self.code
    }

    pub(crate) fn is_silent(&self) -> bool {
        self.silent
    }

    /// A mistake in the command line: wrong argument count, unknown flag...
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            usage: true,
            ..Self::msg(message)
        }
    }

    pub(crate) fn is_usage(&self) -> bool {
        self.usage
    }

    /// The reader of stdout went away (`rbolt keys db b | head`): not an error.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        Self {
            broken_pipe: e.kind() == io::ErrorKind::BrokenPipe,
            ..Self::msg(go_io_error(&e))
        }
    }
}

impl From<rbolt::Error> for CliError {
    fn from(e: rbolt::Error) -> Self {
        match e {
            rbolt::Error::Io(io) => io.into(),
            other => Self::msg(other.to_string()),
        }
    }
}

/// Go prints an `os` error without Rust's "(os error N)" suffix; short reads are Go's `EOF`.
fn go_io_error(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return "EOF".into();
    }
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

/// Cobra's argument-count messages.
pub(crate) fn exact_args(n: usize, got: usize) -> CliError {
    CliError::usage(format!("accepts {n} arg(s), received {got}"))
}

pub(crate) fn min_args(n: usize, got: usize) -> CliError {
    CliError::usage(format!("requires at least {n} arg(s), only received {got}"))
}

pub(crate) fn range_args(lo: usize, hi: usize, got: usize) -> CliError {
    CliError::usage(format!(
        "accepts between {lo} and {hi} arg(s), received {got}"
    ))
}
