//! What a panic or a failed sync leaves behind: a panic unwinding out of a commit poisons the
//! `Db` (every writer gets `Error::Poisoned` at once, none waits forever), a panic in a user's
//! closure only rolls that transaction back, and a failed `Db::sync` poisons like a failed
//! commit sync.

use crate::ops_common::{Probe, probe_wrapper, probed};
use rbolt::{Db, Error, Options};
use rbolt_testkit::TempDb;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// Longest a call that must return at once may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(20);

/// Runs `f` on a thread of its own and waits at most [`HANG`] for it. A call that hangs fails
/// the test with `what` instead of hanging the suite (the thread is left behind).
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what}: no answer within {HANG:?}"))
}

fn value(db: &Db) -> Option<Vec<u8>> {
    db.view(|tx| Ok(tx.bucket(b"b")?.unwrap().get(b"k")?.map(<[u8]>::to_vec)))
        .unwrap()
}

/// A probed database that helper threads can share (`Arc<Db>`, which a `TempDb` cannot give
/// to a thread that may outlive the test), reopened and consistency-checked like a `TempDb`.
struct SharedDb {
    db: Option<Arc<Db>>,
    opts: Options,
    path: PathBuf,
    probe: Arc<Probe>,
    _dir: tempfile::TempDir,
}

impl SharedDb {
    /// A database holding bucket `b` with `k = old`.
    fn new(opts: Options) -> Self {
        let (wrap, probe) = probe_wrapper();
        let opts = rbolt_testkit::freelist_from_env(opts.wrap_storage(wrap));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let db = opts.clone().open(&path).unwrap();
        db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"old"))
            .unwrap();
        Self {
            db: Some(Arc::new(db)),
            opts,
            path,
            probe,
            _dir: dir,
        }
    }

    fn db(&self) -> Arc<Db> {
        self.db.clone().unwrap()
    }

    /// Makes the `nth` sync from now panic.
    fn panic_at_sync(&self, nth: u64) {
        let at = self.probe.syncs.load(Ordering::SeqCst) + nth;
        self.probe.panic_at_sync.store(at, Ordering::SeqCst);
    }

    /// Closes the database (every clone of it must be gone) and opens it again.
    fn reopen(&mut self) -> Arc<Db> {
        self.probe.panic_at_sync.store(0, Ordering::SeqCst);
        let old = self.db.take().unwrap();
        assert_eq!(Arc::strong_count(&old), 1, "a helper still holds the Db");
        drop(old);
        self.db = Some(Arc::new(self.opts.clone().open(&self.path).unwrap()));
        self.db()
    }
}

impl Drop for SharedDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let db = self.reopen();
        let problems = db.begin_read().unwrap().check();
        assert!(problems.is_empty(), "{problems:?}");
    }
}

/// Regression: a panic inside commit (here a storage whose sync panics) dropped the writer
/// state it had taken out of the transaction, so every later `begin_write` waited on the
/// condvar forever. Each sync of the commit panics in turn.
#[test]
fn a_panic_inside_commit_wedged_every_later_writer() {
    for nth in 1..=2u64 {
        let mut sdb = SharedDb::new(Options::new());
        let db = sdb.db();
        sdb.panic_at_sync(nth);
        let r = catch_unwind(AssertUnwindSafe(|| {
            db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"new"))
        }));
        assert!(
            r.is_err(),
            "sync {nth}: the panic reaches the committing caller"
        );

        let d = db.clone();
        let r = bounded("begin_write after a panicked commit", move || {
            d.begin_write().map(drop)
        });
        assert!(matches!(r, Err(Error::Poisoned)), "sync {nth}: {r:?}");
        let d = db.clone();
        let r = bounded("update after a panicked commit", move || {
            d.update(|_| Ok(()))
        });
        assert!(matches!(r, Err(Error::Poisoned)), "sync {nth}: {r:?}");
        let d = db.clone();
        let r = bounded("batch after a panicked commit", move || d.batch(|_| Ok(())));
        assert!(matches!(r, Err(Error::Poisoned)), "sync {nth}: {r:?}");
        assert!(
            Error::Poisoned.to_string().contains("panic"),
            "the message names the cause"
        );
        // Readers go on with what this process last published.
        let seen = value(&db);
        assert!(
            seen.as_deref() == Some(b"old") || seen.as_deref() == Some(b"new"),
            "{seen:?}"
        );
        drop(db);
        let db = sdb.reopen();
        let after = value(&db);
        if nth == 1 {
            // The first sync comes before the meta is written: the commit never happened.
            assert_eq!(after.as_deref(), Some(&b"old"[..]), "sync {nth}");
        } else {
            assert!(
                after.as_deref() == Some(b"old") || after.as_deref() == Some(b"new"),
                "sync {nth}: {after:?}"
            );
        }
        db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"later"))
            .unwrap();
    }
}

/// Regression: a writer already waiting for the slot when the commit ahead of it panicked was
/// never woken (nothing put the writer state back).
#[test]
fn a_writer_waiting_while_a_commit_panicked_waited_forever() {
    let mut sdb = SharedDb::new(Options::new());
    let db = sdb.db();
    let tx = db.begin_write().unwrap();
    tx.bucket(b"b").unwrap().unwrap().put(b"k", b"new").unwrap();
    let (started, waiting) = mpsc::channel();
    let (done, result) = mpsc::channel();
    let d = db.clone();
    std::thread::spawn(move || {
        started.send(()).unwrap();
        let r = d.begin_write().map(drop);
        drop(d); // before answering: the test reopens the file once it has the answer
        let _ = done.send(r);
    });
    waiting.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50)); // let it reach the wait
    sdb.panic_at_sync(1);
    assert!(catch_unwind(AssertUnwindSafe(|| tx.commit())).is_err());
    let r = result
        .recv_timeout(HANG)
        .expect("the waiting writer is woken");
    assert!(matches!(r, Err(Error::Poisoned)), "{r:?}");
    drop(db);
    let db = sdb.reopen();
    assert_eq!(value(&db).as_deref(), Some(&b"old"[..]));
}

/// Regression: when the commit of a batch panicked, the batch's leader unwound without
/// telling the other callers, which waited for their outcome forever (and kept the parked
/// transaction, so the writer state never came back either).
#[test]
fn a_panic_in_a_batch_commit_left_the_other_callers_waiting() {
    let mut sdb = SharedDb::new(Options::new().max_batch_delay(Duration::from_millis(200)));
    let db = sdb.db();
    sdb.panic_at_sync(1);
    let (tx, rx) = mpsc::channel();
    for i in 0..4u8 {
        let (d, tx) = (db.clone(), tx.clone());
        std::thread::spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| {
                d.batch(|t| t.bucket(b"b")?.unwrap().put([i], b"v"))
            }));
            drop(d);
            let _ = tx.send(r.map(|r| r.map_err(|e| e.to_string())));
        });
    }
    let mut panicked = 0;
    for _ in 0..4 {
        match rx.recv_timeout(HANG).expect("every batch caller returns") {
            Err(_) => panicked += 1,
            Ok(Err(e)) => assert_eq!(e, Error::Poisoned.to_string()),
            Ok(Ok(())) => panic!("nothing of the batch can have committed"),
        }
    }
    assert_eq!(
        panicked, 1,
        "the panic goes to the caller whose commit it was"
    );
    drop(db);
    let db = sdb.reopen();
    let n = db
        .view(|tx| Ok(tx.bucket(b"b")?.unwrap().iter().count()))
        .unwrap();
    assert_eq!(n, 1, "only the key written before the batch");
}

/// A panic in the caller's own closure is the caller's: `update` and `batch` roll the
/// transaction back (as a panicking bbolt `Update` does), the database stays usable, and a
/// writer waiting meanwhile gets its turn. `view` just ends its snapshot.
#[test]
fn a_panic_in_a_callback_rolls_back_and_leaves_the_db_usable() {
    let db = TempDb::new();
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"old"))
        .unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        db.update(|tx| -> rbolt::Result<()> {
            tx.bucket(b"b")?.unwrap().put(b"k", b"new")?;
            tx.create_bucket(b"gone")?;
            panic!("user bug")
        })
    }));
    assert!(r.is_err());
    let r = catch_unwind(AssertUnwindSafe(|| {
        db.view(|_| -> rbolt::Result<()> { panic!("user bug in a reader") })
    }));
    assert!(r.is_err());
    let r = catch_unwind(AssertUnwindSafe(|| {
        db.batch(|tx| {
            tx.bucket(b"b")?.unwrap().put(b"k", b"batch")?;
            panic!("user bug in a batch")
        })
    }));
    assert!(r.is_err());
    // Nothing of the panicking transactions is visible, and writes go on.
    assert_eq!(value(&db).as_deref(), Some(&b"old"[..]));
    assert!(!db.view(|tx| Ok(tx.bucket(b"gone")?.is_some())).unwrap());
    std::thread::scope(|s| {
        let waiter = s.spawn(|| db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"w", b"1")));
        let r = catch_unwind(AssertUnwindSafe(|| {
            db.update(|_| -> rbolt::Result<()> {
                std::thread::sleep(Duration::from_millis(30));
                panic!("user bug while another writer waits")
            })
        }));
        assert!(r.is_err());
        waiter.join().unwrap().unwrap();
    });
    db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"after"))
        .unwrap();
    assert_eq!(value(&db).as_deref(), Some(&b"after"[..]));
    let stats = db.stats();
    assert_eq!(stats.open_tx_n, 0, "every panicked transaction ended");
}

/// Regression: a failed `Db::sync` (after `no_sync` commits, the one sync that makes them
/// durable) left the database writable, and a later sync could report success for data the
/// kernel had already dropped (fsyncgate). It must poison like a failed commit sync.
#[test]
fn a_failed_db_sync_did_not_poison_the_db() {
    let (mut db, probe) = probed(Options::new().no_sync(true));
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"old"))
        .unwrap();
    probe.fail_syncs.store(true, Ordering::SeqCst);
    let r = db.sync();
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
    probe.fail_syncs.store(false, Ordering::SeqCst);
    assert!(
        matches!(db.sync(), Err(Error::Poisoned)),
        "a later sync must not report the lost data durable"
    );
    assert!(matches!(db.begin_write(), Err(Error::Poisoned)));
    assert!(matches!(
        db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"new")),
        Err(Error::Poisoned)
    ));
    assert_eq!(value(&db).as_deref(), Some(&b"old"[..]));
    db.reopen();
    db.sync().unwrap();
    db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"new"))
        .unwrap();
    // A sync that panics: the outcome is unknown, so it poisons as well.
    probe
        .panic_at_sync
        .store(probe.syncs.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
    assert!(catch_unwind(AssertUnwindSafe(|| db.sync())).is_err());
    probe.panic_at_sync.store(0, Ordering::SeqCst);
    assert!(matches!(db.sync(), Err(Error::Poisoned)));
    assert!(matches!(db.begin_write(), Err(Error::Poisoned)));
    db.reopen();
    assert_eq!(value(&db).as_deref(), Some(&b"new"[..]));
}
