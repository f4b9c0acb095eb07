//! `rbolt import FILE`: JSON lines (as `export` writes them) or an `mdb_dump`, read as a
//! stream and written in transactions of at most `--tx-max-size` bytes of keys and values.
//! Each batch is committed before the next begins, so a failure keeps the batches before it
//! (as `mdb_load` does); a dump smaller than one batch loads all or nothing.

use super::mdb::{self, Item};
use super::{make_path, show_path, walk_path};
use crate::Ctx;
use crate::cli::data::{DumpFormat, ImportArgs};
use crate::error::CliError;
use crate::source::{open_read_write, path_arg, quoted};
use crate::values::unhex;
use indicatif::ProgressBar;
use serde_json::Value;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};

/// `64MiB`, `512KiB`, `1G`, `1000`: a byte count.
fn parse_size(s: &str) -> Result<u64, CliError> {
    let bad = || {
        CliError::usage(format!(
            "invalid size {s:?}: expected a byte count such as 64MiB"
        ))
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().map_err(|_| bad())?;
    let unit = match s[split..].trim() {
        "" | "B" => 1,
        "K" | "KB" | "KiB" | "k" => 1 << 10,
        "M" | "MB" | "MiB" => 1 << 20,
        "G" | "GB" | "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).ok_or_else(bad)
}

/// `1 key`, `2 keys`.
fn plural(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Applies records to the database, committing every `max` bytes.
struct Loader<'db> {
    db: &'db rbolt::Db,
    tx: Option<rbolt::Tx<rbolt::ReadWrite>>,
    max: u64,
    pending: u64,
    fill: Option<f64>,
    no_overwrite: bool,
    path: Vec<Vec<u8>>,
    buckets: u64,
    keys: u64,
    skipped: u64,
    commits: u64,
    last_txid: Option<rbolt_format::Txid>,
    /// Keys written by the transactions committed so far.
    committed_keys: u64,
}

impl<'db> Loader<'db> {
    fn tx(&mut self) -> Result<&rbolt::Tx<rbolt::ReadWrite>, CliError> {
        if self.tx.is_none() {
            self.tx = Some(self.db.begin_write()?);
        }
        Ok(self.tx.as_ref().expect("invariant: just begun"))
    }

    fn commit(&mut self) -> Result<(), CliError> {
        if let Some(tx) = self.tx.take() {
            let id = tx.id();
            tx.commit()?;
            self.commits += 1;
            self.last_txid = Some(id);
            self.committed_keys = self.keys;
        }
        self.pending = 0;
        Ok(())
    }

    /// Later pairs go into the bucket at `path`, created if missing; `seq` is set unless the
    /// bucket existed and `--no-overwrite` is on.
    fn enter(&mut self, path: Vec<Vec<u8>>, seq: Option<u64>) -> Result<(), CliError> {
        if path.is_empty() {
            return Err(CliError::msg(
                "keys outside any bucket: a bbolt file keeps keys in buckets",
            ));
        }
        if path.iter().any(Vec::is_empty) {
            return Err(CliError::msg("a bucket name cannot be empty"));
        }
        let no_overwrite = self.no_overwrite;
        let tx = self.tx()?;
        let existed = walk_path(tx, &path).is_ok();
        let b = make_path(tx, &path, true)?;
        if let Some(s) = seq
            && !(existed && no_overwrite)
            && b.sequence() != s
        {
            b.set_sequence(s)?;
        }
        self.path = path;
        Ok(())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), CliError> {
        if self.path.is_empty() {
            return Err(CliError::msg(
                "keys outside any bucket: a bbolt file keeps keys in buckets",
            ));
        }
        let (fill, no_overwrite) = (self.fill, self.no_overwrite);
        let path = std::mem::take(&mut self.path);
        let tx = self.tx()?;
        let res = (|| {
            let b = make_path(tx, &path, true)?;
            if let Some(f) = fill {
                b.set_fill_percent(f)?;
            }
            let shown = || {
                format!(
                    "{} {}",
                    show_path(&path),
                    String::from_utf8_lossy(&crate::values::auto(key))
                )
            };
            match b.get(key)? {
                Some(_) if no_overwrite => return Ok(false),
                None if b.bucket(key)?.is_some() => {
                    return Err(CliError::msg(format!("{} is a bucket, not a key", shown())));
                }
                _ => {}
            }
            b.put(key, value)
                .map_err(|e| CliError::msg(format!("{}: {}", shown(), CliError::from(e))))?;
            Ok(true)
        })();
        self.path = path;
        if res? {
            self.keys += 1;
        } else {
            self.skipped += 1;
        }
        self.pending += (key.len() + value.len()) as u64;
        if self.max > 0 && self.pending >= self.max {
            self.commit()?;
        }
        Ok(())
    }
}

pub(crate) fn run(a: &ImportArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let max = parse_size(&a.tx_max_size)?;
    if let Some(f) = a.fill_percent
        && !(0.1..=1.0).contains(&f)
    {
        return Err(CliError::usage(format!(
            "--fill-percent {f}: must be between 0.1 and 1.0"
        )));
    }
    let (input, bar): (Box<dyn Read>, ProgressBar) = match &a.input {
        Some(p) => {
            let f = std::fs::File::open(path_arg(p)).map_err(|e| {
                CliError::msg(format!("{}: {}", quoted(path_arg(p)), CliError::from(e)))
            })?;
            let bar = ctx.progress.bar(f.metadata()?.len(), "bytes");
            bar.set_prefix("import");
            (Box::new(bar.wrap_read(f)), bar)
        }
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "reading the dump from the terminal (Ctrl-D ends it; -i FILE reads a file)"
                );
            }
            (
                Box::new(std::io::stdin().lock()),
                ctx.progress.spinner("importing"),
            )
        }
    };
    let input = BufReader::with_capacity(1 << 16, input);
    let created = !path_arg(&a.file).exists();
    let db = open_read_write(path_arg(&a.file), ctx.timeout, true)?;
    let mut l = Loader {
        db: &db,
        tx: None,
        max,
        pending: 0,
        fill: a.fill_percent,
        no_overwrite: a.no_overwrite,
        path: Vec::new(),
        buckets: 0,
        keys: 0,
        skipped: 0,
        commits: 0,
        last_txid: None,
        committed_keys: 0,
    };
    let res = match a.format {
        DumpFormat::Jsonl => jsonl(input, &mut l),
        DumpFormat::Mdb | DumpFormat::MdbPrint => mdb(input, &mut l),
    }
    .and_then(|()| l.commit());
    bar.finish_and_clear();
    if let Err(e) = res {
        match l.last_txid {
            Some(id) => writeln!(
                out,
                "committed txid {id} before the error ({})",
                plural(l.committed_keys, "key")
            )?,
            None if created => {
                // Nothing was loaded: leave no empty database behind.
                drop(l);
                drop(db);
                let _ = std::fs::remove_file(path_arg(&a.file));
            }
            None => {}
        }
        return Err(e);
    }
    let skipped = if l.skipped > 0 {
        format!(" ({} kept)", plural(l.skipped, "existing key"))
    } else {
        String::new()
    };
    writeln!(
        out,
        "imported {} and {}{skipped} in {}",
        plural(l.buckets, "bucket"),
        plural(l.keys, "key"),
        plural(l.commits, "transaction")
    )?;
    match l.last_txid {
        Some(id) => writeln!(out, "committed txid {id}")?,
        None => writeln!(out, "nothing to change")?,
    }
    Ok(())
}

/// `"text"` or `{"hex": "…"}` as bytes.
fn bytes_of(v: &Value) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Object(o) if o.len() == 1 => match o.get("hex") {
            Some(Value::String(h)) => unhex(h.as_bytes()).map_err(|e| e.to_string()),
            _ => Err("expected a string or {\"hex\": \"…\"}".into()),
        },
        _ => Err("expected a string or {\"hex\": \"…\"}".into()),
    }
}

fn jsonl(mut input: impl BufRead, l: &mut Loader<'_>) -> Result<(), CliError> {
    let mut line = String::new();
    let mut n = 0u64;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        n += 1;
        let at = |why: String| CliError::msg(format!("line {n}: {why}"));
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| at(format!("invalid JSON: {e}")))?;
        let path = match v.get("bucket") {
            Some(Value::Array(p)) => p
                .iter()
                .map(bytes_of)
                .collect::<Result<Vec<_>, _>>()
                .map_err(at)?,
            _ => return Err(at("expected \"bucket\": [names...]".into())),
        };
        match (v.get("key"), v.get("value"), v.get("seq")) {
            (Some(k), Some(val), None) => {
                let (k, val) = (bytes_of(k).map_err(at)?, bytes_of(val).map_err(at)?);
                if path != l.path {
                    l.enter(path, None).map_err(|e| at(e.to_string()))?;
                }
                l.put(&k, &val).map_err(|e| at(e.to_string()))?;
            }
            (None, None, seq) => {
                let seq = match seq {
                    None => None,
                    Some(s) => Some(
                        s.as_u64()
                            .ok_or_else(|| at("seq must be a number".into()))?,
                    ),
                };
                l.enter(path, seq).map_err(|e| at(e.to_string()))?;
                l.buckets += 1;
            }
            _ => {
                return Err(at(
                    "expected {\"bucket\",\"seq\"} or {\"bucket\",\"key\",\"value\"}".into(),
                ));
            }
        }
    }
}

fn mdb(input: impl BufRead, l: &mut Loader<'_>) -> Result<(), CliError> {
    let mut r = mdb::Reader::new(input);
    let mut top_level = false;
    while let Some(item) = r.next_item()? {
        let at = |e: CliError| CliError::msg(format!("line {}: {e}", r.line_no()));
        match item {
            Item::Section {
                path: Some(p),
                sequence,
            } => {
                top_level = false;
                l.enter(p, sequence).map_err(at)?;
                l.buckets += 1;
            }
            Item::Section { path: None, .. } => top_level = true,
            Item::Pair(..) if top_level => {
                return Err(at(CliError::msg(
                    "keys outside any database: bbolt keeps keys in buckets (dump with mdb_dump -a)",
                )));
            }
            Item::Pair(k, v) => l.put(&k, &v).map_err(at)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("2K").unwrap(), 2048);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1TiB").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
