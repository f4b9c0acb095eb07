//! The op-script format shared by `rbolt-script` and the Go helper (`interop/go`): one op per
//! line, fields separated by one space, names and data in hex, buckets as `/`-joined paths.
//!
//! `cb PATH` · `db PATH` · `put PATH KEY [VAL]` · `del PATH KEY` · `seq PATH N` · `commit`.
//! Ops after the last `commit` are committed at the end; an op file that ends with `commit`
//! adds no empty transaction.

use anyhow::{Context, Result, anyhow, bail};
use rbolt::{Bucket, Db, Mode, Options, ReadWrite, Tx};
use std::io::Write;
use std::path::Path;

pub use rbolt_format::hex;

/// Decodes lower- or upper-case hex.
pub fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("odd-length hex {s:?}");
    }
    let nib = |c: u8| -> Result<u8> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => bail!("bad hex digit {:?}", c as char),
        }
    };
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Ok(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Parses a `/`-joined hex bucket path.
pub fn parse_path(s: &str) -> Result<Vec<Vec<u8>>> {
    s.split('/')
        .map(|p| {
            let b = unhex(p)?;
            if b.is_empty() {
                bail!("empty bucket name in path {s:?}");
            }
            Ok(b)
        })
        .collect()
}

fn ensure_path<'tx>(
    tx: &'tx Tx<ReadWrite>,
    path: &[Vec<u8>],
) -> rbolt::Result<Bucket<'tx, ReadWrite>> {
    let mut b = tx.create_bucket_if_not_exists(&path[0])?;
    for name in &path[1..] {
        b = b.create_bucket_if_not_exists(name)?;
    }
    Ok(b)
}

fn existing_path<'tx>(tx: &'tx Tx<ReadWrite>, path: &[Vec<u8>]) -> Result<Bucket<'tx, ReadWrite>> {
    let mut b = tx.bucket(&path[0])?;
    for name in &path[1..] {
        b = match b {
            Some(b) => b.bucket(name)?,
            None => None,
        };
    }
    b.ok_or_else(|| anyhow!(rbolt::Error::BucketNotFound))
}

/// Applies one op (anything but `commit`) inside `tx`.
pub fn apply_op(tx: &Tx<ReadWrite>, line: &str) -> Result<()> {
    let f: Vec<&str> = line.split(' ').collect();
    let (op, a) = (f[0], &f[1..]);
    let want = |min: usize, max: usize| {
        if a.len() < min || a.len() > max {
            bail!("{op}: wrong number of fields");
        }
        Ok(())
    };
    match op {
        "cb" => {
            want(1, 1)?;
            ensure_path(tx, &parse_path(a[0])?)?;
        }
        "db" => {
            want(1, 1)?;
            let path = parse_path(a[0])?;
            let (last, parents) = path.split_last().expect("parse_path returns ≥ 1 name");
            if parents.is_empty() {
                tx.delete_bucket(last)?;
            } else {
                existing_path(tx, parents)?.delete_bucket(last)?;
            }
        }
        "put" => {
            want(2, 3)?;
            let path = parse_path(a[0])?;
            let key = unhex(a[1]).context("key")?;
            let val = match a.get(2) {
                Some(v) => unhex(v).context("value")?,
                None => Vec::new(),
            };
            ensure_path(tx, &path)?.put(&key, &val)?;
        }
        "del" => {
            want(2, 2)?;
            let path = parse_path(a[0])?;
            let key = unhex(a[1]).context("key")?;
            existing_path(tx, &path)?.delete(&key)?;
        }
        "seq" => {
            want(2, 2)?;
            let path = parse_path(a[0])?;
            let n: u64 = a[1]
                .parse()
                .with_context(|| format!("bad sequence {:?}", a[1]))?;
            ensure_path(tx, &path)?.set_sequence(n)?;
        }
        _ => bail!("unknown op {op:?}"),
    }
    Ok(())
}

/// Replays `ops` onto `db`. On error, says which line (1-based) failed.
pub fn apply(db: &Db, ops: &str) -> Result<()> {
    let mut tx = Some(db.begin_write()?);
    let mut pending = 0usize;
    for (n, raw) in ops.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let shown = || {
            if line.len() > 200 {
                format!("{}...({} bytes)", &line[..200], line.len())
            } else {
                line.to_string()
            }
        };
        if line == "commit" {
            let t = tx.take().expect("a transaction is always open between ops");
            t.commit()
                .with_context(|| format!("line {}: {}", n + 1, shown()))?;
            tx = Some(db.begin_write()?);
            pending = 0;
            continue;
        }
        let t = tx
            .as_ref()
            .expect("a transaction is always open between ops");
        apply_op(t, line).with_context(|| format!("line {}: {}", n + 1, shown()))?;
        pending += 1;
    }
    let t = tx.take().expect("a transaction is always open between ops");
    if pending > 0 {
        t.commit().context("final commit")?;
    }
    Ok(())
}

/// Opens (creating if missing) and applies an op file, as `rbolt-script apply` does.
pub fn apply_file(
    db_path: &Path,
    ops: &str,
    page_size: Option<usize>,
    no_freelist_sync: bool,
) -> Result<()> {
    let mut opts = Options::new().no_freelist_sync(no_freelist_sync);
    if let Some(ps) = page_size {
        opts = opts.page_size(ps);
    }
    let db = opts
        .open(db_path)
        .with_context(|| format!("open {}", db_path.display()))?;
    apply(&db, ops)
}

fn dump_bucket(b: &Bucket<'_, impl Mode>, path: &str, out: &mut impl Write) -> Result<()> {
    for item in b.iter() {
        let (k, v) = item?;
        match v {
            None => {
                let child = b
                    .bucket(k)?
                    .ok_or_else(|| anyhow!("bucket {} vanished", hex(k)))?;
                let sub = if path.is_empty() {
                    hex(k)
                } else {
                    format!("{path}/{}", hex(k))
                };
                writeln!(out, "B {sub} seq={}", child.sequence())?;
                dump_bucket(&child, &sub, out)?;
            }
            Some(v) => writeln!(out, "K {path} {} {}", hex(k), hex(v))?,
        }
    }
    Ok(())
}

/// Writes the dump of everything `tx` sees, in cursor order, recursively.
pub fn dump_tx(tx: &Tx<impl Mode>, out: &mut impl Write) -> Result<()> {
    let mut c = tx.cursor();
    let mut item = c.first()?;
    while let Some((name, _)) = item {
        let b = tx
            .bucket(name)?
            .ok_or_else(|| anyhow!("bucket {} vanished", hex(name)))?;
        let path = hex(name);
        writeln!(out, "B {path} seq={}", b.sequence())?;
        dump_bucket(&b, &path, out)?;
        item = c.next()?;
    }
    Ok(())
}

/// The dump of the database at `path` (opened read-only) as a string.
pub fn dump_file(path: &Path) -> Result<String> {
    let db = Options::new()
        .read_only(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    let tx = db.begin_read()?;
    let mut out = Vec::new();
    dump_tx(&tx, &mut out)?;
    Ok(String::from_utf8(out).expect("dump output is ASCII"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        assert_eq!(hex(&[0, 0xab, 0x7f]), "00ab7f");
        assert_eq!(unhex("00AB7f").unwrap(), vec![0, 0xab, 0x7f]);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
        assert!(parse_path("61//62").is_err());
        assert_eq!(
            parse_path("61/6263").unwrap(),
            vec![b"a".to_vec(), b"bc".to_vec()]
        );
    }
}
