//! Transactions (bbolt's `tx.go`): a [`Snapshot`] pinned by its meta and its mapping, plus, for
//! the one writer, what it stages and the writer state it holds until it ends. Buckets and
//! cursors, the handles a transaction hands out, live here too: each refers to the others.
//!
//! Commit is orchestrated here: the write layer writes the data and the meta; this module
//! publishes the new meta, truncates the file and gives the writer state back.

mod bucket;
mod cursor;

pub use bucket::Bucket;
pub use cursor::{Cursor, Item, Iter};

use crate::counters::{TxCounters, TxStats};
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::read::walk::{CheckError, CheckOptions, check_snapshot};
use crate::read::{Snapshot, View};
use crate::shared::{Shared, WriterLease};
use crate::state::{BucketHandle, Staged};
use crate::write::{ShrinkMode, WriteCtx, WriterData, write_all};
use rbolt_format::{Pgid, Txid};
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::sync::Arc;

type Hook = Box<dyn FnOnce() + Send + 'static>;

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
    pub(crate) snap: Snapshot,
    /// The writer's staged nodes, buckets and bytes; `None` for a reader.
    pub(crate) staged: Option<Staged>,
    /// The writer state, held from begin to end (lent out during commit).
    pub(crate) writer: Option<Box<WriterData>>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) counters: TxCounters,
    on_commit: RefCell<Vec<Hook>>,
    /// `Now` when [`Db::shrink`](crate::Db::shrink) commits this transaction; otherwise the
    /// options decide.
    pub(crate) shrink: Cell<ShrinkMode>,
    /// The snapshot's free ids, sorted, once [`Tx::page`] needed them.
    pub(crate) free_ids: OnceCell<Vec<Pgid>>,
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
    /// A transaction on `snap`; `staged` and `writer` are both present for the writer.
    pub(crate) fn new(
        shared: Arc<Shared>,
        snap: Snapshot,
        staged: Option<Staged>,
        writer: Option<Box<WriterData>>,
    ) -> Self {
        Tx {
            snap,
            staged,
            writer,
            shared,
            counters: TxCounters::default(),
            on_commit: RefCell::new(Vec::new()),
            shrink: Cell::new(ShrinkMode::default()),
            free_ids: OnceCell::new(),
        }
    }

    /// The page-reading view of this transaction.
    #[inline]
    pub(crate) fn view(&self) -> View<'_> {
        View {
            snap: &self.snap,
            w: self.staged.as_ref(),
        }
    }

    /// The tree-changing context of a write transaction.
    #[inline]
    pub(crate) fn wctx(&self) -> WriteCtx<'_> {
        debug_assert!(
            self.staged.is_some(),
            "invariant: only write txs change trees"
        );
        WriteCtx {
            view: self.view(),
            stats: &self.counters,
        }
    }

    /// The writer state of a write transaction.
    pub(crate) fn writer_mut(&mut self) -> &mut WriterData {
        self.writer
            .as_deref_mut()
            .expect("invariant: a write transaction holds the writer data until commit")
    }

    /// The transaction id: the txid of the snapshot for a reader, one more for the writer.
    pub fn id(&self) -> Txid {
        self.snap.meta.txid
    }

    /// True for a write transaction.
    pub fn writable(&self) -> bool {
        self.staged.is_some()
    }

    /// Logical size of the database this transaction sees: high-water mark × page size.
    pub fn size(&self) -> u64 {
        self.snap.meta.pgid.get() * self.snap.page_size as u64
    }

    /// Page size of the database.
    pub fn page_size(&self) -> usize {
        self.snap.page_size
    }

    pub(crate) fn root(&self) -> Bucket<'_> {
        match &self.staged {
            Some(_) => Bucket::new(self, BucketHandle::Write(0)),
            None => Bucket::new(
                self,
                BucketHandle::Read {
                    root: self.snap.meta.root.root,
                    inline: None,
                    seq: self.snap.meta.root.sequence,
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
        self.check_with(&CheckOptions::default())
    }

    /// [`Tx::check`] with options: from one page only, or with keys formatted your way.
    pub fn check_with(&self, opts: &CheckOptions) -> Vec<CheckError> {
        let s = &self.snap;
        check_snapshot(s.map.bytes(), &s.meta, s.page_size, opts, None)
    }

    /// This transaction's counters so far (bbolt's `Tx.Stats`).
    pub fn stats(&self) -> TxStats {
        let mut s = self.counters.get();
        if let Some(w) = &self.staged {
            s.node_count = w.st.borrow().nodes.len() as u64;
        }
        s
    }

    /// Registers `f` to run after this transaction commits successfully, once the write lock
    /// is released (bbolt's `OnCommit`). Handlers run in registration order on the committing
    /// thread; they are dropped unrun if the transaction rolls back or the commit fails.
    /// Registering on a read transaction is allowed; such handlers never run.
    pub fn on_commit(&self, f: impl FnOnce() + Send + 'static) {
        self.on_commit.borrow_mut().push(Box::new(f));
    }

    /// Commits a write transaction: the changes become durable and visible to new
    /// transactions. A read transaction returns [`Error::TxNotWritable`].
    pub fn commit(mut self) -> Result<()> {
        if self.staged.is_none() {
            return Err(Error::TxNotWritable);
        }
        self.commit_inner()?;
        let hooks = std::mem::take(&mut *self.on_commit.borrow_mut());
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
        let mode = match tx.shrink.get() {
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
            Ok(meta) => match shared.publish(meta, writer.file_len) {
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

impl Drop for Tx {
    fn drop(&mut self) {
        self.shared.counters.add_tx(&self.stats());
        match self.staged {
            Some(_) => {
                if let Some(data) = self.writer.take() {
                    self.shared.end_write(data);
                }
            }
            None => self
                .shared
                .end_read(self.snap.meta.txid, self.snap.meta.pgid),
        }
    }
}
