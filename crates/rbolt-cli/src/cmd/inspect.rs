//! `rbolt inspect FILE`: the bucket tree with key counts, printed exactly as Go's
//! `json.MarshalIndent(tx.Inspect(), "", "    ")` does (names as Go strings, so invalid
//! UTF-8 becomes U+FFFD); `--json` prints one line with names encoded losslessly instead.

use super::exact;
use crate::Ctx;
use crate::cli::Json;
use crate::error::CliError;
use crate::json;
use crate::source::{open_read_only, path_arg};
use rbolt::BucketStructure;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::Write;

pub(crate) fn run(a: &Json, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    let tree = if a.from.raw() {
        super::rawread::inspect(&super::rawread::open(path_arg(&a.pos.args[0]), &a.from)?)?
    } else {
        let db = open_read_only(path_arg(&a.pos.args[0]), ctx.timeout)?;
        db.view(|tx| tx.inspect())?
    };
    if a.json {
        return json::line(out, &lossless(&tree));
    }
    let mut s = String::new();
    go_indent(&mut s, &tree, 0);
    s.push('\n');
    out.write_all(s.as_bytes())?;
    Ok(())
}

fn lossless(b: &BucketStructure) -> Value {
    let children: Vec<Value> = b.children.iter().map(lossless).collect();
    json!({ "name": json::bytes(&b.name), "key_n": b.key_n, "buckets": children })
}

fn go_indent(s: &mut String, b: &BucketStructure, depth: usize) {
    let pad = "    ".repeat(depth);
    let _ = write!(s, "{{\n{pad}    \"name\": ");
    go_json_string(s, &b.name);
    let _ = write!(s, ",\n{pad}    \"keyN\": {}", b.key_n);
    if !b.children.is_empty() {
        let _ = write!(s, ",\n{pad}    \"buckets\": [");
        for (i, c) in b.children.iter().enumerate() {
            s.push_str(if i == 0 { "\n" } else { ",\n" });
            let _ = write!(s, "{pad}        ");
            go_indent(s, c, depth + 2);
        }
        let _ = write!(s, "\n{pad}    ]");
    }
    let _ = write!(s, "\n{pad}}}");
}

/// A byte string as Go's `encoding/json` writes a `string`: HTML-safe escapes for `<`, `>`
/// and `&`, `\u2028`/`\u2029`, short escapes for `\b \f \n \r \t`, `\u00XX` for other control
/// characters, and `\ufffd` for each invalid byte.
pub(crate) fn go_json_string(s: &mut String, b: &[u8]) {
    s.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                '\u{8}' => s.push_str("\\b"),
                '\u{c}' => s.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    let _ = write!(s, "\\u{:04x}", u32::from(c));
                }
                c if u32::from(c) < 0x20 => {
                    let _ = write!(s, "\\u{:04x}", u32::from(c));
                }
                c => s.push(c),
            }
        }
        for _ in chunk.invalid() {
            s.push_str("\\ufffd");
        }
    }
    s.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_escapes() {
        let mut s = String::new();
        go_json_string(&mut s, b"\x00\x01<a&b>\"\\\n\x08\xff");
        assert_eq!(s, r#""\u0000\u0001\u003ca\u0026b\u003e\"\\\n\b\ufffd""#);
    }

    #[test]
    fn marshal_indent_layout() {
        let mut leaf = BucketStructure::default();
        leaf.name = b"a".to_vec();
        leaf.key_n = 2;
        let mut root = BucketStructure::default();
        root.name = b"root".to_vec();
        root.children.push(leaf);
        let mut s = String::new();
        go_indent(&mut s, &root, 0);
        assert_eq!(
            s,
            "{\n    \"name\": \"root\",\n    \"keyN\": 0,\n    \"buckets\": [\n        {\n            \"name\": \"a\",\n            \"keyN\": 2\n        }\n    ]\n}"
        );
    }
}
