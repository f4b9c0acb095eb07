//! The README's "run" command: creates a database in a temporary directory, loads it, reads
//! it back, and prints what it did with timings.
//!
//! `cargo run --release -p rbolt --example demo -- [--n N] [--keep PATH]`
#![allow(
    clippy::big_endian_bytes,
    reason = "big-endian integers make keys that sort numerically"
)]

use rbolt_testkit::rng::Rng;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let n: usize = arg("--n")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = arg("--keep")
        .map(Into::into)
        .unwrap_or_else(|| dir.path().join("demo.db"));
    let _ = std::fs::remove_file(&path);

    println!("rbolt demo: database at {}", path.display());
    let db = rbolt::Db::open(&path)?;
    let mut rng = Rng::new(42);
    let keys: Vec<[u8; 24]> = (0..n).map(|_| rng.random()).collect();
    let value = |k: &[u8; 24]| -> [u8; 150] { [k[0]; 150] };

    // 1. Bulk load: every key in ONE transaction (bbolt needs > 10 minutes for 1M).
    let t = Instant::now();
    let tx = db.begin_write()?;
    let b = tx.create_bucket(b"data")?;
    for k in &keys {
        b.put(k, value(k))?;
    }
    let put = t.elapsed();
    tx.commit()?;
    let load = t.elapsed();
    println!(
        "bulk load: {n} random 24-byte keys, 150-byte values, one transaction: {:.2} s \
         (puts {:.2} s, commit {:.2} s) = {:.0} puts/s",
        load.as_secs_f64(),
        put.as_secs_f64(),
        (load - put).as_secs_f64(),
        n as f64 / load.as_secs_f64()
    );

    // 2. Small durable transactions.
    let t = Instant::now();
    for i in 0..100u32 {
        db.update(|tx| {
            tx.create_bucket_if_not_exists(b"log")?
                .put(i.to_be_bytes(), b"event")
        })?;
    }
    println!(
        "100 small durable commits: {:.1} ms each",
        t.elapsed().as_secs_f64() * 10.0
    );

    // 3. Random reads in one read transaction.
    let t = Instant::now();
    let tx = db.begin_read()?;
    let b = tx.bucket(b"data")?.ok_or(rbolt::Error::BucketNotFound)?;
    let reads = n.min(1_000_000);
    let mut found = 0usize;
    for _ in 0..reads {
        let k = &keys[rng.random_range(0..n)];
        if b.get(k)?.is_some_and(|v| v == value(k)) {
            found += 1;
        }
    }
    let el = t.elapsed();
    assert_eq!(found, reads, "every key reads back its value");
    println!(
        "{reads} random reads: {:.2} s = {:.0} reads/s",
        el.as_secs_f64(),
        reads as f64 / el.as_secs_f64()
    );

    // 4. A full ordered scan, forwards and backwards.
    let t = Instant::now();
    let fwd = b.iter().count();
    let rev = b.iter().rev().count();
    println!(
        "full scan forward + backward: {fwd} + {rev} entries in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    drop(tx);

    // 5. Consistency check, like `bbolt check`.
    let t = Instant::now();
    let problems = db.begin_read()?.check();
    println!(
        "consistency check: {} in {:.2} s",
        if problems.is_empty() {
            "OK".to_string()
        } else {
            format!("{} problems", problems.len())
        },
        t.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(&path)?.len();
    println!(
        "file size {:.1} MiB; peak RSS {}",
        size as f64 / (1 << 20) as f64,
        match rbolt_testkit::peak_rss() {
            0 => "unknown".into(),
            b => format!("{:.0} MiB", b as f64 / (1 << 20) as f64),
        }
    );
    if !problems.is_empty() {
        return Err("consistency check failed".into());
    }
    Ok(())
}
