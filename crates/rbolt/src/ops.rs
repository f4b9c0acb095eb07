//! Operational plumbing shared by the features of bbolt's "production" surface: the option
//! values only they read, the per-database state they keep (statistics, the batcher, a handle
//! for [`Db::sync`]) and the per-transaction extras (counters, commit hooks).
//!
//! Kept apart from `db.rs`/`tx.rs` so that those hold one field each for all of it.

use crate::batch::Batcher;
use crate::db::{Db, Options};
use crate::error::Result;
use crate::freelist::FreelistType;
use crate::mmap::Mapping;
use crate::shrink::ShrinkMode;
use crate::stats::{DbCounters, TxCounters};
use crate::storage::Storage;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// bbolt's `DefaultMaxBatchSize`.
pub(crate) const DEFAULT_MAX_BATCH_SIZE: usize = 1000;
/// bbolt's `DefaultMaxBatchDelay`.
pub(crate) const DEFAULT_MAX_BATCH_DELAY: Duration = Duration::from_millis(10);
/// bbolt's `DefaultAllocSize`: how far past need the file grows once it is large.
pub(crate) const DEFAULT_ALLOC_SIZE: u64 = 16 << 20;

/// The options of [`Options`] that only the operational features read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct OptionsExt {
    pub(crate) freelist_type: Option<FreelistType>,
    pub(crate) initial_mmap_size: u64,
    pub(crate) pre_load_freelist: bool,
    pub(crate) alloc_size: u64,
    pub(crate) strict_mode: bool,
    pub(crate) shrink: bool,
    pub(crate) max_batch_size: usize,
    pub(crate) max_batch_delay: Duration,
}

impl Default for OptionsExt {
    fn default() -> Self {
        Self {
            freelist_type: None,
            initial_mmap_size: 0,
            pre_load_freelist: false,
            alloc_size: DEFAULT_ALLOC_SIZE,
            strict_mode: false,
            shrink: true,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            max_batch_delay: DEFAULT_MAX_BATCH_DELAY,
        }
    }
}

impl OptionsExt {
    pub(crate) fn freelist_type(&self) -> FreelistType {
        self.freelist_type.unwrap_or_default()
    }
}

impl Options {
    /// The in-memory freelist structure (bbolt's `FreelistType`), [`FreelistType::Array`] by
    /// default. It decides where new pages go, never the file format.
    pub fn freelist_type(mut self, t: FreelistType) -> Self {
        self.ext.freelist_type = Some(t);
        self
    }

    /// Sets the freelist type only if none was chosen yet (for test harnesses that pick a
    /// default from the environment without overriding a test's choice).
    #[doc(hidden)]
    pub fn default_freelist_type(mut self, t: FreelistType) -> Self {
        self.ext.freelist_type.get_or_insert(t);
        self
    }

    /// Makes a read-write open size the file to at least `bytes` (bbolt's `InitialMmapSize`).
    ///
    /// In bbolt a larger initial map avoids remaps, which block on readers. rbolt never
    /// blocks on readers (each keeps the mapping it began with), so here the option only
    /// pre-allocates the file, and [shrink](Options::shrink) never cuts it below this size.
    /// Ignored for read-only opens.
    pub fn initial_mmap_size(mut self, bytes: u64) -> Self {
        self.ext.initial_mmap_size = bytes;
        self
    }

    /// In read-only mode, load the freelist at open (bbolt's `PreLoadFreelist`), so
    /// [`Db::stats`] reports free pages and [`Tx::page`](crate::Tx::page) can tell free pages
    /// apart. Read-write opens always load it.
    pub fn pre_load_freelist(mut self, yes: bool) -> Self {
        self.ext.pre_load_freelist = yes;
        self
    }

    /// How far past need the file grows once it is over this size (bbolt's `AllocSize`,
    /// 16 MiB by default). Small files double instead.
    pub fn alloc_size(mut self, bytes: u64) -> Self {
        self.ext.alloc_size = bytes.max(1);
        self
    }

    /// Run the consistency check after every commit, after the data pages are written and
    /// before the meta page is (bbolt's `StrictMode`). A problem fails the commit with
    /// [`Error::Corrupted`](crate::Error::Corrupted) listing what was found, and the database
    /// stays at the previous transaction; bbolt panics instead. Slow: for tests and debugging.
    pub fn strict_mode(mut self, yes: bool) -> Self {
        self.ext.strict_mode = yes;
        self
    }

    /// Give free space at the end of the file back to the file system (on by default).
    ///
    /// At each commit, free pages that end at the high-water mark are dropped from the
    /// freelist and the high-water mark is lowered; the file is then truncated, but never
    /// below what either meta page on disk or any open read transaction can address. See
    /// [`Db::shrink`] to do it on demand. bbolt never shrinks a file; files stay readable by
    /// bbolt either way.
    pub fn shrink(mut self, yes: bool) -> Self {
        self.ext.shrink = yes;
        self
    }

    /// Most calls [`Db::batch`] coalesces into one transaction (bbolt's `MaxBatchSize`, 1000
    /// by default). 0 or 1 makes every batch call a plain [`Db::update`].
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.ext.max_batch_size = n;
        self
    }

    /// How long the first caller of a batch waits for others before the batch runs (bbolt's
    /// `MaxBatchDelay`, 10 ms by default).
    pub fn max_batch_delay(mut self, d: Duration) -> Self {
        self.ext.max_batch_delay = d;
        self
    }
}

/// Per-database operational state, one field of `Shared`.
pub(crate) struct OpsShared {
    pub(crate) opts: OptionsExt,
    pub(crate) counters: DbCounters,
    pub(crate) batcher: Batcher,
    /// The writer's storage, for [`Db::sync`] outside a write transaction.
    pub(crate) storage: Option<Arc<dyn Storage>>,
    /// Every mapping generation handed to transactions, weakly: the file is never truncated
    /// below a live one (`shrink.rs`, `mmap.rs` point 4).
    pub(crate) generations: std::sync::Mutex<Vec<std::sync::Weak<Mapping>>>,
}

impl fmt::Debug for OpsShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpsShared")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl OpsShared {
    pub(crate) fn new(opts: OptionsExt, storage: Option<Arc<dyn Storage>>) -> Self {
        Self {
            opts,
            counters: DbCounters::default(),
            batcher: Batcher::default(),
            storage,
            generations: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Records a new mapping generation (and forgets dead ones).
    pub(crate) fn register_map(&self, map: &Arc<Mapping>) {
        let mut g = crate::db::lock(&self.generations);
        g.retain(|w| w.strong_count() > 0);
        g.push(Arc::downgrade(map));
    }

    /// Length of the longest mapping generation still alive.
    pub(crate) fn live_map_len(&self) -> u64 {
        let mut g = crate::db::lock(&self.generations);
        g.retain(|w| w.strong_count() > 0);
        g.iter()
            .filter_map(std::sync::Weak::upgrade)
            .map(|m| m.len())
            .max()
            .unwrap_or(0)
    }
}

type Hook = Box<dyn FnOnce() + Send + 'static>;

/// Per-transaction extras, one field of `Tx`.
#[derive(Default)]
pub(crate) struct TxExt {
    pub(crate) stats: TxCounters,
    pub(crate) on_commit: RefCell<Vec<Hook>>,
    /// `Now` when [`Db::shrink`] commits this transaction; otherwise the options decide.
    pub(crate) shrink: Cell<ShrinkMode>,
    /// The snapshot's free ids, sorted, once [`Tx::page`](crate::Tx::page) needed them.
    pub(crate) free_ids: std::cell::OnceCell<Vec<u64>>,
}

impl fmt::Debug for TxExt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxExt")
            .field("stats", &self.stats)
            .field("on_commit", &self.on_commit.borrow().len())
            .finish()
    }
}

impl crate::tx::Tx {
    /// Registers `f` to run after this transaction commits successfully, once the write lock
    /// is released (bbolt's `OnCommit`). Handlers run in registration order on the committing
    /// thread; they are dropped unrun if the transaction rolls back or the commit fails.
    /// Registering on a read transaction is allowed; such handlers never run.
    pub fn on_commit(&self, f: impl FnOnce() + Send + 'static) {
        self.ext.on_commit.borrow_mut().push(Box::new(f));
    }

    pub(crate) fn take_commit_hooks(&self) -> Vec<Hook> {
        std::mem::take(&mut *self.ext.on_commit.borrow_mut())
    }
}

impl Db {
    /// Flushes the file to stable storage (fdatasync), for use with
    /// [`Options::no_sync`]: commits made since then become durable (bbolt's `Sync`).
    /// Does not wait for a write transaction. A read-only database returns `Ok`.
    ///
    /// A failed sync poisons the database, as a failed commit sync does: the kernel may have
    /// dropped the pages it could not write and report the next sync as a success, so
    /// writes — and this call — return [`Error::Poisoned`](crate::Error::Poisoned) until the
    /// database is reopened.
    pub fn sync(&self) -> Result<()> {
        let Some(s) = &self.shared.ops.storage else {
            return Ok(());
        };
        if self.shared.is_poisoned() {
            return Err(crate::Error::Poisoned);
        }
        // A sync that panics has an unknown outcome too: poison, then let the panic go on.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.sync_data()))
            .unwrap_or_else(|p| {
                self.shared.poison();
                std::panic::resume_unwind(p)
            });
        r.map_err(|e| {
            self.shared.poison();
            e.into()
        })
    }

    /// Turns the fdatasyncs of commits off or on while the database is open (bbolt's
    /// `DB.NoSync` field; [`Options::no_sync`] sets it at open, with the same warning).
    /// Write transactions that begin after the call use the new setting; one already running
    /// keeps the setting it began with. Turning syncs back on does not sync by itself: the
    /// next durable commit (or [`Db::sync`]) makes the earlier no-sync commits durable with
    /// it, since fdatasync flushes the whole file.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = rbolt::Db::open(dir.path().join("load.db"))?;
    /// db.set_no_sync(true);
    /// for i in 0u32..100 {
    ///     db.update(|tx| tx.create_bucket_if_not_exists(b"b")?.put(&i.to_be_bytes(), b"v"))?;
    /// }
    /// db.set_no_sync(false);
    /// db.sync()?;
    /// assert!(!db.no_sync());
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn set_no_sync(&self, yes: bool) {
        self.shared
            .no_sync
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether commits currently skip their fdatasyncs ([`Db::set_no_sync`]).
    pub fn no_sync(&self) -> bool {
        self.shared
            .no_sync
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Strict mode: checks the tree `meta` describes as written to the file, before the meta is.
/// The file may have grown past the transaction's mapping, so it is mapped afresh.
pub(crate) fn strict_check(
    tx: &crate::tx::Tx,
    w: &crate::db::WriterData,
    meta: &rbolt_format::Meta,
) -> Result<()> {
    let map = crate::mmap::Mapping::new(&tx.shared.file, w.file_len, false)?;
    let free = (meta.freelist == rbolt_format::PGID_NO_FREELIST).then(|| w.freelist.sorted_ids());
    let errors = crate::check::check_snapshot(
        map.bytes(),
        meta,
        tx.page_size,
        &crate::check::CheckOptions::default(),
        free.as_deref(),
    );
    if errors.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = errors.iter().take(10).map(ToString::to_string).collect();
    Err(crate::error::Error::corrupted(
        None,
        format!(
            "strict mode: commit {} would leave {} problem(s): {}",
            meta.txid,
            errors.len(),
            shown.join("; ")
        ),
    ))
}
