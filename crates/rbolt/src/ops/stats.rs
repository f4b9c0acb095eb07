//! Statistics walks with bbolt's definitions (`BucketStats` in bbolt's `bucket.go`) and the
//! statistics methods: [`Db::stats`], [`Tx::stats`], [`Bucket::stats`].

use crate::counters::Stats;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::limits::{MAX_DEPTH, check_nesting};
use crate::state::{BucketHandle, Loc, MAP};
use crate::tx::{Bucket, Mode, Tx};
use rbolt_format::{
    BUCKET_LEAF_FLAG, LEAF_ELEM_SIZE, LEAF_PAGE, PAGE_HEADER_SIZE, PageHeader, Pgid,
};

impl Db {
    /// A snapshot of the database statistics (bbolt's `DB.Stats`). Freelist figures are as of
    /// the end of the last write transaction (for a read-only database: as loaded with
    /// [`Options::pre_load_freelist`](crate::Options::pre_load_freelist), else 0).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = rbolt::Db::open(dir.path().join("s.db"))?;
    /// let before = db.stats();
    /// db.view(|_| Ok(()))?;
    /// assert_eq!(db.stats().sub(&before).tx_n, 1);
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot(self.page_size() as u64)
    }
}

impl Db {
    /// The writer's free and pending page ids, sorted: exactly what the next commit's freelist
    /// page would list. Waits for the write transaction slot. For tests and tools.
    #[doc(hidden)]
    pub fn freelist_ids(&self) -> Result<Vec<Pgid>> {
        let tx = self.begin_write()?;
        let w = tx.writer.as_ref();
        Ok(w.map(|d| d.freelist.sorted_ids()).unwrap_or_default())
    }
}

/// Bucket statistics (bbolt's `BucketStats`), from [`Bucket::stats`]. Counts include every
/// sub-bucket, recursively.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketStats {
    /// Branch pages.
    pub branch_page_n: u64,
    /// Extra pages taken by branch pages longer than one page.
    pub branch_overflow_n: u64,
    /// Leaf pages (not counting inline buckets' pages).
    pub leaf_page_n: u64,
    /// Extra pages taken by leaf pages longer than one page.
    pub leaf_overflow_n: u64,
    /// Keys, including sub-bucket names (bbolt counts every leaf element).
    pub key_n: u64,
    /// Levels of the B+tree, plus the deepest sub-bucket's depth.
    pub depth: u64,
    /// Bytes of branch pages: `(branch_page_n + branch_overflow_n) × page size`.
    pub branch_alloc: u64,
    /// Bytes of branch pages in use (headers, elements, keys).
    pub branch_inuse: u64,
    /// Bytes of leaf pages: `(leaf_page_n + leaf_overflow_n) × page size`.
    pub leaf_alloc: u64,
    /// Bytes of leaf pages in use (headers, elements, keys, values).
    pub leaf_inuse: u64,
    /// Buckets, this one included.
    pub bucket_n: u64,
    /// Buckets stored inline in their parent's leaf.
    pub inline_bucket_n: u64,
    /// Bytes used by inline buckets' pages.
    pub inline_bucket_inuse: u64,
}

impl BucketStats {
    /// Sums `other` into `self`; the depth is the larger of the two (bbolt's `Add`).
    pub fn add(&mut self, o: &BucketStats) {
        self.branch_page_n += o.branch_page_n;
        self.branch_overflow_n += o.branch_overflow_n;
        self.leaf_page_n += o.leaf_page_n;
        self.leaf_overflow_n += o.leaf_overflow_n;
        self.key_n += o.key_n;
        self.depth = self.depth.max(o.depth);
        self.branch_alloc += o.branch_alloc;
        self.branch_inuse += o.branch_inuse;
        self.leaf_alloc += o.leaf_alloc;
        self.leaf_inuse += o.leaf_inuse;
        self.bucket_n += o.bucket_n;
        self.inline_bucket_n += o.inline_bucket_n;
        self.inline_bucket_inuse += o.inline_bucket_inuse;
    }
}

/// Page ids a walk has visited, one bit each, so a hostile file whose pages are shared or
/// cyclic is reported instead of walked forever (a DAG of shared branch pages would otherwise
/// cost exponential time within the depth limit). A bitmap rather than a hash set: a walk
/// visits up to every page of the file, and setting a bit is far cheaper than hashing.
/// `vec![0; n]` is a zeroed allocation the OS hands out lazily, so a large file costs only the
/// words the walk touches.
struct Seen {
    /// Bitmap words, allocated on the first visit: a `len` answered from remembered counts
    /// visits nothing, and the bitmap is a zeroed allocation the size of the file / 512.
    words: Vec<u64>,
    pages: u64,
}

impl Seen {
    fn new<M: Mode>(tx: &Tx<M>) -> Self {
        // Only mapped pages can be visited (`page_span`): the map bounds the size even if a
        // meta's high-water mark were wild.
        let pages = tx
            .snap
            .meta
            .pgid
            .get()
            .min(tx.snap.map.len() / tx.snap.page_size as u64);
        Seen {
            words: Vec::new(),
            pages,
        }
    }

    /// Marks page `pgid` and errors if it was marked before. Inline pages and nodes have no
    /// page id of their own: callers skip them (`mapped_pgid`).
    fn visit(&mut self, pgid: Pgid) -> Result<()> {
        if self.words.is_empty() {
            self.words = vec![0; self.pages.div_ceil(64) as usize];
        }
        let id = pgid.get();
        // `page_slot` already checked the page lies in the map; a miss here is still an error,
        // not a panic.
        let word = self
            .words
            .get_mut((id / 64) as usize)
            .ok_or_else(|| Error::corrupted(pgid, "page id beyond the mapped file"))?;
        let bit = 1u64 << (id % 64);
        if *word & bit != 0 {
            return Err(Error::corrupted(pgid, "page referenced twice"));
        }
        *word |= bit;
        Ok(())
    }
}

/// The page id of a mapped page level, `None` for inline pages (slices of their parent's
/// leaf) and for nodes.
fn mapped_pgid<M: Mode>(tx: &Tx<M>, loc: Loc, inline: bool) -> Option<Pgid> {
    match loc {
        Loc::Page(slot) if !inline && slot.src == MAP => {
            Some(Pgid(slot.off / tx.snap.page_size as u64))
        }
        _ => None,
    }
}

/// Walk state shared across a bucket and its sub-buckets.
struct StatsWalk {
    seen: Seen,
}

impl<'tx, M: Mode> Bucket<'tx, M> {
    /// Page and key statistics for this bucket and all its sub-buckets, with bbolt's
    /// definitions (`Bucket.Stats`). In a read transaction, or for buckets a write transaction
    /// has not changed, they describe the pages on disk. Nodes a write transaction changed are
    /// counted as they stand, one page per node, before the splits commit would make.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = rbolt::Db::open(dir.path().join("s.db"))?;
    /// db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))?;
    /// let s = db.view(|tx| tx.bucket(b"b")?.unwrap().stats())?;
    /// assert_eq!((s.key_n, s.inline_bucket_n, s.leaf_page_n), (1, 1, 0));
    /// assert_eq!(s.inline_bucket_inuse, 16 + 16 + 2); // page header, element, key and value
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn stats(&self) -> Result<BucketStats> {
        self.check_live()?;
        let mut w = StatsWalk {
            seen: Seen::new(self.tx()),
        };
        // bbolt's depth of a bucket is its own tree's depth plus the deepest of its
        // sub-buckets', so overall the most levels along any path of nested buckets. Buckets
        // wait on an explicit stack with the levels above them: nesting costs heap, not call
        // stack.
        let mut total = BucketStats::default();
        let mut stack = vec![(*self, 0u64, 0usize)];
        while let Some((b, above, nesting)) = stack.pop() {
            check_nesting(nesting)?;
            let mut children = Vec::new();
            let own = bucket_stats(&b, &mut w, &mut children)?;
            let levels = above + own.depth;
            total.add(&own);
            total.depth = total.depth.max(levels);
            stack.extend(children.into_iter().rev().map(|c| (c, levels, nesting + 1)));
        }
        Ok(total)
    }
}

impl<M: Mode> Bucket<'_, M> {
    /// The number of entries in this bucket: keys with values plus sub-bucket names, exactly
    /// what [`iter`](Bucket::iter) yields. Sub-buckets' own contents are not counted; bbolt's
    /// recursive count is [`stats`](Bucket::stats)`().key_n`. In a write transaction it counts
    /// the transaction's own puts and deletes.
    ///
    /// The bbolt format stores no count. Every commit records the count under each branch
    /// page it writes, and a walk remembers the count under each committed branch page it
    /// reads, for as long as the database is open and that page is not rewritten; so after
    /// writes through this handle `len` is O(1). On a freshly opened file the first call walks
    /// the tree, reading only branch pages and each leaf page's header (its element count):
    /// no keys or values, O(n / keys per page). A corrupt or hostile tree
    /// (cycles, shared pages, too deep) met during a walk is an [`Error::Corrupted`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = rbolt::Db::open(dir.path().join("l.db"))?;
    /// db.update(|tx| {
    ///     let b = tx.create_bucket(b"b")?;
    ///     b.put(b"x", b"1")?;
    ///     b.create_bucket(b"sub")?.put(b"y", b"2")?;
    ///     assert_eq!(b.len()?, 2); // "x" and "sub"; not "y"
    ///     assert_eq!(b.stats()?.key_n, 3); // bbolt's KeyN counts nested keys too
    ///     Ok(())
    /// })?;
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn len(&self) -> Result<u64> {
        self.check_live()?;
        let tx = self.tx();
        // A root the latest commits counted is answered from the transaction's own copy of
        // those counts: no shared lock, none of the count table's cache lines.
        if let BucketHandle::Read { root, .. } = self.handle()
            && let Some(n) = tx.snap.recent.get(root)
        {
            return Ok(n);
        }
        let mut seen = Seen::new(tx);
        let root = tx.view().root_loc(&self.handle())?;
        count_level(tx, root, self.root() == Pgid(0), 0, &mut seen)
    }

    /// True if the bucket has no keys and no sub-buckets. O(tree depth), unlike
    /// [`len`](Bucket::len).
    pub fn is_empty(&self) -> Result<bool> {
        self.check_live()?;
        Ok(self.cursor().first()?.is_none())
    }
}

/// Entries under one level: leaf headers' counts, summed through branch levels. `inline`:
/// `loc` is an inline bucket's page (part of its parent's leaf, so not a page of its own).
fn count_level<M: Mode>(
    tx: &Tx<M>,
    loc: Loc,
    inline: bool,
    depth: usize,
    seen: &mut Seen,
) -> Result<u64> {
    if depth >= MAX_DEPTH {
        return Err(Error::corrupted(
            None,
            format!("tree deeper than {MAX_DEPTH} levels"),
        ));
    }
    let pgid = mapped_pgid(tx, loc, inline);
    let (leaf, count) = tx.view().level(loc)?;
    // A committed branch page counted before: its subtree cannot have changed (see
    // `read::counts`), so only what a commit rewrote is walked again.
    let remembered = match pgid {
        Some(p) if !leaf => tx.shared.counts.get(p),
        _ => None,
    };
    if let Some(pgid) = pgid {
        // The walk's first page cannot have been seen yet: a `len` answered at the root from
        // its remembered count marks nothing, and so never builds the visited set.
        if depth > 0 || remembered.is_none() {
            seen.visit(pgid)?;
        }
    }
    if leaf {
        return Ok(count as u64);
    }
    if let Some(n) = remembered {
        return Ok(n);
    }
    let n = count_branch(tx, loc, count, depth, seen)?;
    if let Some(pgid) = pgid {
        tx.shared.counts.insert(pgid, n);
    }
    Ok(n)
}

/// [`count_level`] of a branch level with `count` children, walked.
fn count_branch<M: Mode>(
    tx: &Tx<M>,
    loc: Loc,
    count: usize,
    depth: usize,
    seen: &mut Seen,
) -> Result<u64> {
    let mut n = 0u64;
    let Loc::Page(slot) = loc else {
        for i in 0..count {
            n += count_level(tx, tx.view().child_at(loc, i)?, false, depth + 1, seen)?;
        }
        return Ok(n);
    };
    // The hot loop: one cold cache line (a leaf's header) per child. Kept to a few
    // instructions per child, without a call per leaf, so that the CPU overlaps the misses
    // of many children instead of waiting for each in turn.
    let page = tx.view().branch_page(slot)?;
    for i in 0..count {
        let pgid = page
            .child(i)
            .map_err(|e| Error::corrupted(Pgid(slot.off / ps(tx)), e))?;
        let child = tx.view().page_slot(pgid)?;
        let h = PageHeader::decode(tx.view().bytes(child)).map_err(|e| Error::format(pgid, e))?;
        if h.flags != LEAF_PAGE {
            n += count_level(tx, Loc::Page(child), false, depth + 1, seen)?;
            continue;
        }
        seen.visit(pgid)?;
        // What `LeafPage::new` checks: the element array fits in the span.
        if PAGE_HEADER_SIZE + usize::from(h.count) * LEAF_ELEM_SIZE > child.len as usize {
            return Err(Error::corrupted(pgid, "leaf elements run past the page"));
        }
        n += u64::from(h.count);
    }
    Ok(n)
}

fn ps<M: Mode>(tx: &Tx<M>) -> u64 {
    tx.snap.page_size as u64
}

/// Statistics of bucket `b`'s own tree; its sub-buckets are pushed onto `children`.
fn bucket_stats<'tx, M: Mode>(
    b: &Bucket<'tx, M>,
    w: &mut StatsWalk,
    children: &mut Vec<Bucket<'tx, M>>,
) -> Result<BucketStats> {
    let tx = b.tx();
    let root = tx.view().root_loc(&b.handle())?;
    // A bucket that was inline when the write transaction began but has grown a branch
    // node cannot be inline after commit: count its nodes like pages.
    let inline = b.root() == Pgid(0) && (matches!(root, Loc::Page(_)) || tx.view().level(root)?.0);
    let mut s = BucketStats {
        bucket_n: 1,
        inline_bucket_n: u64::from(inline),
        ..BucketStats::default()
    };
    walk_level(b, w, root, 0, inline, &mut s, children)?;
    let ps = tx.snap.page_size as u64;
    s.branch_alloc = (s.branch_page_n + s.branch_overflow_n) * ps;
    s.leaf_alloc = (s.leaf_page_n + s.leaf_overflow_n) * ps;
    Ok(s)
}

/// Walks one level of a bucket's tree (recursing at most [`MAX_DEPTH`] levels, through its
/// own pages only).
fn walk_level<'tx, M: Mode>(
    b: &Bucket<'tx, M>,
    w: &mut StatsWalk,
    loc: Loc,
    depth: usize,
    inline: bool,
    s: &mut BucketStats,
    sub_buckets: &mut Vec<Bucket<'tx, M>>,
) -> Result<()> {
    let tx = b.tx();
    if depth >= MAX_DEPTH {
        return Err(Error::corrupted(
            None,
            format!("tree deeper than {MAX_DEPTH} levels"),
        ));
    }
    let ps = tx.snap.page_size;
    let (leaf, count) = tx.view().level(loc)?;
    let overflow = match loc {
        Loc::Page(slot) if !inline => {
            let pgid = Pgid(slot.off / ps as u64);
            if let Some(id) = mapped_pgid(tx, loc, inline) {
                w.seen.visit(id)?;
            }
            let h =
                PageHeader::decode(tx.view().bytes(slot)).map_err(|e| Error::format(pgid, e))?;
            u64::from(h.overflow)
        }
        Loc::Page(_) => 0,
        Loc::Node(n) => {
            let st = tx.view().wstate();
            let node = &st.nodes[n as usize];
            match node.lazy {
                // Still its page, overflow and all.
                Some(_) => u64::from(node.overflow),
                None => (node.size.div_ceil(ps).max(1) - 1) as u64,
            }
        }
    };
    let mut used = PAGE_HEADER_SIZE as u64;
    s.depth = s.depth.max(depth as u64 + 1);
    if leaf {
        s.key_n += count as u64;
        let mut children = Vec::new();
        let mut add = |flags: u32, key: &'tx [u8], vlen: usize| {
            used += (rbolt_format::LEAF_ELEM_SIZE + key.len() + vlen) as u64;
            // A committed inline page has no sub-buckets (bbolt never looks); a node of a
            // bucket inline until this transaction may have gained some.
            if flags & BUCKET_LEAF_FLAG != 0 && (!inline || matches!(loc, Loc::Node(_))) {
                children.push(key);
            }
        };
        match loc {
            // One page view for all elements: `leaf_entry` would rebuild it for each.
            Loc::Page(slot) => {
                let p = tx.view().leaf_page(slot)?;
                for i in 0..count {
                    let e = p
                        .elem(i)
                        .map_err(|e| Error::corrupted(mapped_pgid(tx, loc, inline), e))?;
                    add(e.flags, &p.bytes()[e.key], e.value.len());
                }
            }
            Loc::Node(_) => {
                for i in 0..count {
                    let e = tx.view().leaf_entry(loc, i)?;
                    add(e.flags, e.key, e.value.len());
                }
            }
        }
        if inline {
            s.inline_bucket_inuse += used;
        } else {
            s.leaf_page_n += 1;
            s.leaf_inuse += used;
            s.leaf_overflow_n += overflow;
        }
        for name in children {
            let child = b
                .bucket(name)?
                .ok_or_else(|| Error::corrupted(None, "sub-bucket vanished during stats"))?;
            sub_buckets.push(child);
        }
    } else {
        for i in 0..count {
            used += (rbolt_format::BRANCH_ELEM_SIZE + branch_key_len(tx, loc, i)?) as u64;
        }
        s.branch_page_n += 1;
        s.branch_inuse += used;
        s.branch_overflow_n += overflow;
        for i in 0..count {
            let child = tx.view().child_at(loc, i)?;
            walk_level(b, w, child, depth + 1, inline, s, sub_buckets)?;
        }
    }
    Ok(())
}

fn branch_key_len<M: Mode>(tx: &Tx<M>, loc: Loc, i: usize) -> Result<usize> {
    match loc {
        Loc::Page(slot) => {
            let p = tx.view().branch_page(slot)?;
            let e = p.elem(i).map_err(|e| Error::corrupted(None, e))?;
            Ok(e.key.len())
        }
        Loc::Node(n) => {
            let st = tx.view().wstate();
            let node = &st.nodes[n as usize];
            match &node.lazy {
                Some(lz) => {
                    let s = lz.slot;
                    drop(st);
                    branch_key_len(tx, Loc::Page(s), i)
                }
                None => Ok(node.inodes[i].key.len as usize),
            }
        }
    }
}
