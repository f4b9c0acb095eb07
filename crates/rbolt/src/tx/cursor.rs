//! Cursors and iterators (bbolt's `cursor.go`): a stack of positions from the bucket's root to
//! a leaf, over pages and, in a write transaction, materialised nodes alike.
//!
//! Semantics follow bbolt ≥ 1.4: empty leaf pages are skipped (boltdb/bolt#450); after `next`
//! runs off the end the cursor stays on the last entry, and after `prev` runs off the start it
//! stays on the first (etcd-io/bbolt#733). Past bbolt: in a write transaction a cursor notices
//! changes made since it last moved and re-seeks from the key it returned, so deleting or
//! inserting while iterating never skips or repeats an entry (bbolt caveat, etcd-io/bbolt#146).
//!
//! Keys must strictly increase (decrease) as a cursor moves forward (backward); a file whose
//! branches point into the same subtree twice is reported as corrupted instead of looping.

use crate::error::{Error, Result};
use crate::limits::MAX_DEPTH;
use crate::range::KeyRange;
use crate::state::{BucketHandle, Loc};
use crate::tx::{Bucket, Mode, ReadOnly, ReadWrite, Tx};
use rbolt_format::{BUCKET_LEAF_FLAG, LeafPage};
use smallvec::SmallVec;
use std::ops::Bound;

/// A range bound's key, inline up to 32 bytes.
type KeyBuf = SmallVec<[u8; 32]>;

/// What cursors and iterators yield: a key and its value, or `None` for a sub-bucket's name.
/// An empty value is `Some(&[])`, never `None`.
pub type Item<'tx> = (&'tx [u8], Option<&'tx [u8]>);

#[derive(Clone, Copy, Debug)]
struct Elem<'tx> {
    loc: Loc,
    index: usize,
    count: usize,
    leaf: bool,
    /// A leaf page's validated view, kept so steps within the leaf do not rebuild it.
    view: Option<LeafPage<'tx>>,
}

impl Elem<'_> {
    /// Index of the entry one step away in this element, if there is one.
    fn neighbour(&self, forward: bool) -> Option<usize> {
        if forward {
            (self.index + 1 < self.count).then_some(self.index + 1)
        } else {
            (self.index > 0 && self.index <= self.count).then(|| self.index - 1)
        }
    }
}

/// A position in a bucket, moved with `first`/`last`/`next`/`prev`/`seek`.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = rbolt::Db::open(dir.path().join("c.db"))?;
/// db.update(|tx| {
///     let b = tx.create_bucket(b"b")?;
///     for k in [b"a", b"c", b"e"] { b.put(k, b"")?; }
///     let mut c = b.cursor();
///     assert_eq!(c.seek(b"b")?.map(|(k, _)| k), Some(&b"c"[..]));
///     assert_eq!(c.next()?.map(|(k, _)| k), Some(&b"e"[..]));
///     assert_eq!(c.next()?, None);
///     assert_eq!(c.prev()?.map(|(k, _)| k), Some(&b"c"[..]));
///     Ok(())
/// })?;
/// # Ok::<(), rbolt::Error>(())
/// ```
#[derive(Debug)]
pub struct Cursor<'tx, M: Mode = ReadOnly> {
    tx: &'tx Tx<M>,
    bucket: BucketHandle,
    stack: Vec<Elem<'tx>>,
    /// The stack before a step that leaves its leaf, to restore if it runs off the end; kept
    /// so that crossing leaves does not allocate.
    saved: Vec<Elem<'tx>>,
    /// Whether the last `step` left its leaf (only then can a corrupt file make keys repeat).
    crossed: bool,
    /// Write generation when the stack was built.
    generation: u64,
    /// Key of the entry the cursor is on, if it returned one.
    key: Option<&'tx [u8]>,
}

impl<'tx, M: Mode> Cursor<'tx, M> {
    pub(crate) fn new(tx: &'tx Tx<M>, bucket: BucketHandle) -> Self {
        tx.note_cursor();
        Self {
            tx,
            bucket,
            stack: Vec::new(),
            saved: Vec::new(),
            crossed: false,
            generation: 0,
            key: None,
        }
    }

    /// The bucket this cursor walks.
    pub fn bucket(&self) -> Bucket<'tx, M> {
        Bucket::new(self.tx, self.bucket)
    }

    fn start(&mut self, last: bool) -> Result<()> {
        self.bucket().check_live()?;
        self.stack.clear();
        self.generation = self.tx.view().generation();
        let loc = self.tx.view().root_loc(&self.bucket)?;
        self.push(loc, last)
    }

    fn push(&mut self, loc: Loc, last: bool) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::corrupted(
                None,
                format!("tree deeper than {MAX_DEPTH} levels"),
            ));
        }
        let (leaf, count, view) = self.tx.view().level_view(loc)?;
        if !leaf && count == 0 {
            return Err(Error::corrupted(None, "branch page with no elements"));
        }
        let index = if last { count.saturating_sub(1) } else { 0 };
        self.stack.push(Elem {
            loc,
            index,
            count,
            leaf,
            view,
        });
        Ok(())
    }

    /// Descends from the top of the stack to the first (or last) leaf entry under it.
    fn descend(&mut self, last: bool) -> Result<()> {
        loop {
            let top = *self
                .stack
                .last()
                .expect("invariant: descend starts from a non-empty stack");
            if top.leaf {
                return Ok(());
            }
            let child = self.tx.view().child_at(top.loc, top.index)?;
            self.push(child, last)?;
        }
    }

    fn current(&self) -> Result<Option<Item<'tx>>> {
        let Some(top) = self.stack.last() else {
            return Ok(None);
        };
        if !top.leaf || top.index >= top.count {
            return Ok(None);
        }
        self.leaf_item(top.view, top.loc, top.index).map(Some)
    }

    /// Entry `i` of the leaf at `loc`: a leaf page's kept view gives the slices directly (the
    /// common case while iterating); nodes and inline buckets go through the transaction.
    fn leaf_item(&self, view: Option<LeafPage<'tx>>, loc: Loc, i: usize) -> Result<Item<'tx>> {
        let (flags, key, value) = match (view, loc) {
            (Some(p), Loc::Page(s)) => p
                .entry(i)
                .map_err(|err| Error::corrupted(self.tx.view().pgid_of(s), err))?,
            _ => {
                let le = self.tx.view().leaf_entry(loc, i)?;
                (le.flags, le.key, le.value)
            }
        };
        Ok((key, (flags & BUCKET_LEAF_FLAG == 0).then_some(value)))
    }

    fn settle(&mut self, item: Option<Item<'tx>>) -> Option<Item<'tx>> {
        self.key = item.map(|(k, _)| k);
        item
    }

    /// Moves to the first entry.
    pub fn first(&mut self) -> Result<Option<Item<'tx>>> {
        self.start(false)?;
        self.descend(false)?;
        let item = match self.current()? {
            Some(i) => Some(i),
            None => self.step(true)?,
        };
        Ok(self.settle(item))
    }

    /// Moves to the last entry.
    pub fn last(&mut self) -> Result<Option<Item<'tx>>> {
        self.start(true)?;
        self.descend(true)?;
        let item = match self.current()? {
            Some(i) => Some(i),
            None => self.step(false)?,
        };
        Ok(self.settle(item))
    }

    /// Moves to the first entry whose key is ≥ `key`.
    #[inline]
    pub fn seek(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Item<'tx>>> {
        self.seek_bytes(key.as_ref())
    }

    fn seek_bytes(&mut self, key: &[u8]) -> Result<Option<Item<'tx>>> {
        self.seek_stack(key)?;
        let item = match self.current()? {
            Some(i) => Some(i),
            None => self.step(true)?,
        };
        Ok(self.settle(item))
    }

    fn seek_stack(&mut self, key: &[u8]) -> Result<()> {
        self.bucket().check_live()?;
        self.stack.clear();
        self.generation = self.tx.view().generation();
        let mut loc = self.tx.view().root_loc(&self.bucket)?;
        loop {
            if self.stack.len() >= MAX_DEPTH {
                return Err(Error::corrupted(
                    None,
                    format!("tree deeper than {MAX_DEPTH} levels"),
                ));
            }
            let step = self.tx.view().seek_level(loc, key)?;
            self.stack.push(Elem {
                loc,
                index: step.index,
                count: step.count,
                leaf: step.child.is_none(),
                view: step.view,
            });
            match step.child {
                Some(c) => loc = c,
                None => return Ok(()),
            }
        }
    }

    /// Moves to the next entry; from an unpositioned cursor, to the first.
    #[expect(
        clippy::should_implement_trait,
        reason = "bbolt's name; fallible, unlike Iterator"
    )]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Item<'tx>>> {
        match self.step_in_leaf_page(true) {
            Some(item) => Ok(Some(item)),
            None => self.advance(true),
        }
    }

    /// Iteration's hot loop: the neighbouring entry of the same leaf page, straight from the
    /// page's kept view. `None` sends the step down the general path: another leaf, a node, a tree
    /// changed since the stack was built, an unpositioned cursor, or an entry that fails its
    /// checks (reported there, with the page id).
    #[inline]
    fn step_in_leaf_page(&mut self, forward: bool) -> Option<Item<'tx>> {
        if self.key.is_none() || self.generation != self.tx.view().generation() {
            return None;
        }
        let top = self.stack.last_mut()?;
        let page = top.view?;
        let i = top.neighbour(forward)?;
        let (flags, key, value) = page.entry(i).ok()?;
        top.index = i;
        self.crossed = false;
        self.key = Some(key);
        Some((key, (flags & BUCKET_LEAF_FLAG == 0).then_some(value)))
    }

    /// Moves to the previous entry; from an unpositioned cursor, to the last.
    #[inline]
    pub fn prev(&mut self) -> Result<Option<Item<'tx>>> {
        match self.step_in_leaf_page(false) {
            Some(item) => Ok(Some(item)),
            None => self.advance(false),
        }
    }

    fn advance(&mut self, forward: bool) -> Result<Option<Item<'tx>>> {
        // Iteration's common case first, kept short: the tree is unchanged and the neighbour
        // is in the same leaf, so neither a re-seek nor the key-order guard applies.
        if self.key.is_some()
            && self.generation == self.tx.view().generation()
            && let Some(item) = self.step_within_leaf(forward)?
        {
            self.crossed = false;
            return Ok(self.settle(Some(item)));
        }
        let Some(prev_key) = self.key else {
            if self.stack.is_empty() {
                return if forward { self.first() } else { self.last() };
            }
            let item = self.step(forward)?;
            return Ok(self.settle(item));
        };
        if self.generation != self.tx.view().generation() {
            // The tree changed under us: find our place again by key.
            self.seek_stack(prev_key)?;
            if forward
                && let Some(item) = self.current()?
                && item.0 != prev_key
            {
                return Ok(self.settle(Some(item)));
            }
        }
        let item = self.step(forward)?;
        if self.crossed
            && let Some((k, _)) = item
            && (if forward {
                k <= prev_key
            } else {
                k >= prev_key
            })
        {
            return Err(Error::corrupted(
                None,
                "keys out of order across pages (shared or cyclic subtree)",
            ));
        }
        match item {
            Some(_) => Ok(self.settle(item)),
            // Stay on the entry we had (bbolt ≥ 1.4).
            None => Ok(None),
        }
    }

    /// The common step: to the neighbour in the same leaf. `None` (position unchanged) when
    /// the leaf has no neighbour that way.
    fn step_within_leaf(&mut self, forward: bool) -> Result<Option<Item<'tx>>> {
        let Some(top) = self.stack.last_mut() else {
            return Ok(None);
        };
        if !top.leaf {
            return Ok(None);
        }
        let Some(i) = top.neighbour(forward) else {
            return Ok(None);
        };
        let (view, loc) = (top.view, top.loc);
        let item = self.leaf_item(view, loc, i)?;
        self.stack.last_mut().expect("checked above").index = i;
        Ok(Some(item))
    }

    /// One step in the given direction, skipping empty leaves. On running off the end the
    /// stack is restored, so the cursor stays where it was.
    fn step(&mut self, forward: bool) -> Result<Option<Item<'tx>>> {
        self.crossed = false;
        if let Some(item) = self.step_within_leaf(forward)? {
            return Ok(Some(item));
        }
        self.crossed = true;
        self.saved.clone_from(&self.stack);
        // A file can hold at most `pgid` distinct pages; more empty leaves means a loop.
        // A write transaction's staged nodes can be empty leaves too.
        let mut budget = self
            .tx
            .snap
            .meta
            .pgid
            .get()
            .saturating_add(self.tx.view().staged_nodes())
            .saturating_add(16);
        loop {
            let mut level = None;
            for i in (0..self.stack.len()).rev() {
                let e = &mut self.stack[i];
                let can = if forward {
                    e.index + 1 < e.count
                } else {
                    e.index > 0 && e.count > 0
                };
                if can {
                    if forward {
                        e.index += 1;
                    } else {
                        e.index = e.index.min(e.count) - 1;
                    }
                    level = Some(i);
                    break;
                }
            }
            let Some(i) = level else {
                std::mem::swap(&mut self.stack, &mut self.saved);
                return Ok(None);
            };
            self.stack.truncate(i + 1);
            self.descend(!forward)?;
            if let Some(item) = self.current()? {
                return Ok(Some(item));
            }
            budget = budget
                .checked_sub(1)
                .ok_or_else(|| Error::corrupted(None, "empty leaves loop"))?;
        }
    }

    fn current_checked(&mut self) -> Result<Option<Item<'tx>>> {
        if self.generation != self.tx.view().generation()
            && let Some(k) = self.key
        {
            self.seek_stack(k)?;
            return Ok(self.current()?.filter(|(ck, _)| *ck == k));
        }
        self.current()
    }
}

impl Cursor<'_, ReadWrite> {
    /// Deletes the entry under the cursor. A sub-bucket is [`Error::IncompatibleValue`]; use
    /// `delete_bucket`. The cursor keeps its place: the next `next` returns the entry after.
    pub fn delete(&mut self) -> Result<()> {
        let Some((key, value)) = self.current_checked()? else {
            return Ok(());
        };
        if value.is_none() {
            return Err(Error::IncompatibleValue);
        }
        self.bucket().delete(key)
    }
}

/// A double-ended iterator over a bucket's entries in key order, from [`Bucket::iter`],
/// [`Bucket::range`] or [`Bucket::prefix`]. It yields `(key, Some(value))` for values and
/// `(name, None)` for sub-buckets; [`Iter::entries`], [`Iter::pairs`], [`Iter::keys`] and
/// [`Iter::buckets`] give the same walk without the `Option`.
#[derive(Debug)]
pub struct Iter<'tx, M: Mode = ReadOnly> {
    bucket: Bucket<'tx, M>,
    front: Cursor<'tx, M>,
    /// Created on the first step from the back: most iterations only go forward.
    back: Option<Cursor<'tx, M>>,
    start: Bound<KeyBuf>,
    end: Bound<KeyBuf>,
    front_key: Option<&'tx [u8]>,
    back_key: Option<&'tx [u8]>,
    front_started: bool,
    done: bool,
}

fn owned(b: Bound<&[u8]>) -> Bound<KeyBuf> {
    match b {
        Bound::Included(k) => Bound::Included(KeyBuf::from_slice(k)),
        Bound::Excluded(k) => Bound::Excluded(KeyBuf::from_slice(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<'tx, M: Mode> Iter<'tx, M> {
    pub(crate) fn new(bucket: Bucket<'tx, M>, range: impl KeyRange) -> Self {
        let (start, end) = range.key_bounds();
        Self::from_bounds(bucket, owned(start), owned(end))
    }

    fn from_bounds(bucket: Bucket<'tx, M>, start: Bound<KeyBuf>, end: Bound<KeyBuf>) -> Self {
        Self {
            bucket,
            front: bucket.cursor(),
            back: None,
            start,
            end,
            front_key: None,
            back_key: None,
            front_started: false,
            done: false,
        }
    }

    fn first_front(&mut self) -> Result<Option<Item<'tx>>> {
        match &self.start {
            Bound::Unbounded => self.front.first(),
            Bound::Included(k) => self.front.seek(k),
            Bound::Excluded(k) => match self.front.seek(k)? {
                Some((f, _)) if f == k.as_slice() => self.front.next(),
                other => Ok(other),
            },
        }
    }

    fn first_back(&mut self) -> Result<Option<Item<'tx>>> {
        let back = self.back.insert(self.bucket.cursor());
        let (k, inclusive) = match &self.end {
            Bound::Unbounded => return back.last(),
            Bound::Included(k) => (k, true),
            Bound::Excluded(k) => (k, false),
        };
        match back.seek(k)? {
            Some((f, v)) if inclusive && f == k.as_slice() => Ok(Some((f, v))),
            Some(_) => back.prev(),
            None => back.last(),
        }
    }

    fn finish(&mut self, r: Result<Option<Item<'tx>>>) -> Option<Result<Item<'tx>>> {
        match r {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<'tx, M: Mode> Iterator for Iter<'tx, M> {
    type Item = Result<Item<'tx>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = if self.front_started {
            self.front.next()
        } else {
            self.front_started = true;
            self.first_front()
        };
        let r = r.map(|o| {
            o.filter(|(k, _)| {
                let in_end = match &self.end {
                    Bound::Unbounded => true,
                    Bound::Included(e) => *k <= e.as_slice(),
                    Bound::Excluded(e) => *k < e.as_slice(),
                };
                in_end && self.back_key.is_none_or(|b| *k < b)
            })
        });
        if let Ok(Some((k, _))) = r {
            self.front_key = Some(k);
        }
        self.finish(r)
    }
}

impl<M: Mode> DoubleEndedIterator for Iter<'_, M> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match &mut self.back {
            Some(back) => back.prev(),
            None => self.first_back(),
        };
        let r = r.map(|o| {
            o.filter(|(k, _)| {
                let in_start = match &self.start {
                    Bound::Unbounded => true,
                    Bound::Included(s) => *k >= s.as_slice(),
                    Bound::Excluded(s) => *k > s.as_slice(),
                };
                in_start && self.front_key.is_none_or(|f| *k > f)
            })
        });
        if let Ok(Some((k, _))) = r {
            self.back_key = Some(k);
        }
        self.finish(r)
    }
}
