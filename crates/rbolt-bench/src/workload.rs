//! The workload (redb's `lmdb_benchmark`) and the adapter
//! trait every engine implements.
//!
//! Every key and value is a pure function of its index (`pair(i)`), drawn from one wyrand
//! stream per index with a fixed seed; the Go driver (`go/main.go`) implements the same
//! generator, so every engine sees exactly the same bytes in the same order.

use anyhow::{Result, ensure};
use std::path::Path;
use std::sync::Barrier;
use std::time::Instant;

/// Seed shared with the Go driver.
pub(crate) const SEED: u64 = 3;
pub(crate) const KEY_LEN: usize = 24;
pub(crate) const VALUE_LEN: usize = 150;
/// Reads and range scans are repeated this many times; the median is reported.
pub(crate) const READ_ITERATIONS: usize = 3;
pub(crate) const SCAN_LEN: usize = 10;
/// `len()` is timed this many times, each after a durable commit; the median is reported.
pub(crate) const LEN_SAMPLES: usize = 9;
pub(crate) const THREADS: [usize; 3] = [1, 2, 4];
pub(crate) const LARGE_MIN: usize = 100 << 10;
pub(crate) const LARGE_MAX: usize = 2 << 20;

/// wyrand, the generator `fastrand` uses. Small, fast and trivially portable to Go.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The stream for element `i`.
    pub(crate) fn for_index(i: u64) -> Self {
        Rng(SEED ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xA076_1D64_78BD_642F);
        let t = u128::from(self.0).wrapping_mul(u128::from(self.0 ^ 0xE703_7ED1_A0B4_28DB));
        (t as u64) ^ ((t >> 64) as u64)
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Key of element `i`: the first 24 bytes of its stream.
pub(crate) fn key(i: u64, out: &mut [u8; KEY_LEN]) {
    Rng::for_index(i).fill(out);
}

/// Key and value of element `i`: key first, then value, from one stream.
pub(crate) fn pair(i: u64, k: &mut [u8; KEY_LEN], v: &mut [u8; VALUE_LEN]) {
    let mut r = Rng::for_index(i);
    r.fill(k);
    r.fill(v);
}

/// Key of the `i`th sorted insert: 24 × 0xFF, then a big-endian counter (redb's HEAD harness).
#[expect(
    clippy::big_endian_bytes,
    reason = "the counter is big-endian so that keys sort in insertion order"
)]
pub(crate) fn sorted_key(i: u64) -> [u8; 32] {
    let mut k = [0xFF; 32];
    k[24..].copy_from_slice(&i.to_be_bytes());
    k
}

/// Checksum of a value as the read phases see it (same in Go).
pub(crate) fn value_sum(v: &[u8]) -> u64 {
    u64::from(v.first().copied().unwrap_or(0)) + v.len() as u64
}

/// Sizes of every phase, derived from `n`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub(crate) n: u64,
    pub(crate) individual: u64,
    pub(crate) batch_txs: u64,
    pub(crate) batch_size: u64,
    pub(crate) nosync: u64,
    pub(crate) large: u64,
}

impl Params {
    pub(crate) fn new(n: u64) -> Self {
        Params {
            n,
            individual: (n / 1000).clamp(100, 1000),
            batch_txs: 100,
            batch_size: (n / 1000).clamp(10, 1000),
            nosync: (n / 20).clamp(100, 50_000),
            large: (n / 1000).max(10),
        }
    }

    pub(crate) fn elements(&self) -> u64 {
        self.n + self.individual + self.batch_txs * self.batch_size + self.nosync
    }
}

/// Inserts and removals inside one write transaction.
pub(crate) trait Writer {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Returns whether the key was there.
    fn remove(&mut self, key: &[u8]) -> Result<bool>;
    /// Insert a key greater than every key present, through the engine's append path.
    fn insert_sorted(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.insert(key, value)
    }
}

/// Lookups inside one read transaction (a snapshot where the engine has one).
pub(crate) trait Reader {
    /// Look up `key`; on a hit add `value_sum(value)` to `sum` and return true.
    fn get(&self, key: &[u8], sum: &mut u64) -> Result<bool>;
    /// Visit up to `count` entries from the first key ≥ `from`, adding each `value_sum`;
    /// returns how many were visited.
    fn scan(&self, from: &[u8], count: usize, sum: &mut u64) -> Result<usize>;
    fn len(&self) -> Result<u64>;
}

/// One engine under test. `Sync` so that read transactions can run on several threads.
pub(crate) trait Engine: Sync {
    /// Run `f` in a write transaction and commit it, durably unless sync is off.
    fn write(&self, f: &mut dyn FnMut(&mut dyn Writer) -> Result<()>) -> Result<()>;
    /// Run `f` in a read transaction.
    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()>;
    /// Turn durable commits off or on. Returns false if the engine cannot.
    fn set_sync(&mut self, on: bool) -> Result<bool>;
    /// Make every commit so far durable (after no-sync commits). The default, an empty
    /// durable commit, does that only in engines that sync even when nothing changed; the
    /// others say how.
    fn make_durable(&self) -> Result<()> {
        self.write(&mut |_| Ok(()))
    }
    /// Run the engine's compaction. `Ok(false)`: the engine has none.
    fn compact(&mut self) -> Result<bool> {
        Ok(false)
    }
    /// Prepare the append path for sorted inserts (e.g. fill percent 1.0).
    fn prepare_sorted(&mut self) {}
}

/// One measured phase, as printed on the child's stdout:
/// `R <phase> <millis> <ops> <file_bytes>`.
#[derive(Clone, Debug)]
pub(crate) struct PhaseResult {
    pub(crate) phase: String,
    pub(crate) millis: f64,
    pub(crate) ops: u64,
    pub(crate) file_bytes: u64,
}

/// Prints results as they come and progress on stderr.
pub(crate) struct Recorder<'a> {
    pub(crate) engine: &'a str,
    pub(crate) dir: &'a Path,
}

impl Recorder<'_> {
    fn emit(&self, phase: &str, millis: f64, ops: u64) {
        let file_bytes = dir_size(self.dir);
        println!("R {phase} {millis:.6} {ops} {file_bytes}");
        let rate = if millis > 0.0 {
            ops as f64 / (millis / 1000.0)
        } else {
            0.0
        };
        // A call of `len` is a microsecond: in milliseconds the log would say 0.0.
        let time = if millis < 1.0 {
            format!("{:>10.2} µs", millis * 1000.0)
        } else {
            format!("{millis:>10.1} ms")
        };
        progress(format_args!(
            "[{}] {phase:<22} {time}  {rate:>12.0} ops/s  file {:.1} MiB",
            self.engine,
            file_bytes as f64 / (1 << 20) as f64
        ));
    }

    fn time<T>(&self, phase: &str, ops: u64, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let cpu = ThreadCpu::now();
        let prof = profiling(phase);
        let start = Instant::now();
        let out = if prof { profiled(f)? } else { f()? };
        let millis = start.elapsed().as_secs_f64() * 1000.0;
        self.emit(phase, millis, ops);
        cpu.report(self.engine, phase, millis);
        Ok(out)
    }

    fn size(&self, phase: &str) {
        let file_bytes = dir_size(self.dir);
        println!("R {phase} 0 0 {file_bytes}");
        progress(format_args!(
            "[{}] {phase:<22} {:.1} MiB",
            self.engine,
            file_bytes as f64 / (1 << 20) as f64
        ));
    }

    /// Runs `f` `READ_ITERATIONS` times and reports the median time.
    fn median(&self, phase: &str, ops: u64, f: impl FnMut() -> Result<()>) -> Result<()> {
        self.median_after(phase, ops, READ_ITERATIONS, |_| Ok(()), f)
    }

    /// Runs `setup(i)` untimed, then `f` timed, `times` times; reports the median of `f`.
    fn median_after(
        &self,
        phase: &str,
        ops: u64,
        times: usize,
        mut setup: impl FnMut(u64) -> Result<()>,
        mut f: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        let mut times_ms = Vec::new();
        let prof = profiling(phase);
        for i in 0..times as u64 {
            setup(i)?;
            let start = Instant::now();
            if prof {
                profiled(&mut f)?;
            } else {
                f()?;
            }
            times_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        times_ms.sort_by(f64::total_cmp);
        self.emit(phase, times_ms[times_ms.len() / 2], ops);
        Ok(())
    }
}

/// The calling thread's time on a CPU and waiting for one, from the scheduler's own counters
/// (`/proc/thread-self/schedstat`). On a shared machine a phase's wall-clock time mixes the
/// engine's work with disk waits and other jobs; on-CPU time separates them.
struct ThreadCpu(Option<(u64, u64, u64)>);

impl ThreadCpu {
    fn now() -> Self {
        let read = || -> Option<(u64, u64, u64)> {
            let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
            let mut it = s.split_whitespace().map(|x| x.parse::<u64>().ok());
            let (cpu, wait) = (it.next()??, it.next()??);
            // Minor faults are the tenth field of `stat`, the eighth after the command name
            // (which is in parentheses and may hold spaces).
            let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
            let rest = &stat[stat.rfind(')')? + 1..];
            let minflt = rest.split_whitespace().nth(7)?.parse().ok()?;
            Some((cpu, wait, minflt))
        };
        ThreadCpu(read())
    }

    /// Prints, on stderr, the phase's on-CPU and run-queue time of this thread (threads the
    /// phase spawns are not counted) and its minor page faults beside its wall-clock time.
    fn report(&self, engine: &str, phase: &str, wall_ms: f64) {
        let (Some(a), Some(b)) = (self.0, ThreadCpu::now().0) else {
            return;
        };
        let ms = |x: u64| x as f64 / 1e6;
        progress(format_args!(
            "[{engine}] {phase:<22} {wall_ms:>10.1} ms wall: {:.1} ms on CPU, {:.1} ms runnable, \
             {} minor faults",
            ms(b.0.saturating_sub(a.0)),
            ms(b.1.saturating_sub(a.1)),
            b.2.saturating_sub(a.2),
        ));
    }
}

/// One progress line on stderr in one write: stderr is unbuffered, and `eprintln!` writes
/// each formatted piece on its own, dozens of system calls (and wake-ups of the parent
/// reading the pipe) between two timed phases.
fn progress(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut s = line.to_string();
    s.push('\n');
    let _ = std::io::stderr().write_all(s.as_bytes());
}

/// True if `RBOLT_BENCH_PROFILE` (a comma list, or `all`) names this phase.
fn profiling(phase: &str) -> bool {
    std::env::var("RBOLT_BENCH_PROFILE")
        .is_ok_and(|p| p == "all" || p.split(',').any(|x| x == phase))
}

/// Runs the phases named by `RBOLT_BENCH_PROFILE`, so that
/// `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*workload::profiled*'
/// --dump-after='*workload::profiled*'` counts only those phases (on the calling thread),
/// one profile part per phase run.
#[inline(never)]
fn profiled<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::hint::black_box(f())
}

/// Total size of the regular files under `dir`.
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The main workload on an engine opened on an empty directory.
pub(crate) fn run_main(e: &mut dyn Engine, p: &Params, rec: &Recorder<'_>) -> Result<()> {
    let mut k = [0u8; KEY_LEN];
    let mut v = [0u8; VALUE_LEN];
    let elements = p.elements();

    rec.time("bulk_load", p.n, || {
        e.write(&mut |w| {
            for i in 0..p.n {
                pair(i, &mut k, &mut v);
                w.insert(&k, &v)?;
            }
            Ok(())
        })
    })?;

    let base = p.n;
    rec.time("individual_writes", p.individual, || {
        for i in base..base + p.individual {
            e.write(&mut |w| {
                pair(i, &mut k, &mut v);
                w.insert(&k, &v)
            })?;
        }
        Ok(())
    })?;

    let base = base + p.individual;
    rec.time("batch_writes", p.batch_txs * p.batch_size, || {
        for t in 0..p.batch_txs {
            e.write(&mut |w| {
                for j in 0..p.batch_size {
                    pair(base + t * p.batch_size + j, &mut k, &mut v);
                    w.insert(&k, &v)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;

    let base = base + p.batch_txs * p.batch_size;
    if e.set_sync(false)? {
        rec.time("nosync_writes", p.nosync, || {
            for i in base..base + p.nosync {
                e.write(&mut |w| {
                    pair(i, &mut k, &mut v);
                    w.insert(&k, &v)
                })?;
            }
            Ok(())
        })?;
        e.set_sync(true)?;
        // Make the no-sync commits durable before going on, as redb's harness does.
        e.make_durable()?;
    } else {
        // Keep the element count identical: insert them durably, untimed.
        for i in base..base + p.nosync {
            e.write(&mut |w| {
                pair(i, &mut k, &mut v);
                w.insert(&k, &v)
            })?;
        }
    }

    // One call takes 1–20 µs, less than its own spread from run to run, so the row is the
    // median of several, each in a fresh read transaction right after a durable commit that
    // rewrites one key with its own value (the count stays; the pages on its path change).
    rec.median_after(
        "len",
        elements,
        LEN_SAMPLES,
        |i| {
            e.write(&mut |w| {
                pair(i, &mut k, &mut v);
                w.insert(&k, &v)
            })
        },
        || {
            e.read(&mut |r| {
                let len = r.len()?;
                ensure!(len == elements, "len() = {len}, expected {elements}");
                Ok(())
            })
        },
    )?;

    // Random reads: the first n inserted keys (random in key space), all hits.
    let mut sums = Vec::new();
    e.read(&mut |r| {
        rec.median("random_reads", p.n, || {
            let mut sum = 0;
            for i in 0..p.n {
                key(i, &mut k);
                ensure!(r.get(&k, &mut sum)?, "key {i} missing");
            }
            sums.push(sum);
            Ok(())
        })
    })?;
    println!("C random_reads {}", sums[0]);

    let scans = p.n / 2;
    let mut scan_sums = Vec::new();
    e.read(&mut |r| {
        rec.median("random_range_reads", scans * SCAN_LEN as u64, || {
            let mut sum = 0;
            for i in 0..scans {
                key(i, &mut k);
                // Fewer than SCAN_LEN near the end of the key space.
                sum += r.scan(&k, SCAN_LEN, &mut sum)? as u64;
            }
            scan_sums.push(sum);
            Ok(())
        })
    })?;
    println!("C random_range_reads {}", scan_sums[0]);

    for threads in THREADS {
        let barrier = Barrier::new(threads);
        let engine: &dyn Engine = e;
        let phase = format!("random_reads_{threads}t");
        let per = elements / threads as u64;
        rec.time(&phase, per * threads as u64, || {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads as u64)
                    .map(|t| {
                        let barrier = &barrier;
                        s.spawn(move || {
                            engine.read(&mut |r| {
                                barrier.wait();
                                let mut k = [0u8; KEY_LEN];
                                let mut sum = 0;
                                for i in t * per..(t + 1) * per {
                                    key(i, &mut k);
                                    ensure!(r.get(&k, &mut sum)?, "key {i} missing");
                                }
                                Ok(())
                            })
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .try_for_each(|h| h.join().expect("reader thread panicked"))
            })
        })?;
    }

    let removals = elements / 2;
    rec.time("removals", removals, || {
        e.write(&mut |w| {
            for i in 0..removals {
                key(i, &mut k);
                ensure!(w.remove(&k)?, "key {i} missing on remove");
            }
            Ok(())
        })
    })?;

    rec.size("uncompacted_size");
    let start = Instant::now();
    if e.compact()? {
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        rec.emit("compaction", ms, 1);
        rec.size("compacted_size");
    }

    e.prepare_sorted();
    rec.time("sorted_inserts", p.n, || {
        e.write(&mut |w| {
            for i in 0..p.n {
                let mut r = Rng::for_index(u64::MAX - i);
                r.fill(&mut v);
                w.insert_sorted(&sorted_key(i), &v)?;
            }
            Ok(())
        })
    })?;
    Ok(())
}

/// The large-value variant, on a fresh database: `p.large` values of 100 KiB–2 MiB written in
/// one durable transaction, then read back once.
pub(crate) fn run_large(e: &mut dyn Engine, p: &Params, rec: &Recorder<'_>) -> Result<()> {
    let mut pool = vec![0u8; 2 * LARGE_MAX];
    Rng::new(SEED).fill(&mut pool);
    let spec = |i: u64| {
        let mut r = Rng::for_index(i);
        let len = LARGE_MIN + (r.next_u64() % (LARGE_MAX - LARGE_MIN + 1) as u64) as usize;
        let off = (r.next_u64() % LARGE_MAX as u64) as usize;
        (off, len)
    };
    let mut k = [0u8; KEY_LEN];
    let mut total = 0u64;
    rec.time("large_write", p.large, || {
        e.write(&mut |w| {
            for i in 0..p.large {
                key(i, &mut k);
                let (off, len) = spec(i);
                total += len as u64;
                w.insert(&k, &pool[off..off + len])?;
            }
            Ok(())
        })
    })?;
    println!("C large_bytes {total}");
    let mut sum = 0;
    rec.time("large_read", p.large, || {
        e.read(&mut |r| {
            for i in 0..p.large {
                key(i, &mut k);
                ensure!(r.get(&k, &mut sum)?, "large key {i} missing");
            }
            Ok(())
        })
    })?;
    println!("C large_read {sum}");
    Ok(())
}
