//! JSON for the inspector, in the document's own key order (serde_json's `Value` sorts keys):
//! serde_json validates (and bounds the nesting), then a small reader keeps each member as
//! written, scalars as their source text.

use std::fmt::Write as _;

/// A JSON document with members in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum J {
    /// A string (with its quotes and escapes), number, `true`, `false` or `null`.
    Scalar(String),
    Object(Vec<(String, J)>),
    Array(Vec<J>),
}

/// `b` as JSON, when it is a JSON object, array, string or number.
pub(crate) fn parse(b: &[u8]) -> Option<J> {
    serde_json::from_slice::<serde::de::IgnoredAny>(b).ok()?;
    let mut i = 0;
    let j = value(b, &mut i)?;
    match j {
        J::Scalar(ref s) if matches!(s.as_str(), "true" | "false" | "null") => None,
        j => Some(j),
    }
}

fn ws(b: &[u8], i: &mut usize) {
    while b.get(*i).is_some_and(u8::is_ascii_whitespace) {
        *i += 1;
    }
}

fn text(b: &[u8], from: usize, to: usize) -> Option<String> {
    std::str::from_utf8(b.get(from..to)?)
        .ok()
        .map(str::to_string)
}

fn string(b: &[u8], i: &mut usize) -> Option<String> {
    let start = *i;
    *i += 1;
    loop {
        match b.get(*i)? {
            b'"' => break,
            b'\\' => *i += 2,
            _ => *i += 1,
        }
    }
    *i += 1;
    text(b, start, *i)
}

fn value(b: &[u8], i: &mut usize) -> Option<J> {
    ws(b, i);
    match *b.get(*i)? {
        b'{' => {
            *i += 1;
            let mut members = Vec::new();
            ws(b, i);
            if b.get(*i) == Some(&b'}') {
                *i += 1;
                return Some(J::Object(members));
            }
            loop {
                ws(b, i);
                let k = string(b, i)?;
                ws(b, i);
                *i += 1; // ':'
                members.push((k, value(b, i)?));
                ws(b, i);
                let c = *b.get(*i)?;
                *i += 1;
                if c != b',' {
                    return Some(J::Object(members));
                }
            }
        }
        b'[' => {
            *i += 1;
            let mut items = Vec::new();
            ws(b, i);
            if b.get(*i) == Some(&b']') {
                *i += 1;
                return Some(J::Array(items));
            }
            loop {
                items.push(value(b, i)?);
                ws(b, i);
                let c = *b.get(*i)?;
                *i += 1;
                if c != b',' {
                    return Some(J::Array(items));
                }
            }
        }
        b'"' => string(b, i).map(J::Scalar),
        _ => {
            let start = *i;
            while b
                .get(*i)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
            {
                *i += 1;
            }
            text(b, start, *i).map(J::Scalar)
        }
    }
}

/// Pretty-printed with two-space indents, like `json.MarshalIndent` or `jq`.
pub(crate) fn pretty(j: &J) -> String {
    let mut s = String::new();
    write_pretty(&mut s, j, 0);
    s
}

fn write_pretty(s: &mut String, j: &J, depth: usize) {
    let pad = |s: &mut String, d: usize| {
        s.push('\n');
        s.push_str(&"  ".repeat(d));
    };
    match j {
        J::Scalar(t) => s.push_str(t),
        J::Object(m) if m.is_empty() => s.push_str("{}"),
        J::Array(a) if a.is_empty() => s.push_str("[]"),
        J::Object(m) => {
            s.push('{');
            for (n, (k, v)) in m.iter().enumerate() {
                if n > 0 {
                    s.push(',');
                }
                pad(s, depth + 1);
                let _ = write!(s, "{k}: ");
                write_pretty(s, v, depth + 1);
            }
            pad(s, depth);
            s.push('}');
        }
        J::Array(a) => {
            s.push('[');
            for (n, v) in a.iter().enumerate() {
                if n > 0 {
                    s.push(',');
                }
                pad(s, depth + 1);
                write_pretty(s, v, depth + 1);
            }
            pad(s, depth);
            s.push(']');
        }
    }
}

/// The outline: one line per node, containers deeper than `fold` levels closed.
pub(crate) fn tree(out: &mut String, name: Option<&str>, j: &J, depth: usize, fold: usize) {
    let pad = "  ".repeat(depth);
    let label = name.map(|n| format!("{n}: ")).unwrap_or_default();
    match j {
        J::Object(m) if depth >= fold && !m.is_empty() => {
            let _ = writeln!(out, "{pad}▸ {label}{{…}} {} keys", m.len());
        }
        J::Array(a) if depth >= fold && !a.is_empty() => {
            let _ = writeln!(out, "{pad}▸ {label}[…] {} items", a.len());
        }
        J::Object(m) => {
            let _ = writeln!(out, "{pad}▾ {label}{{}} {} keys", m.len());
            for (k, c) in m {
                tree(out, Some(k), c, depth + 1, fold);
            }
        }
        J::Array(a) => {
            let _ = writeln!(out, "{pad}▾ {label}[] {} items", a.len());
            for (i, c) in a.iter().enumerate() {
                tree(out, Some(&i.to_string()), c, depth + 1, fold);
            }
        }
        J::Scalar(t) => {
            let _ = writeln!(out, "{pad}  {label}{t}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_member_order_and_source_text() {
        let j = parse(br#" {"z":1, "a":[true,{"k":"v\"x"}], "e":{}, "n":1.50e3} "#).unwrap();
        assert_eq!(
            pretty(&j),
            "{\n  \"z\": 1,\n  \"a\": [\n    true,\n    {\n      \"k\": \"v\\\"x\"\n    }\n  ],\n  \"e\": {},\n  \"n\": 1.50e3\n}"
        );
        assert!(parse(b"{\"a\":").is_none());
        assert!(parse(b"true").is_none());
        assert!(parse(b"12").is_some());
        // Nesting deeper than serde_json's limit is refused before the reader recurses.
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_none());
    }
}
