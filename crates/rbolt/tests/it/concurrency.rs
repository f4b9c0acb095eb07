//! Readers against a committing writer: every snapshot is consistent, a reader never sees a
//! later commit, old snapshots survive file growth, and the writer never waits for a reader.
//! Every test here is bounded by a watchdog: a panicking or hung thread fails it by name.

use rbolt::{Db, Options};
use rbolt_testkit::TempDb;
use rbolt_testkit::script::dump_tx;
use rbolt_testkit::watchdog::{StopOnDrop, Watchdog, join_scoped_within};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const ACCOUNTS: u64 = 200;
const TOTAL: u64 = ACCOUNTS * 1000;

fn dump(db: &Db) -> String {
    let tx = db.begin_read().unwrap();
    let mut out = Vec::new();
    dump_tx(&tx, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// A database whose bucket `acct` holds `ACCOUNTS` balances of 1000 each.
fn accounts_db() -> TempDb {
    let db = TempDb::with_options(Options::new().no_sync(true));
    db.update(|tx| {
        let acct = tx.create_bucket(b"acct")?;
        for i in 0..ACCOUNTS {
            acct.put(i.to_be_bytes(), 1000u64.to_le_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    db
}

fn read_u64(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().expect("8-byte balance"))
}

/// Sums the balances a read transaction sees, and checks its version key matches the
/// number of filler entries (both written by the same commits).
fn audit(db: &Db) -> (u64, u64) {
    let tx = db.begin_read().unwrap();
    let acct = tx.bucket(b"acct").unwrap().unwrap();
    let mut sum = 0;
    for item in acct.iter() {
        let (_, v) = item.unwrap();
        sum += read_u64(v.unwrap());
    }
    let meta = tx.bucket(b"meta").unwrap().unwrap();
    let version = read_u64(meta.get(b"version").unwrap().unwrap());
    let fill = tx.bucket(b"fill").unwrap().unwrap();
    assert_eq!(
        fill.iter().count() as u64,
        version,
        "filler count tracks the version"
    );
    (sum, version)
}

#[test]
fn readers_see_consistent_snapshots_while_writer_commits() {
    let _wd = Watchdog::new(
        "readers_see_consistent_snapshots_while_writer_commits",
        Duration::from_secs(60),
    );
    let db = accounts_db();
    db.update(|tx| {
        tx.create_bucket(b"fill")?;
        tx.create_bucket(b"meta")?
            .put(b"version", 0u64.to_le_bytes())
    })
    .unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // The readers stop however the writer below ends, a panic included.
        let stop_readers = StopOnDrop(&stop);
        let readers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let (mut audits, mut last) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        let (sum, version) = audit(&db);
                        assert_eq!(sum, TOTAL, "money created or lost in a snapshot");
                        assert!(version >= last, "a later reader saw an older snapshot");
                        last = version;
                        audits += 1;
                    }
                    audits
                })
            })
            .collect();
        for round in 1..=300u64 {
            db.update(|tx| {
                let acct = tx.bucket(b"acct")?.unwrap();
                let (a, b) = ((round * 7) % ACCOUNTS, (round * 13 + 1) % ACCOUNTS);
                let va = read_u64(acct.get(a.to_be_bytes())?.unwrap());
                let vb = read_u64(acct.get(b.to_be_bytes())?.unwrap());
                let amt = va.min(round % 50);
                if a != b {
                    acct.put(a.to_be_bytes(), (va - amt).to_le_bytes())?;
                    acct.put(b.to_be_bytes(), (vb + amt).to_le_bytes())?;
                }
                // Grow the file and churn pages so freed pages get reused.
                tx.bucket(b"fill")?
                    .unwrap()
                    .put(round.to_be_bytes(), vec![round as u8; 3000])?;
                tx.bucket(b"meta")?
                    .unwrap()
                    .put(b"version", round.to_le_bytes())
            })
            .unwrap();
        }
        drop(stop_readers);
        let audits: u64 = readers
            .into_iter()
            .map(|r| join_scoped_within(r, Duration::from_secs(30), "a reader"))
            .sum();
        assert!(audits > 0, "readers ran");
    });
    assert_eq!(audit(&db), (TOTAL, 300));
}

#[test]
fn long_reader_keeps_its_snapshot_while_file_grows_100x_and_writer_never_waits() {
    let _wd = Watchdog::new(
        "long_reader_keeps_its_snapshot_while_file_grows_100x_and_writer_never_waits",
        Duration::from_secs(90),
    );
    let db = TempDb::with_options(Options::new().no_sync(true));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0..50u32 {
            b.put(i.to_be_bytes(), [7u8; 100])?;
        }
        Ok(())
    })
    .unwrap();
    let before = dump(&db);
    let size0 = std::fs::metadata(db.path()).unwrap().len();

    let reader = db.begin_read().unwrap();
    let snapshot_value = reader
        .bucket(b"b")
        .unwrap()
        .unwrap()
        .get(3u32.to_be_bytes())
        .unwrap()
        .unwrap();

    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            // Overwrite the reader's keys and grow the file far beyond its mapping.
            for round in 0..40u32 {
                db.update(|tx| {
                    let b = tx.bucket(b"b")?.unwrap();
                    for i in 0..50u32 {
                        b.put(i.to_be_bytes(), [round as u8; 100])?;
                    }
                    let big = tx.create_bucket_if_not_exists(b"big")?;
                    big.put(round.to_be_bytes(), vec![1u8; 64 * 1024])
                })
                .unwrap();
            }
            db.update(|tx| tx.delete_bucket(b"b")).unwrap();
            done_tx.send(()).unwrap();
        });
        // If the writer waited for our open reader this would time out.
        done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("writer finished while a reader was open");
    });
    let size1 = std::fs::metadata(db.path()).unwrap().len();
    assert!(size1 >= 64 * size0, "file grew {size0} -> {size1}");

    // The old snapshot, including a slice taken before the growth, is intact.
    assert_eq!(snapshot_value, &[7u8; 100][..]);
    let mut out = Vec::new();
    dump_tx(&reader, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), before);
    assert!(reader.check().is_empty());
    drop(reader);
    assert!(db.begin_read().unwrap().bucket(b"b").unwrap().is_none());
}

#[test]
fn second_writer_waits_for_the_first() {
    let _wd = Watchdog::new("second_writer_waits_for_the_first", Duration::from_secs(30));
    let db = TempDb::new();
    let tx = db.begin_write().unwrap();
    tx.create_bucket(b"a").unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            started_tx.send(()).unwrap();
            let tx2 = db.begin_write().unwrap();
            // It sees the first writer's commit.
            assert!(tx2.bucket(b"a").unwrap().is_some());
            tx2.create_bucket(b"b").unwrap();
            tx2.commit().unwrap();
            done_tx.send(()).unwrap();
        });
        started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("second writer started");
        assert!(
            done_rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "second writer ran concurrently"
        );
        tx.commit().unwrap();
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("second writer proceeds after commit");
    });
    let r = db.begin_read().unwrap();
    assert!(r.bucket(b"a").unwrap().is_some() && r.bucket(b"b").unwrap().is_some());
}

/// One read transaction shared by several threads (a read `Tx` is `Sync`): each sees the
/// same snapshot however many commits land meanwhile, and every cursor they make is counted.
#[test]
fn one_snapshot_shared_by_threads_stays_put_while_writer_commits() {
    let _wd = Watchdog::new(
        "one_snapshot_shared_by_threads_stays_put_while_writer_commits",
        Duration::from_secs(60),
    );
    let db = accounts_db();
    let tx = db.begin_read().unwrap();
    let mut want = Vec::new();
    let start = tx.stats().cursor_count;
    dump_tx(&tx, &mut want).unwrap();
    let one_dump = tx.stats().cursor_count - start;
    let acct = tx.open_bucket(b"acct").unwrap();
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 50;
    let before = tx.stats().cursor_count;
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (tx, want) = (&tx, &want);
                s.spawn(move || {
                    for r in 0..ROUNDS {
                        let sum: u64 = acct.iter().map(|i| read_u64(i.unwrap().1.unwrap())).sum();
                        assert_eq!(sum, TOTAL, "thread {t} round {r}: balances moved");
                        if r % 10 == 0 {
                            let mut got = Vec::new();
                            dump_tx(tx, &mut got).unwrap();
                            assert!(got == *want, "thread {t} round {r}: snapshot changed");
                        }
                    }
                })
            })
            .collect();
        for round in 0..100u64 {
            db.update(|w| {
                let acct = w.open_bucket(b"acct")?;
                acct.put((round % ACCOUNTS).to_be_bytes(), 0u64.to_le_bytes())?;
                w.create_bucket_if_not_exists(b"fill")?
                    .put(round.to_be_bytes(), [7u8; 2000])
            })
            .unwrap();
        }
        for r in readers {
            join_scoped_within(r, Duration::from_secs(30), "a reader");
        }
    });
    // Each round's iterator makes one cursor (its backward one only on demand); each dump
    // makes as many as the first one did.
    let dumps_per_thread = ROUNDS.div_ceil(10);
    assert_eq!(
        tx.stats().cursor_count - before,
        THREADS * (ROUNDS + dumps_per_thread * one_dump),
        "cursors counted from every thread"
    );
}
