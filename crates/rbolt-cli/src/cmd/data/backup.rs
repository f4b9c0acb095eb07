//! `rbolt backup FILE -o DEST`: a copy of FILE made through one read transaction under a shared
//! lock (other readers go on meanwhile), synced, then opened and checked.

use crate::Ctx;
use crate::cli::data::BackupArgs;
use crate::error::CliError;
use crate::source::{check_source, open_read_only, path_arg, quoted};
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub(crate) fn run(a: &BackupArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let src = path_arg(&a.file);
    let dst = Path::new(&a.output);
    let meta = check_source(src)?;
    let db = open_read_only(src, ctx.timeout)?;
    let tx = db.begin_read()?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(meta.permissions().mode() & 0o7777)
        .open(dst)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                CliError::msg(format!("{} exists: backup never overwrites", quoted(dst)))
            }
            _ => CliError::msg(format!("{}: {}", quoted(dst), CliError::from(e))),
        })?;
    let bar = ctx.progress.bar(tx.size(), "bytes");
    bar.set_prefix("backup");
    let copied = tx
        .write_to(bar.wrap_write(BufWriter::with_capacity(1 << 20, &file)))
        .map_err(CliError::from)
        .and_then(|n| file.sync_all().map(|()| n).map_err(CliError::from));
    bar.finish_and_clear();
    let txid = tx.id();
    drop(tx);
    let n = match copied {
        Ok(n) => n,
        Err(e) => {
            // A partial copy is worse than none.
            let _ = std::fs::remove_file(dst);
            return Err(e);
        }
    };
    let copy = open_read_only(dst, ctx.timeout)?;
    let problems = copy.begin_read()?.check();
    if !problems.is_empty() {
        for p in &problems {
            writeln!(out, "{p}")?;
        }
        return Err(CliError::msg(format!(
            "the copy {} fails its check ({} problems)",
            quoted(dst),
            problems.len()
        )));
    }
    writeln!(out, "{}: {n} bytes at txid {txid}, check OK", dst.display())?;
    Ok(())
}
