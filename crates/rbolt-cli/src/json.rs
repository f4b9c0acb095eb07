//! JSON output: bytes are a string when they are valid UTF-8 and `{"hex": "…"}` otherwise,
//! so every key, value and name round-trips exactly.

use crate::error::CliError;
use serde_json::{Value, json};
use std::io::Write;

/// `b` as JSON, losslessly.
pub(crate) fn bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({ "hex": crate::values::hex(b) }),
    }
}

/// Writes `v` on one line.
pub(crate) fn line(out: &mut dyn Write, v: &Value) -> Result<(), CliError> {
    serde_json::to_writer(&mut *out, v).map_err(|e| CliError::msg(e.to_string()))?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A meta page as `info --json` and `inspect --json` show it; `valid` is its check.
pub(crate) fn meta(
    m: Option<rbolt_format::Meta>,
    valid: &Result<(), rbolt_format::MetaError>,
) -> serde_json::Value {
    match m {
        None => json!({ "valid": false, "error": "invalid database" }),
        Some(m) => json!({
            "valid": valid.is_ok(),
            "error": valid.err().map(|e| e.to_string()),
            "txid": m.txid,
            "root": m.root.root,
            "sequence": m.root.sequence,
            "freelist": (m.freelist != rbolt_format::PGID_NO_FREELIST).then_some(m.freelist),
            "hwm": m.pgid,
            "page_size": m.page_size,
            "flags": m.flags,
            "checksum": format!("{:016x}", m.checksum),
        }),
    }
}
