//! Offline compaction (bbolt's `Compact`): copy every bucket, key and sequence of one database
//! into another, packing pages full. Reclaims the free space a churned file carries inside it,
//! which [shrink](crate::Db::shrink) — cutting only the end — cannot.

use crate::db::Db;
use crate::error::{Error, Result};
use crate::limits::check_nesting;
use crate::tx::{Bucket, Cursor, Item, ReadWrite, Tx};
use crate::write::WriterData;

/// Copies everything in `src` into `dst` (normally a new, empty database), like bbolt's
/// `Compact`: buckets are recreated with their sequences, and destination buckets use fill
/// percent 1.0, so pages come out full. `tx_max_size` bounds a destination transaction: a
/// commit happens before the keys and values copied in one transaction would pass that many
/// bytes; 0 copies everything in one transaction.
///
/// `src` is read in one read transaction, so the copy is a consistent snapshot even while
/// `src` is being written.
///
/// When it returns, `dst`'s file is no longer than its data needs: the last commit cuts the
/// growth slack off the end, as [`Db::shrink`] would.
///
/// # Durability
///
/// If `dst` holds no bucket when compaction starts, the intermediate commits are not synced
/// to disk (nor is the file's growth); only the last commit is, and it makes the whole copy
/// durable at once (with `dst`'s own [`no_sync`](crate::Options::no_sync) setting). Those
/// syncs are most of the time a compaction takes, and an empty destination has nothing a
/// crash could lose. The kernel is asked to start writing the copy to disk as it grows, so
/// the last sync waits only for the tail. But a crash *before `compact` returns* can then leave `dst` unreadable
/// rather than partly copied, so treat the file as usable only after `compact` returned `Ok`
/// (bbolt's CLI compacts into a new file and only then uses it). Commits that other threads
/// make to `dst` meanwhile keep `dst`'s own settings: every write transaction starts with
/// them. A destination that already holds buckets is written with a durable commit each time,
/// as bbolt does.
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
    let mut tx = dst.begin_write()?;
    let durable = Durability::of(tx.writer_mut());
    let fresh = tx.cursor().first()?.is_none();
    if fresh {
        Durability::RELAXED.set(tx.writer_mut());
    }
    let mut c = Copier {
        dst,
        tx: Some(tx),
        size: 0,
        max: tx_max_size,
        relaxed: fresh,
    };
    let copied = c.copy_all(&stx);
    // Whatever happened, the writer leaves with the caller's durability settings.
    match c.tx.take() {
        Some(mut tx) => {
            durable.set(tx.writer_mut());
            copied?;
            tx.shrink_now();
            tx.commit()
        }
        None => {
            // A commit or begin failed. A failed commit poisons the Db (begin then fails and
            // reopening resets the settings); otherwise put them back.
            if fresh && let Ok(mut tx) = dst.begin_write() {
                durable.set(tx.writer_mut());
            }
            copied
        }
    }
}

/// The sync settings of a writer.
#[derive(Clone, Copy)]
struct Durability {
    no_sync: bool,
    no_grow_sync: bool,
    sync_later: bool,
}

impl Durability {
    /// For the intermediate commits into a fresh destination: no sync, but the last commit's
    /// sync will write all they wrote, so write-back starts as they go and overlaps the copy.
    const RELAXED: Durability = Durability {
        no_sync: true,
        no_grow_sync: true,
        sync_later: true,
    };

    fn of(w: &WriterData) -> Self {
        Durability {
            no_sync: w.no_sync,
            no_grow_sync: w.no_grow_sync,
            sync_later: w.sync_later,
        }
    }

    fn set(self, w: &mut WriterData) {
        w.no_sync = self.no_sync;
        w.no_grow_sync = self.no_grow_sync;
        w.sync_later = self.sync_later;
    }
}

struct Copier<'a> {
    dst: &'a Db,
    tx: Option<Tx<ReadWrite>>,
    size: u64,
    max: u64,
    /// Intermediate commits skip syncs (a fresh destination).
    relaxed: bool,
}

impl Copier<'_> {
    /// Copies every bucket, depth first in key order. Open source buckets wait on an
    /// explicit stack (one cursor each), so nesting depth costs heap, not call stack.
    fn copy_all(&mut self, stx: &Tx) -> Result<()> {
        let mut path: Vec<Vec<u8>> = Vec::new();
        let mut top = stx.cursor();
        let mut item = top.first()?;
        while let Some((name, _)) = item {
            let b = stx
                .bucket(name)?
                .ok_or_else(|| Error::corrupted(None, "top-level key is not a bucket"))?;
            self.create_bucket(&b, name, &path)?;
            path.push(name.to_vec());
            let mut stack = vec![(b, b.cursor(), true)];
            while let Some((b, cur, fresh)) = stack.last_mut() {
                let mut item = if *fresh { cur.first()? } else { cur.next()? };
                *fresh = false;
                if let Some((k, Some(v))) = item {
                    item = self.copy_values(cur, (k, Some(v)), &path)?;
                }
                let Some((k, _)) = item else {
                    stack.pop();
                    path.pop();
                    continue;
                };
                let child = b
                    .bucket(k)?
                    .ok_or_else(|| Error::corrupted(None, "sub-bucket vanished"))?;
                check_nesting(path.len() + 1)?;
                self.create_bucket(&child, k, &path)?;
                path.push(k.to_vec());
                stack.push((child, child.cursor(), true));
            }
            item = top.next()?;
        }
        Ok(())
    }

    /// Creates bucket `name` under `path` with `b`'s sequence.
    fn create_bucket(&mut self, b: &Bucket<'_>, name: &[u8], path: &[Vec<u8>]) -> Result<()> {
        self.make_room(name.len() as u64)?;
        self.size += name.len() as u64;
        let tx = self.tx.as_ref().expect("invariant: a tx is open");
        match dst_bucket(tx, path)? {
            None => tx.create_bucket(name)?.set_sequence(b.sequence())?,
            Some(parent) => {
                parent.set_fill_percent(1.0)?;
                parent.create_bucket(name)?.set_sequence(b.sequence())?;
            }
        }
        Ok(())
    }

    /// Copies the run of plain values that starts at `first` into the bucket at `path`,
    /// looking that bucket up once per destination transaction rather than once per key.
    /// Returns the first item that is not a value (a sub-bucket, or the end).
    fn copy_values<'s>(
        &mut self,
        cur: &mut Cursor<'s>,
        first: Item<'s>,
        path: &[Vec<u8>],
    ) -> Result<Option<Item<'s>>> {
        let mut item = Some(first);
        loop {
            let Some((k, Some(v))) = item else {
                return Ok(item);
            };
            self.make_room((k.len() + v.len()) as u64)?;
            let tx = self.tx.as_ref().expect("invariant: a tx is open");
            let b = dst_bucket(tx, path)?.ok_or(Error::BucketNotFound)?;
            b.set_fill_percent(1.0)?;
            while let Some((k, Some(v))) = item {
                let sz = (k.len() + v.len()) as u64;
                if self.full(sz) {
                    break; // commit, then carry on with a fresh handle
                }
                self.size += sz;
                b.put(k, v)?;
                item = cur.next()?;
            }
        }
    }

    /// Whether adding `sz` bytes would take the open transaction past the limit (an empty
    /// transaction always takes the next key, however large).
    fn full(&self, sz: u64) -> bool {
        self.max != 0 && self.size > 0 && self.size + sz > self.max
    }

    /// Commits first if `sz` more bytes would not fit in the open transaction.
    fn make_room(&mut self, sz: u64) -> Result<()> {
        if !self.full(sz) {
            return Ok(());
        }
        self.tx.take().expect("invariant: a tx is open").commit()?;
        let mut tx = self.dst.begin_write()?;
        if self.relaxed {
            // `commit` returned the writer data with the settings it had; keep them relaxed
            // even if another thread's transaction came in between.
            Durability::RELAXED.set(tx.writer_mut());
        }
        self.tx = Some(tx);
        self.size = 0;
        Ok(())
    }
}

/// The destination bucket at `path`, `None` for the empty path (the top level).
fn dst_bucket<'t>(
    tx: &'t Tx<ReadWrite>,
    path: &[Vec<u8>],
) -> Result<Option<Bucket<'t, ReadWrite>>> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(None);
    };
    let mut b = tx.bucket(first)?.ok_or(Error::BucketNotFound)?;
    for name in rest {
        b = b.bucket(name)?.ok_or(Error::BucketNotFound)?;
    }
    Ok(Some(b))
}
