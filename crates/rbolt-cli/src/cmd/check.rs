//! `rbolt check FILE [--from-page N]`: the consistency check. Problems are printed one per
//! line, then `N errors found`, and the command fails with bbolt's "invalid value". The walk
//! never panics: pointers out of range, cycles and absurd depth are problems like any other.

use super::exact;
use crate::Ctx;
use crate::cli::CheckArgs;
use crate::error::CliError;
use crate::json;
use crate::source::{open_read_only, path_arg};
use crate::values::auto;
use serde_json::json;
use std::io::Write;

pub(crate) fn run(a: &CheckArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    let errors = if a.from.raw() {
        super::rawread::check(a)?
    } else {
        engine_check(a, ctx)?
    };
    if a.json {
        let list: Vec<_> = errors
            .iter()
            .map(|(page, message)| json!({ "page": page, "message": message }))
            .collect();
        json::line(out, &json!({ "ok": errors.is_empty(), "errors": list }))?;
    } else {
        for (page, message) in &errors {
            match page {
                Some(p) => writeln!(out, "page {p}: {message}")?,
                None => writeln!(out, "{message}")?,
            }
        }
        if errors.is_empty() {
            writeln!(out, "OK")?;
        } else {
            writeln!(out, "{} errors found", errors.len())?;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::msg("invalid value"))
    }
}

/// The engine's check of the active snapshot, with a progress bar.
fn engine_check(a: &CheckArgs, ctx: &Ctx) -> Result<Vec<(Option<u64>, String)>, CliError> {
    let db = open_read_only(path_arg(&a.pos.args[0]), ctx.timeout)?;
    let tx = db.begin_read()?;
    // Keys in messages as bbolt's CLI prints them: text when printable, hex otherwise.
    let mut opts = rbolt::CheckOptions::new()
        .key_formatter(|k| String::from_utf8_lossy(&auto(k)).into_owned());
    if a.from_page != 0 {
        opts = opts.page_id(rbolt::Pgid(a.from_page));
    }
    let bar = ctx.progress.bar(db.info().hwm.get(), "pages");
    bar.set_prefix("check");
    let b = bar.clone();
    opts = opts.progress(move |n| b.set_position(n));
    let errors = tx.check_with(&opts);
    bar.finish_and_clear();
    Ok(errors
        .into_iter()
        .map(|e| (e.pgid().map(|p| p.get()), e.message().to_string()))
        .collect())
}
