//! What every page of a file is — meta, freelist, free, pending, branch, leaf (with its
//! fill), overflow, unreachable, unreadable — for `map` and `analyze`. One walk of the tree
//! plus one of the previous meta's tree (to tell pending free pages from stale ones); memory
//! is a few bytes per page, never the file's bytes.

use crate::raw::RawFile;
use crate::walk::{BucketInfo, Kind, PageVisit, Problem, Visit, WalkOpts, Walker};
use rbolt_format::{
    BRANCH_ELEM_SIZE, BranchPage, FREELIST_PAGE, LEAF_ELEM_SIZE, LEAF_PAGE, LeafPage, Meta,
    PAGE_HEADER_SIZE, PGID_NO_FREELIST, PageHeader,
};

/// What a page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Class {
    Meta,
    Freelist,
    /// Free, and no snapshot on disk can reach it.
    Free,
    /// Free in this snapshot, still reachable from the other meta page's (older) tree: it
    /// becomes reusable after the next commit.
    Pending,
    Branch,
    /// A leaf, with its fill in quarters: 0 (up to 25%) to 3 (over 75%).
    Leaf(u8),
    /// A continuation page of a branch, leaf or freelist page's span.
    Overflow,
    /// Neither reachable nor free: lost space that only `compact` or a freelist rebuild
    /// gets back.
    Unreachable,
    /// Reached from the tree but could not be read or decoded.
    Unreadable,
    /// Past the snapshot's high-water mark, where the file has room to grow into.
    Unused,
}

impl Class {
    fn code(self) -> u8 {
        match self {
            Class::Meta => 1,
            Class::Freelist => 2,
            Class::Free => 3,
            Class::Pending => 4,
            Class::Branch => 5,
            Class::Leaf(q) => 6 + q.min(3),
            Class::Overflow => 10,
            Class::Unreachable => 11,
            Class::Unreadable => 12,
            Class::Unused => 0,
        }
    }

    fn from_code(c: u8) -> Self {
        match c {
            1 => Class::Meta,
            2 => Class::Freelist,
            3 => Class::Free,
            4 => Class::Pending,
            5 => Class::Branch,
            6..=9 => Class::Leaf(c - 6),
            10 => Class::Overflow,
            11 => Class::Unreachable,
            12 => Class::Unreadable,
            _ => Class::Unused,
        }
    }

    /// Whether the page holds nothing live (counts toward free space).
    pub(crate) fn is_free(self) -> bool {
        matches!(self, Class::Free | Class::Pending | Class::Unused)
    }

    /// Whether the page shows damage.
    pub(crate) fn is_damage(self) -> bool {
        matches!(self, Class::Unreachable | Class::Unreadable)
    }

    /// The name used in legends and tooltips.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::Meta => "meta",
            Class::Freelist => "freelist",
            Class::Free => "free",
            Class::Pending => "pending free",
            Class::Branch => "branch",
            Class::Leaf(0) => "leaf ≤25% full",
            Class::Leaf(1) => "leaf ≤50% full",
            Class::Leaf(2) => "leaf ≤75% full",
            Class::Leaf(_) => "leaf >75% full",
            Class::Overflow => "overflow",
            Class::Unreachable => "unreachable",
            Class::Unreadable => "unreadable",
            Class::Unused => "past high-water mark",
        }
    }
}

/// Bytes a branch or leaf page uses: header, element array, keys and values.
pub(crate) fn page_used(h: &PageHeader, bytes: &[u8]) -> u64 {
    let mut used = PAGE_HEADER_SIZE as u64;
    if h.flags == LEAF_PAGE {
        if let Ok(l) = LeafPage::new(bytes) {
            for i in 0..l.len() {
                if let Ok(e) = l.elem(i) {
                    used += (LEAF_ELEM_SIZE + e.key.len() + e.value.len()) as u64;
                }
            }
        }
    } else if let Ok(b) = BranchPage::new(bytes) {
        for i in 0..b.len() {
            if let Ok(e) = b.elem(i) {
                used += (BRANCH_ELEM_SIZE + e.key.len()) as u64;
            }
        }
    }
    used
}

/// Every page's class, fill and owning bucket.
#[derive(Debug)]
pub(crate) struct PageMap {
    /// Pages in the file.
    pub(crate) pages: u64,
    pub(crate) page_size: u64,
    /// The snapshot read: its meta page and high-water mark, if any meta was usable.
    pub(crate) meta_id: Option<u64>,
    pub(crate) meta: Option<Meta>,
    class: Vec<u8>,
    fill: Vec<u8>,
    owner: Vec<u32>,
    /// Buckets met by the walk; `owner` indexes into it (0 is the root bucket, `u32::MAX`
    /// no bucket).
    pub(crate) buckets: Vec<BucketInfo>,
}

struct MapVisit<'x> {
    class: Vec<u8>,
    fill: Vec<u8>,
    owner: Vec<u32>,
    page_size: u64,
    /// Sees the walk too.
    extra: &'x mut dyn Visit,
}

impl MapVisit<'_> {
    fn set(&mut self, id: u64, c: Class) {
        if let Some(slot) = usize::try_from(id).ok().and_then(|i| self.class.get_mut(i)) {
            *slot = c.code();
        }
    }
}

impl Visit for MapVisit<'_> {
    fn bucket(&mut self, id: u32, b: &BucketInfo) {
        self.extra.bucket(id, b);
    }

    fn pair(&mut self, bucket: u32, page: u64, flags: u32, k: &[u8], v: &[u8]) {
        self.extra.pair(bucket, page, flags, k, v);
    }

    fn page(&mut self, p: &PageVisit<'_>) {
        self.extra.page(p);
        let Some(id) = p.id else { return };
        let span = self.page_size * (u64::from(p.header.overflow) + 1);
        let pct = (page_used(&p.header, p.bytes) * 100 / span.max(1)).min(100) as u8;
        let c = if p.header.flags == LEAF_PAGE {
            Class::Leaf(match pct {
                0..=25 => 0,
                26..=50 => 1,
                51..=75 => 2,
                _ => 3,
            })
        } else {
            Class::Branch
        };
        for (n, pid) in (id..=id + u64::from(p.header.overflow)).enumerate() {
            self.set(pid, if n == 0 { c } else { Class::Overflow });
            if let Ok(i) = usize::try_from(pid) {
                if let Some(f) = self.fill.get_mut(i) {
                    *f = pct;
                }
                if let Some(o) = self.owner.get_mut(i) {
                    *o = p.bucket;
                }
            }
        }
    }

    fn problem(&mut self, p: &Problem) {
        self.extra.problem(p);
        if matches!(p.kind, Kind::BadPage | Kind::BadBucket)
            && let Some(id) = p.page
            && !p.message.contains("page id out of range")
        {
            self.set(id, Class::Unreadable);
        }
    }
}

impl PageMap {
    /// Classifies every page of `raw` as of meta page `want` (the active one when `None`),
    /// showing the walk of the tree to `extra` as well and counting pages on `progress`.
    /// With no valid meta page at all, pages are classified by their headers alone.
    pub(crate) fn build_with(
        raw: &RawFile,
        want: Option<u64>,
        extra: &mut dyn Visit,
        progress: Option<&indicatif::ProgressBar>,
    ) -> Result<Self, crate::error::CliError> {
        let pages = raw.pages();
        let n = usize::try_from(pages).unwrap_or(usize::MAX);
        let snap = match want {
            Some(_) => Some(raw.snapshot(want)?),
            None => raw.snapshot(None).ok(),
        };
        let mut v = MapVisit {
            class: vec![0; n],
            fill: vec![0; n],
            owner: vec![u32::MAX; n],
            page_size: raw.page_size,
            extra,
        };
        let Some((meta_id, meta)) = snap else {
            // No tree to walk: each page is what its own header says, if it names itself.
            let mut span_end = 0;
            for id in 0..pages {
                if id < span_end {
                    v.set(id, Class::Overflow);
                    continue;
                }
                let block = raw.read_block(id);
                let h = block
                    .as_ref()
                    .ok()
                    .and_then(|b| PageHeader::decode(b).ok())
                    .filter(|h| h.id.0 == id);
                let c = match h {
                    Some(h) if id < 2 && h.flags == rbolt_format::META_PAGE => Class::Meta,
                    Some(h) if h.flags == FREELIST_PAGE => Class::Freelist,
                    Some(h) if h.flags == rbolt_format::BRANCH_PAGE => Class::Branch,
                    Some(h) if h.flags == LEAF_PAGE => {
                        let used = block.as_ref().map_or(0, |b| page_used(&h, b));
                        Class::Leaf(((used * 4 / raw.page_size.max(1)) as u8).min(3))
                    }
                    _ => Class::Unreadable,
                };
                if let Some(h) = h.filter(|_| c != Class::Unreadable) {
                    span_end = id + 1 + u64::from(h.overflow);
                }
                v.set(id, c);
            }
            return Ok(Self {
                pages,
                page_size: raw.page_size,
                meta_id: None,
                meta: None,
                class: v.class,
                fill: v.fill,
                owner: v.owner,
                buckets: Vec::new(),
            });
        };
        let opts = WalkOpts {
            keys: false,
            recurse: true,
        };
        let mut w = Walker::new(raw, &meta, v, opts);
        w.progress = progress.cloned();
        let has_freelist = w.load_freelist(&meta);
        w.run_root(meta.root);
        let hwm = w.hwm;
        // The previous snapshot's pages, to tell pending free pages from stale ones.
        let other = raw
            .metas()
            .ok()
            .and_then(|m| m[usize::from(meta_id == 0)].checked());
        let walked = w.visited;
        let older = other.filter(|o| o.txid.0 < meta.txid.0).map(|o| {
            let mut ow = Walker::new(raw, &o, crate::walk::Problems::default(), opts);
            ow.progress = progress.cloned();
            ow.visited = walked;
            ow.run_root(o.root);
            ow.seen
        });
        let (seen, free, buckets) = (w.seen, w.free, w.buckets);
        let mut v = w.v;
        if meta.freelist.0 != PGID_NO_FREELIST.0
            && let Ok((h, _)) = raw.read_page(meta.freelist.0)
            && h.flags == FREELIST_PAGE
        {
            for (k, id) in (meta.freelist.0..=meta.freelist.0 + u64::from(h.overflow)).enumerate() {
                v.set(
                    id,
                    if k == 0 {
                        Class::Freelist
                    } else {
                        Class::Overflow
                    },
                );
            }
        }
        for id in 0..pages {
            let i = id as usize;
            if v.class[i] != 0 {
                continue;
            }
            let c = if id < 2 {
                Class::Meta
            } else if id >= hwm {
                Class::Unused
            } else if (has_freelist && free.get(id)) || (!has_freelist && !seen.get(id)) {
                if older.as_ref().is_some_and(|o| o.get(id)) {
                    Class::Pending
                } else {
                    Class::Free
                }
            } else if seen.get(id) {
                // Reached but classed by nobody: a freelist span that did not decode.
                Class::Unreadable
            } else {
                Class::Unreachable
            };
            v.set(id, c);
        }
        Ok(Self {
            pages,
            page_size: raw.page_size,
            meta_id: Some(meta_id),
            meta: Some(meta),
            class: v.class,
            fill: v.fill,
            owner: v.owner,
            buckets,
        })
    }

    pub(crate) fn class(&self, id: u64) -> Class {
        Class::from_code(self.class.get(id as usize).copied().unwrap_or(0))
    }

    /// How full a branch or leaf page (or its overflow) is, in percent.
    pub(crate) fn fill(&self, id: u64) -> u8 {
        self.fill.get(id as usize).copied().unwrap_or(0)
    }

    /// The bucket that owns a branch or leaf page.
    pub(crate) fn owner(&self, id: u64) -> Option<u32> {
        self.owner
            .get(id as usize)
            .copied()
            .filter(|&o| o != u32::MAX)
    }

    /// Runs of free pages (free, pending or past the high-water mark): `(start, length)`.
    pub(crate) fn free_runs(&self) -> Vec<(u64, u64)> {
        let mut runs = Vec::new();
        let mut start = None;
        for id in 0..=self.pages {
            let free = id < self.pages && self.class(id).is_free();
            match (free, start) {
                (true, None) => start = Some(id),
                (false, Some(s)) => {
                    runs.push((s, id - s));
                    start = None;
                }
                _ => {}
            }
        }
        runs
    }
}
