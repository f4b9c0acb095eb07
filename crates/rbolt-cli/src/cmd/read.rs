//! The small read commands: `version`, `info`, `buckets`, `keys` and `get`. Each opens the
//! file read-only with the lock timeout and streams its output.

use super::{at_least, bucket_names, exact, find_bucket};
use crate::Ctx;
use crate::cli::{BucketsArgs, GetArgs, Json, KeysArgs};
use crate::error::CliError;
use crate::json;
use crate::raw::RawFile;
use crate::source::{open_read_only, path_arg};
use crate::values::{Format, go_quote, hex, parse_bytes};
use serde_json::json;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

/// `rbolt version`: ours, the file format, the compiler and the platform (bbolt prints its
/// own and Go's).
pub(crate) fn version(out: &mut dyn Write) -> Result<(), CliError> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    writeln!(out, "rbolt Version: {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "bbolt format: {}", rbolt_format::VERSION)?;
    writeln!(out, "Rust Version: {}", env!("RBOLT_RUSTC_VERSION"))?;
    writeln!(out, "OS/Arch: {}/{arch}", std::env::consts::OS)?;
    Ok(())
}

/// `rbolt info FILE`: the page size (and with `--json`, both metas and the sizes).
pub(crate) fn info(a: &Json, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    if a.from.raw() {
        return super::rawread::info(a, out);
    }
    let path = path_arg(&a.pos.args[0]);
    let db = open_read_only(path, ctx.timeout)?;
    if !a.json {
        writeln!(out, "Page Size: {}", db.page_size())?;
        return Ok(());
    }
    let info = db.info();
    let raw = RawFile::open(path)?;
    let [m0, m1] = raw.metas()?;
    let active = raw.active_meta()?;
    let v = json!({
        "page_size": info.page_size,
        "txid": info.txid,
        "root": active.map(|(_, m)| m.root.root),
        "freelist": active.and_then(|(_, m)| (m.freelist != rbolt_format::PGID_NO_FREELIST).then_some(m.freelist)),
        "hwm": info.hwm,
        "file_size": raw.file_len(),
        "logical_size": info.hwm.get() * info.page_size as u64,
        "meta": [json::meta(m0.meta, &m0.valid), json::meta(m1.meta, &m1.valid)],
        "active_meta": active.map(|(id, _)| id),
    });
    json::line(out, &v)
}

/// `rbolt buckets FILE`: top-level bucket names, raw bytes unless `--format` says otherwise.
pub(crate) fn buckets(a: &BucketsArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    if a.from.raw() {
        return super::rawread::buckets(a, out);
    }
    let db = open_read_only(path_arg(&a.pos.args[0]), ctx.timeout)?;
    let fmt = Format::parse(&a.format);
    let tx = db.begin_read()?;
    let mut res = Ok(());
    tx.for_each_bucket(|name, _| {
        res = if a.json {
            json::line(out, &json!({ "name": json::bytes(name) }))
        } else {
            fmt.writeln(out, name)
        };
        Ok(())
    })?;
    res
}

/// `rbolt keys FILE BUCKET...`: every key of the last bucket, sub-bucket names included.
pub(crate) fn keys(a: &KeysArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    at_least(&a.pos.args, 2)?;
    if a.from.raw() {
        return super::rawread::keys(a, out);
    }
    let path = path_arg(&a.pos.args[0]);
    let names = bucket_names(&a.pos.args[1..], a.bucket_format)?;
    let db = open_read_only(path, ctx.timeout)?;
    let fmt = Format::parse(&a.format);
    let tx = db.begin_read()?;
    let b = find_bucket(&tx, &names)?;
    for item in b.iter() {
        let (k, v) = item?;
        if a.json {
            json::line(
                out,
                &json!({ "key": json::bytes(k), "bucket": v.is_none() }),
            )?;
        } else {
            fmt.writeln(out, k)?;
        }
    }
    Ok(())
}

/// `rbolt get FILE BUCKET... KEY`.
pub(crate) fn get(a: &GetArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    at_least(&a.pos.args, 3)?;
    let args = &a.pos.args;
    let key = parse_bytes(args[args.len() - 1].as_bytes(), &a.parse_format)?;
    if key.is_empty() {
        return Err(CliError::msg("key is required: key required"));
    }
    if a.from.raw() {
        return super::rawread::get(a, &key, out);
    }
    let path = path_arg(&args[0]);
    let names = bucket_names(&args[1..args.len() - 1], a.bucket_format)?;
    let db = open_read_only(path, ctx.timeout)?;
    let tx = db.begin_read()?;
    let b = find_bucket(&tx, &names)?;
    match b.get(&key)? {
        Some(v) if a.json => json::line(
            out,
            &json!({ "key": json::bytes(&key), "value": json::bytes(v) }),
        ),
        Some(v) => Format::parse(&a.format).writeln(out, v),
        None => Err(CliError::msg(format!(
            "Error key not found for key: {} hex: \"{}\"",
            go_quote(&key),
            hex(&key)
        ))),
    }
}
