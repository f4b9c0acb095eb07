//! `rbolt bench`: bbolt's synthetic benchmark — batches of writes (sequential, random, or
//! into nested buckets), then reads for at least a second — with its flags, its stderr
//! chatter and its result lines (Go's duration and `testing.B` formats).

use crate::Ctx;
use crate::cli::bench::BenchArgs;
use crate::error::CliError;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

const BUCKET: &[u8] = b"bench";

/// Operations done and the time they took.
#[derive(Debug, Default)]
struct Results {
    ops: AtomicI64,
    nanos: AtomicI64,
}

impl Results {
    fn add(&self, n: i64) {
        self.ops.fetch_add(n, Ordering::Relaxed);
    }
    fn ops(&self) -> i64 {
        self.ops.load(Ordering::Relaxed)
    }
    fn nanos(&self) -> i64 {
        self.nanos.load(Ordering::Relaxed)
    }
    fn op_nanos(&self) -> i64 {
        if self.ops() == 0 {
            0
        } else {
            self.nanos() / self.ops()
        }
    }
    fn ops_per_sec(&self) -> i64 {
        match self.op_nanos() {
            0 => 0,
            op => 1_000_000_000 / op,
        }
    }
}

/// A small seeded generator (xorshift64*): the benchmark needs spread, not quality.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(t | 1)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

/// Prints "Completed N requests, N/s" every second while a phase runs, as bbolt does.
struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(results: Arc<Results>, bar: indicatif::ProgressBar) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut last_ops, mut last) = (0i64, Instant::now());
            let mut next = last + Duration::from_secs(1);
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
                let done = results.ops();
                bar.set_position(done.max(0) as u64);
                let now = Instant::now();
                if now >= next {
                    let taken = now.duration_since(last).as_nanos().max(1) as i64;
                    let rate = (done - last_ops) * 1_000_000_000 / taken;
                    bar.suspend(|| eprintln!("Completed {done} requests, {rate}/s "));
                    (last_ops, last) = (done, now);
                    next += Duration::from_secs(1);
                }
            }
        });
        Ticker {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[expect(
    clippy::big_endian_bytes,
    reason = "bbolt's bench writes keys as big-endian numbers so sequential keys sort in order"
)]
fn key(size: usize, n: u32) -> Vec<u8> {
    let mut k = vec![0u8; size];
    k[..4].copy_from_slice(&n.to_be_bytes());
    k
}

pub(crate) fn run(a: &BenchArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    if a.batch_size > 0 && a.count % a.batch_size != 0 {
        return Err(CliError::msg(
            "the number of iterations must be divisible by the batch size",
        ));
    }
    let nested = match a.write_mode.as_str() {
        "seq" | "rnd" => false,
        "seq-nest" | "rnd-nest" => true,
        _ => {
            return Err(CliError::msg(
                "the write mode should be one of seq, rnd, seq-nest, or rnd-nest",
            ));
        }
    };
    if a.read_mode != "seq" && a.read_mode != "rnd" {
        return Err(CliError::msg(format!(
            "bench: read: invalid read mode: {}",
            a.read_mode
        )));
    }
    if a.key_size < 4 {
        return Err(CliError::msg(format!(
            "the key size must be at least 4 bytes, but got {}",
            a.key_size
        )));
    }
    for (flag, v) in [
        ("cpuprofile", &a.cpuprofile),
        ("memprofile", &a.memprofile),
        ("blockprofile", &a.blockprofile),
    ] {
        if !v.is_empty() {
            eprintln!("rbolt: --{flag} writes a Go profile, which rbolt cannot; ignored");
        }
    }
    let path = if a.path.is_empty() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        std::env::temp_dir().join(format!("bolt-bench-{}-{nanos}", std::process::id()))
    } else {
        PathBuf::from(&a.path)
    };
    if a.work {
        eprintln!("work: {}", path.display());
    }
    let _cleanup = (!a.work).then(|| RemoveOnDrop(path.clone()));
    let batch = if a.batch_size == 0 {
        a.count
    } else {
        a.batch_size
    };

    let mut opts = rbolt::Options::new()
        .page_size(a.page_size)
        .no_sync(a.no_sync);
    if a.initial_mmap_size > 0 {
        opts = opts.initial_mmap_size(a.initial_mmap_size);
    }
    let db = opts.open(&path)?;
    let mut rng = Rng::new();

    let writes = Arc::new(Results::default());
    eprintln!("starting write benchmark.");
    let keys = {
        let bar = ctx.progress.bar(a.count.max(0) as u64, "ops");
        bar.set_prefix("write");
        let _t = Ticker::start(writes.clone(), bar.clone());
        let start = Instant::now();
        let keys = write_phase(&db, a, batch, nested, &mut rng, &writes, &bar);
        writes
            .nanos
            .store(start.elapsed().as_nanos() as i64, Ordering::Relaxed);
        bar.finish_and_clear();
        keys.map_err(|e| CliError::msg(format!("write: {e}")))?
    };
    let mut keys = keys;
    for i in (1..keys.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        keys.swap(i, j);
    }

    let reads = Arc::new(Results::default());
    eprintln!("starting read benchmark.");
    {
        let bar = ctx.progress.bar(0, "ops");
        bar.set_prefix("read");
        let _t = Ticker::start(reads.clone(), bar.clone());
        let start = Instant::now();
        let r = read_phase(&db, a, nested, &keys, &reads);
        reads
            .nanos
            .store(start.elapsed().as_nanos() as i64, Ordering::Relaxed);
        bar.finish_and_clear();
        r.map_err(|e| CliError::msg(format!("bench: read: {e}")))?;
    }

    if a.gobench_output {
        writeln!(out, "BenchmarkWrite\t{}", go_bench_result(&writes))?;
        writeln!(out, "BenchmarkRead \t{}", go_bench_result(&reads))?;
    } else {
        for (name, r) in [("Write", &writes), ("Read", &reads)] {
            writeln!(
                out,
                "# {name}\t{}(ops)\t{}\t({}/op)\t({} op/sec)",
                r.ops(),
                go_duration(r.nanos()),
                go_duration(r.op_nanos()),
                r.ops_per_sec()
            )?;
        }
    }
    writeln!(out)?;
    Ok(())
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// (sub-bucket, key) pairs written, kept for random reads.
type Written = Vec<(Vec<u8>, Vec<u8>)>;

fn write_phase(
    db: &rbolt::Db,
    a: &BenchArgs,
    batch: i64,
    nested: bool,
    rng: &mut Rng,
    results: &Results,
    bar: &indicatif::ProgressBar,
) -> rbolt::Result<Written> {
    let keep = a.read_mode == "rnd";
    let mut keys = Vec::new();
    let mut seq = 0u32;
    let random = a.write_mode.starts_with("rnd");
    let mut source = move |rng: &mut Rng| {
        if random {
            rng.u32()
        } else {
            seq = seq.wrapping_add(1);
            seq
        }
    };
    let value = vec![0u8; a.value_size];
    let mut i = 0i64;
    while i < a.count {
        db.update(|tx| {
            let top = tx.create_bucket_if_not_exists(BUCKET)?;
            top.set_fill_percent(a.fill_percent)?;
            let (b, name) = if nested {
                let name = key(a.key_size, source(rng));
                let b = top.create_bucket_if_not_exists(&name)?;
                b.set_fill_percent(a.fill_percent)?;
                (b, name)
            } else {
                (top, Vec::new())
            };
            bar.suspend(|| eprintln!("Starting write iteration {i}"));
            for _ in 0..batch {
                let k = key(a.key_size, source(rng));
                b.put(&k, &value)?;
                if keep {
                    keys.push((name.clone(), k));
                }
                results.add(1);
            }
            bar.suspend(|| eprintln!("Finished write iteration {i}"));
            Ok(())
        })?;
        i += batch;
    }
    Ok(keys)
}

fn read_phase(
    db: &rbolt::Db,
    a: &BenchArgs,
    nested: bool,
    keys: &Written,
    results: &Results,
) -> Result<(), String> {
    let tx = db.begin_read().map_err(|e| e.to_string())?;
    let top = tx
        .bucket(BUCKET)
        .map_err(|e| e.to_string())?
        .ok_or("bucket not found")?;
    let start = Instant::now();
    let mode = if nested { "seq-nest" } else { "seq" };
    loop {
        let mut n = 0i64;
        if a.read_mode == "seq" && nested {
            for item in top.iter() {
                let (name, _) = item.map_err(|e| e.to_string())?;
                if let Some(b) = top.bucket(name).map_err(|e| e.to_string())? {
                    for kv in b.iter() {
                        n += 1;
                        if kv.map_err(|e| e.to_string())?.1.is_none() {
                            return Err("invalid value".into());
                        }
                    }
                }
                // bbolt adds the running total after each sub-bucket.
                results.add(n);
            }
        } else if a.read_mode == "seq" {
            for kv in top.iter() {
                n += 1;
                if kv.map_err(|e| e.to_string())?.1.is_none() {
                    results.add(n);
                    return Err("invalid value".into());
                }
            }
            results.add(n);
        } else {
            for (name, k) in keys {
                let b = if nested {
                    match top.bucket(name).map_err(|e| e.to_string())? {
                        Some(b) => b,
                        None => continue,
                    }
                } else {
                    top
                };
                n += 1;
                if b.get(k).map_err(|e| e.to_string())?.is_none() {
                    results.add(n);
                    return Err("invalid value".into());
                }
            }
            results.add(n);
        }
        if a.write_mode == mode && n != a.count {
            return Err(format!(
                "read {mode}: iter mismatch: expected {}, got {n}",
                a.count
            ));
        }
        if start.elapsed() >= Duration::from_secs(1) {
            return Ok(());
        }
    }
}

/// Go's `time.Duration.String`.
pub(crate) fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut s = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", frac(u, 1_000))
    } else if u < 1_000_000_000 {
        format!("{}ms", frac(u, 1_000_000))
    } else {
        let secs = frac(u % 60_000_000_000, 1_000_000_000);
        let mins = u / 60_000_000_000;
        let (h, m) = (mins / 60, mins % 60);
        if h > 0 {
            format!("{h}h{m}m{secs}s")
        } else if m > 0 {
            format!("{m}m{secs}s")
        } else {
            format!("{secs}s")
        }
    };
    if neg {
        s.insert(0, '-');
    }
    s
}

/// `v / unit` with the fraction's trailing zeros dropped.
fn frac(v: u64, unit: u64) -> String {
    let (int, rest) = (v / unit, v % unit);
    if rest == 0 {
        return int.to_string();
    }
    let width = unit.ilog10() as usize;
    let f = format!("{rest:0width$}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// Go's `testing.BenchmarkResult.String` for N operations in T.
fn go_bench_result(r: &Results) -> String {
    let n = r.ops();
    let mut s = format!("{n:8}");
    if n > 0 {
        let ns = r.nanos() as f64 / n as f64;
        if ns != 0.0 {
            s.push('\t');
            let y = ns.abs();
            let v = if y == 0.0 || y >= 999.95 {
                format!("{ns:10.0}")
            } else if y >= 99.995 {
                format!("{ns:12.1}")
            } else if y >= 9.9995 {
                format!("{ns:13.2}")
            } else if y >= 0.99995 {
                format!("{ns:14.3}")
            } else if y >= 0.099995 {
                format!("{ns:15.4}")
            } else if y >= 0.0099995 {
                format!("{ns:16.5}")
            } else if y >= 0.00099995 {
                format!("{ns:17.6}")
            } else {
                format!("{ns:18.7}")
            };
            s.push_str(&v);
            s.push_str(" ns/op");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(999), "999ns");
        assert_eq!(go_duration(28_994), "28.994µs");
        assert_eq!(go_duration(28_994_878), "28.994878ms");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(62_000_000_000), "1m2s");
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
        assert_eq!(go_duration(2_000_000), "2ms");
    }

    #[test]
    fn gobench_format() {
        let r = Results::default();
        r.add(1000);
        r.nanos.store(5_430_000, Ordering::Relaxed);
        assert_eq!(go_bench_result(&r), "    1000\t      5430 ns/op");
    }
}
