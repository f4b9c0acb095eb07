//! `rbolt compact -o DST SRC`: a compacted copy of SRC, created with SRC's file mode; prints
//! both file sizes and the gain as bbolt does.

use super::at_least;
use crate::Ctx;
use crate::cli::CompactArgs;
use crate::error::CliError;
use crate::json;
use crate::source::{check_source, open_read_only, path_arg};
use serde_json::json;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub(crate) fn run(a: &CompactArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    at_least(&a.pos.args, 1)?;
    let Some(dst_path) = a.output.as_deref().filter(|o| !o.is_empty()) else {
        return Err(if a.output.is_none() {
            CliError::usage("required flag(s) \"output\" not set")
        } else {
            CliError::msg("output file required")
        });
    };
    let dst_path = Path::new(dst_path);
    let src_path = path_arg(&a.pos.args[0]);
    let initial = check_source(src_path)?;
    let src = open_read_only(src_path, ctx.timeout)?;
    // bbolt creates the copy with the source's permission bits (the umask still applies).
    if !dst_path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(initial.permissions().mode() & 0o7777)
            .open(dst_path)?;
    }
    let mut opts = rbolt::Options::new().no_sync(a.no_sync);
    if let Some(t) = ctx.timeout {
        opts = opts.timeout(t);
    }
    let dst = opts.open(dst_path)?;
    // bbolt commits before a key that would take the transaction past the limit; a negative
    // limit commits before every key, which a limit of 1 does too.
    let limit = if a.tx_max_size < 0 {
        1
    } else {
        a.tx_max_size as u64
    };
    let spinner = ctx.progress.spinner("compacting");
    let copied = rbolt::compact(&dst, &src, limit);
    spinner.finish_and_clear();
    copied?;
    drop(dst);
    let size = std::fs::metadata(dst_path)?.len();
    if size == 0 {
        return Err(CliError::msg("zero db size"));
    }
    let gain = initial.len() as f64 / size as f64;
    if a.json {
        json::line(
            out,
            &json!({ "src_size": initial.len(), "dst_size": size, "gain": gain }),
        )
    } else {
        writeln!(out, "{} -> {size} bytes (gain={gain:.2}x)", initial.len())?;
        Ok(())
    }
}
