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
    let db = open_read_only(path_arg(&a.pos.args[0]), ctx.timeout)?;
    if !a.json {
        writeln!(out, "ID       TYPE       ITEMS  OVRFLW")?;
        writeln!(out, "======== ========== ====== ======")?;
    }
    let tx = db.begin_read()?;
    let mut id = rbolt::Pgid(0);
    loop {
        let p = match tx.page(id) {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(CliError::msg(format!("page error: id={id}, err={e}"))),
        };
        let free = p.page_type == rbolt::PageType::Free;
        if a.json {
            let v = if free {
                json!({ "id": p.id, "type": "free" })
            } else {
                json!({ "id": p.id, "type": p.page_type.to_string(), "count": p.count, "overflow": p.overflow })
            };
            json::line(out, &v)?;
        } else {
            let (count, overflow) = if free {
                (String::new(), String::new())
            } else {
                let o = if p.overflow > 0 {
                    p.overflow.to_string()
                } else {
                    String::new()
                };
                (p.count.to_string(), o)
            };
            writeln!(
                out,
                "{:<8} {:<10} {:<6} {:<6}",
                p.id,
                p.page_type.to_string(),
                count,
                overflow
            )?;
        }
        id += 1;
        if !free {
            id += u64::from(p.overflow);
        }
    }
    Ok(())
}
