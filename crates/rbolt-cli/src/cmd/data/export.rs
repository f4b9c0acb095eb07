//! `rbolt export FILE [BUCKET...]`: every bucket, sequence, key and value, losslessly, as JSON
//! lines or in `mdb_dump`'s format. One read transaction; memory is one iterator per nesting
//! level.

use super::mdb::{self, Mode};
use super::{names, walk_path};
use crate::Ctx;
use crate::cli::data::{DumpFormat, ExportArgs};
use crate::error::CliError;
use crate::source::{open_read_only, path_arg, quoted};
use crate::values::{hex, is_print};
use indicatif::ProgressBar;
use rbolt::{Bucket, Iter};
use std::io::{BufWriter, Write};

/// Counts exported keys on the spinner, now and then.
struct Count {
    bar: ProgressBar,
    keys: u64,
}

impl Count {
    fn key(&mut self) {
        self.keys += 1;
        if self.keys.is_multiple_of(4096) {
            self.bar
                .set_prefix(format!("exporting: {} keys", self.keys));
        }
    }
}

pub(crate) fn run(a: &ExportArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let t = &a.target;
    let path = names(&t.buckets, t.bucket_format)?;
    let db = open_read_only(path_arg(&t.file), ctx.timeout)?;
    let tx = db.begin_read()?;
    let top = walk_path(&tx, &path)?;
    let mut count = Count {
        bar: ctx.progress.spinner("exporting"),
        keys: 0,
    };
    let mut file;
    let w: &mut dyn Write = match &a.output {
        Some(o) => {
            if same_file(path_arg(&t.file), path_arg(o)) {
                return Err(CliError::msg(format!(
                    "{} is the database itself: writing the dump there would destroy it",
                    quoted(path_arg(o))
                )));
            }
            let f = std::fs::File::create(path_arg(o)).map_err(|e| {
                CliError::msg(format!("{}: {}", quoted(path_arg(o)), CliError::from(e)))
            })?;
            file = BufWriter::with_capacity(1 << 16, f);
            &mut file
        }
        None => out,
    };
    let res = match a.format {
        DumpFormat::Jsonl => jsonl(w, top, path, &mut count),
        DumpFormat::Mdb | DumpFormat::MdbPrint => {
            let mode = if a.format == DumpFormat::Mdb {
                Mode::Hex
            } else {
                Mode::Print
            };
            // mdb_load sizes the new environment from the first header: leave room.
            let mapsize = (tx.size() * 2).max(1 << 20).next_multiple_of(1 << 20);
            mdb(w, top, path, mode, mapsize, &mut count)
        }
    };
    count.bar.finish_and_clear();
    res?;
    w.flush()?;
    Ok(())
}

/// Whether `a` and `b` name one file (through links or different spellings).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Whether bytes go out as a JSON string: text a person can read (valid UTF-8, printable
/// characters, tabs and line breaks). Anything else is `{"hex": "…"}`: lossless either way, and
/// binary data does not turn into strings of `\u0000` escapes.
fn is_text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| {
        s.chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r') || is_print(u32::from(c)))
    })
}

/// Appends `b` as JSON to `buf`.
fn push_bytes(buf: &mut Vec<u8>, b: &[u8]) -> Result<(), CliError> {
    match std::str::from_utf8(b) {
        Ok(s) if is_text(b) => {
            serde_json::to_writer(&mut *buf, s).map_err(|e| CliError::msg(e.to_string()))
        }
        _ => {
            buf.extend_from_slice(b"{\"hex\":\"");
            buf.extend_from_slice(hex(b).as_bytes());
            buf.extend_from_slice(b"\"}");
            Ok(())
        }
    }
}

/// `"bucket":[…]` for a path, written once per bucket and reused for each of its pairs.
fn path_field(path: &[Vec<u8>]) -> Result<Vec<u8>, CliError> {
    let mut buf = b"{\"bucket\":[".to_vec();
    for (i, n) in path.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_bytes(&mut buf, n)?;
    }
    buf.push(b']');
    Ok(buf)
}

fn bucket_line(out: &mut dyn Write, field: &[u8], seq: u64) -> Result<(), CliError> {
    out.write_all(field)?;
    writeln!(out, ",\"seq\":{seq}}}")?;
    Ok(())
}

/// `{"bucket":[…],"seq":N}` when a bucket opens, `{"bucket":[…],"key":…,"value":…}` per pair,
/// in cursor order (a sub-bucket's records come at its name's place in its parent). Written by
/// hand rather than through `serde_json::Value`, which costs an allocation per field.
fn jsonl(
    out: &mut dyn Write,
    top: Bucket<'_>,
    path: Vec<Vec<u8>>,
    count: &mut Count,
) -> Result<(), CliError> {
    let field = path_field(&path)?;
    if !path.is_empty() {
        bucket_line(out, &field, top.sequence())?;
    }
    let mut line = Vec::new();
    // A level: its bucket, the walk, its path and the path's JSON.
    type Level<'tx> = (Bucket<'tx>, Iter<'tx>, Vec<Vec<u8>>, Vec<u8>);
    let mut stack: Vec<Level<'_>> = vec![(top, top.iter(), path, field)];
    while let Some((b, it, p, field)) = stack.last_mut() {
        let Some(item) = it.next() else {
            stack.pop();
            continue;
        };
        match item? {
            (k, Some(v)) => {
                count.key();
                line.clear();
                line.extend_from_slice(field);
                line.extend_from_slice(b",\"key\":");
                push_bytes(&mut line, k)?;
                line.extend_from_slice(b",\"value\":");
                push_bytes(&mut line, v)?;
                line.extend_from_slice(b"}\n");
                out.write_all(&line)?;
            }
            (k, None) => {
                let sub = b
                    .bucket(k)?
                    .ok_or_else(|| CliError::msg("sub-bucket vanished"))?;
                let mut sp = p.clone();
                sp.push(k.to_vec());
                let sf = path_field(&sp)?;
                bucket_line(out, &sf, sub.sequence())?;
                stack.push((sub, sub.iter(), sp, sf));
            }
        }
    }
    Ok(())
}

/// One section per bucket, parents before children; a section holds the bucket's own pairs.
fn mdb(
    out: &mut dyn Write,
    top: Bucket<'_>,
    path: Vec<Vec<u8>>,
    mode: Mode,
    mapsize: u64,
    count: &mut Count,
) -> Result<(), CliError> {
    let mut buf = Vec::new();
    let mut section = |out: &mut dyn Write, b: Bucket<'_>, p: &[Vec<u8>]| -> Result<(), CliError> {
        let mut pairs = b.iter().filter(|i| !matches!(i, Ok((_, None)))).peekable();
        // Keys outside any bucket exist only in damaged or hand-made files; the top level
        // gets a section only if it has some.
        if p.is_empty() && pairs.peek().is_none() {
            return Ok(());
        }
        mdb::header(
            out,
            mode,
            (!p.is_empty()).then_some(p),
            mapsize,
            b.sequence(),
        )?;
        for item in pairs {
            if let (k, Some(v)) = item? {
                count.key();
                mdb::data_line(out, mode, k, &mut buf)?;
                mdb::data_line(out, mode, v, &mut buf)?;
            }
        }
        out.write_all(b"DATA=END\n")?;
        Ok(())
    };
    section(out, top, &path)?;
    let mut stack: Vec<(Bucket<'_>, Iter<'_>, Vec<Vec<u8>>)> = vec![(top, top.iter(), path)];
    while let Some((b, it, p)) = stack.last_mut() {
        let Some(item) = it.next() else {
            stack.pop();
            continue;
        };
        if let (k, None) = item? {
            let sub = b
                .bucket(k)?
                .ok_or_else(|| CliError::msg("sub-bucket vanished"))?;
            let mut sp = p.clone();
            sp.push(k.to_vec());
            section(out, sub, &sp)?;
            stack.push((sub, sub.iter(), sp));
        }
    }
    Ok(())
}
