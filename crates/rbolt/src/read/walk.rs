//! Consistency check (bbolt's `tx_check.go`) and the reachability walk it shares with the
//! freelist rebuild for files written without a freelist.
//!
//! Every page in `[2, hwm)` must be reachable exactly once from the root bucket (counting the
//! freelist's own pages) or be listed in the freelist, never both. Within each page keys
//! strictly increase, and every key under a branch element lies in `[key_i, key_{i+1})`.
//! A page is descended into only the first time it is seen, so shared or cyclic subtrees in a
//! hostile file are reported once and cannot make the walk explode.

use super::view::page_span;
use crate::error::{Error, Result};
use crate::limits::{MAX_DEPTH, check_nesting};
use crate::mmap::Mapping;
use rbolt_format::{
    BRANCH_PAGE, BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, BranchPage, BucketHeader, FREELIST_PAGE,
    LEAF_PAGE, LeafPage, Meta, PGID_NO_FREELIST, PageHeader, Pgid,
};
use std::fmt;
use std::sync::Arc;

/// One inconsistency found by [`Tx::check`](crate::Tx::check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    pgid: Option<Pgid>,
    message: String,
}

impl CheckError {
    fn new(pgid: impl Into<Option<Pgid>>, message: impl Into<String>) -> Self {
        Self {
            pgid: pgid.into(),
            message: message.into(),
        }
    }

    /// The page concerned, if the problem is tied to one.
    pub fn pgid(&self) -> Option<Pgid> {
        self.pgid
    }

    /// What is wrong, in bbolt's words where bbolt has them ("unreachable unfreed", ...).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pgid {
            Some(p) => write!(f, "page {p}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

struct Bits(Vec<u64>);

impl Bits {
    fn new(n: Pgid) -> Self {
        Bits(vec![0; usize::try_from(n.get().div_ceil(64)).unwrap_or(0)])
    }
    fn get(&self, i: Pgid) -> bool {
        let i = i.get();
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    /// Sets bit `i`; returns whether it was already set.
    fn set(&mut self, i: Pgid) -> bool {
        let i = i.get();
        match self.0.get_mut((i / 64) as usize) {
            Some(w) => {
                let was = *w & (1 << (i % 64)) != 0;
                *w |= 1 << (i % 64);
                was
            }
            None => false,
        }
    }
}

/// Formats keys in check messages.
pub type KeyFormatter = Arc<dyn Fn(&[u8]) -> String + Send + Sync>;

/// Told how many pages the check has visited so far.
type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Options for [`Tx::check_with`](crate::Tx::check_with) (bbolt's `CheckOption`s).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = rbolt::Db::open(dir.path().join("c.db"))?;
/// let opts = rbolt::CheckOptions::new()
///     .key_formatter(|k| String::from_utf8_lossy(k).into_owned());
/// assert!(db.begin_read()?.check_with(&opts).is_empty());
/// # Ok::<(), rbolt::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CheckOptions {
    page_id: Option<Pgid>,
    key_fmt: Option<KeyFormatter>,
    progress: Option<Progress>,
}

impl fmt::Debug for CheckOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckOptions")
            .field("page_id", &self.page_id)
            .field("key_formatter", &self.key_fmt.is_some())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl CheckOptions {
    /// Check the whole database, with keys printed in hex (at most 32 bytes of each).
    pub fn new() -> Self {
        Self::default()
    }

    /// Check only the subtree under page `id` (bbolt's `WithPageId`): its pages, their keys'
    /// order, and the buckets below it. Pages elsewhere are not looked at, so "unreachable
    /// unfreed" is not reported. An id outside `[2, high-water mark)` is itself an error.
    pub fn page_id(mut self, id: Pgid) -> Self {
        self.page_id = Some(id);
        self
    }

    /// How keys appear in messages (bbolt's `WithKVStringer`); hex by default.
    pub fn key_formatter(mut self, f: impl Fn(&[u8]) -> String + Send + Sync + 'static) -> Self {
        self.key_fmt = Some(Arc::new(f));
        self
    }

    /// Calls `f` with the number of pages visited so far, every few hundred pages and once at
    /// the end; the high-water mark ([`crate::Info::hwm`]) bounds it. For progress bars.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = rbolt::Db::open(dir.path().join("p.db"))?;
    /// let seen = Arc::new(AtomicU64::new(0));
    /// let s = seen.clone();
    /// let opts = rbolt::CheckOptions::new().progress(move |n| s.store(n, Ordering::Relaxed));
    /// assert!(db.begin_read()?.check_with(&opts).is_empty());
    /// // A new file: the freelist page and the root leaf (the metas are not counted).
    /// assert_eq!(seen.load(Ordering::Relaxed), 2);
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn progress(mut self, f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
}

type KeyFn<'a> = &'a (dyn Fn(&[u8]) -> String + Send + Sync);

/// A unit of the walk's explicit stack.
enum Work<'a> {
    /// A tree page, the key range its keys must lie in, its level in its bucket's tree, and
    /// the nesting depth of that bucket (0 for the root bucket).
    Page {
        pgid: Pgid,
        lo: Option<&'a [u8]>,
        hi: Option<&'a [u8]>,
        depth: usize,
        nesting: usize,
    },
    /// A bucket's header and inline page, found in a leaf of page `parent`.
    Bucket {
        parent: Pgid,
        value: &'a [u8],
        nesting: usize,
    },
}

impl Work<'_> {
    fn root(pgid: Pgid) -> Self {
        Work::Page {
            pgid,
            lo: None,
            hi: None,
            depth: 0,
            nesting: 0,
        }
    }
}

struct Walker<'a> {
    key_fmt: Option<KeyFn<'a>>,
    progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
    visited: u64,
    map: &'a [u8],
    ps: usize,
    hwm: Pgid,
    seen: Bits,
    free: Bits,
    errors: Vec<CheckError>,
    /// Whether keys are checked for order: the writer's verification walk only needs the
    /// page structure, and skipping keys keeps it to the element headers of each page.
    keys: bool,
    /// Problems with the page structure itself (not key order): a page reachable twice,
    /// reachable and free, or unreadable. A writer must not start on such a file.
    structural: Option<usize>,
}

impl<'a> Walker<'a> {
    fn new(map: &'a [u8], ps: usize, hwm: Pgid) -> Self {
        Self {
            key_fmt: None,
            progress: None,
            visited: 0,
            map,
            ps,
            hwm,
            seen: Bits::new(hwm),
            free: Bits::new(hwm),
            errors: Vec::new(),
            keys: true,
            structural: None,
        }
    }

    fn fk(&self, k: &[u8]) -> String {
        match self.key_fmt {
            Some(f) => f(k),
            None => hex(k),
        }
    }

    fn err(&mut self, pgid: impl Into<Option<Pgid>>, msg: impl Into<String>) {
        self.structural.get_or_insert(self.errors.len());
        self.errors.push(CheckError::new(pgid, msg));
    }

    /// A key out of order or with unknown flags: wrong, but no danger to the page structure.
    fn key_err(&mut self, pgid: impl Into<Option<Pgid>>, msg: impl Into<String>) {
        self.errors.push(CheckError::new(pgid, msg));
    }

    /// Marks a page span as reachable; false if it was seen before (then it is not walked).
    fn mark(&mut self, pgid: Pgid, overflow: u32) -> bool {
        let before = self.visited;
        self.visited = before.saturating_add(u64::from(overflow) + 1);
        if let Some(p) = self.progress
            && before >> 8 != self.visited >> 8
        {
            p(self.visited);
        }
        let mut first = true;
        for id in (pgid.get()..=pgid.get() + u64::from(overflow)).map(Pgid) {
            if self.seen.set(id) {
                self.err(id, "multiple references");
                first = false;
            }
            if self.free.get(id) {
                self.err(id, "reachable freed");
            }
        }
        first
    }

    fn page(&mut self, pgid: Pgid) -> Option<(&'a [u8], PageHeader)> {
        match page_span(self.map, self.ps, self.hwm, pgid) {
            Ok(r) => {
                let bytes = &self.map[r];
                let h = PageHeader::decode(bytes).ok()?;
                Some((bytes, h))
            }
            Err(e) => {
                self.err(pgid, e.to_string());
                None
            }
        }
    }

    /// Walks everything reachable from `first`. The walk keeps its own stack of pages and
    /// buckets still to visit and never recurses, so however deep a tree or however many
    /// buckets a file nests, the walk costs heap, not call stack.
    fn run(&mut self, first: Work<'a>) {
        let mut stack = vec![first];
        while let Some(work) = stack.pop() {
            match work {
                Work::Page {
                    pgid,
                    lo,
                    hi,
                    depth,
                    nesting,
                } => self.visit_page(pgid, lo, hi, depth, nesting, &mut stack),
                Work::Bucket {
                    parent,
                    value,
                    nesting,
                } => self.visit_bucket(parent, value, nesting, &mut stack),
            }
        }
    }

    fn visit_page(
        &mut self,
        pgid: Pgid,
        lo: Option<&'a [u8]>,
        hi: Option<&'a [u8]>,
        depth: usize,
        nesting: usize,
        stack: &mut Vec<Work<'a>>,
    ) {
        if depth >= MAX_DEPTH {
            self.err(pgid, format!("tree deeper than {MAX_DEPTH} levels"));
            return;
        }
        let Some((bytes, h)) = self.page(pgid) else {
            return;
        };
        if !self.mark(pgid, h.overflow) {
            return;
        }
        match h.flags {
            LEAF_PAGE => self.walk_leaf(pgid, bytes, lo, hi, nesting, stack),
            BRANCH_PAGE => self.walk_branch(pgid, bytes, lo, hi, depth, nesting, stack),
            _ => self.err(pgid, format!("invalid type: {}", h.type_name())),
        }
    }

    fn check_key(
        &mut self,
        pgid: Option<Pgid>,
        i: usize,
        k: &[u8],
        prev: Option<&[u8]>,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) {
        if !self.keys {
            return;
        }
        if prev.is_some_and(|p| p >= k) {
            self.key_err(
                pgid,
                format!("key {i} ({}) not above the previous key", self.fk(k)),
            );
        }
        if lo.is_some_and(|l| k < l) {
            let msg = format!("key {i} ({}) below its branch key", self.fk(k));
            self.key_err(pgid, msg);
        }
        if hi.is_some_and(|h| k >= h) {
            self.key_err(
                pgid,
                format!("key {i} ({}) not below the next branch key", self.fk(k)),
            );
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one step of the walk: the page, its key range, its place and the stack"
    )]
    fn walk_branch(
        &mut self,
        pgid: Pgid,
        bytes: &'a [u8],
        lo: Option<&'a [u8]>,
        hi: Option<&'a [u8]>,
        depth: usize,
        nesting: usize,
        stack: &mut Vec<Work<'a>>,
    ) {
        let p = match BranchPage::new(bytes) {
            Ok(p) if !p.is_empty() => p,
            Ok(_) => return self.err(pgid, "branch page with no elements"),
            Err(e) => return self.err(pgid, e.to_string()),
        };
        let mut elems = Vec::with_capacity(p.len());
        for i in 0..p.len() {
            match p.elem(i) {
                Ok(e) => elems.push((&bytes[e.key], e.pgid)),
                Err(e) => return self.err(pgid, e.to_string()),
            }
        }
        for (i, &(k, _)) in elems.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| elems[j].0);
            self.check_key(Some(pgid), i, k, prev, lo, hi);
        }
        // Reversed, so children are visited in key order.
        for (i, &(k, child)) in elems.iter().enumerate().rev() {
            stack.push(Work::Page {
                pgid: child,
                lo: Some(k),
                hi: elems.get(i + 1).map(|e| e.0).or(hi),
                depth: depth + 1,
                nesting,
            });
        }
    }

    fn walk_leaf(
        &mut self,
        pgid: Pgid,
        bytes: &'a [u8],
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        nesting: usize,
        stack: &mut Vec<Work<'a>>,
    ) {
        let p = match LeafPage::new(bytes) {
            Ok(p) => p,
            Err(e) => return self.err(pgid, e.to_string()),
        };
        let mut prev: Option<&[u8]> = None;
        let mut buckets = Vec::new();
        for i in 0..p.len() {
            let e = match p.elem(i) {
                Ok(e) => e,
                Err(e) => return self.err(pgid, e.to_string()),
            };
            let k = &bytes[e.key.clone()];
            self.check_key(Some(pgid), i, k, prev, lo, hi);
            prev = Some(k);
            if e.flags & BUCKET_LEAF_FLAG != 0 {
                buckets.push(&bytes[e.value]);
            } else if e.flags != 0 {
                self.key_err(
                    pgid,
                    format!("key {} has unknown flags {:#x}", hex(k), e.flags),
                );
            }
        }
        stack.extend(buckets.into_iter().rev().map(|value| Work::Bucket {
            parent: pgid,
            value,
            nesting: nesting + 1,
        }));
    }

    /// Visits the bucket whose header (and inline page) is `value`, found on page `parent`.
    fn visit_bucket(
        &mut self,
        parent: Pgid,
        value: &'a [u8],
        nesting: usize,
        stack: &mut Vec<Work<'a>>,
    ) {
        let h = match BucketHeader::decode(value) {
            Ok(h) => h,
            Err(e) => return self.err(parent, e.to_string()),
        };
        if let Err(e) = check_nesting(nesting) {
            return self.err(parent, e.to_string());
        }
        if h.root != Pgid(0) {
            stack.push(Work::Page {
                pgid: h.root,
                lo: None,
                hi: None,
                depth: 0,
                nesting,
            });
            return;
        }
        let inline = &value[BUCKET_HEADER_SIZE..];
        match PageHeader::decode(inline) {
            Ok(ih) if ih.flags == LEAF_PAGE && ih.overflow == 0 => {
                self.walk_leaf(parent, inline, None, None, nesting, stack);
            }
            Ok(_) => self.err(parent, "inline bucket page is not a leaf"),
            Err(e) => self.err(parent, e.to_string()),
        }
    }

    fn load_freelist(&mut self, meta: &Meta) {
        if meta.freelist == PGID_NO_FREELIST {
            return;
        }
        let Some((bytes, h)) = self.page(meta.freelist) else {
            return;
        };
        if h.flags != FREELIST_PAGE {
            return self.err(
                meta.freelist,
                format!("invalid type: {} (expected freelist)", h.type_name()),
            );
        }
        self.mark(meta.freelist, h.overflow);
        match rbolt_format::decode_freelist(bytes) {
            Ok(ids) => {
                for id in ids {
                    if id < Pgid(2) || id >= self.hwm {
                        self.err(id, format!("freelist id out of bounds [2, {})", self.hwm));
                    } else if self.free.set(id) {
                        self.err(id, "already freed");
                    } else if self.seen.get(id) {
                        self.err(id, "reachable freed");
                    }
                }
            }
            Err(e) => self.err(meta.freelist, e.to_string()),
        }
    }
}

/// At most 32 bytes of a key in hex, for messages.
fn hex(b: &[u8]) -> String {
    let mut s = rbolt_format::hex(&b[..b.len().min(32)]);
    if b.len() > 32 {
        s.push('…');
    }
    s
}

/// Checks the tree `meta` describes in `map`. `free` replaces the freelist page as the set of
/// free pages (the writer's in-memory list, for strict mode on files without one). Without
/// either, as for a file written with `no_freelist_sync`, the free set is by definition what
/// the tree does not reach, so "unreachable unfreed" cannot happen and is not reported.
pub(crate) fn check_snapshot(
    map: &[u8],
    meta: &Meta,
    ps: usize,
    opts: &CheckOptions,
    free: Option<&[Pgid]>,
) -> Vec<CheckError> {
    let mut w = Walker::new(map, ps, meta.pgid);
    w.key_fmt = opts.key_fmt.as_deref();
    w.progress = opts.progress.as_deref();
    w.seen.set(Pgid(0));
    w.seen.set(Pgid(1));
    match free {
        Some(ids) => {
            if meta.freelist != PGID_NO_FREELIST {
                let span = page_span(map, ps, meta.pgid, meta.freelist)
                    .ok()
                    .and_then(|r| PageHeader::decode(&map[r]).ok());
                match span {
                    Some(h) => {
                        w.mark(meta.freelist, h.overflow);
                    }
                    None => w.err(meta.freelist, "freelist page out of bounds"),
                }
            }
            for &id in ids {
                if id < Pgid(2) || id >= w.hwm {
                    w.err(id, format!("freelist id out of bounds [2, {})", w.hwm));
                } else if w.free.set(id) {
                    w.err(id, "already freed");
                }
            }
        }
        None => w.load_freelist(meta),
    }
    let sweep = free.is_some() || meta.freelist != PGID_NO_FREELIST;
    match opts.page_id {
        Some(id) if id < Pgid(2) || id >= meta.pgid => {
            w.err(
                None,
                format!("page ID ({id}) out of range [2, {})", meta.pgid),
            );
        }
        Some(id) => w.run(Work::root(id)),
        None => {
            w.run(Work::root(meta.root.root));
            for id in (2..w.hwm.get()).map(Pgid) {
                if sweep && !w.seen.get(id) && !w.free.get(id) {
                    w.err(id, "unreachable unfreed");
                }
            }
        }
    }
    if let Some(p) = w.progress {
        p(w.visited);
    }
    w.errors
}

/// The free set a writer may allocate from, proven safe: every listed page lies in
/// `[2, hwm)`, is listed once, and is reachable from no tree of the snapshot — so writing it
/// cannot change bytes any reader sees. The freelist page has no checksum, so its list is
/// only believed after a walk of the whole tree (element headers only, no keys). Without a
/// freelist page the free set is what the walk did not reach (bbolt's `freepages`). A page
/// reachable twice is refused too: copy-on-write would free it through one parent while the
/// other still reaches it.
pub(crate) fn writer_free_set(map: &[u8], meta: &Meta, ps: usize) -> Result<Vec<Pgid>> {
    let mut w = Walker::new(map, ps, meta.pgid);
    w.keys = false;
    w.seen.set(Pgid(0));
    w.seen.set(Pgid(1));
    w.load_freelist(meta);
    w.run(Work::root(meta.root.root));
    if let Some(e) = w.structural.and_then(|i| w.errors.get(i)) {
        return Err(Error::corrupted(e.pgid, &e.message));
    }
    if meta.freelist == PGID_NO_FREELIST {
        return Ok((2..meta.pgid.get())
            .map(Pgid)
            .filter(|&id| !w.seen.get(id))
            .collect());
    }
    Ok((2..meta.pgid.get())
        .map(Pgid)
        .filter(|&id| w.free.get(id))
        .collect())
}

/// Pages in `[2, hwm)` the tree does not reach: the free set of a file written without a
/// freelist. Any structural problem
/// found on the way is an error.
pub(crate) fn unreachable_pages(map: Arc<Mapping>, meta: Meta, ps: usize) -> Result<Vec<Pgid>> {
    let mut meta = meta;
    meta.freelist = PGID_NO_FREELIST;
    writer_free_set(map.bytes(), &meta, ps)
}
