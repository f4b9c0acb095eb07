//! Buckets (bbolt's `bucket.go`): named key spaces, nested to any depth, each its own B+tree or,
//! when small, an inline page inside its parent's leaf.
//!
//! A [`Bucket`] is a cheap handle. In a read transaction it carries the bucket's root; in the
//! write transaction it names an entry of the transaction's bucket table, where changes are
//! staged until commit.

use crate::error::{Error, Result};
use crate::limits::{
    DEFAULT_FILL_PERCENT, MAX_DEPTH, MAX_FILL_PERCENT, MIN_FILL_PERCENT, check_nesting,
};
use crate::range::{KeyRange, prefix_bounds};
use crate::read::LeafEntry;
use crate::state::{BucketHandle, BucketId, BucketState, Loc, MAP, Slot};
use crate::tx::{Buckets, Cursor, Entries, Item, Iter, Keys, Mode, Pairs, ReadOnly, ReadWrite, Tx};
use rbolt_format::{
    BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, BucketHeader, LEAF_PAGE, MAX_KEY_SIZE, MAX_VALUE_SIZE,
    PageHeader, Pgid,
};
use std::fmt;
use std::ops::Bound;

/// A bucket in a transaction. Get one from [`Tx::bucket`], [`Tx::create_bucket`] or a parent
/// bucket's [`Bucket::bucket`].
pub struct Bucket<'tx, M: Mode = ReadOnly> {
    tx: &'tx Tx<M>,
    h: BucketHandle,
}

impl<M: Mode> Clone for Bucket<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: Mode> Copy for Bucket<'_, M> {}

impl<M: Mode> fmt::Debug for Bucket<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bucket")
            .field("root", &self.root())
            .field("writable", &self.writable())
            .finish()
    }
}

/// The value of a new, empty bucket: a header with root 0 and an empty inline leaf.
fn empty_bucket_value() -> [u8; BUCKET_HEADER_SIZE + 16] {
    let mut v = [0u8; BUCKET_HEADER_SIZE + 16];
    PageHeader {
        id: Pgid(0),
        flags: LEAF_PAGE,
        count: 0,
        overflow: 0,
    }
    .encode(&mut v[BUCKET_HEADER_SIZE..]);
    v
}

impl<'tx, M: Mode> Bucket<'tx, M> {
    pub(crate) fn new(tx: &'tx Tx<M>, h: BucketHandle) -> Self {
        Self { tx, h }
    }

    /// The transaction this handle belongs to.
    pub(crate) fn tx(&self) -> &'tx Tx<M> {
        self.tx
    }

    pub(crate) fn handle(&self) -> BucketHandle {
        self.h
    }

    pub(crate) fn id(&self) -> Option<BucketId> {
        match self.h {
            BucketHandle::Write(id) => Some(id),
            BucketHandle::Read { .. } => None,
        }
    }

    /// Errors with [`Error::BucketNotFound`] if the bucket was deleted in this transaction.
    pub(crate) fn check_live(&self) -> Result<()> {
        match self.id() {
            Some(id) if self.tx.view().bucket_state(id).deleted => Err(Error::BucketNotFound),
            _ => Ok(()),
        }
    }

    /// True in a write transaction.
    pub fn writable(&self) -> bool {
        self.id().is_some()
    }

    /// Page id of the bucket's root page as of the start of the transaction (0 if inline).
    pub fn root(&self) -> Pgid {
        match self.h {
            BucketHandle::Read { root, .. } => root,
            BucketHandle::Write(id) => self.tx.view().bucket_state(id).header.root,
        }
    }

    /// Finds the leaf entry for `key` without changing anything.
    pub(crate) fn lookup(&self, key: &[u8]) -> Result<Option<LeafEntry<'tx>>> {
        self.check_live()?;
        let mut loc = self.tx.view().root_loc(&self.h)?;
        for _ in 0..MAX_DEPTH {
            // Pages all the way down from here: decode each one once (the hot path of every
            // read transaction).
            if let Loc::Page(s) = loc {
                return self.tx.view().page_lookup(s, key);
            }
            let (leaf, count) = self.tx.view().level(loc)?;
            let (i, exact) = self.tx.view().search(loc, key)?;
            if leaf {
                return if exact {
                    self.tx.view().leaf_entry(loc, i).map(Some)
                } else {
                    Ok(None)
                };
            }
            if count == 0 {
                return Err(Error::corrupted(None, "branch page with no elements"));
            }
            loc = self.tx.view().child_at(loc, i)?;
        }
        Err(Error::corrupted(
            None,
            format!("tree deeper than {MAX_DEPTH} levels"),
        ))
    }

    /// The value stored under `key`, or `None` if there is none or `key` names a sub-bucket.
    /// The slice borrows from the transaction and stays valid until it ends, even across
    /// later writes in the same transaction.
    #[inline]
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<&'tx [u8]>> {
        Ok(self
            .lookup(key.as_ref())?
            .filter(|e| e.flags & BUCKET_LEAF_FLAG == 0)
            .map(|e| e.value))
    }

    /// The sub-bucket `name`, or `None` if there is none (or `name` holds a plain value).
    pub fn bucket(&self, name: impl AsRef<[u8]>) -> Result<Option<Bucket<'tx, M>>> {
        self.bucket_bytes(name.as_ref())
    }

    /// The sub-bucket `name`; [`Error::BucketNotFound`] if there is none (or `name` holds a
    /// plain value).
    pub fn open_bucket(&self, name: impl AsRef<[u8]>) -> Result<Bucket<'tx, M>> {
        self.bucket_bytes(name.as_ref())?
            .ok_or(Error::BucketNotFound)
    }

    /// Top-level bucket `name` of a read transaction, if a recent commit wrote it: its
    /// header and root span came with the snapshot, so neither of the pages that commit
    /// rewrote (the root bucket's, the bucket's root) is read to open it.
    pub(crate) fn carried(tx: &'tx Tx<M>, name: &[u8]) -> Option<Bucket<'tx, M>> {
        if tx.mode.staged().is_some() {
            return None;
        }
        let b = tx.snap.buckets.get(name)?;
        let ps = tx.snap.page_size;
        let span = Slot {
            off: b.root.get().checked_mul(ps as u64)?,
            len: u32::from(b.pages).checked_mul(u32::try_from(ps).ok()?)?,
            src: MAP,
        };
        let h = BucketHandle::Read {
            root: b.root,
            span: Some(span),
            seq: b.sequence,
            depth: 1,
        };
        debug_assert_eq!(
            tx.root().bucket_bytes(name).ok().flatten().map(|b| b.h),
            Some(h),
            "a carried bucket differs from its entry in the root bucket"
        );
        Some(Bucket::new(tx, h))
    }

    fn bucket_bytes(&self, name: &[u8]) -> Result<Option<Bucket<'tx, M>>> {
        if let Some(id) = self.id() {
            self.check_live()?;
            let cached = self.tx.view().bucket_state(id).children.get(name).copied();
            if let Some(c) = cached {
                return Ok(Some(Bucket::new(self.tx, BucketHandle::Write(c))));
            }
        }
        let Some(e) = self.lookup(name)? else {
            return Ok(None);
        };
        if e.flags & BUCKET_LEAF_FLAG == 0 {
            return Ok(None);
        }
        // Sub-buckets whose roots lead back to an ancestor would nest without end: every
        // walk that opens buckets as it finds them stops here instead.
        let depth = self.depth() + 1;
        check_nesting(depth)?;
        let header = BucketHeader::decode(e.value).map_err(|err| Error::corrupted(None, err))?;
        let inline = (header.root == Pgid(0)).then(|| {
            e.value_slot
                .sub(BUCKET_HEADER_SIZE, e.value.len() - BUCKET_HEADER_SIZE)
        });
        let h = match self.id() {
            None => BucketHandle::Read {
                root: header.root,
                span: inline.or_else(|| self.tx.view().page_slot(header.root).ok()),
                seq: header.sequence,
                depth,
            },
            Some(parent) => {
                let mut st = self.tx.view().wstate_mut();
                let c = st.buckets.len();
                st.buckets.push(BucketState::new(header, inline, depth));
                st.buckets[parent].children.insert(name.to_vec(), c);
                BucketHandle::Write(c)
            }
        };
        Ok(Some(Bucket::new(self.tx, h)))
    }

    /// Nesting depth: 0 for the root bucket, 1 for a top-level bucket.
    fn depth(&self) -> usize {
        match self.h {
            BucketHandle::Read { depth, .. } => depth,
            BucketHandle::Write(id) => self.tx.view().bucket_state(id).depth,
        }
    }

    /// The bucket's sequence counter.
    pub fn sequence(&self) -> u64 {
        match self.h {
            BucketHandle::Read { seq, .. } => seq,
            BucketHandle::Write(id) => self.tx.view().bucket_state(id).header.sequence,
        }
    }

    /// The fill percent used when this bucket's pages split at commit.
    pub fn fill_percent(&self) -> f64 {
        match self.h {
            BucketHandle::Read { .. } => DEFAULT_FILL_PERCENT,
            BucketHandle::Write(id) => self.tx.view().bucket_state(id).fill_percent,
        }
    }

    /// A cursor over this bucket.
    pub fn cursor(&self) -> Cursor<'tx, M> {
        Cursor::new(self.tx, self.h)
    }

    /// All entries in key order; iterate backwards with `.rev()`.
    pub fn iter(&self) -> Iter<'tx, M> {
        Iter::new(*self, ..)
    }

    /// Entries whose keys fall in `range`: `b.range(b"a"..b"m")`, `b.range("a"..)`,
    /// `b.range(&lo..=&hi)`, `b.range(..)` — any [`KeyRange`].
    pub fn range(&self, range: impl KeyRange) -> Iter<'tx, M> {
        Iter::new(*self, range)
    }

    /// Entries whose keys start with `prefix`, in key order (double-ended, like
    /// [`Bucket::range`]).
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter<'tx, M> {
        Iter::new(*self, prefix_bounds(prefix.as_ref()))
    }

    /// Every entry as an [`Entry`](crate::Entry): `Value(key, value)` or `Bucket(name)`.
    pub fn entries(&self) -> Entries<'tx, M> {
        self.iter().entries()
    }

    /// `(key, value)` of every plain value, skipping sub-buckets.
    pub fn pairs(&self) -> Pairs<'tx, M> {
        self.iter().pairs()
    }

    /// Keys of every plain value, skipping sub-buckets.
    pub fn keys(&self) -> Keys<'tx, M> {
        self.iter().keys()
    }

    /// Names of the sub-buckets, in order.
    pub fn buckets(&self) -> Buckets<'tx, M> {
        self.iter().buckets()
    }

    /// The first entry (smallest key), as [`Cursor::first`] returns it.
    pub fn first(&self) -> Result<Option<Item<'tx>>> {
        self.cursor().first()
    }

    /// The last entry (largest key), as [`Cursor::last`] returns it.
    pub fn last(&self) -> Result<Option<Item<'tx>>> {
        self.cursor().last()
    }

    /// True if `key` holds a plain value (what [`Bucket::get`] would return); a sub-bucket's
    /// name is `false`, as with `get`.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Calls `f` for every entry in key order (bbolt's `ForEach`).
    pub fn for_each(&self, mut f: impl FnMut(Item<'tx>) -> Result<()>) -> Result<()> {
        for item in self.iter() {
            f(item?)?;
        }
        Ok(())
    }

    /// Calls `f` for every sub-bucket's name in order (bbolt's `ForEachBucket`).
    pub fn for_each_bucket(&self, mut f: impl FnMut(&'tx [u8]) -> Result<()>) -> Result<()> {
        self.for_each(|(k, v)| if v.is_none() { f(k) } else { Ok(()) })
    }
}

/// Writing: only in a write transaction.
impl<'tx> Bucket<'tx, ReadWrite> {
    fn writable_id(&self) -> Result<BucketId> {
        // Not `ok_or`: that builds (and drops) the error on every call of a hot path.
        let Some(id) = self.id() else {
            return Err(Error::TxNotWritable);
        };
        self.check_live()?;
        Ok(id)
    }

    /// Stores `value` under `key`, replacing any value. Both are copied.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.put_bytes(key.as_ref(), value.as_ref())
    }

    fn put_bytes(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let id = self.writable_id()?;
        if key.is_empty() {
            return Err(Error::KeyRequired);
        }
        if key.len() > MAX_KEY_SIZE {
            return Err(Error::KeyTooLarge);
        }
        if value.len() > MAX_VALUE_SIZE {
            return Err(Error::ValueTooLarge);
        }
        let slot = self.tx.view().store(&[key, value]);
        self.tx.wctx().put_entry(
            id,
            slot.sub(0, key.len()),
            0,
            slot.sub(key.len(), value.len()),
        )
    }

    /// Removes `key`. Missing keys are not an error; a sub-bucket is
    /// [`Error::IncompatibleValue`] (use [`Bucket::delete_bucket`]).
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let key = key.as_ref();
        let id = self.writable_id()?;
        self.tx.wctx().delete_value(id, key)
    }

    fn check_name(name: &[u8]) -> Result<()> {
        if name.is_empty() {
            return Err(Error::BucketNameRequired);
        }
        if name.len() > MAX_KEY_SIZE {
            return Err(Error::KeyTooLarge);
        }
        Ok(())
    }

    /// Creates the sub-bucket `name`. [`Error::BucketExists`] if it exists,
    /// [`Error::IncompatibleValue`] if `name` holds a value, [`Error::BucketNestingTooDeep`]
    /// if it would lie deeper than [`crate::MAX_NESTING`].
    pub fn create_bucket(&self, name: impl AsRef<[u8]>) -> Result<Bucket<'tx, ReadWrite>> {
        let name = name.as_ref();
        let id = self.writable_id()?;
        Self::check_name(name)?;
        if self.tx.view().bucket_state(id).depth >= crate::MAX_NESTING {
            return Err(Error::BucketNestingTooDeep);
        }
        match self.lookup(name)? {
            Some(e) if e.flags & BUCKET_LEAF_FLAG != 0 => return Err(Error::BucketExists),
            Some(_) => return Err(Error::IncompatibleValue),
            None => {}
        }
        let value = empty_bucket_value();
        let slot = self.tx.view().store(&[name, &value]);
        self.tx.wctx().put_entry(
            id,
            slot.sub(0, name.len()),
            BUCKET_LEAF_FLAG,
            slot.sub(name.len(), value.len()),
        )?;
        self.bucket(name)?
            .ok_or_else(|| Error::corrupted(None, "bucket vanished after creation"))
    }

    /// Returns the sub-bucket `name`, creating it if needed.
    pub fn create_bucket_if_not_exists(
        &self,
        name: impl AsRef<[u8]>,
    ) -> Result<Bucket<'tx, ReadWrite>> {
        let name = name.as_ref();
        self.writable_id()?;
        Self::check_name(name)?;
        match self.bucket(name)? {
            Some(b) => Ok(b),
            None => self.create_bucket(name),
        }
    }

    /// Deletes the sub-bucket `name` with everything under it; its pages are freed at commit.
    pub fn delete_bucket(&self, name: impl AsRef<[u8]>) -> Result<()> {
        let name = name.as_ref();
        let id = self.writable_id()?;
        Self::check_name(name)?;
        match self.lookup(name)? {
            None => return Err(Error::BucketNotFound),
            Some(e) if e.flags & BUCKET_LEAF_FLAG == 0 => return Err(Error::IncompatibleValue),
            Some(_) => {}
        }
        let child = self
            .bucket(name)?
            .and_then(|b| b.id())
            .ok_or(Error::BucketNotFound)?;
        self.tx.wctx().free_bucket(child)?;
        self.tx.view().wstate_mut().buckets[id]
            .children
            .remove(name);
        self.tx.wctx().delete_entry(id, name)
    }

    /// Sets the sequence counter.
    pub fn set_sequence(&self, v: u64) -> Result<()> {
        let id = self.writable_id()?;
        // A materialised root is what makes commit rewrite the bucket's header.
        self.tx.wctx().ensure_root_node(id)?;
        let mut st = self.tx.view().wstate_mut();
        st.buckets[id].header.sequence = v;
        st.generation += 1;
        Ok(())
    }

    /// Increments the sequence counter and returns the new value (bbolt's `NextSequence`).
    pub fn next_sequence(&self) -> Result<u64> {
        let v = self.sequence().wrapping_add(1);
        self.set_sequence(v)?;
        Ok(v)
    }

    /// Sets the fill percent for the rest of this transaction: from 0.1 to 1.0 (bbolt's
    /// range), anything else is [`Error::InvalidArgument`]. Use 1.0 for append-only loads to
    /// pack pages full.
    pub fn set_fill_percent(&self, f: f64) -> Result<()> {
        let id = self.writable_id()?;
        if !(MIN_FILL_PERCENT..=MAX_FILL_PERCENT).contains(&f) {
            return Err(Error::InvalidArgument(format!(
                "fill percent {f} is outside {MIN_FILL_PERCENT}..={MAX_FILL_PERCENT}"
            )));
        }
        self.tx.view().wstate_mut().buckets[id].fill_percent = f;
        Ok(())
    }

    /// Deletes every plain value whose key falls in `range`, leaving sub-buckets alone, in one
    /// pass; returns how many were deleted.
    pub fn delete_range(&self, range: impl KeyRange) -> Result<u64> {
        let (start, end) = range.key_bounds();
        self.retain_in(start, end, |_, _| false)
    }

    /// Keeps the plain values for which `keep(key, value)` is true and deletes the rest, in one
    /// pass in key order; sub-buckets are neither shown nor touched. Returns how many were
    /// deleted.
    pub fn retain(&self, keep: impl FnMut(&'tx [u8], &'tx [u8]) -> bool) -> Result<u64> {
        self.retain_in(Bound::Unbounded, Bound::Unbounded, keep)
    }

    /// Walks `[start, end]` with one cursor, deleting through it: a write transaction's cursor
    /// picks up after the deleted key, across page boundaries, without collecting keys first.
    fn retain_in(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        mut keep: impl FnMut(&'tx [u8], &'tx [u8]) -> bool,
    ) -> Result<u64> {
        self.writable_id()?;
        let mut c = self.cursor();
        let mut item = match start {
            Bound::Unbounded => c.first()?,
            Bound::Included(k) => c.seek(k)?,
            Bound::Excluded(k) => match c.seek(k)? {
                Some((f, _)) if f == k => c.next()?,
                other => other,
            },
        };
        let mut deleted = 0;
        while let Some((k, v)) = item {
            let inside = match end {
                Bound::Unbounded => true,
                Bound::Included(e) => k <= e,
                Bound::Excluded(e) => k < e,
            };
            if !inside {
                break;
            }
            if let Some(v) = v
                && !keep(k, v)
            {
                c.delete()?;
                deleted += 1;
            }
            item = c.next()?;
        }
        Ok(deleted)
    }
}
