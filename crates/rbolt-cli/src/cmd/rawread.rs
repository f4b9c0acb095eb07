//! The read commands (`info`, `buckets`, `keys`, `get`, `stats`, `check`, `pages`,
//! `inspect`) when given `--meta 0|1` or `--no-lock`: the same output, read page by page
//! with `pread` from the chosen meta page, without the engine and without the file lock.

use super::bucket_names;
use crate::cli::space::ReadFrom;
use crate::cli::{BucketsArgs, CheckArgs, GetArgs, Json, KeysArgs};
use crate::error::CliError;
use crate::json;
use crate::raw::RawFile;
use crate::source::{check_source, path_arg};
use crate::values::{Format, go_quote, hex};
use crate::walk::{BucketInfo, PageVisit, Problem, Problems, Visit, WalkOpts, Walker};
use rbolt_format::{
    BRANCH_ELEM_SIZE, BRANCH_PAGE, BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, BranchPage, BucketHeader,
    LEAF_ELEM_SIZE, LEAF_PAGE, LeafPage, Meta, PAGE_HEADER_SIZE, PGID_NO_FREELIST, PageHeader,
};
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// An open file and the snapshot a command reads.
pub(crate) struct Snap {
    pub(crate) raw: RawFile,
    pub(crate) meta_id: u64,
    pub(crate) meta: Meta,
}

/// Opens `path` for a raw read of the snapshot `from` names.
pub(crate) fn open(path: &Path, from: &ReadFrom) -> Result<Snap, CliError> {
    check_source(path)?;
    let raw = RawFile::open_lenient(path)?;
    let (meta_id, meta) = raw.snapshot(from.meta)?;
    Ok(Snap { raw, meta_id, meta })
}

/// A callback for each entry of a bucket: flags, key, value.
pub(crate) type EntryFn<'f> = dyn FnMut(u32, &[u8], &[u8]) -> Result<(), CliError> + 'f;

/// A page's type name, element count and overflow, as `pages` lists them.
pub(crate) type PageRow = (String, u16, u32);

/// Where a bucket's tree is: a root page, or an inline page carried in its header's value.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Page(u64),
    Inline(Vec<u8>),
}

impl Snap {
    fn page(&self, id: u64) -> Result<(PageHeader, Vec<u8>), CliError> {
        if id < 2 || id >= self.meta.pgid.0 {
            return Err(CliError::msg(format!(
                "page {id}: page id out of range [2, {})",
                self.meta.pgid.0
            )));
        }
        self.raw.read_page(id)
    }

    /// The value stored under `key` in the bucket at `node`: its flags and bytes.
    pub(crate) fn lookup(
        &self,
        node: &Node,
        key: &[u8],
    ) -> Result<Option<(u32, Vec<u8>)>, CliError> {
        let corrupt = |id: u64, e: &dyn std::fmt::Display| CliError::msg(format!("page {id}: {e}"));
        let (mut id, mut bytes) = match node {
            Node::Page(id) => (*id, self.page(*id)?.1),
            Node::Inline(b) => (0, b.clone()),
        };
        for _ in 0..crate::walk::MAX_DEPTH {
            let h = PageHeader::decode(&bytes).map_err(|e| corrupt(id, &e))?;
            match h.flags {
                BRANCH_PAGE => {
                    let p = BranchPage::new(&bytes).map_err(|e| corrupt(id, &e))?;
                    let Some(i) = p.child_index(key).map_err(|e| corrupt(id, &e))? else {
                        return Ok(None);
                    };
                    id = p.child(i).map_err(|e| corrupt(id, &e))?.get();
                    bytes = self.page(id)?.1;
                }
                LEAF_PAGE => {
                    let p = LeafPage::new(&bytes).map_err(|e| corrupt(id, &e))?;
                    let (i, found) = p.search(key).map_err(|e| corrupt(id, &e))?;
                    if !found {
                        return Ok(None);
                    }
                    let (flags, _, v) = p.entry(i).map_err(|e| corrupt(id, &e))?;
                    return Ok(Some((flags, v.to_vec())));
                }
                _ => return Err(corrupt(id, &format!("invalid type: {}", h.type_name()))),
            }
        }
        Err(CliError::msg(format!(
            "tree deeper than {} levels",
            crate::walk::MAX_DEPTH
        )))
    }

    /// The bucket at `names` (bbolt's `findLastBucket`): its name and header value.
    pub(crate) fn find_bucket(&self, names: &[Vec<u8>]) -> Result<(Vec<u8>, Vec<u8>), CliError> {
        let not_found = || CliError::msg("bucket not found");
        let mut node = Node::Page(self.meta.root.root.0);
        let mut found = None;
        for n in names {
            if n.is_empty() {
                return Err(not_found());
            }
            match self.lookup(&node, n)? {
                Some((flags, v)) if flags & BUCKET_LEAF_FLAG != 0 => {
                    let h = BucketHeader::decode(&v).map_err(|e| CliError::msg(e.to_string()))?;
                    node = if h.root.0 == 0 {
                        Node::Inline(v[BUCKET_HEADER_SIZE..].to_vec())
                    } else {
                        Node::Page(h.root.0)
                    };
                    found = Some((n.clone(), v));
                }
                _ => return Err(not_found()),
            }
        }
        found.ok_or_else(not_found)
    }

    /// Calls `f` for every entry of the bucket whose header value is `value` (not of its
    /// sub-buckets), in key order. Fails with the first problem after listing what it could.
    pub(crate) fn for_each(&self, value: &[u8], f: &mut EntryFn<'_>) -> Result<(), CliError> {
        struct V<'f> {
            f: &'f mut EntryFn<'f>,
            res: Result<(), CliError>,
            problem: Option<Problem>,
        }
        impl Visit for V<'_> {
            fn pair(&mut self, bucket: u32, _page: u64, flags: u32, k: &[u8], v: &[u8]) {
                if bucket == 1 && self.res.is_ok() {
                    self.res = (self.f)(flags, k, v);
                }
            }
            fn problem(&mut self, p: &Problem) {
                self.problem.get_or_insert_with(|| p.clone());
            }
        }
        let opts = WalkOpts {
            keys: false,
            recurse: false,
        };
        let v = V {
            f,
            res: Ok(()),
            problem: None,
        };
        let mut w = Walker::new(&self.raw, &self.meta, v, opts);
        w.run_bucket(b"", value);
        w.v.res?;
        match w.v.problem {
            Some(p) => Err(CliError::msg(p.to_string())),
            None => Ok(()),
        }
    }

    /// The root bucket's header value, as if it were stored in a leaf.
    pub(crate) fn root_value(&self) -> Vec<u8> {
        let mut v = vec![0u8; BUCKET_HEADER_SIZE];
        self.meta.root.encode(&mut v);
        v
    }
}

/// bbolt's `BucketStats` of each bucket, gathered in one walk.
#[derive(Debug, Default)]
pub(crate) struct StatsVisit {
    pub(crate) own: Vec<rbolt::BucketStats>,
    pub(crate) problems: Problems,
}

impl Visit for StatsVisit {
    fn bucket(&mut self, id: u32, b: &BucketInfo) {
        let i = id as usize;
        if self.own.len() <= i {
            self.own.resize(i + 1, rbolt::BucketStats::default());
        }
        let s = &mut self.own[i];
        s.bucket_n = 1;
        s.inline_bucket_n = u64::from(b.inline_len.is_some());
    }

    fn page(&mut self, p: &PageVisit<'_>) {
        let Some(s) = self.own.get_mut(p.bucket as usize) else {
            return;
        };
        s.depth = s.depth.max(p.depth as u64 + 1);
        let mut used = PAGE_HEADER_SIZE as u64;
        if p.header.flags == LEAF_PAGE {
            let Ok(l) = LeafPage::new(p.bytes) else {
                return;
            };
            for i in 0..l.len() {
                if let Ok(e) = l.elem(i) {
                    used += (LEAF_ELEM_SIZE + e.key.len() + e.value.len()) as u64;
                }
            }
            s.key_n += l.len() as u64;
            if p.id.is_none() {
                s.inline_bucket_inuse += used;
            } else {
                s.leaf_page_n += 1;
                s.leaf_inuse += used;
                s.leaf_overflow_n += u64::from(p.header.overflow);
            }
        } else if let Ok(b) = BranchPage::new(p.bytes) {
            for i in 0..b.len() {
                if let Ok(e) = b.elem(i) {
                    used += (BRANCH_ELEM_SIZE + e.key.len()) as u64;
                }
            }
            s.branch_page_n += 1;
            s.branch_inuse += used;
            s.branch_overflow_n += u64::from(p.header.overflow);
        }
    }

    fn problem(&mut self, p: &Problem) {
        self.problems.problem(p);
    }
}

/// Stats of every top-level bucket whose name starts with `prefix`, summed as bbolt's
/// `stats` does; and how many there were.
pub(crate) fn stats(s: &Snap, prefix: &[u8]) -> Result<(rbolt::BucketStats, u64), CliError> {
    let opts = WalkOpts {
        keys: false,
        recurse: true,
    };
    let mut w = Walker::new(&s.raw, &s.meta, StatsVisit::default(), opts);
    w.run_root(s.meta.root);
    let ps = u64::from(s.meta.page_size);
    let buckets = &w.buckets;
    let own = &w.v.own;
    // Damage only counts inside the buckets asked about (or above them).
    let top_of = |mut b: u32| {
        while let Some(p) = buckets.get(b as usize).and_then(|x| x.parent) {
            if p == 0 {
                return Some(b);
            }
            b = p;
        }
        None
    };
    let hit =
        w.v.problems
            .0
            .iter()
            .find(|p| match p.bucket.and_then(top_of) {
                Some(t) => buckets[t as usize].name.starts_with(prefix),
                None => true,
            });
    if let Some(p) = hit {
        return Err(CliError::msg(format!("database corrupted at {p}")));
    }
    // A bucket's depth in bbolt counts the levels of the buckets above it too.
    let mut levels = vec![0u64; buckets.len()];
    let mut total = rbolt::BucketStats::default();
    let mut count = 0;
    let mut top = vec![None; buckets.len()];
    for (i, b) in buckets.iter().enumerate().skip(1) {
        let parent = b.parent.unwrap_or(0) as usize;
        let above = if parent == 0 { 0 } else { levels[parent] };
        levels[i] = above + own.get(i).map_or(0, |s| s.depth);
        top[i] = if parent == 0 { Some(i) } else { top[parent] };
        let Some(t) = top[i] else { continue };
        if !buckets[t].name.starts_with(prefix) {
            continue;
        }
        if parent == 0 {
            count += 1;
        }
        let mut one = own.get(i).copied().unwrap_or_default();
        one.depth = levels[i];
        one.branch_alloc = (one.branch_page_n + one.branch_overflow_n) * ps;
        one.leaf_alloc = (one.leaf_page_n + one.leaf_overflow_n) * ps;
        total.add(&one);
    }
    Ok((total, count))
}

/// bbolt's `Tx.Inspect` of the snapshot.
pub(crate) fn inspect(s: &Snap) -> Result<rbolt::BucketStructure, CliError> {
    #[derive(Default)]
    struct V {
        keys: Vec<u64>,
        problem: Option<Problem>,
    }
    impl Visit for V {
        fn bucket(&mut self, id: u32, _b: &BucketInfo) {
            if self.keys.len() <= id as usize {
                self.keys.resize(id as usize + 1, 0);
            }
        }
        fn pair(&mut self, bucket: u32, _page: u64, flags: u32, _k: &[u8], _v: &[u8]) {
            if flags & BUCKET_LEAF_FLAG == 0
                && let Some(n) = self.keys.get_mut(bucket as usize)
            {
                *n += 1;
            }
        }
        fn problem(&mut self, p: &Problem) {
            self.problem.get_or_insert_with(|| p.clone());
        }
    }
    let opts = WalkOpts {
        keys: false,
        recurse: true,
    };
    let mut w = Walker::new(&s.raw, &s.meta, V::default(), opts);
    w.run_root(s.meta.root);
    if let Some(p) = w.v.problem {
        return Err(CliError::msg(format!("database corrupted at {p}")));
    }
    // Buckets arrive parents first; build children lists, then fold bottom-up.
    let n = w.buckets.len();
    let mut nodes: Vec<rbolt::BucketStructure> = (0..n)
        .map(|i| {
            let mut b = rbolt::BucketStructure::default();
            b.name = if i == 0 {
                b"root".to_vec()
            } else {
                w.buckets[i].name.clone()
            };
            b.key_n = w.v.keys.get(i).copied().unwrap_or(0);
            b
        })
        .collect();
    for i in (1..n).rev() {
        let child = std::mem::take(&mut nodes[i]);
        let parent = w.buckets[i].parent.unwrap_or(0) as usize;
        nodes[parent].children.insert(0, child);
    }
    Ok(nodes.swap_remove(0))
}

/// `info` of the chosen snapshot.
pub(crate) fn info(a: &Json, out: &mut dyn Write) -> Result<(), CliError> {
    let s = open(path_arg(&a.pos.args[0]), &a.from)?;
    let m = s.meta;
    if !a.json {
        writeln!(out, "Page Size: {}", m.page_size)?;
        return Ok(());
    }
    let [m0, m1] = s.raw.metas()?;
    let v = json!({
        "page_size": m.page_size,
        "txid": m.txid.0,
        "root": m.root.root.0,
        "freelist": (m.freelist.0 != PGID_NO_FREELIST.0).then_some(m.freelist.0),
        "hwm": m.pgid.0,
        "file_size": s.raw.file_len(),
        "logical_size": m.pgid.0 * u64::from(m.page_size),
        "meta": [json::meta(m0.meta, &m0.valid), json::meta(m1.meta, &m1.valid)],
        "active_meta": s.meta_id,
    });
    json::line(out, &v)
}

/// `buckets` of the chosen snapshot.
pub(crate) fn buckets(a: &BucketsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let s = open(path_arg(&a.pos.args[0]), &a.from)?;
    let fmt = Format::parse(&a.format);
    s.for_each(&s.root_value(), &mut |flags, k, _| {
        if flags & BUCKET_LEAF_FLAG == 0 {
            return Ok(());
        }
        if a.json {
            json::line(out, &json!({ "name": json::bytes(k) }))
        } else {
            fmt.writeln(out, k)
        }
    })
}

/// `keys` of the chosen snapshot.
pub(crate) fn keys(a: &KeysArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let names = bucket_names(&a.pos.args[1..], a.bucket_format)?;
    let s = open(path_arg(&a.pos.args[0]), &a.from)?;
    let fmt = Format::parse(&a.format);
    let (_, value) = s.find_bucket(&names)?;
    s.for_each(&value, &mut |flags, k, _| {
        if a.json {
            let bucket = flags & BUCKET_LEAF_FLAG != 0;
            json::line(out, &json!({ "key": json::bytes(k), "bucket": bucket }))
        } else {
            fmt.writeln(out, k)
        }
    })
}

/// `get` from the chosen snapshot.
pub(crate) fn get(a: &GetArgs, key: &[u8], out: &mut dyn Write) -> Result<(), CliError> {
    let args = &a.pos.args;
    let names = bucket_names(&args[1..args.len() - 1], a.bucket_format)?;
    let s = open(path_arg(&args[0]), &a.from)?;
    let (_, value) = s.find_bucket(&names)?;
    let h = BucketHeader::decode(&value).map_err(|e| CliError::msg(e.to_string()))?;
    let node = if h.root.0 == 0 {
        Node::Inline(value[BUCKET_HEADER_SIZE..].to_vec())
    } else {
        Node::Page(h.root.0)
    };
    match s.lookup(&node, key)? {
        // A sub-bucket's name is not a key (bbolt's `Get` returns nil).
        Some((flags, v)) if flags & BUCKET_LEAF_FLAG == 0 => {
            if a.json {
                json::line(
                    out,
                    &json!({ "key": json::bytes(key), "value": json::bytes(&v) }),
                )
            } else {
                Format::parse(&a.format).writeln(out, &v)
            }
        }
        _ => Err(CliError::msg(format!(
            "Error key not found for key: {} hex: \"{}\"",
            go_quote(key),
            hex(key)
        ))),
    }
}

/// `check` of the chosen snapshot: each problem as `page N: message`.
pub(crate) fn check(a: &CheckArgs) -> Result<Vec<(Option<u64>, String)>, CliError> {
    let s = open(path_arg(&a.pos.args[0]), &a.from)?;
    let from = (a.from_page != 0).then_some(a.from_page);
    Ok(crate::walk::check(&s.raw, &s.meta, from)
        .into_iter()
        .map(|p| (p.page, p.message))
        .collect())
}

/// `pages` of the chosen snapshot, through `row` (id, type, count, overflow; `None` for a
/// free page).
pub(crate) fn pages(
    a: &Json,
    row: &mut dyn FnMut(u64, Option<PageRow>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let s = open(path_arg(&a.pos.args[0]), &a.from)?;
    // The free set: the freelist page's, or what the tree does not reach without one.
    let opts = WalkOpts {
        keys: false,
        recurse: true,
    };
    let mut w = Walker::new(&s.raw, &s.meta, Problems::default(), opts);
    let has_freelist = w.load_freelist(&s.meta);
    if !has_freelist {
        w.run_root(s.meta.root);
    }
    let free = |id: u64| {
        id >= 2
            && if has_freelist {
                w.free.get(id)
            } else {
                !w.seen.get(id)
            }
    };
    let mut id = 0u64;
    while id < s.meta.pgid.0 {
        if free(id) {
            row(id, None)?;
            id += 1;
            continue;
        }
        let block = s
            .raw
            .read_block(id)
            .map_err(|e| CliError::msg(format!("page error: id={id}, err={e}")))?;
        let h = PageHeader::decode(&block)
            .map_err(|e| CliError::msg(format!("page error: id={id}, err={e}")))?;
        row(id, Some((h.type_name(), h.count, h.overflow)))?;
        id += 1 + u64::from(h.overflow);
    }
    Ok(())
}
