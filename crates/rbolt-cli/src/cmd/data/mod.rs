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

/// The transaction's top level, as a bucket.
fn root(tx: &rbolt::Tx) -> rbolt::Bucket<'_> {
    tx.cursor().bucket()
}

/// The bucket at `names` (the top level when empty). Missing buckets are created when
/// `create`, else an error names the first one missing.
fn walk_path<'tx>(
    tx: &'tx rbolt::Tx,
    names: &[Vec<u8>],
    create: bool,
) -> Result<rbolt::Bucket<'tx>, CliError> {
    let mut b = root(tx);
    for (i, name) in names.iter().enumerate() {
        let here = || show_path(&names[..=i]);
        b = match b.bucket(name) {
            Ok(Some(sub)) => sub,
            Ok(None) if create => b.create_bucket(name).map_err(|e| at(e, &here()))?,
            Ok(None) if b.get(name)?.is_some() => {
                return Err(at(rbolt::Error::IncompatibleValue, &here()));
            }
            Ok(None) => return Err(CliError::msg(format!("bucket not found: {}", here()))),
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
    f: impl FnOnce(&rbolt::Tx, &mut dyn Write) -> Result<bool, CliError>,
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
