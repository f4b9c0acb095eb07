//! `rbolt surgery …`: bbolt's repair operations on a damaged file. Each copies the file to
//! `--output` first and changes only the copy, page by page with `pread`/`pwrite`, so it works
//! on files the engine refuses to open. The edits, checks and messages are bbolt's.

use super::exact;
use crate::cli::surgery::{
    Base, ClearElementsArgs, ClearPageArgs, CopyPageArgs, FreelistCmd, MetaCmd, MetaUpdateArgs,
    SurgeryCmd,
};
use crate::error::CliError;
use crate::raw::RawFile;
use crate::source::{check_source, path_arg, quoted};
use rbolt_format::{
    BRANCH_ELEM_SIZE, BRANCH_PAGE, LEAF_ELEM_SIZE, LEAF_PAGE, MAGIC, META_PAGE, PAGE_HEADER_SIZE,
    PGID_NO_FREELIST, Pgid, VERSION, fnv1a64, read_u32, read_u64, write_u32, write_u64,
};
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

const ABANDON_HINT: &str = "Please consider executing `./bbolt surgery freelist abandon ...`";

pub(crate) fn run(cmd: SurgeryCmd, _name: &str, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        SurgeryCmd::RevertMetaPage(a) => revert_meta_page(&a, out),
        SurgeryCmd::CopyPage(a) => copy_page(&a, out),
        SurgeryCmd::ClearPage(a) => clear_page(&a, out),
        SurgeryCmd::ClearPageElements(a) => clear_page_elements(&a, out),
        SurgeryCmd::Freelist(FreelistCmd::Abandon(a)) => freelist_abandon(&a, out),
        SurgeryCmd::Freelist(FreelistCmd::Rebuild(a)) => freelist_rebuild(&a, out),
        SurgeryCmd::Meta(MetaCmd::Validate(p)) => meta_validate(&p.args, out),
        SurgeryCmd::Meta(MetaCmd::Update(a)) => meta_update(&a, out),
    }
}

/// Cobra's checks in its order: argument count, required flags (all missing ones, sorted),
/// then an empty `--output`.
fn validate(base: &Base, missing: &[(&str, bool)]) -> Result<(), CliError> {
    exact(&base.pos.args, 1)?;
    let mut names: Vec<&str> = missing
        .iter()
        .chain(&[("output", base.output.is_some())])
        .filter(|(_, set)| !set)
        .map(|(n, _)| *n)
        .collect();
    names.sort_unstable();
    if !names.is_empty() {
        let q: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        return Err(CliError::usage(format!(
            "required flag(s) {} not set",
            q.join(", ")
        )));
    }
    if base.output.as_ref().is_some_and(|o| o.is_empty()) {
        return Err(CliError::msg(
            "output database path wasn't given, specify output database file path with --output option",
        ));
    }
    Ok(())
}

fn src(base: &Base) -> &Path {
    path_arg(&base.pos.args[0])
}

fn output(base: &Base) -> &Path {
    Path::new(base.output.as_deref().unwrap_or_default())
}

/// bbolt's `CopyFile`: the copy must not exist yet; it gets the source's permissions.
fn copy_file(src: &Path, dst: &Path, what: &str) -> Result<(), CliError> {
    let wrap = |e: String| CliError::msg(format!("[{what}] copy file failed: {e}"));
    if dst.symlink_metadata().is_ok() {
        return Err(wrap(format!("output file {} already exists", quoted(dst))));
    }
    std::fs::copy(src, dst).map_err(|e| wrap(CliError::from(e).to_string()))?;
    let f = OpenOptions::new().write(true).open(dst)?;
    f.sync_all()?;
    Ok(())
}

/// Writes a page span back where its header says it belongs (bbolt's `WritePage`).
fn write_page(path: &Path, buf: &[u8]) -> Result<(), CliError> {
    let raw = RawFile::open(path)?;
    let id = read_u64(buf, 0).unwrap_or(0);
    let overflow = read_u32(buf, 12).unwrap_or(0);
    let expected = raw.page_size * (u64::from(overflow) + 1);
    if expected != buf.len() as u64 {
        return Err(CliError::msg(format!(
            "WritePage: len(buf):{} != pageSize*(overflow+1):{expected}",
            buf.len()
        )));
    }
    let f = OpenOptions::new().write(true).open(path)?;
    f.write_all_at(buf, id * raw.page_size)?;
    f.sync_all()?;
    Ok(())
}

/// bbolt's `CopyPage`: page `from` (with its overflow) rewritten as page `to`.
fn copy_page_in(path: &Path, from: u64, to: u64) -> Result<(), CliError> {
    let raw = RawFile::open(path).map_err(|e| CliError::msg(format!("read Page size: {e}")))?;
    let (_, mut buf) = raw.read_page(from)?;
    write_u64(&mut buf, 0, to);
    write_page(path, &buf)
}

/// The meta with the higher txid, without validating either (bbolt's `readMetaPage`).
fn newest_meta_freelist(path: &Path) -> Result<Pgid, CliError> {
    let raw =
        RawFile::open(path).map_err(|e| CliError::msg(format!("read Page size failed: {e}")))?;
    let mut metas = Vec::with_capacity(2);
    for i in 0..2u64 {
        let buf = read_meta_at(path, i, raw.page_size as u32)
            .map_err(|e| CliError::msg(format!("read meta page {i} failed: {e}")))?;
        let txid = read_u64(&buf, PAGE_HEADER_SIZE + 48).unwrap_or(0);
        let freelist = Pgid(read_u64(&buf, PAGE_HEADER_SIZE + 32).unwrap_or(0));
        metas.push((txid, freelist));
    }
    // Meta 0 only when its txid is strictly higher.
    Ok(if metas[0].0 > metas[1].0 {
        metas[0].1
    } else {
        metas[1].1
    })
}

/// bbolt's `ReadMetaPageAt`: 1 KiB at `id × page_size` (a meta is far smaller).
fn read_meta_at(path: &Path, id: u64, page_size: u32) -> Result<Vec<u8>, CliError> {
    let f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1024];
    let mut got = 0;
    let off = id * u64::from(page_size);
    while got < buf.len() {
        match f.read_at(&mut buf[got..], off + got as u64)? {
            0 => return Err(CliError::msg("EOF")),
            n => got += n,
        }
    }
    Ok(buf)
}

fn meta_sum(buf: &[u8]) -> u64 {
    fnv1a64(&buf[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + 56])
}

fn revert_meta_page(a: &Base, out: &mut dyn Write) -> Result<(), CliError> {
    validate(a, &[])?;
    check_source(src(a))?;
    copy_file(src(a), output(a), "revert-meta-page")?;
    let fail = |e: CliError| CliError::msg(format!("revert-meta-page command failed: {e}"));
    let dst = output(a);
    // bbolt's GetActiveMetaPage: the higher txid wins, meta 0 on a tie, no validation.
    let raw =
        RawFile::open(dst).map_err(|e| fail(CliError::msg(format!("read Page size: {e}"))))?;
    let (_, m0) = raw.read_page(0).map_err(fail)?;
    let (_, m1) = raw.read_page(1).map_err(fail)?;
    let txid = |b: &[u8]| read_u64(b, PAGE_HEADER_SIZE + 48).unwrap_or(0);
    let (from, to) = if txid(&m0) < txid(&m1) {
        (0, 1)
    } else {
        (1, 0)
    };
    copy_page_in(dst, from, to).map_err(fail)?;
    writeln!(out, "The meta page is reverted.")?;
    Ok(())
}

fn copy_page(a: &CopyPageArgs, out: &mut dyn Write) -> Result<(), CliError> {
    validate(
        &a.base,
        &[
            ("from-page", a.from_page.is_some()),
            ("to-page", a.to_page.is_some()),
        ],
    )?;
    let (from, to) = (a.from_page.unwrap_or(0), a.to_page.unwrap_or(0));
    if from == to {
        return Err(CliError::msg(format!(
            "'--from-page' and '--to-page' have the same value: {from}"
        )));
    }
    let src = src(&a.base);
    check_source(src)?;
    copy_file(src, output(&a.base), "copy-page")?;
    copy_page_in(output(&a.base), from, to)
        .map_err(|e| CliError::msg(format!("copy-page command failed: {e}")))?;
    if newest_meta_freelist(src)? != PGID_NO_FREELIST {
        writeln!(out, "WARNING: the free list might have changed.")?;
        writeln!(out, "{ABANDON_HINT}")?;
    }
    writeln!(out, "The page {from} was successfully copied to page {to}")?;
    Ok(())
}

fn clear_page(a: &ClearPageArgs, out: &mut dyn Write) -> Result<(), CliError> {
    validate(&a.base, &[("pageId", a.page_id.is_some())])?;
    let id = a.page_id.unwrap_or(0);
    if id < 2 {
        return Err(CliError::msg(format!(
            "the pageId must be at least 2, but got {id}"
        )));
    }
    let src = src(&a.base);
    check_source(src)?;
    copy_file(src, output(&a.base), "clear-page")?;
    let abandon = clear_elements(output(&a.base), id, 0, -1)
        .map_err(|e| CliError::msg(format!("clear-page command failed: {e}")))?;
    if abandon {
        warn_abandoned(out)?;
    }
    writeln!(out, "The page ({id}) was cleared")?;
    Ok(())
}

fn clear_page_elements(a: &ClearElementsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    validate(
        &a.base,
        &[
            ("pageId", a.page_id.is_some()),
            ("from-index", a.from_index.is_some()),
            ("to-index", a.to_index.is_some()),
        ],
    )?;
    let id = a.page_id.unwrap_or(0);
    if id < 2 {
        return Err(CliError::msg(format!(
            "the pageId must be at least 2, but got {id}"
        )));
    }
    let (start, end) = (a.from_index.unwrap_or(0), a.to_index.unwrap_or(0));
    let src = src(&a.base);
    check_source(src)?;
    copy_file(src, output(&a.base), "clear-page-element")?;
    let abandon = clear_elements(output(&a.base), id, start, end)
        .map_err(|e| CliError::msg(format!("clear-page-element command failed: {e}")))?;
    if abandon {
        warn_abandoned(out)?;
    }
    writeln!(
        out,
        "All elements in [{start}, {end}) in page {id} were cleared"
    )?;
    Ok(())
}

fn warn_abandoned(out: &mut dyn Write) -> Result<(), CliError> {
    writeln!(
        out,
        "WARNING: The clearing has abandoned some pages that are not yet referenced from free list."
    )?;
    writeln!(out, "{ABANDON_HINT}")?;
    Ok(())
}

/// bbolt's `ClearPageElements`: removes elements `[start, end)` (`end` −1: to the end) of a
/// branch or leaf page, repacks it and recomputes its overflow. Returns whether pages were
/// orphaned (a branch lost children, or the span shrank), so the freelist is now wrong.
fn clear_elements(path: &Path, id: u64, start: i64, end: i64) -> Result<bool, CliError> {
    let raw = RawFile::open(path)
        .map_err(|e| CliError::msg(format!("ReadPage failed: read Page size: {e}")))?;
    let (h, mut buf) = raw
        .read_page(id)
        .map_err(|e| CliError::msg(format!("ReadPage failed: {e}")))?;
    let branch = h.flags == BRANCH_PAGE;
    if !branch && h.flags != LEAF_PAGE {
        return Err(CliError::msg(format!(
            "can't clear elements in {} page",
            crate::values::go_quote(h.type_name().as_bytes())
        )));
    }
    let n = i64::from(h.count);
    if n == 0 {
        return Ok(false);
    }
    if start < 0 || start >= n {
        return Err(CliError::msg(format!(
            "the start index ({start}) is out of range [0, {n})"
        )));
    }
    if (end < 0 || end > n) && end != -1 {
        return Err(CliError::msg(format!(
            "the end index ({end}) is out of range [0, {n}]"
        )));
    }
    if start > end && end != -1 {
        return Err(CliError::msg(format!(
            "the start index ({start}) is bigger than the end index ({end})"
        )));
    }
    if start == end {
        return Err(CliError::msg(format!(
            "invalid: the start index ({start}) is equal to the end index ({end})"
        )));
    }
    let esize = if branch {
        BRANCH_ELEM_SIZE
    } else {
        LEAF_ELEM_SIZE
    };
    // Every element's (flags, key, value, child) before anything is rewritten.
    let mut items: Vec<(u32, Vec<u8>, Vec<u8>, Pgid)> = Vec::with_capacity(h.count.into());
    for i in 0..usize::from(h.count) {
        let bad = || CliError::msg(format!("element {i} lies outside page {id}"));
        let base = PAGE_HEADER_SIZE + i * esize;
        if branch {
            let pos = read_u32(&buf, base).ok_or_else(bad)? as usize;
            let ks = read_u32(&buf, base + 4).ok_or_else(bad)? as usize;
            let pgid = Pgid(read_u64(&buf, base + 8).ok_or_else(bad)?);
            let k = buf
                .get(base + pos..base + pos + ks)
                .ok_or_else(bad)?
                .to_vec();
            items.push((0, k, Vec::new(), pgid));
        } else {
            let flags = read_u32(&buf, base).ok_or_else(bad)?;
            let pos = read_u32(&buf, base + 4).ok_or_else(bad)? as usize;
            let ks = read_u32(&buf, base + 8).ok_or_else(bad)? as usize;
            let vs = read_u32(&buf, base + 12).ok_or_else(bad)? as usize;
            let k0 = base + pos;
            let k = buf.get(k0..k0 + ks).ok_or_else(bad)?.to_vec();
            let v = buf.get(k0 + ks..k0 + ks + vs).ok_or_else(bad)?.to_vec();
            items.push((flags, k, v, Pgid(0)));
        }
    }
    let start = start as usize;
    let written = if end == -1 || end == n {
        // bbolt only lowers the count here and measures the kept elements as if packed.
        items.truncate(start);
        buf[10..12].copy_from_slice(&(start as u16).to_le_bytes());
        PAGE_HEADER_SIZE
            + items.len() * esize
            + items
                .iter()
                .map(|(_, k, v, _)| k.len() + v.len())
                .sum::<usize>()
    } else {
        items.drain(start..end as usize);
        let cap = buf.len();
        if branch {
            rbolt_format::encode_branch(
                &mut buf[..cap],
                Pgid(id),
                h.overflow,
                items.iter().map(|(_, k, _, p)| (&k[..], *p)),
            )
        } else {
            rbolt_format::encode_leaf(
                &mut buf[..cap],
                Pgid(id),
                h.overflow,
                items.iter().map(|(f, k, v, _)| (*f, &k[..], &v[..])),
            )
        }
    };
    let ps = raw.page_size as usize;
    let overflow = if written % ps == 0 {
        written / ps - 1
    } else {
        written / ps
    } as u32;
    write_u32(&mut buf, 12, overflow);
    let keep = ps * (overflow as usize + 1);
    buf.truncate(keep);
    write_page(path, &buf).map_err(|e| CliError::msg(format!("WritePage failed: {e}")))?;
    Ok(h.overflow != overflow || branch)
}

fn freelist_abandon(a: &Base, out: &mut dyn Write) -> Result<(), CliError> {
    validate(a, &[])?;
    check_source(src(a))?;
    copy_file(src(a), output(a), "freelist abandon")?;
    let dst = output(a);
    for id in 0..2u64 {
        let fail = |e: CliError| {
            CliError::msg(format!(
                "abandom-freelist command failed: clearFreelist on meta page {id} failed: ReadPage {id} failed: {e}"
            ))
        };
        let raw =
            RawFile::open(dst).map_err(|e| fail(CliError::msg(format!("read Page size: {e}"))))?;
        let (_, mut buf) = raw.read_page(id).map_err(fail)?;
        write_u64(&mut buf, PAGE_HEADER_SIZE + 32, PGID_NO_FREELIST.get());
        let sum = meta_sum(&buf);
        write_u64(&mut buf, PAGE_HEADER_SIZE + 56, sum);
        write_page(dst, &buf)?;
    }
    writeln!(out, "The freelist was abandoned in both meta pages.")?;
    writeln!(
        out,
        "It may cause some delay on next startup because bbolt needs to scan the whole db to reconstruct the free list."
    )?;
    Ok(())
}

fn freelist_rebuild(a: &Base, out: &mut dyn Write) -> Result<(), CliError> {
    validate(a, &[])?;
    let src = src(a);
    check_source(src)?;
    if newest_meta_freelist(src)? != PGID_NO_FREELIST {
        return Err(CliError::msg(
            "the file already has freelist, please consider to abandon the freelist to forcibly rebuild it",
        ));
    }
    copy_file(src, output(a), "freelist rebuild")?;
    // Opening read-write without no_freelist_sync writes the freelist the tree implies.
    let db = rbolt::Options::new()
        .open(output(a))
        .map_err(|e| CliError::msg(format!("[freelist rebuild] open db file failed: {e}")))?;
    drop(db);
    writeln!(out, "The freelist was successfully rebuilt.")?;
    Ok(())
}

fn meta_validate(args: &[OsString], out: &mut dyn Write) -> Result<(), CliError> {
    exact(args, 1)?;
    let path = path_arg(&args[0]);
    check_source(path)?;
    let mut page_size = 0u32;
    for i in 0..2u64 {
        let buf = read_meta_at(path, i, page_size)
            .map_err(|e| CliError::msg(format!("read meta page {i} failed: {e}")))?;
        match rbolt_format::Meta::decode(&buf) {
            Ok(_) => writeln!(out, "The meta page {i} is valid!")?,
            Err(e) => writeln!(out, "WARNING: The meta page {i} isn't valid: {e}!")?,
        }
        page_size = read_u32(&buf, PAGE_HEADER_SIZE + 8).unwrap_or(0);
    }
    Ok(())
}

fn meta_update(a: &MetaUpdateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    validate(&a.base, &[])?;
    if a.meta_page > 1 {
        return Err(CliError::msg(format!(
            "invalid meta page id: {}",
            a.meta_page
        )));
    }
    let mut fields: Vec<(usize, u64)> = Vec::new();
    for f in &a.fields {
        let kv: Vec<&str> = f.split(':').collect();
        if kv.len() != 2 {
            return Err(CliError::msg(format!("invalid key-value pair: {f}")));
        }
        // Offsets of the fields inside the meta struct.
        let off = match kv[0] {
            "pageSize" => 8,
            "root" => 16,
            "freelist" => 32,
            "pgid" => 40,
            other => {
                return Err(CliError::msg(format!(
                    "field {} isn't allowed to be updated",
                    crate::values::go_quote(other.as_bytes())
                )));
            }
        };
        let v: u64 = kv[1]
            .parse()
            .ok()
            .filter(|_| kv[1].bytes().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| {
                CliError::msg(format!(
                    "invalid value {} for field {}",
                    crate::values::go_quote(kv[1].as_bytes()),
                    crate::values::go_quote(kv[0].as_bytes())
                ))
            })?;
        fields.push((off, v));
    }
    let src = src(&a.base);
    check_source(src)?;
    let dst = output(&a.base);
    copy_file(src, dst, "meta update")?;
    let id = u64::from(a.meta_page);
    let mut page_size = 0u32;
    if id == 1 {
        let m0 = read_meta_at(dst, 0, 0)
            .map_err(|e| CliError::msg(format!("read the first meta page failed: {e}")))?;
        page_size = read_u32(&m0, PAGE_HEADER_SIZE + 8).unwrap_or(0);
    }
    let mut buf = read_meta_at(dst, id, page_size)
        .map_err(|e| CliError::msg(format!("read meta page {id} failed: {e}")))?;
    let before = buf.clone();
    let m = PAGE_HEADER_SIZE;
    for (off, v) in fields.iter().copied() {
        match off {
            8 => write_u32(&mut buf, m + 8, v as u32),
            16 => {
                // Setting the root resets the root bucket's sequence, as bbolt does.
                write_u64(&mut buf, m + 16, v);
                write_u64(&mut buf, m + 24, 0);
            }
            _ => write_u64(&mut buf, m + off, v),
        }
    }
    write_u32(&mut buf, m, MAGIC);
    write_u32(&mut buf, m + 4, VERSION);
    // bbolt stores the meta page's type flag in meta.flags.
    write_u32(&mut buf, m + 12, u32::from(META_PAGE));
    let sum = meta_sum(&buf);
    write_u64(&mut buf, m + 56, sum);
    let changed = !fields.is_empty() || buf != before;
    if changed {
        let f = OpenOptions::new().write(true).open(dst)?;
        f.write_all_at(&buf, id * u64::from(page_size))
            .map_err(|e| {
                CliError::msg(format!(
                    "[meta update] write meta page {id} failed: {}",
                    CliError::from(e)
                ))
            })?;
        f.sync_all()?;
    }
    let new_ps = read_u32(&buf, m + 8).unwrap_or(0);
    if id == 1 && page_size != new_ps {
        writeln!(
            out,
            "WARNING: The page size ({page_size}) in the first meta page doesn't match the second meta page ({new_ps})"
        )?;
    }
    if changed {
        writeln!(out, "The meta page {id} has been updated!")?;
    } else {
        writeln!(out, "Nothing changed!")?;
    }
    Ok(())
}
