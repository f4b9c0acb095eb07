//! A walk of the bucket tree through `pread` (never the engine's map), for the commands that
//! read files the engine refuses or must not touch: `--meta`/`--no-lock` reads, `map`,
//! `analyze`, `doctor` and `salvage`. It starts from any meta page, trusts no byte, never
//! recurses on the call stack, and reports what it cannot decode as a [`Problem`] instead of
//! stopping. Callers see pages, buckets and pairs through the [`Visit`] trait.
//!
//! The checks and their messages are the engine's `check`: every page in `[2, hwm)` reachable
//! once or free, never both; keys increasing within a page and inside their branch range.

use crate::raw::RawFile;
use rbolt_format::{
    BRANCH_PAGE, BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, BranchPage, BucketHeader, FREELIST_PAGE,
    LEAF_PAGE, LeafPage, Meta, PGID_NO_FREELIST, PageHeader,
};

/// Deepest B+tree a walk follows (the engine's bound); a cycle of branch pages stops here.
pub(crate) const MAX_DEPTH: usize = 64;
/// Deepest bucket nesting a walk follows (the engine's `MAX_NESTING`).
pub(crate) const MAX_NESTING: usize = rbolt::MAX_NESTING;

/// A set of page ids: one bit per page, so memory is O(pages) bits.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    pub(crate) fn new(n: u64) -> Self {
        Bits(vec![0; usize::try_from(n.div_ceil(64)).unwrap_or(0)])
    }

    pub(crate) fn get(&self, i: u64) -> bool {
        self.0
            .get(usize::try_from(i / 64).unwrap_or(usize::MAX))
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Sets bit `i`; true if it was set already. Ids past the end are ignored.
    pub(crate) fn set(&mut self, i: u64) -> bool {
        match self
            .0
            .get_mut(usize::try_from(i / 64).unwrap_or(usize::MAX))
        {
            Some(w) => {
                let was = *w & (1 << (i % 64)) != 0;
                *w |= 1 << (i % 64);
                was
            }
            None => false,
        }
    }
}

/// What kind of damage a problem is, for `doctor`'s diagnosis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A branch or leaf page that cannot be read or decoded (wrong type, bad element array,
    /// out of range, wrong id).
    BadPage,
    /// A bucket header that cannot be decoded, or an inline page that is not a leaf.
    BadBucket,
    /// A page reached twice.
    SharedPage,
    /// Keys out of order, or unknown element flags: the page decodes, its contents are wrong.
    KeyOrder,
    /// The freelist page is unreadable, lists a page twice, out of range, or one in use.
    Freelist,
    /// A page neither reachable nor free.
    Unreachable,
}

/// One inconsistency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) page: Option<u64>,
    pub(crate) kind: Kind,
    pub(crate) message: String,
    /// Where the walk came from: the parent pages and element indexes that lead to `page`
    /// (innermost last), when the page was reached through the tree.
    pub(crate) via: Vec<Link>,
    /// The bucket whose tree was being walked, if any.
    pub(crate) bucket: Option<u32>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.page {
            Some(p) => write!(f, "page {p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// One step down the tree: element `index` of page `page`, which has `count` elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) page: u64,
    pub(crate) index: usize,
    pub(crate) count: usize,
    /// Whether the element is in an inline bucket's page (stored inside `page`'s element).
    pub(crate) inline: bool,
}

/// A bucket met by the walk. Bucket 0 is the root bucket (named by the meta page).
#[derive(Clone, Debug)]
pub(crate) struct BucketInfo {
    pub(crate) parent: Option<u32>,
    pub(crate) name: Vec<u8>,
    /// Bytes of the inline page, when the bucket is inline.
    pub(crate) inline_len: Option<usize>,
    /// The bucket's sequence counter.
    pub(crate) sequence: u64,
    pub(crate) nesting: usize,
}

/// A page reached from the tree.
#[derive(Debug)]
pub(crate) struct PageVisit<'a> {
    /// `None` for an inline bucket's page, which lives inside a leaf element.
    pub(crate) id: Option<u64>,
    pub(crate) header: PageHeader,
    pub(crate) bytes: &'a [u8],
    pub(crate) bucket: u32,
    /// Levels above this page in its bucket's tree (0 at the bucket's root).
    pub(crate) depth: usize,
}

/// What a caller sees of a walk. Every method has a do-nothing default.
pub(crate) trait Visit {
    /// A bucket, before its pages.
    fn bucket(&mut self, _id: u32, _b: &BucketInfo) {}
    /// A branch or leaf page (with its overflow), or an inline bucket's page.
    fn page(&mut self, _p: &PageVisit<'_>) {}
    /// A key/value pair of bucket `bucket`, in key order within each page. Sub-bucket
    /// entries come with `flags & BUCKET_LEAF_FLAG` set and the bucket header as value.
    fn pair(&mut self, _bucket: u32, _page: u64, _flags: u32, _key: &[u8], _value: &[u8]) {}
    /// Something wrong. The walk goes on with what it can still reach.
    fn problem(&mut self, _p: &Problem) {}
}

/// Collects problems, and nothing else.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub(crate) Vec<Problem>);

impl Visit for Problems {
    fn problem(&mut self, p: &Problem) {
        self.0.push(p.clone());
    }
}

enum Work {
    Page {
        id: u64,
        lo: Option<Vec<u8>>,
        hi: Option<Vec<u8>>,
        depth: usize,
        bucket: u32,
        via: Vec<Link>,
    },
    Bucket {
        parent: u32,
        host: u64,
        name: Vec<u8>,
        value: Vec<u8>,
        via: Vec<Link>,
    },
}

/// How a walk runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WalkOpts {
    /// Check key order (costs a copy of each branch key range).
    pub(crate) keys: bool,
    /// Descend into sub-buckets (off for `keys`, which lists one bucket).
    pub(crate) recurse: bool,
}

impl Default for WalkOpts {
    fn default() -> Self {
        Self {
            keys: true,
            recurse: true,
        }
    }
}

/// A walk over one snapshot (one meta page) of a file.
pub(crate) struct Walker<'a, V: Visit> {
    raw: &'a RawFile,
    /// The snapshot's high-water mark, clipped to the pages the file has.
    pub(crate) hwm: u64,
    pub(crate) seen: Bits,
    pub(crate) free: Bits,
    pub(crate) buckets: Vec<BucketInfo>,
    pub(crate) v: V,
    opts: WalkOpts,
    problems: usize,
    /// The bucket of the work item being walked, for problems.
    cur: Option<u32>,
    /// Counts the pages walked, when a bar is shown.
    pub(crate) progress: Option<indicatif::ProgressBar>,
    /// Pages walked so far (what the bar shows).
    pub(crate) visited: u64,
}

impl<'a, V: Visit> Walker<'a, V> {
    /// A walk of the snapshot `meta` describes; pages 0 and 1 count as reached.
    pub(crate) fn new(raw: &'a RawFile, meta: &Meta, v: V, opts: WalkOpts) -> Self {
        let hwm = meta.pgid.0.min(raw.pages());
        let mut w = Self {
            raw,
            hwm,
            seen: Bits::new(hwm),
            free: Bits::new(hwm),
            buckets: Vec::new(),
            v,
            opts,
            problems: 0,
            cur: None,
            progress: None,
            visited: 0,
        };
        w.seen.set(0);
        w.seen.set(1);
        if meta.pgid.0 > raw.pages() {
            w.problem(
                None,
                Kind::BadPage,
                format!(
                    "high-water mark {} beyond the end of the file ({} pages)",
                    meta.pgid.0,
                    raw.pages()
                ),
                &[],
            );
        }
        w
    }

    fn problem(&mut self, page: Option<u64>, kind: Kind, message: String, via: &[Link]) {
        self.problems += 1;
        self.v.problem(&Problem {
            page,
            kind,
            message,
            via: via.to_vec(),
            bucket: self.cur,
        });
    }

    /// Reads the freelist page `meta` names and marks its pages free (and the page itself
    /// reached). Returns whether the file has a freelist page.
    pub(crate) fn load_freelist(&mut self, meta: &Meta) -> bool {
        if meta.freelist.0 == PGID_NO_FREELIST.0 {
            return false;
        }
        let id = meta.freelist.0;
        let (h, bytes) = match self.read(id) {
            Ok(p) => p,
            Err(msg) => {
                self.problem(Some(id), Kind::Freelist, msg, &[]);
                return true;
            }
        };
        if h.flags != FREELIST_PAGE {
            let msg = format!("invalid type: {} (expected freelist)", h.type_name());
            self.problem(Some(id), Kind::Freelist, msg, &[]);
            return true;
        }
        self.mark(id, h.overflow, Kind::Freelist, &[]);
        match rbolt_format::decode_freelist(&bytes) {
            Ok(ids) => {
                for f in ids.into_iter().map(|f| f.get()) {
                    if f < 2 || f >= self.hwm {
                        let msg = format!("freelist id out of bounds [2, {})", self.hwm);
                        self.problem(Some(f), Kind::Freelist, msg, &[]);
                    } else if self.free.set(f) {
                        self.problem(Some(f), Kind::Freelist, "already freed".into(), &[]);
                    } else if self.seen.get(f) {
                        self.problem(Some(f), Kind::Freelist, "reachable freed".into(), &[]);
                    }
                }
            }
            Err(e) => self.problem(Some(id), Kind::Freelist, e.to_string(), &[]),
        }
        true
    }

    /// Page `id` with its overflow, checked against the snapshot's bounds, with the
    /// engine's messages.
    fn read(&self, id: u64) -> Result<(PageHeader, Vec<u8>), String> {
        let corrupt = |what: String| format!("database corrupted at page {id}: {what}");
        if id < 2 || id >= self.hwm {
            return Err(corrupt(format!("page id out of range [2, {})", self.hwm)));
        }
        let block = self
            .raw
            .read_block(id)
            .map_err(|e| corrupt(e.to_string()))?;
        let h = PageHeader::decode(&block).map_err(|e| corrupt(e.to_string()))?;
        if h.id.0 != id {
            return Err(corrupt(format!(
                "page expected to be {id}, but self identifies as {}",
                h.id.0
            )));
        }
        if id.saturating_add(u64::from(h.overflow)) >= self.hwm {
            return Err(corrupt(format!(
                "overflow {} runs past the end of the database",
                h.overflow
            )));
        }
        if h.overflow == 0 {
            return Ok((h, block));
        }
        let bytes = self
            .raw
            .read_span(id, u64::from(h.overflow) + 1)
            .map_err(|e| corrupt(e.to_string()))?;
        Ok((h, bytes))
    }

    /// Marks a span reached; false when its first page was reached before.
    fn mark(&mut self, id: u64, overflow: u32, kind: Kind, via: &[Link]) -> bool {
        let before = self.visited;
        self.visited = before.saturating_add(u64::from(overflow) + 1);
        if let Some(pb) = &self.progress
            && before >> 8 != self.visited >> 8
        {
            pb.set_position(self.visited);
        }
        let mut first = true;
        for p in id..=id.saturating_add(u64::from(overflow)) {
            if self.seen.set(p) {
                let k = if kind == Kind::Freelist {
                    kind
                } else {
                    Kind::SharedPage
                };
                self.problem(Some(p), k, "multiple references".into(), via);
                first = false;
            }
            if self.free.get(p) {
                self.problem(Some(p), Kind::Freelist, "reachable freed".into(), via);
            }
        }
        first
    }

    /// Walks the tree under the root bucket `root` (the meta's), in key order.
    pub(crate) fn run_root(&mut self, root: BucketHeader) {
        self.buckets.push(BucketInfo {
            parent: None,
            name: Vec::new(),
            inline_len: None,
            sequence: root.sequence,
            nesting: 0,
        });
        self.v.bucket(0, &self.buckets[0]);
        self.run(Work::Page {
            id: root.root.get(),
            lo: None,
            hi: None,
            depth: 0,
            bucket: 0,
            via: Vec::new(),
        });
    }

    /// Walks one bucket given by its header value (as stored in its parent's leaf), as
    /// bucket `name`. Used to list a single bucket.
    pub(crate) fn run_bucket(&mut self, name: &[u8], value: &[u8]) {
        if self.buckets.is_empty() {
            self.buckets.push(BucketInfo {
                parent: None,
                name: Vec::new(),
                inline_len: None,
                sequence: 0,
                nesting: 0,
            });
        }
        self.run(Work::Bucket {
            parent: 0,
            host: 0,
            name: name.to_vec(),
            value: value.to_vec(),
            via: Vec::new(),
        });
    }

    fn run(&mut self, first: Work) {
        let mut stack = vec![first];
        while let Some(w) = stack.pop() {
            self.cur = Some(match &w {
                Work::Page { bucket, .. } => *bucket,
                Work::Bucket { parent, .. } => *parent,
            });
            match w {
                Work::Page {
                    id,
                    lo,
                    hi,
                    depth,
                    bucket,
                    via,
                } => self.visit_page(id, lo, hi, depth, bucket, via, &mut stack),
                Work::Bucket {
                    parent,
                    host,
                    name,
                    value,
                    via,
                } => self.visit_bucket(parent, host, name, value, via, &mut stack),
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one step of the walk: the page, its key range, its place and the stack"
    )]
    fn visit_page(
        &mut self,
        id: u64,
        lo: Option<Vec<u8>>,
        hi: Option<Vec<u8>>,
        depth: usize,
        bucket: u32,
        via: Vec<Link>,
        stack: &mut Vec<Work>,
    ) {
        if depth >= MAX_DEPTH {
            let msg = format!("tree deeper than {MAX_DEPTH} levels");
            return self.problem(Some(id), Kind::BadPage, msg, &via);
        }
        let (h, bytes) = match self.read(id) {
            Ok(p) => p,
            Err(msg) => return self.problem(Some(id), Kind::BadPage, msg, &via),
        };
        if !self.mark(id, h.overflow, Kind::SharedPage, &via) {
            return;
        }
        if h.flags != LEAF_PAGE && h.flags != BRANCH_PAGE {
            let msg = format!("invalid type: {}", h.type_name());
            return self.problem(Some(id), Kind::BadPage, msg, &via);
        }
        let visit = PageVisit {
            id: Some(id),
            header: h,
            bytes: &bytes,
            bucket,
            depth,
        };
        if h.flags == LEAF_PAGE {
            // A leaf that does not decode is reported before anyone sees it.
            if let Err(e) = LeafPage::new(&bytes) {
                return self.problem(Some(id), Kind::BadPage, e.to_string(), &via);
            }
            self.v.page(&visit);
            self.walk_leaf(
                id,
                None,
                &bytes,
                lo.as_deref(),
                hi.as_deref(),
                bucket,
                &via,
                stack,
            );
        } else {
            match BranchPage::new(&bytes) {
                Ok(p) if !p.is_empty() => {}
                Ok(_) => {
                    let msg = "branch page with no elements".to_string();
                    return self.problem(Some(id), Kind::BadPage, msg, &via);
                }
                Err(e) => return self.problem(Some(id), Kind::BadPage, e.to_string(), &via),
            }
            self.v.page(&visit);
            self.walk_branch(id, &bytes, lo, hi, depth, bucket, &via, stack);
        }
    }

    fn check_key(&mut self, page: u64, i: usize, k: &[u8], prev: Option<&[u8]>, range: Range<'_>) {
        if !self.opts.keys {
            return;
        }
        let (lo, hi, via) = range;
        let bad = |s: &mut Self, what: &str| {
            let msg = format!("key {i} ({}) {what}", key_text(k));
            s.problem(Some(page), Kind::KeyOrder, msg, via);
        };
        if prev.is_some_and(|p| p >= k) {
            bad(self, "not above the previous key");
        }
        if lo.is_some_and(|l| k < l) {
            bad(self, "below its branch key");
        }
        if hi.is_some_and(|h| k >= h) {
            bad(self, "not below the next branch key");
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one step of the walk: the page, its key range, its place and the stack"
    )]
    fn walk_branch(
        &mut self,
        id: u64,
        bytes: &[u8],
        lo: Option<Vec<u8>>,
        hi: Option<Vec<u8>>,
        depth: usize,
        bucket: u32,
        via: &[Link],
        stack: &mut Vec<Work>,
    ) {
        let Ok(p) = BranchPage::new(bytes) else {
            return;
        };
        let mut elems = Vec::with_capacity(p.len());
        for i in 0..p.len() {
            match p.elem(i) {
                Ok(e) => elems.push((&bytes[e.key], e.pgid.0)),
                Err(e) => return self.problem(Some(id), Kind::BadPage, e.to_string(), via),
            }
        }
        for (i, &(k, _)) in elems.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| elems[j].0);
            self.check_key(id, i, k, prev, (lo.as_deref(), hi.as_deref(), via));
        }
        let n = elems.len();
        for (i, &(k, child)) in elems.iter().enumerate().rev() {
            let mut via = via.to_vec();
            via.push(Link {
                page: id,
                index: i,
                count: n,
                inline: false,
            });
            stack.push(Work::Page {
                id: child,
                lo: self.opts.keys.then(|| k.to_vec()),
                hi: if self.opts.keys {
                    elems
                        .get(i + 1)
                        .map(|e| e.0.to_vec())
                        .or_else(|| hi.clone())
                } else {
                    None
                },
                depth: depth + 1,
                bucket,
                via,
            });
        }
    }

    /// The pairs of a leaf (a page of the file, or an inline bucket's page inside `host`).
    #[expect(
        clippy::too_many_arguments,
        reason = "one step of the walk: the page, its key range, its place and the stack"
    )]
    fn walk_leaf(
        &mut self,
        host: u64,
        inline: Option<()>,
        bytes: &[u8],
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        bucket: u32,
        via: &[Link],
        stack: &mut Vec<Work>,
    ) {
        let Ok(p) = LeafPage::new(bytes) else {
            return;
        };
        let mut prev: Option<&[u8]> = None;
        let mut subs = Vec::new();
        for i in 0..p.len() {
            let e = match p.elem(i) {
                Ok(e) => e,
                Err(e) => return self.problem(Some(host), Kind::BadPage, e.to_string(), via),
            };
            let k = &bytes[e.key.clone()];
            let v = &bytes[e.value.clone()];
            self.check_key(host, i, k, prev, (lo, hi, via));
            prev = Some(k);
            self.v.pair(bucket, host, e.flags, k, v);
            if e.flags & BUCKET_LEAF_FLAG != 0 {
                if self.opts.recurse {
                    let mut via = via.to_vec();
                    via.push(Link {
                        page: host,
                        index: i,
                        count: p.len(),
                        inline: inline.is_some(),
                    });
                    subs.push((k.to_vec(), v.to_vec(), via));
                }
            } else if e.flags != 0 && self.opts.keys {
                let msg = format!("key {} has unknown flags {:#x}", short_hex(k), e.flags);
                self.problem(Some(host), Kind::KeyOrder, msg, via);
            }
        }
        stack.extend(
            subs.into_iter()
                .rev()
                .map(|(name, value, via)| Work::Bucket {
                    parent: bucket,
                    host,
                    name,
                    value,
                    via,
                }),
        );
    }

    fn visit_bucket(
        &mut self,
        parent: u32,
        host: u64,
        name: Vec<u8>,
        value: Vec<u8>,
        via: Vec<Link>,
        stack: &mut Vec<Work>,
    ) {
        let header = match BucketHeader::decode(&value) {
            Ok(h) => h,
            Err(e) => return self.problem(Some(host), Kind::BadBucket, e.to_string(), &via),
        };
        let nesting = self.buckets.get(parent as usize).map_or(0, |b| b.nesting) + 1;
        if nesting > MAX_NESTING {
            let msg = format!("database corrupted: buckets nested deeper than {MAX_NESTING}");
            return self.problem(Some(host), Kind::BadBucket, msg, &via);
        }
        let inline = &value[BUCKET_HEADER_SIZE..];
        let info = BucketInfo {
            parent: Some(parent),
            name,
            inline_len: (header.root.0 == 0).then_some(inline.len()),
            sequence: header.sequence,
            nesting,
        };
        let Ok(id) = u32::try_from(self.buckets.len()) else {
            return;
        };
        self.buckets.push(info);
        self.v.bucket(id, &self.buckets[id as usize]);
        if header.root.0 != 0 {
            stack.push(Work::Page {
                id: header.root.0,
                lo: None,
                hi: None,
                depth: 0,
                bucket: id,
                via,
            });
            return;
        }
        match PageHeader::decode(inline) {
            Ok(h) if h.flags == LEAF_PAGE && h.overflow == 0 => {
                if let Err(e) = LeafPage::new(inline) {
                    return self.problem(Some(host), Kind::BadBucket, e.to_string(), &via);
                }
                self.v.page(&PageVisit {
                    id: None,
                    header: h,
                    bytes: inline,
                    bucket: id,
                    depth: 0,
                });
                self.walk_leaf(host, Some(()), inline, None, None, id, &via, stack);
            }
            Ok(_) => {
                let msg = "inline bucket page is not a leaf".to_string();
                self.problem(Some(host), Kind::BadBucket, msg, &via);
            }
            Err(e) => self.problem(Some(host), Kind::BadBucket, e.to_string(), &via),
        }
    }

    /// After a walk of the whole tree (and the freelist): every page in `[2, hwm)` neither
    /// reached nor free is a problem. Without a freelist page nothing is, by definition.
    pub(crate) fn sweep(&mut self, has_freelist: bool) {
        if !has_freelist {
            return;
        }
        self.cur = None;
        for id in 2..self.hwm {
            if !self.seen.get(id) && !self.free.get(id) {
                self.problem(
                    Some(id),
                    Kind::Unreachable,
                    "unreachable unfreed".into(),
                    &[],
                );
            }
        }
    }
}

type Range<'r> = (Option<&'r [u8]>, Option<&'r [u8]>, &'r [Link]);

/// The names from the top-level bucket down to bucket `id` (empty for the root bucket).
pub(crate) fn bucket_path(buckets: &[BucketInfo], id: u32) -> Vec<Vec<u8>> {
    let mut names = Vec::new();
    let mut cur = Some(id);
    while let Some(i) = cur {
        let Some(b) = buckets.get(i as usize) else {
            break;
        };
        if b.parent.is_some() {
            names.push(b.name.clone());
        }
        cur = b.parent;
        if names.len() > MAX_NESTING {
            break;
        }
    }
    names.reverse();
    names
}

/// A key as `check` prints it: text when printable, hex otherwise (the engine's check with
/// the CLI's key formatter).
fn key_text(k: &[u8]) -> String {
    String::from_utf8_lossy(&crate::values::auto(k)).into_owned()
}

/// At most 32 bytes of a key in hex, for the engine's flag messages.
fn short_hex(k: &[u8]) -> String {
    let mut s = rbolt_format::hex(&k[..k.len().min(32)]);
    if k.len() > 32 {
        s.push('…');
    }
    s
}

/// The full check of one snapshot, as `check` prints it: every problem, in walk order.
pub(crate) fn check(raw: &RawFile, meta: &Meta, from_page: Option<u64>) -> Vec<Problem> {
    check_with(raw, meta, from_page, None)
}

/// [`check`], moving a progress bar as pages are walked.
pub(crate) fn check_with(
    raw: &RawFile,
    meta: &Meta,
    from_page: Option<u64>,
    progress: Option<&indicatif::ProgressBar>,
) -> Vec<Problem> {
    let mut w = Walker::new(raw, meta, Problems::default(), WalkOpts::default());
    w.progress = progress.cloned();
    let has_freelist = w.load_freelist(meta);
    match from_page {
        Some(id) if id < 2 || id >= meta.pgid.0 => {
            let msg = format!("page ID ({id}) out of range [2, {})", meta.pgid.0);
            w.problem(None, Kind::BadPage, msg, &[]);
        }
        Some(id) => {
            w.buckets.push(BucketInfo {
                parent: None,
                name: Vec::new(),
                inline_len: None,
                sequence: 0,
                nesting: 0,
            });
            w.run(Work::Page {
                id,
                lo: None,
                hi: None,
                depth: 0,
                bucket: 0,
                via: Vec::new(),
            });
        }
        None => {
            w.run_root(meta.root);
            w.sweep(has_freelist);
        }
    }
    w.v.0
}
