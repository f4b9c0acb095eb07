//! Offline compaction (bbolt's `Compact`): copy every bucket, key and sequence of one database
//! into another, packing pages full. Reclaims the free space a churned file carries inside it,
//! which [shrink](crate::Db::shrink) — cutting only the end — cannot.

use crate::bucket::Bucket;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::tx::{MAX_NESTING, Tx};

/// Copies everything in `src` into `dst` (normally a new, empty database), like bbolt's
/// `Compact`: buckets are recreated with their sequences, and destination buckets use fill
/// percent 1.0, so pages come out full. `tx_max_size` bounds a destination transaction: a
/// commit happens before the keys and values copied in one transaction would pass that many
/// bytes; 0 copies everything in one transaction.
///
/// `src` is read in one read transaction, so the copy is a consistent snapshot even while
/// `src` is being written.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let src = rbolt::Db::open(dir.path().join("src.db"))?;
/// src.update(|tx| {
///     let b = tx.create_bucket(b"b")?;
///     b.set_sequence(7)?;
///     b.put(b"k", b"v")
/// })?;
/// let dst = rbolt::Db::open(dir.path().join("dst.db"))?;
/// rbolt::compact(&dst, &src, 1 << 20)?;
/// dst.view(|tx| {
///     let b = tx.bucket(b"b")?.unwrap();
///     assert_eq!((b.sequence(), b.get(b"k")?), (7, Some(&b"v"[..])));
///     Ok(())
/// })?;
/// # Ok::<(), rbolt::Error>(())
/// ```
pub fn compact(dst: &Db, src: &Db, tx_max_size: u64) -> Result<()> {
    let stx = src.begin_read()?;
    let mut c = Copier {
        dst,
        tx: Some(dst.begin_write()?),
        size: 0,
        max: tx_max_size,
    };
    let mut path = Vec::new();
    let mut top = stx.cursor();
    let mut item = top.first()?;
    while let Some((name, _)) = item {
        let b = stx
            .bucket(name)?
            .ok_or_else(|| Error::corrupted(None, "top-level key is not a bucket"))?;
        c.copy_bucket(&b, name, &mut path)?;
        item = top.next()?;
    }
    c.tx.take().expect("invariant: a tx is open").commit()
}

struct Copier<'a> {
    dst: &'a Db,
    tx: Option<Tx>,
    size: u64,
    max: u64,
}

impl Copier<'_> {
    /// Creates bucket `name` under `path` with `b`'s sequence, then copies its contents.
    fn copy_bucket(&mut self, b: &Bucket<'_>, name: &[u8], path: &mut Vec<Vec<u8>>) -> Result<()> {
        if path.len() >= MAX_NESTING {
            return Err(Error::corrupted(
                None,
                format!("buckets nested deeper than {MAX_NESTING}"),
            ));
        }
        self.emit(path, name, None, b.sequence())?;
        path.push(name.to_vec());
        for item in b.iter() {
            let (k, v) = item?;
            match v {
                Some(v) => self.emit(path, k, Some(v), 0)?,
                None => {
                    let child = b
                        .bucket(k)?
                        .ok_or_else(|| Error::corrupted(None, "sub-bucket vanished"))?;
                    self.copy_bucket(&child, k, path)?;
                }
            }
        }
        path.pop();
        Ok(())
    }

    /// Writes one key (a value, or a bucket with its sequence) under `path`, committing first
    /// if the transaction would grow past the limit.
    fn emit(&mut self, path: &[Vec<u8>], k: &[u8], v: Option<&[u8]>, seq: u64) -> Result<()> {
        let sz = (k.len() + v.map_or(0, <[u8]>::len)) as u64;
        if self.max != 0 && self.size + sz > self.max {
            self.tx.take().expect("invariant: a tx is open").commit()?;
            self.tx = Some(self.dst.begin_write()?);
            self.size = 0;
        }
        self.size += sz;
        let tx = self.tx.as_ref().expect("invariant: a tx is open");
        let Some((first, rest)) = path.split_first() else {
            return tx.create_bucket(k)?.set_sequence(seq);
        };
        let mut b = tx.bucket(first)?.ok_or(Error::BucketNotFound)?;
        for name in rest {
            b = b.bucket(name)?.ok_or(Error::BucketNotFound)?;
        }
        b.set_fill_percent(1.0)?;
        match v {
            Some(v) => b.put(k, v),
            None => b.create_bucket(k)?.set_sequence(seq),
        }
    }
}
