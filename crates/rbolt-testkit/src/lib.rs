//! Test support shared by rbolt's integration tests, interop tests and tools.
//!
//! - [`TempDb`]: a database in a temporary directory that is consistency-checked when dropped,
//!   so every test ends with a full `check` (bbolt's `btesting.MustCreateDB`).
//! - [`gen`](gen/index.html): seeded op-script generator with a model of the database it makes.
//! - [`script`]: the op-script format of `rbolt-script` and the Go interop helper (apply, dump).
//! - [`watchdog`]: deadlines for tests that wait on threads or processes.
#![forbid(unsafe_code)]

pub mod crashsim;
pub mod faults;
pub mod r#gen;
pub mod hostile;
pub mod killnine;
pub mod rng;
pub mod script;
pub mod watchdog;
pub mod workload;

use rbolt::{Db, Options};
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// The message of a panic payload caught with `catch_unwind` (empty if it is not a string).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default()
}

/// A database in its own temporary directory, checked for consistency when dropped.
#[derive(Debug)]
pub struct TempDb {
    db: Option<Db>,
    path: PathBuf,
    opts: Options,
    _dir: tempfile::TempDir,
}

impl TempDb {
    /// A new database with default options.
    pub fn new() -> Self {
        Self::with_options(Options::new())
    }

    /// A new database opened with `opts` (also used for every reopen).
    ///
    /// `RBOLT_TEST_FREELIST=array|hashmap` picks the freelist type unless `opts` chose one, so
    /// the whole suite can run once per type.
    pub fn with_options(opts: Options) -> Self {
        let opts = freelist_from_env(opts);
        let dir = tempfile::tempdir().expect("create temp dir");
        let path = dir.path().join("test.db");
        let db = opts.clone().open(&path).expect("open temp db");
        Self {
            db: Some(db),
            path,
            opts,
            _dir: dir,
        }
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes and reopens the database with the same options.
    pub fn reopen(&mut self) {
        self.db = None;
        self.db = Some(self.opts.clone().open(&self.path).expect("reopen temp db"));
    }

    /// Closes and reopens with other options (which then stay in force).
    pub fn reopen_with(&mut self, opts: Options) {
        self.db = None;
        self.opts = freelist_from_env(opts);
        self.db = Some(self.opts.clone().open(&self.path).expect("reopen temp db"));
    }

    /// Closes the database, leaving the file for the test to inspect or reopen.
    pub fn close(&mut self) {
        self.db = None;
    }

    /// Runs the consistency check and panics with every problem if there are any.
    pub fn must_check(&self) {
        let Some(db) = &self.db else { return };
        let problems = db.begin_read().expect("begin read for check").check();
        assert!(
            problems.is_empty(),
            "consistency check of {} failed:\n{}",
            self.path.display(),
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Peak resident set of this process (Linux `VmHWM`), in bytes; 0 where it cannot be read.
pub fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Applies `RBOLT_TEST_FREELIST` (`array` or `hashmap`) unless `opts` already has a type.
pub fn freelist_from_env(opts: Options) -> Options {
    match std::env::var("RBOLT_TEST_FREELIST") {
        Ok(v) if !v.is_empty() => {
            let t = v
                .parse::<rbolt::FreelistType>()
                .unwrap_or_else(|e| panic!("RBOLT_TEST_FREELIST: {e}"));
            opts.default_freelist_type(t)
        }
        _ => opts,
    }
}

impl Default for TempDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for TempDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db.as_ref().expect("TempDb is closed; reopen it first")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if self.db.is_none() {
            // Closed by the test: check what is on disk.
            match Options::new().read_only(true).open(&self.path) {
                Ok(db) => self.db = Some(db),
                Err(e) => panic!("reopen {} for the final check: {e}", self.path.display()),
            }
        }
        self.must_check();
    }
}
