//! Hostile files (reliability.md T9): structure-aware mutations of valid databases, and the
//! exercise every mutated file must survive — open, walk every bucket and key forwards and
//! backwards, `get` every key, `check`, and (read-write) one more commit — without a panic,
//! hang or out-of-bounds read. A file either works consistently or yields errors.

use crate::rng::Rng;
use rbolt::{Bucket, Options};
use std::path::Path;
use std::time::Duration;

const HDR: usize = 16;

fn get<const N: usize>(b: &[u8], o: usize) -> [u8; N] {
    o.checked_add(N)
        .and_then(|end| b.get(o..end))
        .map_or([0; N], |s| s.try_into().unwrap_or([0; N]))
}
fn put(b: &mut [u8], o: usize, v: &[u8]) {
    if let Some(s) = o.checked_add(v.len()).and_then(|end| b.get_mut(o..end)) {
        s.copy_from_slice(v);
    }
}
fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(get(b, o))
}
fn rd32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(get(b, o))
}
fn rd64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(get(b, o))
}
fn wr16(b: &mut [u8], o: usize, v: u16) {
    put(b, o, &v.to_le_bytes());
}
fn wr32(b: &mut [u8], o: usize, v: u32) {
    put(b, o, &v.to_le_bytes());
}
fn wr64(b: &mut [u8], o: usize, v: u64) {
    put(b, o, &v.to_le_bytes());
}

/// Recomputes the checksum of the meta page at byte offset `off`.
pub fn reseal_meta(img: &mut [u8], off: usize) {
    let Some(body) = img.get(off + 16..off + 72) else {
        return;
    };
    let sum = rbolt_format::fnv1a64(body);
    wr64(img, off + 72, sum);
}

/// Page types found by scanning every page header of an image.
#[derive(Debug, Default)]
pub struct Layout {
    /// Page size.
    pub ps: usize,
    /// Page ids by type.
    pub branches: Vec<usize>,
    /// Leaf page ids.
    pub leaves: Vec<usize>,
    /// Freelist page ids.
    pub freelists: Vec<usize>,
    /// Number of whole pages in the image.
    pub pages: usize,
}

impl Layout {
    /// Scans `img` (page size `ps`).
    pub fn scan(img: &[u8], ps: usize) -> Self {
        let pages = img.len() / ps;
        let mut l = Layout {
            ps,
            pages,
            ..Default::default()
        };
        for id in 2..pages {
            let o = id * ps;
            if rd64(img, o) != id as u64 {
                continue;
            }
            match rd16(img, o + 8) {
                0x01 => l.branches.push(id),
                0x02 => l.leaves.push(id),
                0x10 => l.freelists.push(id),
                _ => {}
            }
        }
        l
    }

    fn tree_pages(&self) -> Vec<usize> {
        self.branches.iter().chain(&self.leaves).copied().collect()
    }
}

/// A valid database built page by page to be as deep as the format allows: `nesting` buckets
/// each inside the last (every one named `b`), each rooted in a chain of `chain` branch pages
/// of one element, the innermost holding one key `k`. No freelist page, so a read-write open
/// must walk all of it to find the free pages. Every walker of rbolt must handle it without
/// its call stack growing with `nesting` or `chain`.
pub fn deep_file(ps: usize, nesting: usize, chain: usize) -> Vec<u8> {
    use rbolt_format::{
        BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, BucketHeader, Meta, PGID_NO_FREELIST, Pgid, Txid,
    };
    let levels = nesting + 1; // the root bucket's tree, then one per nested bucket
    let per_level = chain + 1;
    let pages = 2 + levels * per_level;
    let mut img = vec![0u8; pages * ps];
    let first_page = |level: usize| (2 + level * per_level) as u64;
    for level in 0..levels {
        let start = first_page(level);
        let key: &[u8] = if level + 1 == levels { b"k" } else { b"b" };
        for i in 0..chain as u64 {
            let id = start + i;
            let o = id as usize * ps;
            let (page, child) = (Pgid(id), Pgid(id + 1));
            rbolt_format::encode_branch(&mut img[o..o + ps], page, 0, [(key, child)].into_iter());
        }
        let leaf = start + chain as u64;
        let o = leaf as usize * ps;
        if level + 1 == levels {
            rbolt_format::encode_leaf(
                &mut img[o..o + ps],
                Pgid(leaf),
                0,
                [(0, key, &b"v"[..])].into_iter(),
            );
        } else {
            let mut v = [0u8; BUCKET_HEADER_SIZE];
            BucketHeader {
                root: Pgid(first_page(level + 1)),
                sequence: level as u64,
            }
            .encode(&mut v);
            rbolt_format::encode_leaf(
                &mut img[o..o + ps],
                Pgid(leaf),
                0,
                [(BUCKET_LEAF_FLAG, key, &v[..])].into_iter(),
            );
        }
    }
    let meta = Meta::new(
        ps as u32,
        Pgid(first_page(0)),
        PGID_NO_FREELIST,
        Pgid(pages as u64),
        Txid(1),
    );
    for id in 0..2 {
        meta.encode_page(Pgid(id), &mut img[id as usize * ps..(id as usize + 1) * ps]);
    }
    img
}

/// Adds page `extra` to the freelist page of `img` (which must have room for one more id).
/// The freelist carries no checksum, so the result still opens; if `extra` is a page the tree
/// uses, a writer that trusted the list would overwrite live data.
pub fn free_a_live_page(img: &mut [u8], ps: usize, extra: u64) -> Result<(), String> {
    let meta = [0, 1]
        .into_iter()
        .filter_map(|id| rbolt_format::Meta::decode(img.get(id * ps..(id + 1) * ps)?).ok())
        .max_by_key(|m| m.txid)
        .ok_or("no valid meta")?;
    if meta.freelist == rbolt_format::PGID_NO_FREELIST {
        return Err("no freelist page".into());
    }
    let o = usize::try_from(meta.freelist.get()).map_err(|e| e.to_string())? * ps;
    let page = img.get(o..o + ps).ok_or("freelist page past the end")?;
    let h = rbolt_format::PageHeader::decode(page).map_err(|e| e.to_string())?;
    if h.overflow != 0 {
        return Err("multi-page freelist".into());
    }
    let mut ids = rbolt_format::decode_freelist(page).map_err(|e| e.to_string())?;
    let extra = rbolt_format::Pgid(extra);
    if ids.contains(&extra) {
        return Err("already listed".into());
    }
    ids.push(extra);
    ids.sort_unstable();
    if rbolt_format::freelist_encoded_size(ids.len()) > ps {
        return Err("no room for one more id".into());
    }
    rbolt_format::encode_freelist(&mut img[o..o + ps], meta.freelist, 0, ids.into_iter());
    Ok(())
}

/// Interesting integers for fields that count or point.
fn nasty(r: &mut Rng, pages: usize) -> u64 {
    let p = pages as u64;
    let (x, y) = (r.next_u64(), r.below(p.max(1)));
    *r.pick(&[
        0,
        1,
        2,
        3,
        p.saturating_sub(1),
        p,
        p + 1,
        p * 2,
        0xFFFF,
        0xFFFE,
        0x7FFF_FFFF,
        0xFFFF_FFFF,
        u64::MAX,
        u64::MAX / 2,
        1 << 40,
        x,
        y,
    ])
}

/// Applies one random mutation to `img`; returns its description.
pub fn mutate_once(img: &mut Vec<u8>, ps: usize, r: &mut Rng) -> String {
    let l = Layout::scan(img, ps);
    let pages = l.pages.max(1);
    let page_of = |r: &mut Rng, v: &[usize]| -> usize {
        if v.is_empty() {
            r.index(pages)
        } else {
            *r.pick(v)
        }
    };
    match r.below(18) {
        16 => {
            // the freelist lists a page the tree uses
            let live = l.tree_pages();
            if live.is_empty() {
                return "no tree page to free".into();
            }
            let id = *r.pick(&live);
            match free_a_live_page(img, ps, id as u64) {
                Ok(()) => format!("freelist lists live page {id}"),
                Err(e) => format!("freelist not changed ({e})"),
            }
        }
        17 => {
            // as deep as the format allows, or one past rbolt's limits
            let nesting = *r.pick(&[2usize, 40, 300, 1024, 1025]);
            // 63 branch pages and a leaf are rbolt's deepest tree; 64 is one level too many.
            let chain = *r.pick(&[0usize, 1, 8, 63, 64]);
            // Keep the image small: deep nesting with short chains, long chains shallow.
            let chain = chain.min(4096 / (nesting + 1));
            *img = deep_file(ps, nesting, chain);
            format!("deep file: {nesting} nested buckets, chains of {chain} branch pages")
        }
        0 | 1 => {
            let n = r.range(1, 8);
            let mut d = Vec::new();
            for _ in 0..n {
                let off = if r.chance(0.5) {
                    r.index(pages) * ps + r.index(HDR + 64)
                } else {
                    r.index(img.len().max(1))
                };
                if off < img.len() {
                    let bit = r.below(8);
                    img[off] ^= 1 << bit;
                    d.push(format!("{off}.{bit}"));
                }
            }
            format!("bit flips at {}", d.join(","))
        }
        2 => {
            let len = if r.chance(0.5) {
                r.index(pages + 1) * ps
            } else {
                r.index(img.len() + 1)
            };
            img.truncate(len);
            format!("truncate to {len}")
        }
        3 => {
            let extra = r.range(1, 4 * ps as u64) as usize;
            let garbage = r.chance(0.5);
            let old = img.len();
            img.resize(old + extra, 0);
            if garbage {
                r.fill(&mut img[old..]);
            }
            format!(
                "extend by {extra} {}",
                if garbage { "garbage" } else { "zeros" }
            )
        }
        4 => {
            let id = r.index(pages);
            let o = id * ps;
            let field = r.below(4);
            let v = nasty(r, pages);
            match field {
                0 => wr64(img, o, v),
                1 => wr16(
                    img,
                    o + 8,
                    *r.pick(&[0, 1, 2, 3, 4, 0x10, 0x11, 0xFFFF, v as u16]),
                ),
                2 => wr16(img, o + 10, v as u16),
                _ => wr32(img, o + 12, v as u32),
            }
            format!("page {id} header field {field} = {v:#x}")
        }
        5 | 6 => {
            // element fields out of range
            let id = page_of(r, &l.tree_pages());
            let o = id * ps;
            let count = usize::from(rd16(img, o + 10)).max(1);
            let i = r.index(count);
            let e = o + HDR + 16 * i;
            if e + 16 > img.len() {
                return "element mutation skipped".into();
            }
            let field = r.below(4);
            let v = match r.below(3) {
                0 => nasty(r, pages) as u32,
                1 => (ps as u32).wrapping_sub(r.below(64) as u32),
                _ => rd32(img, e + 4 * field as usize).wrapping_add(r.range(1, 64) as u32),
            };
            wr32(img, e + 4 * field as usize, v);
            format!("page {id} elem {i} field {field} = {v:#x}")
        }
        7 | 8 => {
            // cycles and shared subtrees in branch pages
            if l.branches.is_empty() {
                return "no branch pages".into();
            }
            let id = *r.pick(&l.branches);
            let o = id * ps;
            let count = usize::from(rd16(img, o + 10)).max(1);
            let i = r.index(count);
            let e = o + HDR + 16 * i;
            let target = match r.below(4) {
                0 => id as u64,                                    // self-loop
                1 => *r.pick(&l.branches) as u64,                  // another branch (cycle)
                2 => rd64(img, o + HDR + 16 * r.index(count) + 8), // shared child
                _ => nasty(r, pages),
            };
            wr64(img, e + 8, target);
            format!("branch {id} elem {i} child = {target}")
        }
        9 => {
            let id = page_of(r, &l.tree_pages());
            let v = match r.below(3) {
                0 => u32::MAX,
                1 => (pages - id.min(pages)) as u32,
                _ => r.below(1 << 20) as u32,
            };
            wr32(img, id * ps + 12, v);
            format!("page {id} overflow = {v}")
        }
        10 => {
            let id = page_of(r, &l.tree_pages());
            let v = *r.pick(&[
                0u16,
                0xFFFF,
                0xFFFE,
                0x8000,
                (ps / 16) as u16,
                (ps / 16 + 1) as u16,
            ]);
            wr16(img, id * ps + 10, v);
            format!("page {id} count = {v:#x}")
        }
        11 => {
            // freelist ids
            if l.freelists.is_empty() {
                return "no freelist page".into();
            }
            let id = *r.pick(&l.freelists);
            let o = id * ps;
            if r.chance(0.3) {
                wr16(img, o + 10, 0xFFFF);
                let v = nasty(r, pages);
                wr64(img, o + HDR, v);
                return format!("freelist {id} long-form count = {v:#x}");
            }
            let count = usize::from(rd16(img, o + 10));
            if count == 0 || count == 0xFFFF {
                wr16(img, o + 10, 3);
            }
            let i = r.index(count.clamp(1, 3));
            let v = {
                let x = r.below(pages as u64);
                *r.pick(&[0u64, 1, pages as u64, u64::MAX, 3, x])
            };
            wr64(img, o + HDR + 8 * i, v);
            format!("freelist {id} id {i} = {v}")
        }
        12 => {
            // both metas damaged
            let mode = r.below(3);
            for m in 0..2 {
                let o = m * ps;
                if o + 80 > img.len() {
                    continue;
                }
                match mode {
                    0 => r.fill(&mut img[o + HDR..o + 80]),
                    1 => img[o + 72] ^= 0x5a,
                    _ => img[o + HDR..o + 80].fill(0),
                }
            }
            format!("both metas damaged (mode {mode})")
        }
        13 => {
            // a meta with a valid checksum but bad fields
            let m = r.index(2);
            let o = m * ps;
            if o + 80 > img.len() {
                return "meta out of file".into();
            }
            let field = *r.pick(&[24usize, 32, 48, 56, 64]);
            let v = match field {
                24 => *r.pick(&[0u64, 1, 512, 3000, 1 << 31, ps as u64 * 2]),
                32 | 48 => {
                    let x = r.below(pages as u64);
                    *r.pick(&[0u64, 1, 2, pages as u64, u64::MAX, x])
                }
                56 => *r.pick(&[0u64, 2, 4, pages as u64 + 1, u64::MAX / 4096]),
                _ => *r.pick(&[0u64, u64::MAX, rd64(img, (1 - m) * ps + 64)]),
            };
            if field == 24 {
                wr32(img, o + 24, v as u32);
            } else {
                wr64(img, o + field, v);
            }
            reseal_meta(img, o);
            format!("meta {m} field @{field} = {v:#x}, checksum resealed")
        }
        14 => {
            // copy one page over another (a lost or misdirected write)
            let a = r.index(pages);
            let b = r.index(pages);
            if (a.max(b) + 1) * ps <= img.len() {
                let src = img[a * ps..(a + 1) * ps].to_vec();
                img[b * ps..(b + 1) * ps].copy_from_slice(&src);
            }
            format!("page {a} copied over page {b}")
        }
        _ => {
            // bucket values: root pointer or inline page lies
            for _ in 0..20 {
                let id = page_of(r, &l.leaves);
                let o = id * ps;
                let count = usize::from(rd16(img, o + 10));
                if count == 0 || o + HDR + 16 * count > img.len() {
                    continue;
                }
                let i = r.index(count);
                let e = o + HDR + 16 * i;
                if rd32(img, e) & 1 == 0 {
                    continue;
                }
                let (pos, ksize, vsize) = (rd32(img, e + 4), rd32(img, e + 8), rd32(img, e + 12));
                let v = e + pos as usize + ksize as usize;
                if vsize < 16 || v + 16 > img.len() {
                    continue;
                }
                if rd64(img, v) == 0 && vsize >= 32 && r.chance(0.6) {
                    let ip = v + 16; // inline page header
                    let c = *r.pick(&[0xFFFFu16, 0x100, 2, 0]);
                    wr16(img, ip + 10, c);
                    return format!("inline bucket at page {id} elem {i}: count = {c:#x}");
                }
                let root = {
                    let x = r.below(pages as u64);
                    *r.pick(&[0u64, 1, id as u64, pages as u64, u64::MAX, x])
                };
                wr64(img, v, root);
                return format!("bucket at page {id} elem {i}: root = {root}");
            }
            "no bucket value found".into()
        }
    }
}

/// Applies 1–3 random mutations (seeded by `r`); returns the descriptions.
pub fn mutate(img: &mut Vec<u8>, ps: usize, r: &mut Rng) -> String {
    let n = *r.pick(&[1, 1, 1, 2, 3]);
    (0..n)
        .map(|_| mutate_once(img, ps, r))
        .collect::<Vec<_>>()
        .join("; ")
}

/// How a hostile file was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// `open` returned an error.
    Refused,
    /// Opened; the walk or `check` reported errors.
    Errors,
    /// Opened, walked and checked clean.
    Clean,
    /// `check` was clean but the walk hit an error (the checker missed something).
    CheckMissed,
}

struct Walk {
    items: usize,
    errors: usize,
}

const MAX_ITEMS: usize = 2_000_000;

/// Walks bucket `b` and every bucket under it (buckets wait on an explicit stack, as deep as
/// the file nests them).
fn walk_tree(b: Bucket<'_>, w: &mut Walk) -> Result<(), String> {
    let mut stack = vec![(b, 1)];
    while let Some((b, depth)) = stack.pop() {
        if w.items > MAX_ITEMS {
            w.errors += 1;
            return Ok(());
        }
        // Deeper than the engine's limit is corruption (a cycle of buckets, say), which
        // `check` reports too.
        if depth > rbolt::MAX_NESTING {
            w.errors += 1;
            continue;
        }
        let mut subs = Vec::new();
        walk_bucket(&b, w, &mut subs)?;
        stack.extend(subs.into_iter().map(|s| (s, depth + 1)));
    }
    Ok(())
}

/// Walks one bucket's entries; its sub-buckets go onto `subs`.
fn walk_bucket<'tx>(
    b: &Bucket<'tx>,
    w: &mut Walk,
    subs: &mut Vec<Bucket<'tx>>,
) -> Result<(), String> {
    let fwd: Vec<_> = b.iter().collect();
    let rev: Vec<_> = b.iter().rev().collect();
    w.items += fwd.len() + rev.len();
    let fwd_ok: Option<Vec<_>> = fwd.iter().map(|x| x.as_ref().ok().copied()).collect();
    let rev_ok: Option<Vec<_>> = rev.iter().map(|x| x.as_ref().ok().copied()).collect();
    let (Some(fwd), Some(mut rev)) = (fwd_ok, rev_ok) else {
        w.errors += 1;
        return Ok(());
    };
    rev.reverse();
    if fwd != rev {
        return Err(format!(
            "forward walk ({} items) differs from reverse walk ({} items)",
            fwd.len(),
            rev.len()
        ));
    }
    // `len` reads only page headers; where it and the walk both succeed they must agree.
    match b.len() {
        Ok(n) if n != fwd.len() as u64 => {
            return Err(format!(
                "len() = {n} but the walk found {} items",
                fwd.len()
            ));
        }
        Ok(_) => {}
        Err(_) => w.errors += 1,
    }
    let _ = b.stats();
    let mut cur = b.cursor();
    let _ = cur.seek(b"k00200");
    let _ = cur.prev();
    let _ = cur.next();
    for (k, v) in fwd {
        match v {
            Some(v) => match b.get(k) {
                Ok(Some(g)) if g == v => {}
                Ok(g) => {
                    w.errors += 1; // duplicate or unsorted keys; check must flag it
                    let _ = g;
                }
                Err(_) => w.errors += 1,
            },
            None => match b.bucket(k) {
                Ok(Some(sub)) => subs.push(sub),
                Ok(None) | Err(_) => w.errors += 1,
            },
        }
    }
    Ok(())
}

/// Up to `cap` values a read transaction can reach, each with a copy of its bytes, so that a
/// later comparison notices bytes that changed under the reader.
fn held_values(tx: &rbolt::Tx, cap: usize) -> Vec<(&[u8], Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for (name, v) in tx.cursor().bucket().iter().flatten() {
        if v.is_none()
            && let Ok(Some(b)) = tx.bucket(name)
        {
            stack.push(b);
        }
    }
    while let Some(b) = stack.pop() {
        for (k, v) in b.iter().flatten() {
            if out.len() >= cap {
                return out;
            }
            match v {
                Some(v) => out.push((v, v.to_vec())),
                None => {
                    if let Ok(Some(sub)) = b.bucket(k) {
                        stack.push(sub);
                    }
                }
            }
        }
    }
    out
}

/// Opens the file at `path` (read-only, or read-write and then one more commit) and walks,
/// gets and checks everything. `Err` means an inconsistency a hostile file must not cause
/// (a panic is caught by the caller).
pub fn exercise(path: &Path, read_write: bool) -> Result<Outcome, String> {
    let opts = Options::new()
        .read_only(!read_write)
        .no_sync(true)
        .timeout(Duration::from_millis(200));
    let db = match opts.open(path) {
        Ok(db) => db,
        Err(rbolt::Error::Timeout) => return Err("lock timeout on a private file".into()),
        Err(_) => return Ok(Outcome::Refused),
    };
    let tx = db.begin_read().map_err(|e| format!("begin_read: {e}"))?;
    let mut w = Walk {
        items: 0,
        errors: 0,
    };
    let top: Vec<_> = tx.cursor().bucket().iter().collect();
    for item in top {
        match item {
            Ok((name, None)) => match tx.bucket(name) {
                Ok(Some(b)) => walk_tree(b, &mut w)?,
                _ => w.errors += 1,
            },
            // A plain value in the root bucket: the API never writes one, but the format and
            // `check` allow it, and a read of it is consistent.
            Ok((_, Some(_))) => {}
            Err(_) => w.errors += 1,
        }
    }
    let problems = tx.check();
    drop(tx);
    if read_write {
        // Values a reader holds must not change while writers commit, whatever the file's
        // freelist claims: a writer that reused a page still in the tree would show here.
        let reader = db.begin_read().map_err(|e| format!("begin_read: {e}"))?;
        let held = held_values(&reader, 20_000);
        for round in 0..3u8 {
            let _ = db.update(|tx| {
                let b = tx.create_bucket_if_not_exists(b"hostile")?;
                for i in 0..64u32 {
                    b.put(&[&[round][..], &i.to_le_bytes()].concat(), &[round; 200])?;
                }
                Ok(())
            });
        }
        if let Some((now, was)) = held.iter().find(|(now, was)| now != was) {
            return Err(format!(
                "a value changed under an open reader: {} bytes, first {:02x?} (was {:02x?})",
                was.len(),
                &now[..now.len().min(8)],
                &was[..was.len().min(8)]
            ));
        }
        drop(reader);
        if let Ok(tx) = db.begin_read() {
            let _ = tx.check();
        }
    }
    Ok(match (w.errors, problems.is_empty()) {
        (0, true) => Outcome::Clean,
        (_, true) => Outcome::CheckMissed,
        _ => Outcome::Errors,
    })
}
