//! Transactions (bbolt's `tx.go`): a snapshot of the database pinned by its meta and its
//! mapping, plus, for the one writer, the in-memory nodes it has changed.
//!
//! Bytes are addressed by [`Slot`]s: either a range of the pinned mapping or a range of a
//! chunk of the transaction's append-only arena (keys and values passed to `put`, and values
//! built at commit). Both outlive every borrow of the transaction, so slices handed to users
//! stay valid for the transaction's whole life, even across later writes.

use crate::bucket::{Bucket, BucketHandle};
use crate::check::{self, CheckError};
use crate::cursor::Cursor;
use crate::db::{Shared, WriterData};
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::node::{BucketState, Node, NodeId, Val, WState};
use rbolt_format::{BranchPage, LeafPage, Meta, PageHeader};
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// Most levels a B+tree may have (a root leaf is one level; levels are numbered from 0 at
/// the root, so the deepest allowed is `MAX_DEPTH - 1`). A real tree of 2^64 keys with
/// fan-out ≥ 2 stays far below this; a crafted cycle of branch pages would otherwise be
/// followed forever. Every reader and walker applies the same bound.
pub(crate) const MAX_DEPTH: usize = 64;

/// Deepest nesting of buckets: a top-level bucket is at depth 1, its sub-buckets at 2.
/// [`Bucket::create_bucket`] and [`Bucket::move_bucket`] refuse to go deeper
/// ([`Error::BucketNestingTooDeep`]). The
/// format has no limit; rbolt refuses to create deeper buckets (so nothing it writes is ever
/// reported as corrupt) and reports deeper ones in a file as corruption. Walkers keep their
/// own explicit stacks, so this bounds work and memory, not the call stack.
pub const MAX_NESTING: usize = 1024;

/// The error for a tree with more than [`MAX_DEPTH`] levels.
pub(crate) fn too_deep(pgid: impl Into<Option<u64>>) -> Error {
    Error::corrupted(pgid, format!("tree deeper than {MAX_DEPTH} levels"))
}

/// Errors if a bucket at `depth` (top level = 1) lies past [`MAX_NESTING`].
pub(crate) fn check_nesting(depth: usize) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(Error::corrupted(
            None,
            format!("buckets nested deeper than {MAX_NESTING}"),
        ));
    }
    Ok(())
}

/// `Slot::src` value meaning "the mapping".
pub(crate) const MAP: u32 = u32::MAX;

/// A range of bytes the transaction can resolve for its whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) off: u64,
    /// u32 keeps inodes small; nothing in the format is longer (values < 2 GiB, and
    /// `page_slot` refuses larger page runs).
    pub(crate) len: u32,
    /// [`MAP`], or the index of an arena chunk.
    pub(crate) src: u32,
}

impl Slot {
    pub(crate) fn sub(self, start: usize, len: usize) -> Slot {
        Slot {
            off: self.off + start as u64,
            len: u32::try_from(len).expect("invariant: a sub-slot is no longer than its slot"),
            src: self.src,
        }
    }
}

/// Where a B+tree level lives: a page image (in the map, or inline in a bucket value) or a
/// node the writer materialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    Page(Slot),
    Node(NodeId),
}

/// One step of a lookup through a page: descend, or the answer.
pub(crate) enum PageStep<'a> {
    Child(Slot),
    Found(Option<LeafEntry<'a>>),
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

/// A tree page decoded for one step of a descent (`Tx::tree_page`).
enum TreePage<'a> {
    Leaf(LeafPage<'a>),
    Branch {
        count: usize,
        index: usize,
        child: Slot,
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

pub(crate) struct WriteTx {
    pub(crate) st: RefCell<WState>,
    pub(crate) arena: crate::mmap::ByteArena,
    pub(crate) writer: Option<Box<WriterData>>,
}

/// A transaction: a consistent snapshot for reading and, if writable, the place where changes
/// are staged until [`commit`](Tx::commit).
///
/// Dropping a transaction without committing rolls it back. Values, buckets and cursors
/// borrow from the transaction, so the compiler ensures none outlives it:
///
/// ```compile_fail
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// let v = {
///     let tx = db.begin_read().unwrap();
///     let b = tx.bucket(b"b").unwrap().unwrap();
///     b.get(b"k").unwrap().unwrap() // error: `tx` does not live long enough
/// };
/// ```
///
/// ```compile_fail
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// let tx = db.begin_write().unwrap();
/// let b = tx.create_bucket(b"b").unwrap();
/// tx.commit().unwrap(); // error: cannot move out of `tx` because it is borrowed
/// b.put(b"k", b"v").unwrap();
/// ```
///
/// ```compile_fail
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// let mut c = {
///     let tx = db.begin_read().unwrap();
///     tx.cursor() // error: `tx` does not live long enough
/// };
/// ```
pub struct Tx {
    /// Before `shared`: fields drop in order, and the file must be unmapped (a mapping keeps
    /// the file's lock) before `Shared` releases the file's registration.
    pub(crate) map: Arc<Mapping>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) meta: Meta,
    pub(crate) page_size: usize,
    pub(crate) w: Option<WriteTx>,
    /// Statistics counters and commit hooks (`ops.rs`).
    pub(crate) ext: crate::ops::TxExt,
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("id", &self.id())
            .field("writable", &self.writable())
            .finish()
    }
}

impl Tx {
    /// The transaction id: the txid of the snapshot for a reader, one more for the writer.
    pub fn id(&self) -> u64 {
        self.meta.txid
    }

    /// True for a write transaction.
    pub fn writable(&self) -> bool {
        self.w.is_some()
    }

    /// Logical size of the database this transaction sees: high-water mark × page size.
    pub fn size(&self) -> u64 {
        self.meta.pgid * self.page_size as u64
    }

    /// Page size of the database.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    pub(crate) fn root(&self) -> Bucket<'_> {
        match &self.w {
            Some(_) => Bucket::new(self, BucketHandle::Write(0)),
            None => Bucket::new(
                self,
                BucketHandle::Read {
                    root: self.meta.root.root,
                    inline: None,
                    seq: self.meta.root.sequence,
                },
            ),
        }
    }

    /// The top-level bucket `name`, or `None` if there is none.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket<'_>>> {
        self.root().bucket(name)
    }

    /// Creates a top-level bucket. Fails with [`Error::BucketExists`] if it exists.
    pub fn create_bucket(&self, name: &[u8]) -> Result<Bucket<'_>> {
        self.root().create_bucket(name)
    }

    /// Creates a top-level bucket unless it exists, and returns it.
    pub fn create_bucket_if_not_exists(&self, name: &[u8]) -> Result<Bucket<'_>> {
        self.root().create_bucket_if_not_exists(name)
    }

    /// Deletes a top-level bucket and everything in it, freeing its pages.
    pub fn delete_bucket(&self, name: &[u8]) -> Result<()> {
        self.root().delete_bucket(name)
    }

    /// A cursor over the top-level bucket names (values are reported as buckets).
    pub fn cursor(&self) -> Cursor<'_> {
        self.root().cursor()
    }

    /// Calls `f` with each top-level bucket's name and handle, in name order.
    pub fn for_each_bucket(
        &self,
        mut f: impl FnMut(&[u8], Bucket<'_>) -> Result<()>,
    ) -> Result<()> {
        let root = self.root();
        for item in root.iter() {
            let (name, value) = item?;
            if value.is_none()
                && let Some(b) = root.bucket(name)?
            {
                f(name, b)?;
            }
        }
        Ok(())
    }

    /// Runs bbolt's consistency check over this transaction's snapshot (for a write
    /// transaction: the snapshot it started from). Returns every problem found; empty means
    /// consistent.
    pub fn check(&self) -> Vec<CheckError> {
        check::check(self)
    }

    /// Commits a write transaction: the changes become durable and visible to new
    /// transactions. A read transaction returns [`Error::TxNotWritable`].
    pub fn commit(mut self) -> Result<()> {
        if self.w.is_none() {
            return Err(Error::TxNotWritable);
        }
        crate::commit::commit(&mut self)?;
        let hooks = self.take_commit_hooks();
        drop(self); // releases the writer before the hooks run, as bbolt does
        for hook in hooks {
            hook();
        }
        Ok(())
    }

    /// Ends the transaction, discarding any changes.
    pub fn rollback(self) {
        drop(self);
    }

    // ----- byte access -----

    pub(crate) fn bytes(&self, s: Slot) -> &[u8] {
        if s.src == MAP {
            &self.map.bytes()[s.off as usize..s.off as usize + s.len as usize]
        } else {
            self.w
                .as_ref()
                .expect("invariant: arena slots exist only in write txs")
                .arena
                .get(s.src, s.off as usize, s.len as usize)
        }
    }

    /// Copies `parts`, back to back, into the arena and returns the slot of the copy.
    pub(crate) fn store(&self, parts: &[&[u8]]) -> Slot {
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
    pub(crate) fn page_slot(&self, pgid: u64) -> Result<Slot> {
        let r = page_span(self.map.bytes(), self.page_size, self.meta.pgid, pgid)?;
        let len = u32::try_from(r.end - r.start)
            .map_err(|_| Error::corrupted(pgid, "page run of 4 GiB or more"))?;
        Ok(Slot {
            off: r.start as u64,
            len,
            src: MAP,
        })
    }

    pub(crate) fn root_loc(&self, h: &BucketHandle) -> Result<Loc> {
        match *h {
            BucketHandle::Read { root, inline, .. } => match inline {
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

    pub(crate) fn wstate(&self) -> std::cell::Ref<'_, WState> {
        self.w
            .as_ref()
            .expect("invariant: write state exists only in write txs")
            .st
            .borrow()
    }

    pub(crate) fn wstate_mut(&self) -> std::cell::RefMut<'_, WState> {
        self.w
            .as_ref()
            .expect("invariant: write state exists only in write txs")
            .st
            .borrow_mut()
    }

    /// Current mutation counter; cursors re-seek when it moved.
    pub(crate) fn generation(&self) -> u64 {
        self.w.as_ref().map_or(0, |w| w.st.borrow().generation)
    }

    // ----- uniform access to a level, page or node -----

    /// (is_leaf, element count) of a level.
    pub(crate) fn level(&self, loc: Loc) -> Result<(bool, usize)> {
        self.level_view(loc).map(|(leaf, count, _)| (leaf, count))
    }

    /// `level`, plus the validated view of a leaf that is a page (cursors keep it).
    pub(crate) fn level_view(&self, loc: Loc) -> Result<(bool, usize, Option<LeafPage<'_>>)> {
        match loc {
            Loc::Page(s) => {
                let bytes = self.bytes(s);
                let h = PageHeader::decode(bytes)
                    .map_err(|e| Error::format(s.off / self.page_size as u64, e))?;
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
                Ok((node.leaf, node.inodes.len(), None))
            }
        }
    }

    pub(crate) fn pgid_of(&self, s: Slot) -> Option<u64> {
        (s.src == MAP).then(|| s.off / self.page_size as u64)
    }

    pub(crate) fn leaf_page(&self, s: Slot) -> Result<LeafPage<'_>> {
        LeafPage::new(self.bytes(s)).map_err(|e| Error::corrupted(self.pgid_of(s), e))
    }

    pub(crate) fn branch_page(&self, s: Slot) -> Result<BranchPage<'_>> {
        BranchPage::new(self.bytes(s)).map_err(|e| Error::corrupted(self.pgid_of(s), e))
    }

    /// Leaf entry `i` of a leaf level.
    pub(crate) fn leaf_entry(&self, loc: Loc, i: usize) -> Result<LeafEntry<'_>> {
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
    pub(crate) fn entry_in<'a>(&self, p: LeafPage<'a>, s: Slot, i: usize) -> Result<LeafEntry<'a>> {
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
    pub(crate) fn child_at(&self, loc: Loc, i: usize) -> Result<Loc> {
        match loc {
            Loc::Page(s) => {
                let pgid = self
                    .branch_page(s)?
                    .child(i)
                    .map_err(|e| Error::corrupted(self.pgid_of(s), e))?;
                Ok(Loc::Page(self.page_slot(pgid)?))
            }
            Loc::Node(n) => {
                let v = self.wstate().nodes[n as usize].inodes[i].val;
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
    fn tree_page(&self, s: Slot, key: &[u8]) -> Result<TreePage<'_>> {
        let bytes = self.bytes(s);
        let pgid = self.pgid_of(s);
        let h = PageHeader::decode(bytes).map_err(|e| Error::corrupted(pgid, e))?;
        match h.flags {
            rbolt_format::LEAF_PAGE => Ok(TreePage::Leaf(
                LeafPage::new(bytes).map_err(|e| Error::corrupted(pgid, e))?,
            )),
            rbolt_format::BRANCH_PAGE => {
                let p = BranchPage::new(bytes).map_err(|e| Error::corrupted(pgid, e))?;
                let index = p
                    .child_index(key)
                    .map_err(|e| Error::corrupted(pgid, e))?
                    .ok_or_else(|| Error::corrupted(pgid, "branch page with no elements"))?;
                let child = p.child(index).map_err(|e| Error::corrupted(pgid, e))?;
                Ok(TreePage::Branch {
                    count: p.len(),
                    index,
                    child: self.page_slot(child)?,
                })
            }
            f => Err(Error::corrupted(
                pgid,
                format!("invalid page type {f:#04x} in a tree"),
            )),
        }
    }

    /// Looks `key` up in the page at `s`, decoding it once: the child to descend into, or
    /// the matching leaf entry (if any).
    pub(crate) fn page_lookup(&self, s: Slot, key: &[u8]) -> Result<PageStep<'_>> {
        let p = match self.tree_page(s, key)? {
            TreePage::Branch { child, .. } => return Ok(PageStep::Child(child)),
            TreePage::Leaf(p) => p,
        };
        let pgid = self.pgid_of(s);
        let (i, exact) = p.search(key).map_err(|e| Error::corrupted(pgid, e))?;
        if !exact {
            return Ok(PageStep::Found(None));
        }
        let e = p.elem(i).map_err(|e| Error::corrupted(pgid, e))?;
        let bytes = p.bytes();
        Ok(PageStep::Found(Some(LeafEntry {
            flags: e.flags,
            key: &bytes[e.key.clone()],
            value: &bytes[e.value.clone()],
            value_slot: s.sub(e.value.start, e.value.len()),
        })))
    }

    /// A cursor seek's step through `loc`, decoding a page once (as `page_lookup` does).
    pub(crate) fn seek_level(&self, loc: Loc, key: &[u8]) -> Result<SeekLevel<'_>> {
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
            TreePage::Leaf(p) => {
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
            TreePage::Branch {
                count,
                index,
                child,
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
    pub(crate) fn search(&self, loc: Loc, key: &[u8]) -> Result<(usize, bool)> {
        let (leaf, count) = self.level(loc)?;
        let (i, exact) = match loc {
            Loc::Page(s) if leaf => self.leaf_page(s)?.search(key),
            Loc::Page(s) => self.branch_page(s)?.search(key),
            Loc::Node(n) => Ok(match self.wstate().nodes[n as usize].search(self, key) {
                Ok(i) => (i, true),
                Err(i) => (i, false),
            }),
        }
        .map_err(|e| Error::corrupted(None, e))?;
        if leaf || exact || count == 0 {
            Ok((i, exact))
        } else {
            Ok((i.saturating_sub(1), false))
        }
    }

    pub(crate) fn bucket_state(&self, id: usize) -> std::cell::Ref<'_, BucketState> {
        std::cell::Ref::map(self.wstate(), |st| &st.buckets[id])
    }
}

/// The byte range of page `pgid` with its overflow pages, after checking that it lies in
/// `[2, hwm)`, inside `map`, and carries its own id.
pub(crate) fn page_span(
    map: &[u8],
    ps: usize,
    hwm: u64,
    pgid: u64,
) -> Result<std::ops::Range<usize>> {
    if pgid < 2 || pgid >= hwm {
        return Err(Error::corrupted(
            pgid,
            format!("page id out of range [2, {hwm})"),
        ));
    }
    let ps = ps as u64;
    let off = pgid * ps;
    let hdr = map
        .get(off as usize..)
        .ok_or_else(|| Error::corrupted(pgid, "page beyond end of file"))?;
    let h = PageHeader::decode(hdr).map_err(|e| Error::format(pgid, e))?;
    if h.id != pgid {
        return Err(Error::corrupted(
            pgid,
            format!(
                "page expected to be {pgid}, but self identifies as {}",
                h.id
            ),
        ));
    }
    let pages = u64::from(h.overflow) + 1;
    let end = off + pages * ps;
    if pgid + pages > hwm || end > map.len() as u64 {
        return Err(Error::corrupted(
            pgid,
            format!("overflow {} runs past the end of the database", h.overflow),
        ));
    }
    Ok(off as usize..end as usize)
}

impl Drop for Tx {
    fn drop(&mut self) {
        self.shared.ops.counters.add_tx(&self.stats());
        match self.w.as_mut() {
            Some(w) => {
                if let Some(data) = w.writer.take() {
                    self.shared.end_write(data);
                }
            }
            None => self.shared.end_read(self.meta.txid, self.meta.pgid),
        }
    }
}
