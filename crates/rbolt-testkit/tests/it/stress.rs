//! Part 6 of the reliability harness: concurrency stress and cross-process locking.
//!
//! - Reader threads check a snapshot invariant (the sum of all accounts, which every writer
//!   transaction preserves) and repeatable reads while a writer commits, grows the file with
//!   filler values, shrinks the tree by deleting them and calls `Db::shrink` every 40 commits
//!   (truncating the file under readers that hold older mappings). `RBOLT_STRESS_SECS`
//!   (default 4).
//! - A long-lived reader's snapshot must stay byte-for-byte the same while the writer frees
//!   and reuses pages (catches releasing pending pages too early).
//! - Processes: a read-write process excludes read-only ones (they time out with
//!   `Error::Timeout`), read-only processes share, and a killed holder frees the lock.

use rbolt::{Db, Error, Options};
use rbolt_testkit::killnine;
use rbolt_testkit::rng::{Rng, env_count};
use rbolt_testkit::watchdog::{self, StopOnDrop, Watchdog, join_within};
use rbolt_testkit::workload::state_hash;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ACCOUNTS: u64 = 64;
const START: u64 = 1_000;

fn read_u64(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().expect("8-byte value"))
}

/// Sum of all accounts and the `ver` stamp in one snapshot.
fn snapshot_sum(db: &Db) -> (u64, u64, u64) {
    let tx = db.begin_read().unwrap();
    let b = tx.bucket(b"acct").unwrap().expect("acct bucket");
    let mut sum = 0;
    let mut n = 0;
    for item in b.iter() {
        let (_, v) = item.unwrap();
        sum += read_u64(v.unwrap());
        n += 1;
    }
    assert_eq!(n, ACCOUNTS, "txid {}: account count", tx.id());
    let ver = tx
        .bucket(b"meta")
        .unwrap()
        .unwrap()
        .get(b"ver")
        .unwrap()
        .map_or(0, read_u64);
    // Repeatable read: walk the filler in between, then read again.
    if let Some(f) = tx.bucket(b"fill").unwrap() {
        let _ = f.iter().count();
    }
    let again: u64 = b.iter().map(|i| read_u64(i.unwrap().1.unwrap())).sum();
    assert_eq!(sum, again, "txid {}: repeatable read", tx.id());
    (tx.id().get(), sum, ver)
}

#[test]
fn readers_see_consistent_snapshots_while_the_writer_grows_and_shrinks() {
    let secs = env_count("RBOLT_STRESS_SECS", 4);
    let wd = Watchdog::new(
        "readers_see_consistent_snapshots_while_the_writer_grows_and_shrinks",
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(
        Options::new()
            .page_size(1024)
            .no_sync(true)
            .open(dir.path().join("stress.db"))
            .unwrap(),
    );
    db.update(|tx| {
        let a = tx.create_bucket(b"acct")?;
        for i in 0..ACCOUNTS {
            a.put(&i.to_le_bytes(), &START.to_le_bytes())?;
        }
        tx.create_bucket(b"meta")?.put(b"ver", &0u64.to_le_bytes())
    })
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut readers = Vec::new();
    for _ in 0..6 {
        let (db, stop, reads) = (db.clone(), stop.clone(), reads.clone());
        readers.push(std::thread::spawn(move || {
            let mut last = 0;
            while !stop.load(Ordering::Relaxed) {
                let (txid, sum, ver) = snapshot_sum(&db);
                assert_eq!(
                    sum,
                    ACCOUNTS * START,
                    "txid {txid}: the invariant sum broke"
                );
                assert!(txid >= last, "txid went back from {last} to {txid}");
                // The stamp is the id of the tx that wrote it: never newer than the snapshot
                // (shrink rounds commit without restamping, so it may be older).
                assert!(ver <= txid, "stamp {ver} at txid {txid}");
                last = txid;
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // The readers stop however the writer below ends, a panic included.
    let stop_readers = StopOnDrop(&stop);
    let mut r = Rng::new(6);
    let mut commits = 0u64;
    let mut shrinks = 0u64;
    let mut max_size = 0u64;
    while Instant::now() < deadline {
        db.update(|tx| {
            let a = tx.bucket(b"acct")?.unwrap();
            for _ in 0..r.range(1, 8) {
                let (x, y) = (r.below(ACCOUNTS), r.below(ACCOUNTS));
                let vx = read_u64(a.get(&x.to_le_bytes())?.unwrap());
                let amt = r.below(vx + 1);
                a.put(&x.to_le_bytes(), &(vx - amt).to_le_bytes())?;
                let vy = read_u64(a.get(&y.to_le_bytes())?.unwrap());
                a.put(&y.to_le_bytes(), &(vy + amt).to_le_bytes())?;
            }
            let f = tx.create_bucket_if_not_exists(b"fill")?;
            if r.chance(0.15) {
                // Shrink: drop most filler.
                let keys: Vec<Vec<u8>> = f
                    .iter()
                    .filter_map(|i| i.ok().map(|(k, _)| k.to_vec()))
                    .collect();
                for k in keys {
                    if !r.chance(0.1) {
                        f.delete(&k)?;
                    }
                }
            } else {
                for _ in 0..r.range(1, 20) {
                    let n = r.range(100, 6000) as usize;
                    f.put(&r.next_u64().to_le_bytes(), &vec![0xab; n])?;
                }
            }
            tx.bucket(b"meta")?
                .unwrap()
                .put(b"ver", &tx.id().get().to_le_bytes())?;
            max_size = max_size.max(tx.size());
            Ok(())
        })
        .unwrap();
        commits += 1;
        wd.progress();
        // Give the file back now and then while readers hold older mappings.
        if commits.is_multiple_of(40) {
            db.shrink().unwrap();
            shrinks += 1;
        }
    }
    drop(stop_readers);
    for h in readers {
        join_within(h, Duration::from_secs(30), "a reader checking snapshots");
    }
    let problems = db.begin_read().unwrap().check();
    assert!(problems.is_empty(), "{problems:?}");
    let reads = reads.load(Ordering::Relaxed);
    eprintln!(
        "stress: {commits} commits, {shrinks} shrinks, {reads} validated read snapshots, db up to {max_size} bytes"
    );
    assert!(
        reads > 100 && commits > 20,
        "too little work: {reads} reads, {commits} commits"
    );
}

/// Pages a live reader can see must not be reused while it is open (bbolt §3.15): its
/// snapshot must hash the same after the writer rewrote and deleted everything many times.
#[test]
fn a_long_reader_keeps_its_snapshot_while_pages_are_freed_and_reused() {
    let _wd = Watchdog::new(
        "a_long_reader_keeps_its_snapshot_while_pages_are_freed_and_reused",
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .page_size(1024)
        .no_sync(true)
        .open(dir.path().join("snap.db"))
        .unwrap();
    let fill = |db: &Db, tag: u8| {
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists(b"data")?;
            for i in 0..300u32 {
                b.put(format!("{i:05}").as_bytes(), &[tag; 90])?;
            }
            Ok(())
        })
        .unwrap();
    };
    fill(&db, 1);
    let mut held = Vec::new();
    for round in 0..6u8 {
        let r = db.begin_read().unwrap();
        let h = state_hash(&r).unwrap();
        held.push((r, h));
        for tag in 0..5u8 {
            fill(&db, 10 * round + tag + 2);
            if tag == 3 {
                db.update(|tx| tx.delete_bucket(b"data")).unwrap();
            }
        }
        for (r, h) in &held {
            assert_eq!(
                state_hash(r).unwrap(),
                *h,
                "reader at txid {} saw its snapshot change (pages released early)",
                r.id()
            );
            assert!(
                r.check().is_empty(),
                "reader at txid {}: {:?}",
                r.id(),
                r.check()
            );
        }
    }
}

fn child(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rbolt-crashchild"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rbolt-crashchild")
}

fn wait_line(c: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().to_string()
}

/// Waits for `c`; returns its exit code and the rest of its stdout.
fn finish(mut c: Child) -> (Option<i32>, String) {
    let mut s = String::new();
    if let Some(o) = c.stdout.as_mut() {
        std::io::Read::read_to_string(o, &mut s).ok();
    }
    let st = watchdog::wait_within(&mut c, Duration::from_secs(60), "rbolt-crashchild");
    (st.code(), s.trim().to_string())
}

fn seeded(path: &std::path::Path, n: u64) {
    let db = Options::new().open(path).unwrap();
    for i in 1..=n {
        db.update(|tx| killnine::apply(tx, i)).unwrap();
    }
}

#[test]
fn a_writer_process_excludes_read_only_processes() {
    let _wd = Watchdog::new(
        "a_writer_process_excludes_read_only_processes",
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locks.db");
    seeded(&path, 20);
    let p = path.to_str().unwrap();
    let mut holder = child(&["hold", p, "30"]);
    assert_eq!(wait_line(&mut holder), "locked");
    // Read-only processes time out while the writer holds the file.
    let readers: Vec<Child> = (0..2).map(|_| child(&["reader", p, "300"])).collect();
    for r in readers {
        let (code, out) = finish(r);
        assert_eq!((code, out.as_str()), (Some(3), "timeout"));
    }
    // So does a read-only open here, after about the timeout.
    let t = Instant::now();
    let res = Options::new()
        .read_only(true)
        .timeout(Duration::from_millis(300))
        .open(&path);
    assert!(matches!(res, Err(Error::Timeout)), "{res:?}");
    let el = t.elapsed();
    assert!(
        el >= Duration::from_millis(200) && el < Duration::from_millis(1500),
        "{el:?}"
    );
    // A killed holder releases the lock at once.
    holder.kill().unwrap();
    watchdog::wait_within(&mut holder, Duration::from_secs(10), "the killed holder");
    let t = Instant::now();
    let db = Options::new()
        .timeout(Duration::from_secs(2))
        .open(&path)
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    killnine::verify(&db, 20).unwrap();
}

#[test]
fn read_only_processes_share_and_exclude_the_writer() {
    let _wd = Watchdog::new(
        "read_only_processes_share_and_exclude_the_writer",
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    seeded(&path, 15);
    let p = path.to_str().unwrap();
    let mut h1 = child(&["hold", p, "4", "ro"]);
    let mut h2 = child(&["hold", p, "4", "ro"]);
    assert_eq!(wait_line(&mut h1), "locked");
    assert_eq!(wait_line(&mut h2), "locked");
    // Both hold the lock until at least 4 s after they printed, so until well after now + 2.5 s.
    let locked = Instant::now();
    let (code, out) = finish(child(&["reader", p, "300"]));
    assert_eq!((code, out.as_str()), (Some(0), "ok 15"));
    let res = Options::new()
        .timeout(Duration::from_millis(300))
        .open(&path);
    assert!(matches!(res, Err(Error::Timeout)), "{res:?}");
    // Without a timeout the writer waits until both readers are gone.
    let db = Options::new().open(&path).unwrap();
    assert!(
        locked.elapsed() >= Duration::from_millis(2500),
        "{:?}",
        locked.elapsed()
    );
    db.update(|tx| killnine::apply(tx, 16)).unwrap();
    killnine::verify(&db, 16).unwrap();
    finish(h1);
    finish(h2);
}

/// A running writer process and read-only processes: readers are locked out while it runs,
/// then see exactly the state of its last commit once it has been killed.
#[test]
fn read_only_processes_after_a_killed_writer_see_its_last_commit() {
    let _wd = Watchdog::new(
        "read_only_processes_after_a_killed_writer_see_its_last_commit",
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rw.db");
    let p = path.to_str().unwrap();
    let mut w = child(&["writer", p, "4096"]);
    let first = wait_line(&mut w);
    assert!(first.parse::<u64>().is_ok(), "{first}");
    let (code, out) = finish(child(&["reader", p, "200"]));
    assert_eq!((code, out.as_str()), (Some(3), "timeout"));
    w.kill().unwrap();
    let (_, rest) = finish(w);
    let acked: u64 = rest.lines().last().unwrap_or(&first).parse().unwrap();
    let (code, out) = finish(child(&["reader", p, "2000"]));
    assert_eq!(code, Some(0), "{out}");
    let n: u64 = out.strip_prefix("ok ").unwrap().parse().unwrap();
    assert!(n >= acked, "reader saw {n}, writer acknowledged {acked}");
}
