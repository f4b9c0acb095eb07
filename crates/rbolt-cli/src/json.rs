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
