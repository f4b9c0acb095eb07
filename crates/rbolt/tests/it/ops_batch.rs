//! `Db::batch`: concurrent callers share commits, and no caller's failure leaks into another's
//! result — even though closures may run several times.

use rbolt::{Error, Options};
use rbolt_testkit::TempDb;
use rbolt_testkit::watchdog::Watchdog;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const THREADS: u32 = 16;
const CALLS: u32 = 40;

fn injected() -> Error {
    Error::Io(std::io::Error::other("injected"))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Plain,
    /// Returns an error every time it runs.
    AlwaysFails,
    /// Fails the first time it runs, then succeeds (so it must be retried alone).
    FailsOnce,
    /// Panics the first time it runs.
    Panics,
}

fn kind(t: u32, j: u32) -> Kind {
    match j % 8 {
        3 => Kind::AlwaysFails,
        5 => Kind::FailsOnce,
        7 if t == 0 => Kind::Panics,
        _ => Kind::Plain,
    }
}

#[test]
fn sixteen_callers_with_injected_failures() {
    let _wd = Watchdog::new(
        "sixteen_callers_with_injected_failures",
        Duration::from_secs(60),
    );
    let db = TempDb::with_options(
        Options::new()
            .no_sync(true)
            .max_batch_delay(Duration::from_millis(20)),
    );
    db.update(|tx| tx.create_bucket(b"b").map(|_| ())).unwrap();
    let start_txid = db.view(|tx| Ok(tx.id().get())).unwrap();
    let total_runs = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (db, total_runs) = (&db, &total_runs);
            s.spawn(move || {
                for j in 0..CALLS {
                    let k = kind(t, j);
                    let key = format!("{t:02}-{j:03}");
                    let mut runs = 0;
                    let r = catch_unwind(AssertUnwindSafe(|| {
                        db.batch(|tx| {
                            runs += 1;
                            total_runs.fetch_add(1, Ordering::Relaxed);
                            let b = tx.bucket(b"b")?.expect("bucket b");
                            // Read-modify-write: a closure whose earlier run was rolled back
                            // must not leave a trace, so the count ends at exactly 1.
                            let n = b.get(key.as_bytes())?.map_or(0, |v| v[0]);
                            b.put(key.as_bytes(), &[n + 1])?;
                            match k {
                                Kind::AlwaysFails => Err(injected()),
                                Kind::FailsOnce if runs == 1 => Err(injected()),
                                Kind::Panics if runs == 1 => panic!("injected panic"),
                                _ => Ok(()),
                            }
                        })
                    }));
                    match (k, r) {
                        (Kind::Panics, Err(_)) => assert_eq!(runs, 1),
                        (Kind::AlwaysFails, Ok(Err(Error::Io(e)))) => {
                            assert_eq!(e.to_string(), "injected");
                        }
                        (Kind::FailsOnce, Ok(Ok(()))) => assert!(runs >= 2, "{key}: {runs}"),
                        (Kind::Plain, Ok(Ok(()))) => assert!(runs >= 1),
                        (k, r) => panic!("{key} ({k:?}): unexpected {:?}", r.map(|x| x.err())),
                    }
                }
            });
        }
    });
    let end_txid = db.view(|tx| Ok(tx.id().get())).unwrap();
    let commits = end_txid - start_txid;
    let calls = u64::from(THREADS * CALLS);
    assert!(
        commits < calls / 2,
        "batching should coalesce: {commits} commits for {calls} calls"
    );
    assert!(
        total_runs.load(Ordering::Relaxed) as u64 > calls,
        "retries happened"
    );
    db.view(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        let mut expected = Vec::new();
        for t in 0..THREADS {
            for j in 0..CALLS {
                if matches!(kind(t, j), Kind::Plain | Kind::FailsOnce) {
                    expected.push((format!("{t:02}-{j:03}").into_bytes(), vec![1u8]));
                }
            }
        }
        let got: Vec<(Vec<u8>, Vec<u8>)> = b
            .iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.unwrap().to_vec())))
            .collect::<rbolt::Result<_>>()?;
        assert_eq!(got, expected, "each successful call applied exactly once");
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_full_batch_runs_without_waiting_for_the_delay() {
    let _wd = Watchdog::new(
        "a_full_batch_runs_without_waiting_for_the_delay",
        Duration::from_secs(20),
    );
    let db = TempDb::with_options(
        Options::new()
            .no_sync(true)
            .max_batch_size(4)
            .max_batch_delay(Duration::from_secs(30)),
    );
    let t0 = std::time::Instant::now();
    std::thread::scope(|s| {
        for i in 0..4u8 {
            let db = &db;
            s.spawn(move || {
                db.batch(|tx| tx.create_bucket_if_not_exists(b"b")?.put(&[i], b"x"))
                    .unwrap()
            });
        }
    });
    assert!(t0.elapsed() < Duration::from_secs(10), "did not wait 30 s");
    let n = db
        .view(|tx| Ok(tx.bucket(b"b")?.unwrap().iter().count()))
        .unwrap();
    assert_eq!(n, 4);
}

#[test]
fn batch_size_one_is_a_plain_update() {
    let db = TempDb::with_options(Options::new().max_batch_size(1));
    let before = db.view(|tx| Ok(tx.id().get())).unwrap();
    let mut runs = 0;
    let r = db.batch(|tx| {
        runs += 1;
        tx.create_bucket(b"x")?;
        Err(injected())
    });
    assert!(matches!(r, Err(Error::Io(_))));
    assert_eq!(runs, 1, "a lone failing call runs once");
    db.batch(|tx| tx.create_bucket(b"x").map(|_| ())).unwrap();
    assert_eq!(db.view(|tx| Ok(tx.id().get())).unwrap(), before + 1);
}

#[test]
fn a_failed_commit_fails_every_caller_and_commits_nothing() {
    let _wd = Watchdog::new(
        "a_failed_commit_fails_every_caller_and_commits_nothing",
        Duration::from_secs(30),
    );
    // Every write of the batch's commit fails: the database is poisoned, every caller gets an
    // error (none is told its write landed), and nothing of the batch is on disk.
    let (mut db, probe) =
        crate::ops_common::probed(Options::new().max_batch_delay(Duration::from_millis(50)));
    let armed = &probe.fail_writes;
    db.update(|tx| tx.create_bucket(b"b").map(|_| ())).unwrap();
    armed.store(true, Ordering::SeqCst);
    let errors = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for i in 0..8u8 {
            let (db, errors) = (&db, &errors);
            s.spawn(move || {
                if db
                    .batch(|tx| tx.bucket(b"b")?.unwrap().put(&[i], b"v"))
                    .is_err()
                {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(errors.load(Ordering::Relaxed), 8);
    assert!(matches!(db.update(|_| Ok(())), Err(Error::Poisoned)));
    armed.store(false, Ordering::SeqCst);
    db.reopen();
    let n = db
        .view(|tx| Ok(tx.bucket(b"b")?.unwrap().iter().count()))
        .unwrap();
    assert_eq!(n, 0);
}
