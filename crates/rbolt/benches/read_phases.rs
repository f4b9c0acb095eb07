//! The read phases of rbolt-bench's main workload, on the database its write phases leave,
//! each timed many times in one process with CPU time beside wall time: on a shared machine
//! the thread's CPU time moves less than the clock when other jobs take the cores.
//!
//! `cargo bench -p rbolt --bench read_phases`. Knobs (environment): `RBOLT_BENCH_N` (keys
//! loaded, default 200,000), `RBOLT_BENCH_PASSES` (times each phase runs, default 7),
//! `RBOLT_BENCH_PHASES` (a comma list of `reads`, `range`, `1t`, `2t`, `4t`; default all).
//!
//! Setup, as rbolt-bench (`crates/rbolt-bench/src/workload.rs`, same keys and values from the
//! same generator): N random 24-byte keys with 150-byte values in one transaction, then the
//! individual, batch and no-sync commits (without syncing here: syncs do not change the file's
//! layout). Phases: `reads` gets the first N keys; `range` reads 10 entries from each of the
//! first N/2 keys; `1t`/`2t`/`4t` get every key split across that many threads, each in its
//! own read transaction. Printed per phase: wall and CPU time (the thread's, or the process's
//! for the threaded phases), minimum and median over the passes.

use rustix::time::{ClockId, clock_gettime};
use std::time::Instant;

const SEED: u64 = 3;
const KEY_LEN: usize = 24;
const VALUE_LEN: usize = 150;

/// wyrand, as rbolt-bench's `Rng`.
struct Rng(u64);

impl Rng {
    fn for_index(i: u64) -> Self {
        Rng(SEED ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xA076_1D64_78BD_642F);
        let t = u128::from(self.0).wrapping_mul(u128::from(self.0 ^ 0xE703_7ED1_A0B4_28DB));
        (t as u64) ^ ((t >> 64) as u64)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn key(i: u64, out: &mut [u8; KEY_LEN]) {
    Rng::for_index(i).fill(out);
}

fn value_sum(v: &[u8]) -> u64 {
    u64::from(v.first().copied().unwrap_or(0)) + v.len() as u64
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpu_ms(clock: ClockId) -> f64 {
    let t = clock_gettime(clock);
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

/// Commits `range` of the workload's elements in one transaction.
fn write(db: &rbolt::Db, range: std::ops::Range<u64>) -> rbolt::Result<()> {
    let (mut k, mut v) = ([0u8; KEY_LEN], [0u8; VALUE_LEN]);
    db.update(|tx| {
        let b = tx.create_bucket_if_not_exists(b"t")?;
        for i in range {
            let mut r = Rng::for_index(i);
            r.fill(&mut k);
            r.fill(&mut v);
            b.put(k, v)?;
        }
        Ok(())
    })
}

/// Wall and CPU times of one phase's passes.
#[derive(Default)]
struct Times {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

fn min_median(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2])
}

fn main() -> rbolt::Result<()> {
    let n = env_u64("RBOLT_BENCH_N", 200_000);
    let passes = env_u64("RBOLT_BENCH_PASSES", 7);
    let phases =
        std::env::var("RBOLT_BENCH_PHASES").unwrap_or_else(|_| "reads,range,1t,2t,4t".into());
    let phases: Vec<&str> = phases.split(',').collect();

    let dir = tempfile::tempdir().map_err(rbolt::Error::Io)?;
    let db = rbolt::Options::new()
        .no_sync(true)
        .open(dir.path().join("reads.db"))?;
    let individual = (n / 1000).clamp(100, 1000);
    let batch = (n / 1000).clamp(10, 1000);
    let nosync = (n / 20).clamp(100, 50_000);
    write(&db, 0..n)?;
    let mut next = n;
    for _ in 0..individual {
        write(&db, next..next + 1)?;
        next += 1;
    }
    for _ in 0..100 {
        write(&db, next..next + batch)?;
        next += batch;
    }
    for _ in 0..nosync {
        write(&db, next..next + 1)?;
        next += 1;
    }
    let elements = next;

    let mut results: Vec<(&str, Times)> = phases.iter().map(|p| (*p, Times::default())).collect();
    let mut sink = 0u64;
    for _ in 0..passes {
        for (phase, times) in &mut results {
            let (wall, cpu) = match *phase {
                "reads" | "range" => {
                    let tx = db.begin_read()?;
                    let b = tx.open_bucket(b"t")?;
                    let mut k = [0u8; KEY_LEN];
                    let (t0, c0) = (Instant::now(), cpu_ms(ClockId::ThreadCPUTime));
                    if *phase == "reads" {
                        for i in 0..n {
                            key(i, &mut k);
                            sink += b.get(k)?.map_or(0, value_sum);
                        }
                    } else {
                        for i in 0..n / 2 {
                            key(i, &mut k);
                            for item in b.range(&k[..]..).take(10) {
                                sink += item?.1.map_or(0, value_sum);
                            }
                        }
                    }
                    (
                        t0.elapsed().as_secs_f64() * 1e3,
                        cpu_ms(ClockId::ThreadCPUTime) - c0,
                    )
                }
                threads => {
                    let threads: u64 = threads.trim_end_matches('t').parse().unwrap_or(1);
                    let per = elements / threads;
                    let barrier = std::sync::Barrier::new(threads as usize + 1);
                    let (db, barrier) = (&db, &barrier);
                    std::thread::scope(|s| {
                        let workers: Vec<_> = (0..threads)
                            .map(|t| {
                                s.spawn(move || -> rbolt::Result<u64> {
                                    let tx = db.begin_read()?;
                                    let b = tx.open_bucket(b"t")?;
                                    let (mut k, mut sum) = ([0u8; KEY_LEN], 0);
                                    barrier.wait();
                                    for i in t * per..(t + 1) * per {
                                        key(i, &mut k);
                                        sum += b.get(k)?.map_or(0, value_sum);
                                    }
                                    Ok(sum)
                                })
                            })
                            .collect();
                        barrier.wait();
                        let (t0, c0) = (Instant::now(), cpu_ms(ClockId::ProcessCPUTime));
                        for w in workers {
                            sink += w.join().expect("reader thread panicked")?;
                        }
                        Ok::<_, rbolt::Error>((
                            t0.elapsed().as_secs_f64() * 1e3,
                            cpu_ms(ClockId::ProcessCPUTime) - c0,
                        ))
                    })?
                }
            };
            times.wall.push(wall);
            times.cpu.push(cpu);
        }
    }
    std::hint::black_box(sink);
    println!("n = {n}, {passes} passes; times in ms, min / median");
    for (phase, mut t) in results {
        let (wmin, wmed) = min_median(&mut t.wall);
        let (cmin, cmed) = min_median(&mut t.cpu);
        println!("{phase:<6} wall {wmin:>8.1} / {wmed:>8.1}   cpu {cmin:>8.1} / {cmed:>8.1}");
    }
    Ok(())
}
