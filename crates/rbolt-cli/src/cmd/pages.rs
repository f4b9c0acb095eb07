//! `rbolt pages FILE`: one row per page (overflow continuations skipped), with bbolt's fixed
//! columns and their trailing spaces. Streams: memory does not grow with the file.

use super::exact;
use crate::Ctx;
use crate::cli::Json;
use crate::error::CliError;
use crate::json;
use crate::source::{open_read_only, path_arg};
use serde_json::json;
use std::io::Write;

pub(crate) fn run(a: &Json, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    if a.from.raw() {
        header(a, out)?;
        return super::rawread::pages(a, &mut |id, page| row(a, out, id, page));
    }
    let db = open_read_only(path_arg(&a.pos.args[0]), ctx.timeout)?;
    header(a, out)?;
    let tx = db.begin_read()?;
    let mut id = rbolt::Pgid(0);
    loop {
        let p = match tx.page(id) {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(CliError::msg(format!("page error: id={id}, err={e}"))),
        };
        if p.page_type == rbolt::PageType::Free {
            row(a, out, id.get(), None)?;
            id += 1;
        } else {
            row(
                a,
                out,
                id.get(),
                Some((p.page_type.to_string(), p.count, p.overflow)),
            )?;
            id += 1 + u64::from(p.overflow);
        }
    }
    Ok(())
}

fn header(a: &Json, out: &mut dyn Write) -> Result<(), CliError> {
    if !a.json {
        writeln!(out, "ID       TYPE       ITEMS  OVRFLW")?;
        writeln!(out, "======== ========== ====== ======")?;
    }
    Ok(())
}

/// One page: its type, element count and overflow, or `None` when it is free.
fn row(
    a: &Json,
    out: &mut dyn Write,
    id: u64,
    page: Option<(String, u16, u32)>,
) -> Result<(), CliError> {
    if a.json {
        let v = match page {
            None => json!({ "id": id, "type": "free" }),
            Some((t, count, overflow)) => {
                json!({ "id": id, "type": t, "count": count, "overflow": overflow })
            }
        };
        return json::line(out, &v);
    }
    let (t, count, overflow) = match page {
        None => ("free".to_string(), String::new(), String::new()),
        Some((t, c, o)) => (
            t,
            c.to_string(),
            if o > 0 { o.to_string() } else { String::new() },
        ),
    };
    writeln!(out, "{id:<8} {t:<10} {count:<6} {overflow:<6}")?;
    Ok(())
}
