//! How keys and values are printed and parsed: bbolt's format modes (`auto`, `ascii-encoded`,
//! `hex`, `bytes`, `redacted`) and parse modes, with Go's `unicode.IsPrint` and `strconv.Quote`
//! rules reproduced exactly so output matches bbolt's byte for byte.

use crate::error::CliError;
use crate::goprint::PRINTABLE;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::Write;

/// An output format as given on the command line. bbolt only complains about an unknown mode
/// when it has something to print, so an unknown one is kept and fails on first use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Auto,
    AsciiEncoded,
    Hex,
    Bytes,
    Redacted,
    Unsupported(String),
}

impl Format {
    pub(crate) fn parse(s: &str) -> Format {
        match s {
            "auto" => Format::Auto,
            "ascii-encoded" => Format::AsciiEncoded,
            "hex" => Format::Hex,
            "bytes" => Format::Bytes,
            "redacted" => Format::Redacted,
            other => Format::Unsupported(other.to_string()),
        }
    }

    /// `b` in this format (bbolt's `formatBytes`), as raw bytes: `bytes` mode passes binary
    /// data through untouched.
    pub(crate) fn format(&self, b: &[u8]) -> Result<Vec<u8>, CliError> {
        Ok(match self {
            Format::AsciiEncoded => go_quote(b).into_bytes(),
            Format::Hex => hex(b).into_bytes(),
            Format::Bytes => b.to_vec(),
            Format::Auto => auto(b),
            Format::Redacted => {
                let sum = Sha256::digest(b);
                format!("<redacted len:{} sha256:{}>", b.len(), hex(&sum)).into_bytes()
            }
            Format::Unsupported(f) => {
                return Err(CliError::msg(format!(
                    "formatBytes: unsupported format: {f}"
                )));
            }
        })
    }

    /// Writes `b` in this format and a newline (bbolt's `writelnBytes`).
    pub(crate) fn writeln(&self, out: &mut dyn Write, b: &[u8]) -> Result<(), CliError> {
        out.write_all(&self.format(b)?)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}

/// How a key given on the command line is turned into bytes (bbolt's `parseBytes`).
pub(crate) fn parse_bytes(s: &[u8], format: &str) -> Result<Vec<u8>, CliError> {
    match format {
        // bbolt takes the argument's bytes as they are: no unquoting, no escapes.
        "ascii-encoded" => Ok(s.to_vec()),
        "hex" => unhex(s),
        other => Err(CliError::msg(format!(
            "parseBytes: unsupported format: {other}"
        ))),
    }
}

/// Go's `hex.DecodeString`, with its error texts.
pub(crate) fn unhex(s: &[u8]) -> Result<Vec<u8>, CliError> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(s.len() / 2);
    let mut pairs = s.chunks_exact(2);
    for p in pairs.by_ref() {
        match (nibble(p[0]), nibble(p[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            (None, _) => return Err(invalid_byte(p[0])),
            (_, None) => return Err(invalid_byte(p[1])),
        }
    }
    if let [c] = pairs.remainder() {
        // Go reports a bad character before an odd length.
        if nibble(*c).is_none() {
            return Err(invalid_byte(*c));
        }
        return Err(CliError::msg("encoding/hex: odd length hex string"));
    }
    Ok(out)
}

fn invalid_byte(c: u8) -> CliError {
    // Go formats the byte with %#U: U+0067 'g'.
    let ch = char::from(c);
    let shown = if is_print(u32::from(c)) {
        format!(" '{ch}'")
    } else {
        String::new()
    };
    CliError::msg(format!(
        "encoding/hex: invalid byte: U+{:04X}{shown}",
        u32::from(c)
    ))
}

pub(crate) use rbolt_format::hex;

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
pub(crate) fn is_print(c: u32) -> bool {
    if c < 0x80 {
        return (0x20..0x7f).contains(&c);
    }
    PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// bbolt's `isPrintable`: valid UTF-8 and every rune printable.
pub(crate) fn is_printable(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| s.chars().all(|c| is_print(u32::from(c))))
}

/// bbolt's `auto`: the bytes themselves if printable, else lower-case hex.
pub(crate) fn auto(b: &[u8]) -> Vec<u8> {
    if is_printable(b) {
        b.to_vec()
    } else {
        hex(b).into_bytes()
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string or byte slice): printable runes stay,
/// `"` and `\` are escaped, invalid bytes become `\xNN`, other runes `\a`-style, `\xNN`,
/// `\uNNNN` or `\UNNNNNNNN`.
pub(crate) fn go_quote(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            quote_char(&mut s, c);
        }
        // Go decodes an invalid sequence one byte at a time; every byte of Rust's maximal
        // invalid subpart after the first is a continuation byte, invalid alone in Go too.
        for x in chunk.invalid() {
            let _ = write!(s, "\\x{x:02x}");
        }
    }
    s.push('"');
    s
}

fn quote_char(s: &mut String, c: char) {
    let u = u32::from(c);
    match c {
        '"' | '\\' => {
            s.push('\\');
            s.push(c);
        }
        _ if is_print(u) => s.push(c),
        '\u{7}' => s.push_str("\\a"),
        '\u{8}' => s.push_str("\\b"),
        '\u{c}' => s.push_str("\\f"),
        '\n' => s.push_str("\\n"),
        '\r' => s.push_str("\\r"),
        '\t' => s.push_str("\\t"),
        '\u{b}' => s.push_str("\\v"),
        _ if u < 0x20 || u == 0x7f => {
            let _ = write!(s, "\\x{u:02x}");
        }
        _ if u < 0x10000 => {
            let _ = write!(s, "\\u{u:04x}");
        }
        _ => {
            let _ = write!(s, "\\U{u:08x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go_on_known_cases() {
        assert_eq!(go_quote(b"hello"), r#""hello""#);
        assert_eq!(go_quote(&[0, 0, 0, 14]), r#""\x00\x00\x00\x0e""#);
        assert_eq!(go_quote("a\"b\\c\n\t".as_bytes()), r#""a\"b\\c\n\t""#);
        assert_eq!(go_quote("\u{a0}é".as_bytes()), r#""\u00a0é""#);
        assert_eq!(go_quote(&[0xe2, 0x82, b'A', 0xff]), r#""\xe2\x82A\xff""#);
        assert_eq!(
            go_quote("\u{7f}\u{e0000}".as_bytes()),
            r#""\x7f\U000e0000""#
        );
    }

    #[test]
    fn auto_prints_printable_text_and_hex_otherwise() {
        assert_eq!(auto(b"{\"a\":1}"), b"{\"a\":1}");
        assert_eq!(auto(b""), b"");
        assert_eq!(auto(b"a\tb"), b"610962");
        assert_eq!(auto("\u{a0}".as_bytes()), b"c2a0");
        assert_eq!(auto("日本".as_bytes()), "日本".as_bytes());
    }

    #[test]
    fn redacted_and_unknown_formats() {
        let r = Format::Redacted.format(b"abc").unwrap();
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "<redacted len:3 sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad>"
        );
        let e = Format::parse("yaml").format(b"x").unwrap_err();
        assert_eq!(e.to_string(), "formatBytes: unsupported format: yaml");
    }

    #[test]
    fn parse_formats_follow_go() {
        assert_eq!(
            parse_bytes(br#""hi""#, "ascii-encoded").unwrap(),
            br#""hi""#
        );
        assert_eq!(parse_bytes(b"00fF", "hex").unwrap(), [0, 0xff]);
        let odd = parse_bytes(b"abc", "hex").unwrap_err().to_string();
        assert_eq!(odd, "encoding/hex: odd length hex string");
        let bad = parse_bytes(b"zz", "hex").unwrap_err().to_string();
        assert_eq!(bad, "encoding/hex: invalid byte: U+007A 'z'");
        let e = parse_bytes(b"x", "base64").unwrap_err().to_string();
        assert_eq!(e, "parseBytes: unsupported format: base64");
    }
}
