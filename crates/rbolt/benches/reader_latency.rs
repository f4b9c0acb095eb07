//! Latency of beginning and ending a read transaction while the writer keeps committing and a
//! long-lived reader holds many freed pages pending.
//!
//! `cargo bench -p rbolt --bench reader_latency`. Knobs (environment):
//! `RBOLT_BENCH_PENDING` (pages held pending, default 1,000,000), `RBOLT_BENCH_SECS` (how
//! long to measure, default 20), `RBOLT_BENCH_DIR` (where the 1 KiB-page file of about
//! `PENDING` KiB goes; default the system temp directory).
//!
//! Setup: a bucket of 64-page values is loaded, a reader begins, the bucket is deleted, so
//! every one of its pages stays pending for as long as that reader lives. Then one thread
//! commits a small transaction every 50 ms or so while this thread begins and ends a read
//! transaction every millisecond, as a service's requests would arrive, and records how long
//! each `begin_read` took (the call itself, and from when the read was due), each end (drop),
//! and the writer's `begin_write` (where it releases pending pages) and whole transaction.

#![allow(
    clippy::big_endian_bytes,
    reason = "big-endian integers make keys that sort numerically"
)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PAGE: usize = 1024;
/// Pages per value: 64 one-KiB pages (the value plus its leaf element header fit in them).
const VALUE_PAGES: usize = 64;
/// One read transaction is due every this often.
const INTERVAL: Duration = Duration::from_millis(1);
/// The writer's pause between commits: a service committing ten to twenty times a second.
const WRITER_PAUSE: Duration = Duration::from_millis(50);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut v: Vec<Duration>) {
    v.sort_unstable();
    println!(
        "{name:<27} n={:<7} p50={:>9.2?} p99={:>9.2?} p99.9={:>9.2?} max={:>9.2?}",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        percentile(&v, 0.999),
        v[v.len() - 1]
    );
}

fn main() -> Result<(), rbolt::Error> {
    let pending = env_usize("RBOLT_BENCH_PENDING", 1_000_000);
    let secs = env_usize("RBOLT_BENCH_SECS", 20);
    let dir = match std::env::var_os("RBOLT_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .map_err(rbolt::Error::Io)?;
    let db = rbolt::Options::new()
        .page_size(PAGE)
        .no_sync(true)
        .open(dir.path().join("pending.db"))?;

    let values = pending.div_ceil(VALUE_PAGES);
    let value = vec![7u8; VALUE_PAGES * PAGE - 64];
    let t = Instant::now();
    for chunk in (0..values).collect::<Vec<_>>().chunks(1000) {
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists(b"big")?;
            for &i in chunk {
                b.put((i as u64).to_be_bytes(), &value)?;
            }
            Ok(())
        })?;
    }
    let holder = db.begin_read()?;
    db.update(|tx| tx.delete_bucket(b"big"))?;
    let freed = db.stats().pending_page_n;
    println!(
        "setup: {values} values of {VALUE_PAGES} pages, {freed} pages pending behind a reader \
         ({:.1?})",
        t.elapsed()
    );

    let stop = AtomicBool::new(false);
    let (mut call, mut arrival, mut end) = (Vec::new(), Vec::new(), Vec::new());
    let (elapsed, (begin_write, update)) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let (mut begin, mut update) = (Vec::new(), Vec::new());
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let Ok(tx) = db.begin_write() else { break };
                let t1 = Instant::now();
                let r = tx
                    .create_bucket_if_not_exists(b"small")
                    .and_then(|b| b.put((i % 1000).to_be_bytes(), i.to_be_bytes()))
                    .and_then(|()| tx.commit());
                if r.is_err() {
                    break;
                }
                begin.push(t1 - t0);
                update.push(t0.elapsed());
                i += 1;
                std::thread::sleep(WRITER_PAUSE);
            }
            (begin, update)
        });
        // Open loop: read k is due at start + k × INTERVAL whatever happened before, so a
        // stall shows in every read that falls due during it, not in one sample (coordinated
        // omission). The reader sleeps between reads, leaving the cores to the writer; the
        // wake-up (tens of µs) is part of every "from due time" figure, before and after.
        let start = Instant::now();
        let mut due = start;
        while start.elapsed() < Duration::from_secs(secs as u64) {
            due += INTERVAL;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let t0 = Instant::now();
            let tx = db.begin_read();
            let t1 = Instant::now();
            drop(tx);
            let t2 = Instant::now();
            call.push(t1 - t0);
            arrival.push(t1.saturating_duration_since(due));
            end.push(t2 - t1);
        }
        stop.store(true, Ordering::Relaxed);
        let elapsed = start.elapsed();
        (elapsed, writer.join().unwrap_or_default())
    });
    println!(
        "writer: {} commits in {elapsed:.2?}, one every {WRITER_PAUSE:?} plus its own time",
        update.len()
    );
    report("begin_write (writer)", begin_write);
    report("whole write tx (writer)", update);
    report("begin_read (from due time)", arrival);
    report("begin_read (call)", call);
    report("end_read (call)", end);
    drop(holder);
    Ok(())
}
