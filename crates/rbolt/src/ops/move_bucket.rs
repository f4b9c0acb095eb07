//! Moving a sub-bucket to another parent without copying it (bbolt 1.4's `MoveBucket`): the
//! bucket's key leaves the source's leaf and its value — the 16-byte header, plus the page image
//! if inline — is inserted under the destination. No page of the moved tree is touched.

use crate::error::{Error, Result};
use crate::state::BucketId;
use crate::tx::{Bucket, ReadWrite, Tx};
use rbolt_format::BUCKET_LEAF_FLAG;

impl<'tx> Bucket<'tx, ReadWrite> {
    /// Moves the sub-bucket `key` (with everything in it) from this bucket into `dst`
    /// (bbolt's `Bucket.MoveBucket`).
    ///
    /// Errors, as in bbolt (a read transaction's buckets have no `move_bucket`):
    /// [`Error::DifferentDb`] if `dst` belongs to another transaction,
    /// [`Error::BucketNotFound`] if `key` is missing (or a bucket involved was deleted),
    /// [`Error::IncompatibleValue`] if `key` holds a value, [`Error::SameBuckets`] if `dst` is
    /// this bucket, [`Error::BucketExists`] if `dst` already has a bucket `key`
    /// ([`Error::IncompatibleValue`] if a value). Past bbolt, moving a bucket into itself or
    /// one of its own sub-buckets — which would detach it from the tree — is refused with
    /// [`Error::IncompatibleValue`], and so is a move that would nest buckets deeper than
    /// [`crate::MAX_NESTING`] ([`Error::BucketNestingTooDeep`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = rbolt::Db::open(dir.path().join("m.db"))?;
    /// db.update(|tx| {
    ///     let src = tx.create_bucket(b"src")?;
    ///     src.create_bucket(b"child")?.put(b"k", b"v")?;
    ///     let dst = tx.create_bucket(b"dst")?;
    ///     src.move_bucket(b"child", &dst)?;
    ///     assert!(src.bucket(b"child")?.is_none());
    ///     assert_eq!(dst.bucket(b"child")?.unwrap().get(b"k")?, Some(&b"v"[..]));
    ///     Ok(())
    /// })?;
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn move_bucket(&self, key: impl AsRef<[u8]>, dst: &Bucket<'_, ReadWrite>) -> Result<()> {
        let key = key.as_ref();
        let (Some(src_id), Some(dst_id)) = (self.id(), dst.id()) else {
            return Err(Error::TxNotWritable);
        };
        let tx = self.tx();
        if !std::ptr::eq(tx, dst.tx()) {
            return Err(Error::DifferentDb);
        }
        self.check_live()?;
        dst.check_live()?;
        let entry = self.lookup(key)?.ok_or(Error::BucketNotFound)?;
        if entry.flags & BUCKET_LEAF_FLAG == 0 {
            return Err(Error::IncompatibleValue);
        }
        if src_id == dst_id {
            return Err(Error::SameBuckets);
        }
        if let Some(e) = dst.lookup(key)? {
            return Err(if e.flags & BUCKET_LEAF_FLAG != 0 {
                Error::BucketExists
            } else {
                Error::IncompatibleValue
            });
        }
        let child = tx.view().bucket_state(src_id).children.get(key).copied();
        if let Some(c) = child
            && contains_bucket(tx, c, dst_id)
        {
            return Err(Error::IncompatibleValue);
        }
        let (from, to) = (
            tx.view().bucket_state(src_id).depth,
            tx.view().bucket_state(dst_id).depth,
        );
        if to > from {
            let moved = self.bucket(key)?.ok_or(Error::BucketNotFound)?;
            let room = crate::MAX_NESTING
                .checked_sub(to + 1)
                .ok_or(Error::BucketNestingTooDeep)?;
            if nesting_below(&moved, room)? > room {
                return Err(Error::BucketNestingTooDeep);
            }
        }
        // The value's bytes live as long as the transaction; the key is copied.
        let value = entry.value_slot;
        let key_slot = tx.view().store(&[key]);
        tx.wctx().delete_entry(src_id, key)?;
        {
            let mut st = tx.view().wstate_mut();
            if let Some(c) = st.buckets[src_id].children.remove(key) {
                st.buckets[dst_id].children.insert(key.to_vec(), c);
                // Opened buckets under the moved one now lie `to - from` levels deeper.
                let mut stack = vec![c];
                while let Some(x) = stack.pop() {
                    let b = &mut st.buckets[x];
                    b.depth = b.depth + to - from;
                    stack.extend(b.children.values().copied());
                }
            }
        }
        // An opened child is rewritten under its new parent at commit, from its own state.
        tx.wctx()
            .put_entry(dst_id, key_slot, BUCKET_LEAF_FLAG, value)
    }
}

/// How many levels of sub-buckets lie below `b` (0 if none), counting no further than
/// `limit + 1`: enough to tell a move that would nest too deep. Buckets wait on an explicit
/// stack, so the walk costs heap, not call stack.
fn nesting_below(b: &Bucket<'_, ReadWrite>, limit: usize) -> Result<usize> {
    let mut deepest = 0;
    let mut stack = vec![(*b, 0usize)];
    while let Some((b, level)) = stack.pop() {
        deepest = deepest.max(level);
        if deepest > limit {
            break;
        }
        for item in b.iter() {
            if let (k, None) = item? {
                let child = b
                    .bucket(k)?
                    .ok_or_else(|| Error::corrupted(None, "sub-bucket vanished"))?;
                stack.push((child, level + 1));
            }
        }
    }
    Ok(deepest)
}

/// True if bucket `target` is `b` or lies below it among the buckets opened in this
/// transaction (a handle to a bucket below `b` can only exist if `b` was opened).
fn contains_bucket(tx: &Tx<ReadWrite>, b: BucketId, target: BucketId) -> bool {
    let mut stack = vec![b];
    while let Some(x) = stack.pop() {
        if x == target {
            return true;
        }
        stack.extend(tx.view().bucket_state(x).children.values().copied());
    }
    false
}

impl Tx<ReadWrite> {
    /// Moves the bucket `key` from `src` to `dst`, where `None` means the top level (bbolt's
    /// `Tx.MoveBucket`). See [`Bucket::move_bucket`] for the errors.
    pub fn move_bucket(
        &self,
        key: &[u8],
        src: Option<&Bucket<'_, ReadWrite>>,
        dst: Option<&Bucket<'_, ReadWrite>>,
    ) -> Result<()> {
        let root = self.root();
        let src = src.copied().unwrap_or(root);
        let dst = dst.copied().unwrap_or(root);
        src.move_bucket(key, &dst)
    }
}
