//! What a read-write open costs on a large file: it walks the page structure to prove the
//! freelist lists no page the tree uses. Builds the file if it is missing (values of 1 KiB
//! under sequential keys in one bucket, about `--mib` MiB), then times read-only opens (no
//! walk) and read-write opens (the walk), each a fresh process-local open of a warm file.
//!
//! `cargo run --release -p rbolt --example open_cost -- [--mib 1024] [--path FILE] [--runs 5]`

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let mib: u64 = arg("--mib").map(|s| s.parse()).transpose()?.unwrap_or(1024);
    let runs: usize = arg("--runs").map(|s| s.parse()).transpose()?.unwrap_or(5);
    let path = arg("--path").unwrap_or_else(|| "open-cost.db".into());
    if !std::path::Path::new(&path).exists() {
        let db = rbolt::Options::new().no_sync(true).open(&path)?;
        let value = vec![0x5au8; 1024];
        let per_tx = 65_536u64;
        let total = mib * 1024;
        let mut i = 0u64;
        while i < total {
            db.update(|tx| {
                let b = tx.create_bucket_if_not_exists(b"data")?;
                for k in i..(i + per_tx).min(total) {
                    b.put(
                        k.to_le_bytes().iter().rev().copied().collect::<Vec<_>>(),
                        &value,
                    )?;
                }
                Ok(())
            })?;
            i += per_tx;
        }
        db.sync()?;
    }
    let len = std::fs::metadata(&path)?.len();
    let time = |read_only: bool| -> Result<Duration, rbolt::Error> {
        let mut best = Duration::MAX;
        for _ in 0..runs {
            let t = Instant::now();
            let db = rbolt::Options::new().read_only(read_only).open(&path)?;
            best = best.min(t.elapsed());
            drop(db);
        }
        Ok(best)
    };
    let ro = time(true)?;
    let rw = time(false)?;
    println!(
        "file {:.0} MiB: read-only open {:.2} ms, read-write open {:.2} ms (best of {runs})",
        len as f64 / (1 << 20) as f64,
        ro.as_secs_f64() * 1e3,
        rw.as_secs_f64() * 1e3
    );
    Ok(())
}
