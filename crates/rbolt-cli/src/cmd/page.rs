//! The page-level commands `dump`, `page` and `page-item`. They read the file with `pread`
//! (no lock, no map) and trust nothing in it, so they work on files the engine refuses.

use super::{at_least, exact, page_ids, parse_uint};
use crate::Ctx;
use crate::cli::{PageArgs, PageItemArgs};
use crate::error::CliError;
use crate::json;
use crate::raw::RawFile;
use crate::source::{check_source, path_arg};
use crate::values::{Format, go_quote, hex, is_printable};
use rbolt_format::{
    BRANCH_ELEM_SIZE, BRANCH_PAGE, BUCKET_LEAF_FLAG, BucketHeader, FREELIST_COUNT_OVERFLOW,
    FREELIST_PAGE, LEAF_ELEM_SIZE, LEAF_PAGE, META_PAGE, Meta, PAGE_HEADER_SIZE, PageHeader,
    read_u32, read_u64,
};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::io::Write;

const SEPARATOR: &str = "===============================================";

/// `rbolt dump FILE PAGEID...`: hex of each page (without its overflow), 16 bytes a line,
/// repeated lines collapsed to `*`.
pub(crate) fn dump(args: &[OsString], out: &mut dyn Write) -> Result<(), CliError> {
    at_least(args, 2)?;
    let ids = page_ids(&args[1..])?;
    if ids.is_empty() {
        return Err(CliError::msg("page id required"));
    }
    let path = path_arg(&args[0]);
    check_source(path)?;
    let raw = RawFile::open(path)?;
    for (i, &id) in ids.iter().enumerate() {
        if i > 0 {
            writeln!(out, "{SEPARATOR}")?;
        }
        let buf = raw.read_block(id)?;
        dump_page(out, &buf, id * raw.page_size)?;
    }
    Ok(())
}

fn dump_page(out: &mut dyn Write, buf: &[u8], addr: u64) -> Result<(), CliError> {
    let mut prev: Option<&[u8]> = None;
    let mut skipped = false;
    let n = buf.len();
    for (i, line) in buf.chunks_exact(16).enumerate() {
        let off = (i * 16) as u64;
        let last = i * 16 + 16 == n;
        if prev == Some(line) && !last {
            if !skipped {
                writeln!(out, "{:07x} *", addr + off)?;
                skipped = true;
            }
        } else {
            write!(out, "{:07x}", addr + off)?;
            for pair in line.chunks_exact(2) {
                write!(out, " {:02x}{:02x}", pair[0], pair[1])?;
            }
            writeln!(out)?;
            skipped = false;
        }
        prev = Some(line);
    }
    writeln!(out)?;
    Ok(())
}

/// `rbolt page FILE PAGEID... | --all`. A page that cannot be read or decoded is reported on
/// stdout and skipped, and the command still succeeds, as bbolt's does.
pub(crate) fn page(a: &PageArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    at_least(&a.pos.args, 1)?;
    let ids = page_ids(&a.pos.args[1..])?;
    if ids.is_empty() && !a.all {
        return Err(CliError::msg("page id required"));
    }
    if a.all && !ids.is_empty() {
        return Err(CliError::msg(
            "invalid args: either use '--all' or 'pageid...'",
        ));
    }
    let path = path_arg(&a.pos.args[0]);
    check_source(path)?;
    let fmt = Format::parse(&a.format_value);
    let raw = RawFile::open(path).map_err(|e| format!("read Page size: {e}"));
    if !a.all {
        for (i, &id) in ids.iter().enumerate() {
            if i > 0 && !a.json {
                writeln!(out, "{SEPARATOR}")?;
            }
            print_one(out, &raw, id, &fmt, a.json)?;
        }
        return Ok(());
    }
    let raw = match raw {
        Ok(r) => r,
        Err(e) => {
            let e = e.trim_start_matches("read Page size: ");
            write!(out, "cannot read number of pages: {e}")?;
            return Ok(());
        }
    };
    // The active meta's high-water mark, so the newest root and freelist are included.
    let hwm = match raw.active_meta()? {
        Some((_, m)) => m.pgid.get(),
        None => raw.hwm0,
    };
    let bar = ctx.progress.bar(hwm, "pages");
    bar.set_prefix("page --all");
    let raw = Ok(raw);
    let mut id = 0u64;
    while id < hwm {
        if id > 0 && !a.json {
            writeln!(out, "{SEPARATOR}")?;
        }
        id += match print_one(out, &raw, id, &fmt, a.json)? {
            Some(overflow) => u64::from(overflow) + 1,
            None => 1,
        };
        bar.set_position(id.min(hwm));
    }
    bar.finish_and_clear();
    Ok(())
}

/// Prints one page; returns its overflow count, or `None` after reporting a failure.
fn print_one(
    out: &mut dyn Write,
    raw: &Result<RawFile, String>,
    id: u64,
    fmt: &Format,
    as_json: bool,
) -> Result<Option<u32>, CliError> {
    let read = match raw {
        Ok(r) => r.read_page(id).map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    let res = match read {
        Ok((h, buf)) if as_json => page_json(&h, &buf, fmt).map(|v| {
            json::line(out, &v)?;
            Ok::<_, CliError>(h.overflow)
        }),
        Ok((h, buf)) => {
            let mut text = Vec::new();
            let r = print_page(&mut text, &h, &buf, fmt);
            out.write_all(&text)?;
            r.map(|()| Ok(h.overflow))
        }
        Err(e) => Err(e),
    };
    match res {
        Ok(done) => done.map(Some),
        Err(e) if as_json => {
            json::line(out, &json!({ "id": id, "error": e }))?;
            Ok(None)
        }
        Err(e) => {
            writeln!(out, "Printing page {id} failed: {e}. Continuing...")?;
            Ok(None)
        }
    }
}

/// A key as `page` prints it: Go-quoted when printable, hex otherwise.
fn page_key(k: &[u8]) -> String {
    if is_printable(k) { go_quote(k) } else { hex(k) }
}

fn elem_err(i: usize) -> String {
    format!("element {i} lies outside the page")
}

/// Key and value of leaf element `i`, bounds-checked against the page span (zero-length
/// keys are shown, not refused: this is a viewer).
fn leaf_elem(buf: &[u8], i: usize) -> Result<(u32, &[u8], &[u8]), String> {
    let base = PAGE_HEADER_SIZE + i * LEAF_ELEM_SIZE;
    let flags = read_u32(buf, base).ok_or_else(|| elem_err(i))?;
    let pos = read_u32(buf, base + 4).ok_or_else(|| elem_err(i))? as usize;
    let ks = read_u32(buf, base + 8).ok_or_else(|| elem_err(i))? as usize;
    let vs = read_u32(buf, base + 12).ok_or_else(|| elem_err(i))? as usize;
    let k0 = base + pos;
    let k = buf.get(k0..k0 + ks).ok_or_else(|| elem_err(i))?;
    let v = buf.get(k0 + ks..k0 + ks + vs).ok_or_else(|| elem_err(i))?;
    Ok((flags, k, v))
}

fn branch_elem(buf: &[u8], i: usize) -> Result<(&[u8], u64), String> {
    let base = PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE;
    let pos = read_u32(buf, base).ok_or_else(|| elem_err(i))? as usize;
    let ks = read_u32(buf, base + 4).ok_or_else(|| elem_err(i))? as usize;
    let pgid = read_u64(buf, base + 8).ok_or_else(|| elem_err(i))?;
    let k = buf
        .get(base + pos..base + pos + ks)
        .ok_or_else(|| elem_err(i))?;
    Ok((k, pgid))
}

/// Count and ids of a freelist page, checked against the span.
fn freelist_ids(h: &PageHeader, buf: &[u8]) -> Result<(u64, Vec<rbolt_format::Pgid>), String> {
    let count = if h.count == FREELIST_COUNT_OVERFLOW {
        read_u64(buf, PAGE_HEADER_SIZE).ok_or("freelist count outside the page")?
    } else {
        u64::from(h.count)
    };
    let ids = rbolt_format::decode_freelist(buf).map_err(|e| e.to_string())?;
    Ok((count, ids))
}

fn print_page(out: &mut Vec<u8>, h: &PageHeader, buf: &[u8], fmt: &Format) -> Result<(), String> {
    let w = |out: &mut Vec<u8>, s: String| out.extend_from_slice(s.as_bytes());
    w(out, format!("Page ID:    {}\n", h.id));
    w(out, format!("Page Type:  {}\n", h.type_name()));
    w(out, format!("Total Size: {} bytes\n", buf.len()));
    w(out, format!("Overflow pages: {}\n", h.overflow));
    match h.flags {
        META_PAGE => {
            let m = raw_meta(buf)?;
            w(out, format!("Version:    {}\n", m.version));
            w(out, format!("Page Size:  {} bytes\n", m.page_size));
            w(out, format!("Flags:      {:08x}\n", m.flags));
            w(out, format!("Root:       <pgid={}>\n", m.root.root));
            w(out, format!("Freelist:   <pgid={}>\n", m.freelist));
            w(out, format!("HWM:        <pgid={}>\n", m.pgid));
            w(out, format!("Txn ID:     {}\n", m.txid));
            w(out, format!("Checksum:   {:016x}\n", m.checksum));
            w(out, "\n".into());
        }
        LEAF_PAGE => {
            w(out, format!("Item Count: {}\n\n", h.count));
            for i in 0..usize::from(h.count) {
                let (flags, k, v) = leaf_elem(buf, i)?;
                let v = if flags & BUCKET_LEAF_FLAG != 0 {
                    let b = BucketHeader::decode(v).map_err(|e| e.to_string())?;
                    format!("<pgid={},seq={}>", b.root, b.sequence).into_bytes()
                } else {
                    fmt.format(v).map_err(|e| e.to_string())?
                };
                out.extend_from_slice(page_key(k).as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(&v);
                out.push(b'\n');
            }
            w(out, "\n".into());
        }
        BRANCH_PAGE => {
            w(out, format!("Item Count: {}\n\n", h.count));
            for i in 0..usize::from(h.count) {
                let (k, pgid) = branch_elem(buf, i)?;
                w(out, format!("{}: <pgid={pgid}>\n", page_key(k)));
            }
            w(out, "\n".into());
        }
        FREELIST_PAGE => {
            let (count, ids) = freelist_ids(h, buf)?;
            w(
                out,
                format!("Item Count: {count}\nOverflow: {}\n\n", h.overflow),
            );
            for id in ids {
                w(out, format!("{id}\n"));
            }
            w(out, "\n".into());
        }
        _ => {}
    }
    Ok(())
}

/// The meta fields of a page whose magic is wrong: `page` shows them anyway, as bbolt does.
fn raw_meta(buf: &[u8]) -> Result<Meta, String> {
    let b = buf
        .get(PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + rbolt_format::META_SIZE)
        .ok_or("meta page too short")?;
    let u32_at = |o| read_u32(b, o).unwrap_or(0);
    let u64_at = |o| read_u64(b, o).unwrap_or(0);
    let pgid_at = |o| rbolt_format::Pgid(u64_at(o));
    let txid = rbolt_format::Txid(u64_at(48));
    let mut m = Meta::new(u32_at(8), pgid_at(16), pgid_at(32), pgid_at(40), txid);
    m.magic = u32_at(0);
    m.version = u32_at(4);
    m.flags = u32_at(12);
    m.root.sequence = u64_at(24);
    m.checksum = u64_at(56);
    Ok(m)
}

fn page_json(h: &PageHeader, buf: &[u8], fmt: &Format) -> Result<Value, String> {
    let _ = fmt;
    let mut v = json!({
        "id": h.id,
        "type": h.type_name(),
        "size": buf.len(),
        "overflow": h.overflow,
    });
    match h.flags {
        META_PAGE => {
            let m = raw_meta(buf)?;
            v["meta"] = json!({
                "version": m.version, "page_size": m.page_size, "flags": m.flags,
                "root": m.root.root, "freelist": m.freelist, "hwm": m.pgid, "txid": m.txid,
                "checksum": format!("{:016x}", m.checksum), "valid": Meta::decode(buf).is_ok(),
            });
        }
        LEAF_PAGE => {
            let mut items = Vec::new();
            for i in 0..usize::from(h.count) {
                let (flags, k, val) = leaf_elem(buf, i)?;
                items.push(if flags & BUCKET_LEAF_FLAG != 0 {
                    let b = BucketHeader::decode(val).map_err(|e| e.to_string())?;
                    json!({ "key": json::bytes(k), "bucket": { "root": b.root, "sequence": b.sequence } })
                } else {
                    json!({ "key": json::bytes(k), "value": json::bytes(val) })
                });
            }
            v["items"] = Value::Array(items);
        }
        BRANCH_PAGE => {
            let mut items = Vec::new();
            for i in 0..usize::from(h.count) {
                let (k, pgid) = branch_elem(buf, i)?;
                items.push(json!({ "key": json::bytes(k), "pgid": pgid }));
            }
            v["items"] = Value::Array(items);
        }
        FREELIST_PAGE => {
            let (_, ids) = freelist_ids(h, buf)?;
            v["ids"] = json!(ids);
        }
        _ => {}
    }
    Ok(v)
}

/// `rbolt page-item FILE PAGEID ITEMID`: one leaf element's key and value.
pub(crate) fn page_item(a: &PageItemArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let args = &a.pos.args;
    exact(args, 3)?;
    let page_id = parse_uint(args[1].as_encoded_bytes())?;
    // bbolt narrows the index to 16 bits.
    let item = parse_uint(args[2].as_encoded_bytes())? as u16;
    if a.key_only && a.value_only {
        return Err(CliError::msg(
            "the --key-only or --value-only flag may be set, but not both",
        ));
    }
    let path = path_arg(&args[0]);
    check_source(path)?;
    let raw = RawFile::open(path).map_err(|e| CliError::msg(format!("read Page size: {e}")))?;
    let (h, buf) = raw.read_page(page_id)?;
    if item >= h.count {
        return Err(CliError::msg(format!(
            "leafPageElement: expected item index less than {}, but got {item}",
            h.count
        )));
    }
    if h.flags != LEAF_PAGE {
        return Err(CliError::msg(format!(
            "leafPageElement: expected page type of 'leaf', but got '{}'",
            h.type_name()
        )));
    }
    let (_, k, v) = leaf_elem(&buf, usize::from(item)).map_err(CliError::msg)?;
    let fmt = Format::parse(&a.format);
    if !a.value_only {
        fmt.writeln(out, k)?;
    }
    if !a.key_only {
        fmt.writeln(out, v)?;
    }
    Ok(())
}
