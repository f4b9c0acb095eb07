//! `rbolt-script`: dump, check and apply op scripts — the contract the interop tests and the
//! Go helper in `interop/go` share, so the two engines can be compared line for line.
//!
//! - `rbolt-script dump DB` prints the database in cursor order, recursively: `B <path>
//!   seq=<n>` for a bucket (at its key's position in its parent, followed by its contents) and
//!   `K <path> <key> <value>` for a pair; paths are bucket names in lower-case hex joined by
//!   `/`, keys and values lower-case hex (an empty value is an empty field, so `K 61 6b `
//!   ends with a space).
//! - `rbolt-script check DB` prints `OK` and exits 0, or one problem per line and exits 1.
//! - `rbolt-script apply [--page-size N] [--no-freelist-sync] OPS DB` replays an op file
//!   (format in [`rbolt_testkit::script`]) onto the database, creating it if missing; any
//!   error prints the line and exits 1.

use anyhow::{Context, Result, bail};
use rbolt_testkit::script;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  rbolt-script dump DB
  rbolt-script check DB
  rbolt-script apply [--page-size N] [--no-freelist-sync] OPS DB";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("rbolt-script: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dump") if args.len() == 2 => {
            let path = PathBuf::from(&args[1]);
            let db = rbolt::Options::new()
                .read_only(true)
                .open(&path)
                .with_context(|| format!("open {}", path.display()))?;
            let tx = db.begin_read()?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            script::dump_tx(&tx, &mut out)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Some("check") if args.len() == 2 => {
            let db = match rbolt::Options::new().read_only(true).open(&args[1]) {
                Ok(db) => db,
                Err(e) => {
                    println!("open: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let problems = db.begin_read()?.check();
            if problems.is_empty() {
                println!("OK");
                return Ok(ExitCode::SUCCESS);
            }
            for p in &problems {
                println!("{p}");
            }
            Ok(ExitCode::FAILURE)
        }
        Some("apply") => {
            let mut page_size = None;
            let mut no_freelist_sync = false;
            let mut rest = Vec::new();
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--page-size" => {
                        let n = it.next().context("--page-size needs a value")?;
                        page_size =
                            Some(n.parse().with_context(|| format!("bad page size {n:?}"))?);
                    }
                    "--no-freelist-sync" => no_freelist_sync = true,
                    _ => rest.push(a.clone()),
                }
            }
            if rest.len() != 2 {
                bail!("{USAGE}");
            }
            let ops =
                std::fs::read_to_string(&rest[0]).with_context(|| format!("read {}", rest[0]))?;
            script::apply_file(rest[1].as_ref(), &ops, page_size, no_freelist_sync)?;
            Ok(ExitCode::SUCCESS)
        }
        _ => bail!("{USAGE}"),
    }
}
