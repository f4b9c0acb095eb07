//! LMDB's `mdb_dump` text format (Berkeley DB's `db_dump`): writing sections and reading them
//! back. A section is a header (`VERSION=3`, `format=`, `database=`, `type=btree`, …,
//! `HEADER=END`), then a key line and a value line per pair, each starting with a space, in
//! hex (`format=bytevalue`) or as printable bytes with `\xx` escapes (`format=print`), then
//! `DATA=END`.
//!
//! A bucket path is one database name: the names joined by `/`, each written with bytes outside
//! printable ASCII, `/` and `\` as `\xx`, so the path splits back exactly.

use crate::error::CliError;
use crate::values::hex;
use std::io::{BufRead, Write};

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn escape_byte(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'\\', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}

/// A bucket path as a database name.
pub(super) fn db_name(path: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, seg) in path.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        for &b in seg {
            if (0x20..0x7f).contains(&b) && b != b'/' && b != b'\\' {
                out.push(b);
            } else {
                escape_byte(&mut out, b);
            }
        }
    }
    out
}

/// `\xx` escapes undone; `\\` is a backslash, as `mdb_load` reads it, and so is a backslash
/// followed by anything else (LMDB writes `\` unescaped in print mode, so its dumps of bytes
/// such as `\41` cannot be read back exactly by anyone).
fn unescape(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        if s.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
            continue;
        }
        match (
            s.get(i + 1).copied().and_then(nibble),
            s.get(i + 2).copied().and_then(nibble),
        ) {
            (Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            // LMDB's `mdb_dump -p` leaves a backslash bare: take it as itself.
            _ => {
                out.push(b'\\');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A database name back to a bucket path.
pub(super) fn parse_db_name(name: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    name.split(|&b| b == b'/').map(unescape).collect()
}

/// How data lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Hex,
    Print,
}

/// Writes a section header.
pub(super) fn header(
    out: &mut dyn Write,
    mode: Mode,
    path: Option<&[Vec<u8>]>,
    mapsize: u64,
    sequence: u64,
) -> std::io::Result<()> {
    let format = match mode {
        Mode::Hex => "bytevalue",
        Mode::Print => "print",
    };
    write!(out, "VERSION=3\nformat={format}\n")?;
    if let Some(p) = path {
        out.write_all(b"database=")?;
        out.write_all(&db_name(p))?;
        out.write_all(b"\n")?;
    }
    writeln!(out, "type=btree\nmapsize={mapsize}")?;
    // mdbx_load restores it; mdb_load warns and ignores it.
    if sequence != 0 {
        writeln!(out, "sequence={sequence}")?;
    }
    writeln!(out, "HEADER=END")
}

/// Writes one data line (key or value).
pub(super) fn data_line(
    out: &mut dyn Write,
    mode: Mode,
    b: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<()> {
    buf.clear();
    buf.push(b' ');
    match mode {
        Mode::Hex => buf.extend_from_slice(hex(b).as_bytes()),
        Mode::Print => {
            for &c in b {
                if (0x20..0x7f).contains(&c) && c != b'\\' {
                    buf.push(c);
                } else {
                    escape_byte(buf, c);
                }
            }
        }
    }
    buf.push(b'\n');
    out.write_all(buf)
}

/// What a dump holds, one item at a time.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Item {
    /// A section begins: its bucket path (`None`: no `database=`, the top level) and
    /// `sequence=` if given.
    Section {
        path: Option<Vec<Vec<u8>>>,
        sequence: Option<u64>,
    },
    Pair(Vec<u8>, Vec<u8>),
}

/// Reads a dump as a stream of [`Item`]s; errors name the line.
pub(super) struct Reader<R> {
    input: R,
    line_no: u64,
    line: Vec<u8>,
    mode: Option<Mode>,
}

impl<R: BufRead> Reader<R> {
    pub(super) fn new(input: R) -> Self {
        Self {
            input,
            line_no: 0,
            line: Vec::new(),
            mode: None,
        }
    }

    fn err(&self, why: impl std::fmt::Display) -> CliError {
        CliError::msg(format!("line {}: {why}", self.line_no))
    }

    /// The next line without its newline; `None` at the end.
    fn next_line(&mut self) -> Result<Option<&[u8]>, CliError> {
        self.line.clear();
        if self.input.read_until(b'\n', &mut self.line)? == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        Ok(Some(&self.line))
    }

    fn data(&self, line: &[u8]) -> Result<Vec<u8>, CliError> {
        let body = &line[1..];
        match self.mode {
            Some(Mode::Print) => unescape(body).map_err(|e| self.err(e)),
            _ => crate::values::unhex(body).map_err(|e| self.err(e)),
        }
    }

    fn header(&mut self) -> Result<Item, CliError> {
        let mut path = None;
        let mut sequence = None;
        let mut mode = Mode::Hex;
        loop {
            let Some(line) = self.next_line()? else {
                return Err(self.err("the dump ends inside a header"));
            };
            let line = line.to_vec();
            if line == b"HEADER=END" {
                break;
            }
            let Some(eq) = line.iter().position(|&c| c == b'=') else {
                return Err(self.err("expected KEY=VALUE in the header"));
            };
            let (k, v) = (&line[..eq], &line[eq + 1..]);
            match k {
                b"format" => {
                    mode = match v {
                        b"bytevalue" => Mode::Hex,
                        b"print" => Mode::Print,
                        _ => return Err(self.err("format must be bytevalue or print")),
                    }
                }
                b"type" if v != b"btree" => return Err(self.err("only type=btree is supported")),
                b"database" => path = Some(parse_db_name(v).map_err(|e| self.err(e))?),
                b"sequence" => {
                    let s = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
                    sequence = Some(s.ok_or_else(|| self.err("sequence must be a number"))?);
                }
                b"dupsort" if v != b"0" => {
                    return Err(self.err("duplicate keys (dupsort) have no bbolt equivalent"));
                }
                // mapsize, maxreaders, db_pagesize, flags of other stores: nothing to keep.
                _ => {}
            }
        }
        self.mode = Some(mode);
        Ok(Item::Section { path, sequence })
    }

    /// The next item, or `None` at the end of the dump.
    pub(super) fn next_item(&mut self) -> Result<Option<Item>, CliError> {
        loop {
            let in_data = self.mode.is_some();
            let Some(line) = self.next_line()? else {
                return if in_data {
                    Err(self.err("the dump ends before DATA=END"))
                } else {
                    Ok(None)
                };
            };
            if !in_data {
                match line {
                    b"VERSION=3" => return self.header().map(Some),
                    b"" => continue,
                    _ => return Err(self.err("expected VERSION=3")),
                }
            }
            if line == b"DATA=END" {
                self.mode = None;
                continue;
            }
            if line.first() != Some(&b' ') {
                return Err(self.err("a data line must start with a space"));
            }
            let l = line.to_vec();
            let key = self.data(&l)?;
            let value = match self.next_line()? {
                Some(l) if l.first() == Some(&b' ') => {
                    let l = l.to_vec();
                    self.data(&l)?
                }
                _ => return Err(self.err("a key without a value")),
            };
            return Ok(Some(Item::Pair(key, value)));
        }
    }

    /// The line last read (for progress).
    pub(super) fn line_no(&self) -> u64 {
        self.line_no
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_separators_and_split_back() {
        let path = vec![b"a/b".to_vec(), b"c\\d".to_vec(), vec![0, 0xff, b' ']];
        let name = db_name(&path);
        assert_eq!(name, b"a\\2fb/c\\5cd/\\00\\ff ".to_vec());
        assert_eq!(parse_db_name(&name).unwrap(), path);
        assert_eq!(parse_db_name(b"x\\4").unwrap(), vec![b"x\\4".to_vec()]);
        assert_eq!(parse_db_name(b"a\\\\b").unwrap(), vec![b"a\\b".to_vec()]);
    }

    #[test]
    fn reads_both_formats_and_refuses_broken_input() {
        let dump = b"VERSION=3\nformat=print\ndatabase=a/b\ntype=btree\nsequence=4\nmapsize=1\nHEADER=END\n k\\5c\n \nDATA=END\nVERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 00ff\n 01\nDATA=END\n";
        let mut r = Reader::new(&dump[..]);
        let mut items = Vec::new();
        while let Some(i) = r.next_item().unwrap() {
            items.push(i);
        }
        assert_eq!(
            items,
            vec![
                Item::Section {
                    path: Some(vec![b"a".to_vec(), b"b".to_vec()]),
                    sequence: Some(4)
                },
                Item::Pair(b"k\\".to_vec(), vec![]),
                Item::Section {
                    path: None,
                    sequence: None
                },
                Item::Pair(vec![0, 0xff], vec![1]),
            ]
        );
        for bad in [
            &b"VERSION=3\nformat=bytevalue\nHEADER=END\n 00\nDATA=END\n"[..],
            b"VERSION=3\nformat=bytevalue\nHEADER=END\n zz\n 00\nDATA=END\n",
            b"VERSION=3\nformat=bytevalue\nHEADER=END\n 00\n 00\n",
            b"VERSION=3\ndupsort=1\nHEADER=END\nDATA=END\n",
            b"hello\n",
            b"VERSION=3\nformat=bytevalue\n",
        ] {
            let mut r = Reader::new(bad);
            let mut res = Ok(Some(Item::Pair(vec![], vec![])));
            while let Ok(Some(_)) = res {
                res = r.next_item();
            }
            assert!(res.is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
