//! Child process for the kill -9 and cross-process lock tests (`tests/it/killnine.rs`,
//! `tests/it/stress.rs`).
//!
//! - `rbolt-crashchild writer DB`: resumes after the last committed number `n` and commits
//!   `n+1, n+2, ...` forever, printing each number on stdout once its commit returned `Ok`.
//!   The state after `n` commits is `rbolt_testkit::killnine::expected(n)`.
//! - `rbolt-crashchild hold DB SECS [ro]`: opens (read-write, or read-only with `ro`), prints
//!   `locked`, and keeps the file open for SECS seconds.
//! - `rbolt-crashchild reader DB TIMEOUT_MS`: opens read-only with a lock timeout; prints
//!   `timeout` (exit 3) or `ok <n>` after verifying the state of the last commit.

use anyhow::{Context, Result, bail};
use rbolt_testkit::killnine;
use std::io::Write;
use std::time::Duration;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let path = args.get(2).context("usage: rbolt-crashchild MODE DB ...")?;
    match mode {
        "writer" => {
            let page_size: usize = args.get(3).map_or(Ok(4096), |s| s.parse())?;
            let db = rbolt::Options::new().page_size(page_size).open(path)?;
            let mut n = killnine::last(&db)?;
            let out = std::io::stdout();
            loop {
                n += 1;
                db.update(|tx| killnine::apply(tx, n))?;
                let mut o = out.lock();
                writeln!(o, "{n}")?;
                o.flush()?;
            }
        }
        "hold" => {
            let secs: f64 = args.get(3).context("SECS")?.parse()?;
            let ro = args.get(4).is_some_and(|s| s == "ro");
            let db = rbolt::Options::new().read_only(ro).open(path)?;
            println!("locked");
            std::thread::sleep(Duration::from_secs_f64(secs));
            drop(db);
            Ok(())
        }
        "reader" => {
            let ms: u64 = args.get(3).context("TIMEOUT_MS")?.parse()?;
            match rbolt::Options::new()
                .read_only(true)
                .timeout(Duration::from_millis(ms))
                .open(path)
            {
                Err(rbolt::Error::Timeout) => {
                    println!("timeout");
                    std::process::exit(3);
                }
                Err(e) => bail!("open: {e}"),
                Ok(db) => {
                    let n = killnine::last(&db)?;
                    killnine::verify(&db, n)?;
                    println!("ok {n}");
                    Ok(())
                }
            }
        }
        _ => bail!("unknown mode {mode:?}"),
    }
}
