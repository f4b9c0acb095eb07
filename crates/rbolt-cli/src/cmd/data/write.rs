//! The single-write commands: `put`, `delete`, `mkbucket`, `rmbucket`, `mvbucket` and
//! `seq`. Each is one write transaction: it says what it does, then `committed txid N` (or,
//! with `--dry-run`, that it rolled back).

use super::{arg_bytes, at, make_path, names, show_path, walk_path, write_tx};
use crate::Ctx;
use crate::cli::data::{
    DeleteArgs, MkbucketArgs, MvbucketArgs, PutArgs, RmbucketArgs, SeqCmd, SeqNextArgs, SeqSetArgs,
    Target,
};
use crate::error::CliError;
use crate::source::{open_read_only, path_arg, quoted};
use crate::values::auto;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;

/// `PATH KEY` for messages.
fn show_key(path: &[Vec<u8>], key: &[u8]) -> String {
    format!(
        "{} {}",
        show_path(path),
        String::from_utf8_lossy(&auto(key))
    )
}

/// `1 byte`, `5 bytes`.
fn bytes(n: usize) -> String {
    format!("{n} byte{}", if n == 1 { "" } else { "s" })
}

/// Splits `FILE BUCKET... LAST` (at least one bucket).
fn split_last(
    args: &[OsString],
    what: &str,
) -> Result<(OsString, Vec<OsString>, OsString), CliError> {
    match args {
        [file, buckets @ .., last] if !buckets.is_empty() => {
            Ok((file.clone(), buckets.to_vec(), last.clone()))
        }
        _ if what.starts_with("KEY") => Err(CliError::usage(format!(
            "expected FILE BUCKET... {what}: keys live in buckets"
        ))),
        _ => Err(CliError::usage(format!("expected FILE BUCKET... {what}"))),
    }
}

/// `rbolt put FILE BUCKET... KEY VALUE`.
pub(crate) fn put(a: &PutArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let (args, value) = match &a.value_file {
        Some(f) => {
            let v = std::fs::read(path_arg(f)).map_err(|e| {
                CliError::msg(format!(
                    "--value-file {}: {}",
                    quoted(path_arg(f)),
                    CliError::from(e)
                ))
            })?;
            (&a.args[..], v)
        }
        None => {
            let (value, rest) = a
                .args
                .split_last()
                .ok_or_else(|| CliError::usage("expected FILE BUCKET... KEY VALUE"))?;
            let v = if value.as_bytes() == b"-" {
                let mut v = Vec::new();
                std::io::stdin().lock().read_to_end(&mut v)?;
                v
            } else {
                arg_bytes(value, a.value_format.into())?
            };
            (rest, v)
        }
    };
    let (file, buckets, key) = split_last(args, "KEY VALUE")?;
    let path = names(&buckets, a.bucket_format)?;
    let key = arg_bytes(&key, a.key_format.into())?;
    if key.is_empty() {
        return Err(CliError::msg("a key cannot be empty"));
    }
    let mode = (a.write.dry_run, a.create_buckets);
    write_tx(&file, ctx, mode, out, |tx, out| {
        let b = make_path(tx, &path, a.create_buckets)?;
        let shown = show_key(&path, &key);
        let old = match b.get(&key)? {
            Some(v) => Some(v.len()),
            None if b.bucket(&key)?.is_some() => {
                return Err(CliError::msg(format!("{shown} is a bucket, not a key")));
            }
            None => None,
        };
        if a.if_absent && old.is_some() {
            writeln!(out, "kept {shown}: it exists")?;
            return Ok(false);
        }
        b.put(&key, &value).map_err(|e| at(e, &shown))?;
        match old {
            Some(n) => writeln!(out, "put {shown} ({}, was {n})", bytes(value.len()))?,
            None => writeln!(out, "put {shown} ({}, new)", bytes(value.len()))?,
        }
        Ok(true)
    })
}

/// `rbolt delete FILE BUCKET... KEY`.
pub(crate) fn delete(a: &DeleteArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let (file, buckets, key) = split_last(&a.args, "KEY")?;
    let path = names(&buckets, a.bucket_format)?;
    let key = arg_bytes(&key, a.key_format.into())?;
    write_tx(&file, ctx, (a.write.dry_run, false), out, |tx, out| {
        let b = walk_path(tx, &path)?;
        let shown = show_key(&path, &key);
        match b.get(&key)? {
            Some(v) => {
                let n = v.len();
                b.delete(&key)?;
                writeln!(out, "deleted {shown} ({})", bytes(n))?;
                Ok(true)
            }
            None if b.bucket(&key)?.is_some() => Err(CliError::msg(format!(
                "{shown} is a bucket: delete it with rmbucket"
            ))),
            None if a.missing_ok => {
                writeln!(out, "no key {shown}")?;
                Ok(false)
            }
            None => Err(CliError::msg(format!("key not found: {shown}"))),
        }
    })
}

/// The parent path and last name of a bucket path given on the command line.
fn parent_and_name(t: &Target) -> Result<(Vec<Vec<u8>>, Vec<u8>), CliError> {
    let mut path = names(&t.buckets, t.bucket_format)?;
    let name = path
        .pop()
        .ok_or_else(|| CliError::usage("missing argument(s): BUCKET"))?;
    Ok((path, name))
}

/// `rbolt mkbucket FILE BUCKET...`.
pub(crate) fn mkbucket(a: &MkbucketArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let (parent, name) = parent_and_name(&a.target)?;
    let full = names(&a.target.buckets, a.target.bucket_format)?;
    let mode = (a.write.dry_run, a.parents);
    write_tx(&a.target.file, ctx, mode, out, |tx, out| {
        let shown = show_path(&full);
        if walk_path(tx, &full).is_ok() {
            if !a.parents {
                return Err(CliError::msg(format!("bucket exists: {shown}")));
            }
            writeln!(out, "bucket {shown} exists")?;
            return Ok(false);
        }
        let p = make_path(tx, &parent, a.parents)?;
        p.create_bucket(&name).map_err(|e| at(e, &shown))?;
        writeln!(out, "created bucket {shown}")?;
        Ok(true)
    })
}

/// `rbolt rmbucket FILE BUCKET...`.
pub(crate) fn rmbucket(a: &RmbucketArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let (parent, name) = parent_and_name(&a.target)?;
    let full = names(&a.target.buckets, a.target.bucket_format)?;
    write_tx(
        &a.target.file,
        ctx,
        (a.write.dry_run, false),
        out,
        |tx, out| {
            let b = walk_path(tx, &full)?;
            let shown = show_path(&full);
            if !a.recursive && !b.is_empty()? {
                return Err(CliError::msg(format!(
                    "bucket {shown} is not empty: use -r to delete it with everything in it"
                )));
            }
            walk_path(tx, &parent)?
                .delete_bucket(&name)
                .map_err(|e| at(e, &shown))?;
            writeln!(out, "deleted bucket {shown}")?;
            Ok(true)
        },
    )
}

/// `rbolt mvbucket FILE SRC... --to DST...`: SRC's last bucket becomes a child of DST.
pub(crate) fn mvbucket(a: &MvbucketArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let (parent, name) = parent_and_name(&a.target)?;
    let full = names(&a.target.buckets, a.target.bucket_format)?;
    let dst = names(&a.to, a.target.bucket_format)?;
    write_tx(
        &a.target.file,
        ctx,
        (a.write.dry_run, false),
        out,
        |tx, out| {
            walk_path(tx, &full)?;
            let src = walk_path(tx, &parent)?;
            let to = make_path(tx, &dst, a.parents)?;
            let mut dest = dst.clone();
            dest.push(name.clone());
            let (from, into) = (show_path(&full), show_path(&dest));
            src.move_bucket(&name, &to).map_err(|e| match e {
                rbolt::Error::SameBuckets => {
                    CliError::msg(format!("bucket {from} is already there"))
                }
                rbolt::Error::BucketExists => CliError::msg(format!("bucket exists: {into}")),
                rbolt::Error::IncompatibleValue if to.get(&name).ok().flatten().is_some() => {
                    CliError::msg(format!("{into} is a key with a value"))
                }
                rbolt::Error::IncompatibleValue => {
                    CliError::msg(format!("cannot move bucket {from} into itself"))
                }
                other => other.into(),
            })?;
            writeln!(out, "moved bucket {from} to {into}")?;
            Ok(true)
        },
    )
}

/// `rbolt seq get|set|next`.
pub(crate) fn seq(c: &SeqCmd, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    match c {
        SeqCmd::Get(t) => {
            let path = names(&t.buckets, t.bucket_format)?;
            let db = open_read_only(path_arg(&t.file), ctx.timeout)?;
            let tx = db.begin_read()?;
            writeln!(out, "{}", walk_path(&tx, &path)?.sequence())?;
            Ok(())
        }
        SeqCmd::Set(a) => seq_set(a, ctx, out),
        SeqCmd::Next(a) => seq_next(a, ctx, out),
    }
}

fn seq_set(a: &SeqSetArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let (file, buckets, n) = split_last(&a.args, "N")?;
    let path = names(&buckets, a.bucket_format)?;
    let n = super::super::parse_uint(n.as_bytes())?;
    write_tx(&file, ctx, (a.write.dry_run, false), out, |tx, out| {
        let b = walk_path(tx, &path)?;
        let old = b.sequence();
        b.set_sequence(n)?;
        writeln!(
            out,
            "sequence of {} set to {n} (was {old})",
            show_path(&path)
        )?;
        Ok(true)
    })
}

fn seq_next(a: &SeqNextArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let t = &a.target;
    let path = names(&t.buckets, t.bucket_format)?;
    if path.is_empty() {
        return Err(CliError::usage("missing argument(s): BUCKET"));
    }
    write_tx(&t.file, ctx, (a.write.dry_run, false), out, |tx, out| {
        let n = walk_path(tx, &path)?.next_sequence()?;
        writeln!(out, "{n}")?;
        Ok(true)
    })
}
