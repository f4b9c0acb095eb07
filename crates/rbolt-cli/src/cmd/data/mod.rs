//! The data commands: listing (`ls`, `tree`), single writes (`put`, `delete`, bucket
//! operations, `seq`), `backup`, `diff`, and `export`/`import`. This module holds what they
//! share: reading names from arguments, walking a bucket path with clear errors, and running
//! one write transaction that commits or, with `--dry-run`, rolls back.

pub(super) mod backup;
pub(super) mod diff;
pub(super) mod export;
pub(super) mod import;
pub(super) mod ls;
mod mdb;
pub(super) mod write;

use crate::Ctx;
use crate::cli::BucketFormat;
use crate::error::CliError;
use crate::source::{open_read_write, path_arg};
use crate::values::{auto, unhex};
use rbolt::{Bucket, Mode, ReadWrite, Tx};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

/// An argument's bytes, as they are or decoded from hex.
fn arg_bytes(a: &OsStr, f: BucketFormat) -> Result<Vec<u8>, CliError> {
    match f {
        BucketFormat::Raw => Ok(a.as_bytes().to_vec()),
        BucketFormat::Hex => unhex(a.as_bytes()),
    }
}

/// Bucket names from arguments; an empty name is refused (bbolt has none).
fn names(args: &[OsString], f: BucketFormat) -> Result<Vec<Vec<u8>>, CliError> {
    let names = args
        .iter()
        .map(|a| arg_bytes(a, f))
        .collect::<Result<Vec<_>, _>>()?;
    if names.iter().any(Vec::is_empty) {
        return Err(CliError::msg("a bucket name cannot be empty"));
    }
    Ok(names)
}

/// A bucket path for messages: each name as `auto` prints it (text, or hex when binary),
/// joined with `/`.
fn show_path(names: &[Vec<u8>]) -> String {
    let parts: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8_lossy(&auto(n)).into_owned())
        .collect();
    parts.join("/")
}

/// The bucket at `names` (the top level when empty); an error names the first one missing.
fn walk_path<'tx, M: Mode>(tx: &'tx Tx<M>, names: &[Vec<u8>]) -> Result<Bucket<'tx, M>, CliError> {
    walk(tx, names, |_, _| Ok(None))
}

/// [`walk_path`] in a write transaction: missing buckets are created when `create`.
fn make_path<'tx>(
    tx: &'tx Tx<ReadWrite>,
    names: &[Vec<u8>],
    create: bool,
) -> Result<Bucket<'tx, ReadWrite>, CliError> {
    walk(tx, names, |b, name| {
        if create {
            b.create_bucket(name).map(Some)
        } else {
            Ok(None)
        }
    })
}

/// Walks `names` from the top level; `missing` may supply a bucket that is not there.
fn walk<'tx, M: Mode>(
    tx: &'tx Tx<M>,
    names: &[Vec<u8>],
    missing: impl Fn(&Bucket<'tx, M>, &[u8]) -> rbolt::Result<Option<Bucket<'tx, M>>>,
) -> Result<Bucket<'tx, M>, CliError> {
    // The transaction's top level, as a bucket.
    let mut b = tx.cursor().bucket();
    for (i, name) in names.iter().enumerate() {
        let here = || show_path(&names[..=i]);
        b = match b.bucket(name) {
            Ok(Some(sub)) => sub,
            Ok(None) => match missing(&b, name).map_err(|e| at(e, &here()))? {
                Some(made) => made,
                None if b.get(name)?.is_some() => {
                    return Err(at(rbolt::Error::IncompatibleValue, &here()));
                }
                None => return Err(CliError::msg(format!("bucket not found: {}", here()))),
            },
            Err(e) => return Err(at(e, &here())),
        };
    }
    Ok(b)
}

/// An engine error about the entry at `path`, worded for a person.
fn at(e: rbolt::Error, path: &str) -> CliError {
    match e {
        rbolt::Error::IncompatibleValue => {
            CliError::msg(format!("{path} is a key with a value, not a bucket"))
        }
        rbolt::Error::BucketExists => CliError::msg(format!("bucket exists: {path}")),
        rbolt::Error::BucketNotFound => CliError::msg(format!("bucket not found: {path}")),
        other => CliError::from(other),
    }
}

/// Runs `f` in one write transaction on `file`, then commits and prints `committed txid N`;
/// with `dry_run`, rolls back and says so. `f` prints what it does and returns whether it
/// changed anything; when it did not, nothing is committed. `create`: a missing file is
/// created (never for a dry run, which must leave the disk as it was).
fn write_tx(
    file: &OsStr,
    ctx: &Ctx,
    (dry_run, create): (bool, bool),
    out: &mut dyn Write,
    f: impl FnOnce(&Tx<ReadWrite>, &mut dyn Write) -> Result<bool, CliError>,
) -> Result<(), CliError> {
    let db = open_read_write(path_arg(file), ctx.timeout, create && !dry_run)?;
    let tx = db.begin_write()?;
    let changed = f(&tx, out)?;
    let id = tx.id();
    if !changed {
        tx.rollback();
        writeln!(out, "nothing to change")?;
    } else if dry_run {
        tx.rollback();
        writeln!(out, "dry run: rolled back, txid {id} not committed")?;
    } else {
        tx.commit()?;
        writeln!(out, "committed txid {id}")?;
    }
    Ok(())
}
