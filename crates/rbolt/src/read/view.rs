//! The page-reading primitives every transaction uses: a [`Snapshot`] (a meta and the mapping
//! generation it was committed in) and a [`View`], which also sees the writer's staged nodes.
//!
//! Bytes are addressed by [`Slot`]s: either a range of the pinned mapping or a range of a
//! chunk of the write transaction's append-only arena (keys and values passed to `put`, and
//! values built at commit). Both outlive every borrow of the transaction, so slices handed to
//! users stay valid for the transaction's whole life, even across later writes. Every page is
//! checked (in range, self-identifying, well-formed) before its bytes are used.

use crate::error::{Error, Result};
use crate::limits::{MAX_DEPTH, too_deep};
use crate::mmap::Mapping;
use crate::read::counts::RecentCounts;
use crate::read::recent_buckets::RecentBuckets;
use crate::state::{BucketHandle, BucketState, Loc, MAP, Node, Slot, Staged, Val, WState};
use rbolt_format::{BranchPage, LeafPage, Meta, PageHeader, Pgid};
use std::cell::{Ref, RefMut};
use std::sync::Arc;

/// Cache lines of a child page a descent requests before reading it: its first 2 KiB, where a
/// binary search's elements and most of its keys lie. The whole page (64 lines of 4 KiB)
/// measured no faster and costs twice the instructions on pages already in cache.
const PREFETCH_LINES: usize = 32;
/// Cache lines in 4 KiB: all of a page a write's descent materialises.
pub(crate) const WHOLE_PAGE_LINES: usize = 64;

/// A committed state of the database: its meta and the mapping that holds its pages.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// The mapping generation the meta was read from; it covers every page the meta reaches.
    pub(crate) map: Arc<Mapping>,
    pub(crate) meta: Meta,
    pub(crate) page_size: usize,
    /// The latest subtree counts when the snapshot was taken (empty for a writer's).
    pub(crate) recent: RecentCounts,
    /// The top-level buckets the latest commits wrote, as of `meta`.
    pub(crate) buckets: RecentBuckets,
}

/// A snapshot as one transaction sees it: for the writer, with its staged nodes and arena.
/// Two pointers, passed by value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a> {
    pub(crate) snap: &'a Snapshot,
    pub(crate) w: Option<&'a Staged>,
}

/// One level of a cursor's seek: the element count, the index found, and the child to descend
/// into (`None` at a leaf).
pub(crate) struct SeekLevel<'a> {
    pub(crate) count: usize,
    pub(crate) index: usize,
    pub(crate) child: Option<Loc>,
    /// The leaf page's view, for a leaf that is a page (cursors keep it for their steps).
    pub(crate) view: Option<LeafPage<'a>>,
}

/// A tree page decoded for one step of a descent: a leaf's view, or a branch's element count,
/// chosen child index, that child's span and its header (decoded by the span check, handed to
/// the next level).
enum TreeStep<'a> {
    Leaf(LeafPage<'a>),
    Branch {
        count: usize,
        index: usize,
        child: Slot,
        header: PageHeader,
    },
}

/// One leaf entry as cursors and lookups see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeafEntry<'a> {
    pub(crate) flags: u32,
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
    pub(crate) value_slot: Slot,
}

impl<'a> View<'a> {
    #[inline]
    pub(crate) fn bytes(self, s: Slot) -> &'a [u8] {
        if s.src == MAP {
            &self.snap.map.bytes()[s.off as usize..s.off as usize + s.len as usize]
        } else {
            self.w
                .as_ref()
                .expect("invariant: arena slots exist only in write txs")
                .arena
                .get(s.src, s.off as usize, s.len as usize)
        }
    }

    /// Copies `parts`, back to back, into the arena and returns the slot of the copy.
    #[inline]
    pub(crate) fn store(self, parts: &[&[u8]]) -> Slot {
        let w = self
            .w
            .as_ref()
            .expect("invariant: only write txs store bytes");
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let (src, off) = w.arena.push(parts);
        Slot {
            off: off as u64,
            len: u32::try_from(len).expect("invariant: callers bound keys and values (< 2 GiB)"),
            src,
        }
    }

    /// The span of page `pgid` (with its overflow), after checking it lies below the high-water
    /// mark, inside the mapping, and carries its own id.
    pub(crate) fn page_slot(self, pgid: Pgid) -> Result<Slot> {
        self.page_slot_header(pgid).map(|(s, _)| s)
    }

    /// [`View::page_slot`], with the page's header (decoded for the checks anyway).
    #[inline(always)]
    fn page_slot_header(self, pgid: Pgid) -> Result<(Slot, PageHeader)> {
        let (r, h) = page_span_header(
            self.snap.map.bytes(),
            self.snap.page_size,
            self.snap.meta.pgid,
            pgid,
        )?;
        let len = u32::try_from(r.end - r.start)
            .map_err(|_| Error::corrupted(pgid, "page run of 4 GiB or more"))?;
        let slot = Slot {
            off: r.start as u64,
            len,
            src: MAP,
        };
        Ok((slot, h))
    }

    /// Starts loading the first `LINES` cache lines of page `pgid` (not yet checked: a hint
    /// reads nothing) before the span check reads its header. A descent into a page that is
    /// not in cache otherwise waits for the header, then for each line it reads in turn; with
    /// the lines requested together, those misses overlap the header's. A read's search asks
    /// for [`PREFETCH_LINES`]; a write that materialises the page reads all of its first
    /// 4 KiB (a leaf's every key, a branch's every element) and asks for [`WHOLE_PAGE_LINES`].
    #[inline(always)]
    pub(crate) fn prefetch_page<const LINES: usize>(self, pgid: Pgid) {
        let off = (pgid.get() as usize).wrapping_mul(self.snap.page_size);
        crate::mmap::prefetch_lines::<LINES>(self.snap.map.bytes(), off);
    }

    pub(crate) fn root_loc(self, h: &BucketHandle) -> Result<Loc> {
        match *h {
            BucketHandle::Read { root, span, .. } => match span {
                Some(s) => Ok(Loc::Page(s)),
                None => Ok(Loc::Page(self.page_slot(root)?)),
            },
            BucketHandle::Write(id) => {
                let st = self.wstate();
                let b = &st.buckets[id];
                match (b.root_node, b.inline) {
                    (Some(n), _) => Ok(Loc::Node(n)),
                    (None, Some(s)) => Ok(Loc::Page(s)),
                    (None, None) => {
                        let root = b.header.root;
                        drop(st);
                        Ok(Loc::Page(self.page_slot(root)?))
                    }
                }
            }
        }
    }

    pub(crate) fn wstate(self) -> Ref<'a, WState> {
        self.w
            .as_ref()
            .expect("invariant: write state exists only in write txs")
            .st
            .borrow()
    }

    pub(crate) fn wstate_mut(self) -> RefMut<'a, WState> {
        self.w
            .as_ref()
            .expect("invariant: write state exists only in write txs")
            .st
            .borrow_mut()
    }

    /// Nodes the writer has materialised (0 for a reader): leaves a cursor may find empty
    /// besides the snapshot's pages.
    pub(crate) fn staged_nodes(self) -> u64 {
        self.w
            .as_ref()
            .map_or(0, |w| w.st.borrow().nodes.len() as u64)
    }

    /// Current mutation counter; cursors re-seek when it moved.
    pub(crate) fn generation(self) -> u64 {
        self.w.as_ref().map_or(0, |w| w.st.borrow().generation)
    }

    // ----- uniform access to a level, page or node -----

    /// (is_leaf, element count) of a level.
    pub(crate) fn level(self, loc: Loc) -> Result<(bool, usize)> {
        self.level_view(loc).map(|(leaf, count, _)| (leaf, count))
    }

    /// `level`, plus the validated view of a leaf that is a page (cursors keep it).
    pub(crate) fn level_view(self, loc: Loc) -> Result<(bool, usize, Option<LeafPage<'a>>)> {
        match loc {
            Loc::Page(s) => {
                let bytes = self.bytes(s);
                let h = PageHeader::decode(bytes)
                    .map_err(|e| Error::format(Pgid(s.off / self.snap.page_size as u64), e))?;
                match h.flags {
                    rbolt_format::LEAF_PAGE => {
                        let p = self.leaf_page(s)?;
                        Ok((true, p.len(), Some(p)))
                    }
                    rbolt_format::BRANCH_PAGE => Ok((false, self.branch_page(s)?.len(), None)),
                    f => Err(Error::corrupted(
                        h.id,
                        format!("invalid page type {f:#04x} in a tree"),
                    )),
                }
            }
            Loc::Node(n) => {
                let st = self.wstate();
                let node: &Node = &st.nodes[n as usize];
                match &node.lazy {
                    Some(lz) => Ok((false, lz.count, None)),
                    None => Ok((node.leaf, node.inodes.len(), None)),
                }
            }
        }
    }

    pub(crate) fn pgid_of(self, s: Slot) -> Option<Pgid> {
        (s.src == MAP).then(|| Pgid(s.off / self.snap.page_size as u64))
    }

    pub(crate) fn leaf_page(self, s: Slot) -> Result<LeafPage<'a>> {
        LeafPage::new(self.bytes(s)).map_err(|e| Error::corrupted(self.pgid_of(s), e))
    }

    pub(crate) fn branch_page(self, s: Slot) -> Result<BranchPage<'a>> {
        BranchPage::new(self.bytes(s)).map_err(|e| Error::corrupted(self.pgid_of(s), e))
    }

    /// Leaf entry `i` of a leaf level.
    pub(crate) fn leaf_entry(self, loc: Loc, i: usize) -> Result<LeafEntry<'a>> {
        match loc {
            Loc::Page(s) => self.entry_in(self.leaf_page(s)?, s, i),
            Loc::Node(n) => {
                let st = self.wstate();
                let ino = &st.nodes[n as usize].inodes[i];
                let Val::Data(v) = ino.val else {
                    unreachable!("invariant: leaf nodes hold data values")
                };
                let (flags, k) = (ino.flags, ino.key);
                drop(st);
                Ok(LeafEntry {
                    flags,
                    key: self.bytes(k),
                    value: self.bytes(v),
                    value_slot: v,
                })
            }
        }
    }

    /// Entry `i` of leaf view `p`, the page at slot `s`.
    pub(crate) fn entry_in<'p>(self, p: LeafPage<'p>, s: Slot, i: usize) -> Result<LeafEntry<'p>> {
        let e = p
            .elem(i)
            .map_err(|e| Error::corrupted(self.pgid_of(s), e))?;
        let bytes = p.bytes();
        Ok(LeafEntry {
            flags: e.flags,
            key: &bytes[e.key.clone()],
            value: &bytes[e.value.clone()],
            value_slot: s.sub(e.value.start, e.value.len()),
        })
    }

    /// Child `i` of a branch level.
    pub(crate) fn child_at(self, loc: Loc, i: usize) -> Result<Loc> {
        match loc {
            Loc::Page(s) => {
                let pgid = self
                    .branch_page(s)?
                    .child(i)
                    .map_err(|e| Error::corrupted(self.pgid_of(s), e))?;
                self.prefetch_page::<PREFETCH_LINES>(pgid);
                Ok(Loc::Page(self.page_slot(pgid)?))
            }
            Loc::Node(n) => {
                let v = {
                    let st = self.wstate();
                    let node = &st.nodes[n as usize];
                    match &node.lazy {
                        Some(lz) => match lz.child(i) {
                            Some(c) => Val::Node(c),
                            None => {
                                let s = lz.slot;
                                drop(st);
                                return self.child_at(Loc::Page(s), i);
                            }
                        },
                        None => node.inodes[i].val,
                    }
                };
                match v {
                    Val::Node(c) => Ok(Loc::Node(c)),
                    Val::Child(pgid) => Ok(Loc::Page(self.page_slot(pgid)?)),
                    Val::Data(_) => unreachable!("invariant: branch nodes hold children"),
                }
            }
        }
    }

    /// Decodes the tree page at `s` once, for a descent towards `key`: a leaf's view, or a
    /// branch's element count, chosen child index and that child's span.
    fn tree_page(self, s: Slot, key: &[u8]) -> Result<TreeStep<'a>> {
        let bytes = self.bytes(s);
        let h = PageHeader::decode(bytes).map_err(|e| Error::corrupted(self.pgid_of(s), e))?;
        self.tree_page_with(s, bytes, &h, key)
    }

    /// [`View::tree_page`] for page bytes whose header `h` is already decoded; a branch step
    /// also hands back the child's header, which checking the child's span decoded.
    #[inline(always)]
    fn tree_page_with(
        self,
        s: Slot,
        bytes: &'a [u8],
        h: &PageHeader,
        key: &[u8],
    ) -> Result<TreeStep<'a>> {
        let corrupt = |e: rbolt_format::FormatError| Error::corrupted(self.pgid_of(s), e);
        match h.flags {
            rbolt_format::LEAF_PAGE => Ok(TreeStep::Leaf(
                LeafPage::with_header(bytes, h).map_err(corrupt)?,
            )),
            rbolt_format::BRANCH_PAGE => {
                let p = BranchPage::with_header(bytes, h).map_err(corrupt)?;
                let index = p.child_index(key).map_err(corrupt)?.ok_or_else(|| {
                    Error::corrupted(self.pgid_of(s), "branch page with no elements")
                })?;
                let child = p.child(index).map_err(corrupt)?;
                self.prefetch_page::<PREFETCH_LINES>(child);
                let (child, header) = self.page_slot_header(child)?;
                Ok(TreeStep::Branch {
                    count: p.len(),
                    index,
                    child,
                    header,
                })
            }
            f => Err(Error::corrupted(
                self.pgid_of(s),
                format!("invalid page type {f:#04x} in a tree"),
            )),
        }
    }

    /// Looks `key` up in the tree of pages rooted at `s`, decoding each page once and each
    /// header once (the check of a child's span decodes the header the next level uses): the
    /// matching leaf entry, if any. Below a page every level is a page, so the descent never
    /// returns to nodes.
    pub(crate) fn page_lookup(self, s: Slot, key: &[u8]) -> Result<Option<LeafEntry<'a>>> {
        let mut s = s;
        let mut bytes = self.bytes(s);
        let mut h = PageHeader::decode(bytes).map_err(|e| Error::corrupted(self.pgid_of(s), e))?;
        for _ in 0..MAX_DEPTH {
            let p = match self.tree_page_with(s, bytes, &h, key)? {
                TreeStep::Branch { child, header, .. } => {
                    (s, h) = (child, header);
                    bytes = self.bytes(s);
                    continue;
                }
                TreeStep::Leaf(p) => p,
            };
            let corrupt = |e: rbolt_format::FormatError| Error::corrupted(self.pgid_of(s), e);
            let (i, exact) = p.search(key).map_err(corrupt)?;
            if !exact {
                return Ok(None);
            }
            let e = p.elem(i).map_err(corrupt)?;
            let bytes = p.bytes();
            return Ok(Some(LeafEntry {
                flags: e.flags,
                key: &bytes[e.key.clone()],
                value: &bytes[e.value.clone()],
                value_slot: s.sub(e.value.start, e.value.len()),
            }));
        }
        Err(too_deep(self.pgid_of(s)))
    }

    /// A cursor seek's step through `loc`, decoding a page once (as `page_lookup` does).
    pub(crate) fn seek_level(self, loc: Loc, key: &[u8]) -> Result<SeekLevel<'a>> {
        let Loc::Page(s) = loc else {
            let (leaf, count) = self.level(loc)?;
            if !leaf && count == 0 {
                return Err(Error::corrupted(None, "branch node with no elements"));
            }
            let (index, _) = self.search(loc, key)?;
            let child = if leaf {
                None
            } else {
                Some(self.child_at(loc, index)?)
            };
            return Ok(SeekLevel {
                count,
                index,
                child,
                view: None,
            });
        };
        match self.tree_page(s, key)? {
            TreeStep::Leaf(p) => {
                let (index, _) = p
                    .search(key)
                    .map_err(|e| Error::corrupted(self.pgid_of(s), e))?;
                Ok(SeekLevel {
                    count: p.len(),
                    index,
                    child: None,
                    view: Some(p),
                })
            }
            TreeStep::Branch {
                count,
                index,
                child,
                ..
            } => Ok(SeekLevel {
                count,
                index,
                child: Some(Loc::Page(child)),
                view: None,
            }),
        }
    }

    /// In a leaf: first index whose key is ≥ `key`, and whether it matches. In a branch: the
    /// child to descend into (last key ≤ `key`, else 0), and whether it matched exactly.
    pub(crate) fn search(self, loc: Loc, key: &[u8]) -> Result<(usize, bool)> {
        let (leaf, count) = self.level(loc)?;
        let (i, exact) = match loc {
            Loc::Page(s) if leaf => self.leaf_page(s)?.search(key),
            Loc::Page(s) => self.branch_page(s)?.search(key),
            Loc::Node(n) => {
                let st = self.wstate();
                let node = &st.nodes[n as usize];
                match &node.lazy {
                    Some(lz) => {
                        let s = lz.slot;
                        drop(st);
                        self.branch_page(s)?.search(key)
                    }
                    None => Ok(match node.search(|s| self.bytes(s), key) {
                        Ok(i) => (i, true),
                        Err(i) => (i, false),
                    }),
                }
            }
        }
        .map_err(|e| Error::corrupted(None, e))?;
        if leaf || exact || count == 0 {
            Ok((i, exact))
        } else {
            Ok((i.saturating_sub(1), false))
        }
    }

    pub(crate) fn bucket_state(self, id: usize) -> Ref<'a, BucketState> {
        Ref::map(self.wstate(), |st| &st.buckets[id])
    }
}

/// The byte range of page `pgid` with its overflow pages, after checking that it lies in
/// `[2, hwm)`, inside `map`, and carries its own id.
pub(crate) fn page_span(
    map: &[u8],
    ps: usize,
    hwm: Pgid,
    pgid: Pgid,
) -> Result<std::ops::Range<usize>> {
    page_span_header(map, ps, hwm, pgid).map(|(r, _)| r)
}

/// [`page_span`], with the page's header.
#[inline(always)]
pub(crate) fn page_span_header(
    map: &[u8],
    ps: usize,
    hwm: Pgid,
    pgid: Pgid,
) -> Result<(std::ops::Range<usize>, PageHeader)> {
    if pgid < Pgid(2) || pgid >= hwm {
        return Err(span_error(pgid, SpanError::Range(hwm)));
    }
    let ps = ps as u64;
    let off = pgid.get() * ps;
    let Some(hdr) = map.get(off as usize..) else {
        return Err(span_error(pgid, SpanError::PastEnd));
    };
    let h = PageHeader::decode(hdr).map_err(|e| Error::format(pgid, e))?;
    if h.id != pgid {
        return Err(span_error(pgid, SpanError::WrongId(h.id)));
    }
    let pages = u64::from(h.overflow) + 1;
    let end = off + pages * ps;
    if pgid + pages > hwm || end > map.len() as u64 {
        return Err(span_error(pgid, SpanError::Overflow(h.overflow)));
    }
    Ok((off as usize..end as usize, h))
}

/// Why [`page_span_header`] refused a page.
enum SpanError {
    Range(Pgid),
    PastEnd,
    WrongId(Pgid),
    Overflow(u32),
}

/// The error of a refused page span, built out of line: the span check runs at every level
/// of every descent, and formatting a message inline would cost it registers and stack.
#[cold]
#[inline(never)]
fn span_error(pgid: Pgid, e: SpanError) -> Error {
    let what = match e {
        SpanError::Range(hwm) => format!("page id out of range [2, {hwm})"),
        SpanError::PastEnd => "page beyond end of file".to_owned(),
        SpanError::WrongId(id) => {
            format!("page expected to be {pgid}, but self identifies as {id}")
        }
        SpanError::Overflow(o) => format!("overflow {o} runs past the end of the database"),
    };
    Error::corrupted(pgid, what)
}
