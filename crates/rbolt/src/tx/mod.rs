//! Transactions (bbolt's `tx.go`): a [`Snapshot`] pinned by its meta and its mapping, plus, for
//! the one writer, what it stages and the writer state it holds until it ends. The mode type
//! parameter keeps the two apart at compile time: a reader holds nothing but its snapshot (so it
//! is `Sync`), and writing methods exist only on `ReadWrite` handles. Buckets and cursors, the
//! handles a transaction hands out, live here too: each refers to the others.
//!
//! Commit is orchestrated here: the write layer writes the data and the meta; this module
//! publishes the new meta, truncates the file and gives the writer state back.

mod bucket;
mod cursor;
mod entries;

pub use bucket::Bucket;
pub use cursor::{Cursor, Item, Iter};
pub use entries::{Buckets, Entries, Entry, Keys, Pairs};

use crate::counters::{TxCounters, TxStats};
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::read::walk::{CheckError, CheckOptions, check_snapshot};
use crate::read::{Snapshot, View};
use crate::shared::{Shared, WriterLease};
use crate::state::{BucketHandle, Staged};
use crate::write::{ShrinkMode, WriteCtx, WriterData, write_all};
use rbolt_format::{Pgid, Txid};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

type Hook = Box<dyn FnOnce() + Send + 'static>;

mod sealed {
    pub trait Sealed {}
}

/// What kind of transaction a [`Tx`] is: [`ReadOnly`] or [`ReadWrite`].
///
/// Code that only reads works with both when written over the mode:
///
/// ```
/// use rbolt::{Mode, Tx};
/// fn users(tx: &Tx<impl Mode>) -> rbolt::Result<usize> {
///     Ok(tx.open_bucket("users")?.iter().count())
/// }
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = rbolt::Db::open(dir.path().join("m.db"))?;
/// let n = db.update(|tx| {
///     tx.create_bucket("users")?.put("alice", "1")?;
///     users(tx) // sees the write staged above
/// })?;
/// assert_eq!(n, 1);
/// assert_eq!(db.view(|tx| users(tx))?, 1);
/// # Ok::<(), rbolt::Error>(())
/// ```
pub trait Mode: sealed::Sealed + fmt::Debug + Sized + 'static {
    /// The write transaction's staged state; `None` for a reader.
    #[doc(hidden)]
    fn staged(&self) -> Option<&Staged>;

    /// The counters only a writer bumps.
    #[doc(hidden)]
    fn write_stats(&self) -> TxStats;
}

/// The mode of a read transaction: a snapshot that can be shared between threads.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ReadOnly;

/// The mode of the write transaction: what it stages until commit.
pub struct ReadWrite {
    staged: Staged,
    counters: TxCounters,
    on_commit: RefCell<Vec<Hook>>,
    /// `Now` when [`Db::shrink`](crate::Db::shrink) commits this transaction; otherwise the
    /// options decide.
    shrink: Cell<ShrinkMode>,
}

impl fmt::Debug for ReadWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadWrite").finish_non_exhaustive()
    }
}

impl sealed::Sealed for ReadOnly {}
impl sealed::Sealed for ReadWrite {}

impl Mode for ReadOnly {
    #[inline(always)]
    fn staged(&self) -> Option<&Staged> {
        None
    }

    fn write_stats(&self) -> TxStats {
        TxStats::default()
    }
}

impl Mode for ReadWrite {
    #[inline(always)]
    fn staged(&self) -> Option<&Staged> {
        Some(&self.staged)
    }

    fn write_stats(&self) -> TxStats {
        let mut s = self.counters.get();
        s.node_count = self.staged.st.borrow().nodes.len() as u64;
        s
    }
}

/// A transaction: a consistent snapshot for reading and, for a `Tx<ReadWrite>`, the place
/// where changes are staged until [`commit`](Tx::commit).
///
/// A read transaction ([`Db::begin_read`](crate::Db::begin_read), [`Db::view`](crate::Db::view))
/// is `Send + Sync`: one snapshot can be read from many threads at once. The write transaction
/// ([`Db::begin_write`](crate::Db::begin_write), [`Db::update`](crate::Db::update)) stays on one
/// thread at a time. Functions that only read take `&Tx<impl Mode>` and accept both.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = rbolt::Db::open(dir.path().join("s.db"))?;
/// db.update(|tx| {
///     let b = tx.create_bucket("n")?;
///     (0..100u32).try_for_each(|i| b.put(i.to_be_bytes(), "x"))
/// })?;
/// let tx = db.begin_read()?;
/// let counts: Vec<usize> = std::thread::scope(|s| {
///     let workers: Vec<_> = (0..4)
///         .map(|_| s.spawn(|| tx.open_bucket("n").map(|b| b.iter().count())))
///         .collect();
///     workers.into_iter().map(|w| w.join().unwrap()).collect::<rbolt::Result<_>>()
/// })?;
/// assert_eq!(counts, [100; 4]);
/// # Ok::<(), rbolt::Error>(())
/// ```
///
/// Dropping a transaction without committing rolls it back. Values, buckets and cursors
/// borrow from the transaction, so the compiler ensures none outlives it:
///
/// ```compile_fail,E0597
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// let v = {
///     let tx = db.begin_read().unwrap();
///     let b = tx.bucket(b"b").unwrap().unwrap();
///     b.get(b"k").unwrap().unwrap() // error: `tx` does not live long enough
/// };
/// ```
///
/// ```compile_fail,E0505
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// let tx = db.begin_write().unwrap();
/// let b = tx.create_bucket(b"b").unwrap();
/// tx.commit().unwrap(); // error: cannot move out of `tx` because it is borrowed
/// b.put(b"k", b"v").unwrap();
/// ```
///
/// ```compile_fail,E0597
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// let mut c = {
///     let tx = db.begin_read().unwrap();
///     tx.cursor() // error: `tx` does not live long enough
/// };
/// ```
///
/// Writing through a read transaction does not compile:
///
/// ```compile_fail,E0599
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// let tx = db.begin_read().unwrap();
/// tx.open_bucket(b"b").unwrap().put(b"k", b"v").unwrap(); // error: no method `put`
/// ```
///
/// ```compile_fail,E0599
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// db.view(|tx| tx.create_bucket(b"b").map(|_| ())).unwrap(); // error: no method `create_bucket`
/// ```
///
/// ```compile_fail,E0599
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// db.begin_read().unwrap().commit().unwrap(); // error: no method `commit`
/// ```
///
/// ```compile_fail,E0599
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// db.view(|tx| tx.open_bucket(b"b")?.cursor().delete()).unwrap(); // error: no method `delete`
/// ```
///
/// And the write transaction cannot be shared between threads:
///
/// ```compile_fail,E0277
/// let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("x.db")).unwrap();
/// let tx = db.begin_write().unwrap();
/// std::thread::scope(|s| {
///     s.spawn(|| tx.bucket(b"b").map(|_| ())); // error: `Tx<ReadWrite>` is not `Sync`
/// });
/// ```
pub struct Tx<M: Mode = ReadOnly> {
    /// Before `shared`: fields drop in order, and the file must be unmapped (a mapping keeps
    /// the file's lock) before `Shared` releases the file's registration.
    pub(crate) snap: Snapshot,
    mode: M,
    /// The writer state, held from begin to end (lent out during commit); `None` for a reader.
    pub(crate) writer: Option<Box<WriterData>>,
    pub(crate) shared: Arc<Shared>,
    /// Cursors created: the one counter a reader bumps, so readers sharing a snapshot count
    /// without a lock.
    cursors: AtomicU64,
    /// The snapshot's free ids, sorted, once [`Tx::page`] needed them.
    pub(crate) free_ids: OnceLock<Vec<Pgid>>,
}

impl<M: Mode> fmt::Debug for Tx<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("id", &self.id())
            .field("writable", &self.writable())
            .finish()
    }
}

impl Tx<ReadOnly> {
    /// A read transaction on `snap`.
    pub(crate) fn reader(shared: Arc<Shared>, snap: Snapshot) -> Self {
        Tx::with_mode(shared, snap, ReadOnly, None)
    }
}

impl Tx<ReadWrite> {
    /// The write transaction on `snap`, holding the writer state until it ends.
    pub(crate) fn writer(
        shared: Arc<Shared>,
        snap: Snapshot,
        staged: Staged,
        writer: Box<WriterData>,
    ) -> Self {
        let mode = ReadWrite {
            staged,
            counters: TxCounters::default(),
            on_commit: RefCell::new(Vec::new()),
            shrink: Cell::new(ShrinkMode::default()),
        };
        Tx::with_mode(shared, snap, mode, Some(writer))
    }
}

impl<M: Mode> Tx<M> {
    fn with_mode(
        shared: Arc<Shared>,
        snap: Snapshot,
        mode: M,
        writer: Option<Box<WriterData>>,
    ) -> Self {
        Tx {
            snap,
            mode,
            writer,
            shared,
            cursors: AtomicU64::new(0),
            free_ids: OnceLock::new(),
        }
    }

    /// The page-reading view of this transaction.
    #[inline]
    pub(crate) fn view(&self) -> View<'_> {
        View {
            snap: &self.snap,
            w: self.mode.staged(),
        }
    }

    /// Counts a new cursor. A relaxed add: sharing threads need no ordering, only the count.
    pub(crate) fn note_cursor(&self) {
        self.cursors.fetch_add(1, Relaxed);
    }

    /// The transaction id: the txid of the snapshot for a reader, one more for the writer.
    pub fn id(&self) -> Txid {
        self.snap.meta.txid
    }

    /// True for a write transaction.
    pub fn writable(&self) -> bool {
        self.mode.staged().is_some()
    }

    /// Logical size of the database this transaction sees: high-water mark × page size.
    pub fn size(&self) -> u64 {
        self.snap.meta.pgid.get() * self.snap.page_size as u64
    }

    /// Page size of the database.
    pub fn page_size(&self) -> usize {
        self.snap.page_size
    }

    pub(crate) fn root(&self) -> Bucket<'_, M> {
        match self.mode.staged() {
            Some(_) => Bucket::new(self, BucketHandle::Write(0)),
            None => Bucket::new(
                self,
                BucketHandle::Read {
                    root: self.snap.meta.root.root,
                    span: self.view().page_slot(self.snap.meta.root.root).ok(),
                    seq: self.snap.meta.root.sequence,
                    depth: 0,
                },
            ),
        }
    }

    /// The top-level bucket `name`, or `None` if there is none.
    pub fn bucket(&self, name: impl AsRef<[u8]>) -> Result<Option<Bucket<'_, M>>> {
        match Bucket::carried(self, name.as_ref()) {
            Some(b) => Ok(Some(b)),
            None => self.root().bucket(name),
        }
    }

    /// The top-level bucket `name`; [`Error::BucketNotFound`] if there is none.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = rbolt::Db::open(dir.path().join("o.db"))?;
    /// db.update(|tx| tx.create_bucket("users")?.put("alice", "1"))?;
    /// let v = db.view(|tx| Ok(tx.open_bucket("users")?.get("alice")?.map(<[u8]>::to_vec)))?;
    /// assert_eq!(v.as_deref(), Some(&b"1"[..]));
    /// assert!(matches!(db.view(|tx| tx.open_bucket("nope").map(|_| ())), Err(rbolt::Error::BucketNotFound)));
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn open_bucket(&self, name: impl AsRef<[u8]>) -> Result<Bucket<'_, M>> {
        match Bucket::carried(self, name.as_ref()) {
            Some(b) => Ok(b),
            None => self.root().open_bucket(name),
        }
    }

    /// The top-level bucket names, in order.
    pub fn buckets(&self) -> Buckets<'_, M> {
        self.root().buckets()
    }

    /// A cursor over the top-level bucket names (values are reported as buckets).
    pub fn cursor(&self) -> Cursor<'_, M> {
        self.root().cursor()
    }

    /// Calls `f` with each top-level bucket's name and handle, in name order.
    pub fn for_each_bucket(
        &self,
        mut f: impl FnMut(&[u8], Bucket<'_, M>) -> Result<()>,
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
        self.check_with(&CheckOptions::default())
    }

    /// [`Tx::check`] with options: from one page only, or with keys formatted your way.
    pub fn check_with(&self, opts: &CheckOptions) -> Vec<CheckError> {
        let s = &self.snap;
        check_snapshot(s.map.bytes(), &s.meta, s.page_size, opts, None)
    }

    /// This transaction's counters so far (bbolt's `Tx.Stats`).
    pub fn stats(&self) -> TxStats {
        let mut s = self.mode.write_stats();
        s.cursor_count = s.cursor_count.saturating_add(self.cursors.load(Relaxed));
        s
    }

    /// Ends the transaction, discarding any changes.
    pub fn rollback(self) {
        drop(self);
    }
}

impl Tx<ReadWrite> {
    /// The tree-changing context of the write transaction.
    #[inline]
    pub(crate) fn wctx(&self) -> WriteCtx<'_> {
        WriteCtx {
            view: self.view(),
            stats: &self.mode.counters,
        }
    }

    /// The writer state.
    pub(crate) fn writer_mut(&mut self) -> &mut WriterData {
        self.writer
            .as_deref_mut()
            .expect("invariant: a write transaction holds the writer data until commit")
    }

    /// Makes the commit give the file's free tail back now, whatever the options say.
    pub(crate) fn shrink_now(&self) {
        self.mode.shrink.set(ShrinkMode::Now);
    }

    /// Creates a top-level bucket. Fails with [`Error::BucketExists`] if it exists.
    pub fn create_bucket(&self, name: impl AsRef<[u8]>) -> Result<Bucket<'_, ReadWrite>> {
        self.root().create_bucket(name)
    }

    /// Creates a top-level bucket unless it exists, and returns it.
    pub fn create_bucket_if_not_exists(
        &self,
        name: impl AsRef<[u8]>,
    ) -> Result<Bucket<'_, ReadWrite>> {
        self.root().create_bucket_if_not_exists(name)
    }

    /// Deletes a top-level bucket and everything in it, freeing its pages.
    pub fn delete_bucket(&self, name: impl AsRef<[u8]>) -> Result<()> {
        self.root().delete_bucket(name)
    }

    /// Registers `f` to run after this transaction commits successfully, once the write lock
    /// is released (bbolt's `OnCommit`). Handlers run in registration order on the committing
    /// thread; they are dropped unrun if the transaction rolls back or the commit fails.
    pub fn on_commit(&self, f: impl FnOnce() + Send + 'static) {
        self.mode.on_commit.borrow_mut().push(Box::new(f));
    }

    /// Commits the transaction: the changes become durable and visible to new transactions.
    pub fn commit(mut self) -> Result<()> {
        self.commit_inner()?;
        let hooks = std::mem::take(&mut *self.mode.on_commit.borrow_mut());
        drop(self); // releases the writer before the hooks run, as bbolt does
        for hook in hooks {
            hook();
        }
        Ok(())
    }

    /// Writes the data and the meta (the write layer), then publishes the new meta to new
    /// transactions and cuts the end of the file.
    fn commit_inner(&mut self) -> Result<()> {
        let tx = self;
        let shared = tx.shared.clone();
        if shared.is_poisoned() {
            return Err(Error::Poisoned);
        }
        let txid = tx.snap.meta.txid;
        // Leased: a panic from here until the data is back in the transaction poisons the
        // database instead of losing the writer state (which would wedge every later writer).
        let mut writer = WriterLease::new(
            &shared,
            tx.writer
                .take()
                .expect("invariant: writer data present until commit"),
        );
        writer.freelist.begin_commit(txid);
        let mode = match tx.mode.shrink.get() {
            ShrinkMode::Now => ShrinkMode::Now,
            _ if writer.shrink => ShrinkMode::Auto,
            _ => ShrinkMode::Off,
        };
        let result = write_all(&tx.wctx(), &mut writer, mode);
        match &result {
            Ok(_) => writer.freelist.end_commit(),
            Err(e) => {
                writer.freelist.rollback_commit();
                if matches!(e, Error::Io(_)) {
                    shared.poison();
                }
            }
        }
        let published = match result {
            Ok((meta, buckets)) => match shared.publish(meta, writer.file_len, buckets) {
                Ok(()) => {
                    // The transaction reads nothing more; its mapping must not hold the file long.
                    tx.snap.map = Arc::new(Mapping::empty());
                    shared.truncate_after_commit(&mut writer, meta.pgid, tx.snap.meta.pgid, mode);
                    Ok(())
                }
                Err(e) => {
                    // The meta is durable but this process could not map it: only a reopen can
                    // recover. (A commit that failed before its meta, e.g. on `MaxSizeReached` or
                    // in strict mode, left the file as it was and need not poison anything.)
                    shared.poison();
                    Err(e)
                }
            },
            Err(e) => Err(e),
        };
        tx.writer = Some(writer.into_inner());
        published
    }
}

impl<M: Mode> Drop for Tx<M> {
    fn drop(&mut self) {
        match self.mode.staged() {
            Some(_) => {
                self.shared.counters.add_tx(&self.stats());
                if let Some(data) = self.writer.take() {
                    self.shared.end_write(data);
                }
            }
            // Cursors are all a reader counts: its end stays a few instructions.
            None => self
                .shared
                .end_read(self.snap.meta.txid, self.cursors.load(Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync>() {}
    fn sendable<T: Send>() {}

    #[test]
    fn read_handles_are_send_and_sync_and_the_writer_is_send() {
        shareable::<Tx>();
        shareable::<Bucket<'static>>();
        shareable::<Cursor<'static>>();
        shareable::<Iter<'static>>();
        sendable::<Tx<ReadWrite>>();
    }
}
