//! Helpers shared by the `ops_*` modules.

use rbolt::storage::{Storage, StorageWrapper};
use rbolt::{Db, Options};
use rbolt_testkit::TempDb;
use rbolt_testkit::script::dump_tx;
use rbolt_testkit::watchdog;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The dump of everything the latest snapshot holds.
pub(crate) fn dump(db: &Db) -> String {
    dump_tx_string(&db.begin_read().unwrap())
}

/// The dump of what `tx` sees.
pub(crate) fn dump_tx_string(tx: &rbolt::Tx) -> String {
    let mut out = Vec::new();
    dump_tx(tx, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Length of the file at `path`.
pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// The Go bbolt oracle, if it has been built (`interop/go/build.sh`); otherwise prints a
/// notice that the Go half of the test is skipped.
pub(crate) fn go_interop() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/go/bin/bbolt-interop");
    if bin.exists() {
        Some(bin)
    } else {
        eprintln!(
            "notice: {} missing (run interop/go/build.sh); skipping the Go bbolt check",
            bin.display()
        );
        None
    }
}

/// Asserts Go bbolt finds `path` consistent and dumps it as `want`, when the oracle exists.
/// The file must not be open here: Go waits for the file lock.
pub(crate) fn go_agrees(path: &Path, want: &str) {
    let Some(bin) = go_interop() else { return };
    // A deadline: a lock held by mistake should fail the test, not hang it.
    let go = |cmd: &str| {
        watchdog::output_within(
            Command::new(&bin).arg(cmd).arg(path),
            Duration::from_secs(120),
            &format!("bbolt-interop {cmd}"),
        )
        .unwrap()
    };
    let check = go("check");
    assert!(
        check.status.success(),
        "Go bbolt check of {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let out = go("dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        want,
        "Go bbolt's dump"
    );
}

/// Switches and counters on the way to the file, for tests that inject I/O failures or
/// count syncs.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    /// Syncs (data and full) asked for, failed ones included.
    pub(crate) syncs: AtomicU64,
    /// Write-back hints passed on (`Storage::start_writeback`).
    pub(crate) writebacks: AtomicU64,
    /// While set, every write fails with EIO.
    pub(crate) fail_writes: AtomicBool,
    /// While set, every sync fails.
    pub(crate) fail_syncs: AtomicBool,
    /// When non-zero, the sync that brings `syncs` to this count panics (a storage layer or an
    /// invariant check blowing up in the middle of a commit).
    pub(crate) panic_at_sync: AtomicU64,
}

#[derive(Debug)]
struct Probed {
    inner: Box<dyn Storage>,
    probe: Arc<Probe>,
}

impl Probed {
    fn sync(&self, f: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let n = self.probe.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        if self.probe.panic_at_sync.load(Ordering::SeqCst) == n {
            panic!("injected panic in sync {n}");
        }
        if self.probe.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected sync failure"));
        }
        f()
    }
}

impl Storage for Probed {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if self.probe.fail_writes.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(5));
        }
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.sync(|| self.inner.sync_data())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sync(|| self.inner.sync_all())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn start_writeback(&self, offset: u64, len: u64) -> io::Result<()> {
        self.probe.writebacks.fetch_add(1, Ordering::SeqCst);
        self.inner.start_writeback(offset, len)
    }
}

/// A storage wrapper that routes through a fresh [`Probe`], and the probe.
pub(crate) fn probe_wrapper() -> (StorageWrapper, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let p = probe.clone();
    let wrap: StorageWrapper = Arc::new(move |inner| {
        Box::new(Probed {
            inner,
            probe: p.clone(),
        })
    });
    (wrap, probe)
}

/// A temporary database whose storage goes through a fresh [`Probe`] (reopens included).
pub(crate) fn probed(opts: Options) -> (TempDb, Arc<Probe>) {
    let (wrap, probe) = probe_wrapper();
    (TempDb::with_options(opts.wrap_storage(wrap)), probe)
}
