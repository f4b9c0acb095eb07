//! [`Options`]: every setting of a database, with bbolt's names and defaults. The builder
//! ends in [`Options::open`], which lives with [`Db`](crate::Db).

use crate::freelist::FreelistType;
use crate::limits::{DEFAULT_ALLOC_SIZE, DEFAULT_MAX_BATCH_DELAY, DEFAULT_MAX_BATCH_SIZE};
use crate::storage::StorageWrapper;
use std::fmt;
use std::time::Duration;

/// Settings for [`Db`](crate::Db); start from [`Options::new`], end with [`Options::open`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("app.db");
/// use std::time::Duration;
/// let db = rbolt::Options::new().page_size(16384).timeout(Duration::from_secs(1)).open(&path)?;
/// assert_eq!(db.page_size(), 16384);
/// # Ok::<(), rbolt::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "Options is a builder: chain its methods and end with .open(path)"]
pub struct Options {
    pub(crate) page_size: Option<usize>,
    pub(crate) create: bool,
    pub(crate) read_only: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) no_sync: bool,
    pub(crate) no_grow_sync: bool,
    pub(crate) no_freelist_sync: bool,
    pub(crate) mmap_populate: bool,
    pub(crate) max_size: Option<u64>,
    pub(crate) wrap_storage: Option<StorageWrapper>,
    pub(crate) freelist_type: Option<FreelistType>,
    pub(crate) initial_mmap_size: u64,
    pub(crate) pre_load_freelist: bool,
    pub(crate) alloc_size: u64,
    pub(crate) strict_mode: bool,
    pub(crate) shrink: bool,
    pub(crate) max_batch_size: usize,
    pub(crate) max_batch_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            page_size: None,
            create: true,
            read_only: false,
            timeout: None,
            no_sync: false,
            no_grow_sync: false,
            no_freelist_sync: false,
            mmap_populate: false,
            max_size: None,
            wrap_storage: None,
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

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("page_size", &self.page_size)
            .field("create", &self.create)
            .field("read_only", &self.read_only)
            .field("timeout", &self.timeout)
            .field("no_sync", &self.no_sync)
            .field("no_grow_sync", &self.no_grow_sync)
            .field("no_freelist_sync", &self.no_freelist_sync)
            .field("mmap_populate", &self.mmap_populate)
            .field("max_size", &self.max_size)
            .field("freelist_type", &self.freelist_type)
            .field("initial_mmap_size", &self.initial_mmap_size)
            .field("pre_load_freelist", &self.pre_load_freelist)
            .field("alloc_size", &self.alloc_size)
            .field("strict_mode", &self.strict_mode)
            .field("shrink", &self.shrink)
            .field("max_batch_size", &self.max_batch_size)
            .field("max_batch_delay", &self.max_batch_delay)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// Defaults: OS page size for new files, read-write, wait for the lock forever, durable
    /// commits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Page size for a *new* file (a power of two from 1 KiB to 16 MiB). An existing file keeps
    /// the page size it was created with.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = Some(n);
        self
    }

    /// Create the file if it is missing (the default). With `false`, opening a missing file
    /// fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the path
    /// instead of starting an empty database — for tools that must only open existing data.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let err = rbolt::Options::new().create(false).open(dir.path().join("typo.db")).unwrap_err();
    /// assert!(err.to_string().contains("typo.db"));
    /// ```
    pub fn create(mut self, yes: bool) -> Self {
        self.create = yes;
        self
    }

    /// Open read-only: a shared lock, no writes, the file is never created.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    /// Give up with [`Error::Timeout`](crate::Error::Timeout) if the file lock is not free within `d` (retried every
    /// 50 ms). Without a timeout, opening waits as long as another process holds the lock.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Skip both fdatasyncs of a commit. **Unsafe for your data**: a crash can lose or corrupt
    /// committed transactions. For bulk loads you can redo; call [`Db::sync`](crate::Db::sync) when done.
    /// [`Db::set_no_sync`](crate::Db::set_no_sync) changes it on an open database.
    pub fn no_sync(mut self, yes: bool) -> Self {
        self.no_sync = yes;
        self
    }

    /// Skip the fsync after growing the file (bbolt's `NoGrowSync`).
    pub fn no_grow_sync(mut self, yes: bool) -> Self {
        self.no_grow_sync = yes;
        self
    }

    /// Do not write the freelist at commit; it is rebuilt by walking the tree on open.
    pub fn no_freelist_sync(mut self, yes: bool) -> Self {
        self.no_freelist_sync = yes;
        self
    }

    /// Pre-fault the whole map on open and on growth (MAP_POPULATE).
    pub fn mmap_populate(mut self, yes: bool) -> Self {
        self.mmap_populate = yes;
        self
    }

    /// Refuse to grow the database past `bytes`: the commit fails with
    /// [`Error::MaxSizeReached`](crate::Error::MaxSizeReached) and nothing changes.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Routes every write, sync and resize through `f(file_storage)`. For tests that record
    /// writes, simulate crashes or inject I/O errors.
    #[doc(hidden)]
    pub fn wrap_storage(mut self, f: StorageWrapper) -> Self {
        self.wrap_storage = Some(f);
        self
    }

    /// The in-memory freelist structure (bbolt's `FreelistType`), [`FreelistType::Array`] by
    /// default. It decides where new pages go, never the file format.
    pub fn freelist_type(mut self, t: FreelistType) -> Self {
        self.freelist_type = Some(t);
        self
    }

    /// Sets the freelist type only if none was chosen yet (for test harnesses that pick a
    /// default from the environment without overriding a test's choice).
    #[doc(hidden)]
    pub fn default_freelist_type(mut self, t: FreelistType) -> Self {
        self.freelist_type.get_or_insert(t);
        self
    }

    /// Makes a read-write open size the file to at least `bytes` (bbolt's `InitialMmapSize`).
    ///
    /// In bbolt a larger initial map avoids remaps, which block on readers. rbolt never
    /// blocks on readers (each keeps the mapping it began with), so here the option only
    /// pre-allocates the file, and [shrink](Options::shrink) never cuts it below this size.
    /// Ignored for read-only opens.
    pub fn initial_mmap_size(mut self, bytes: u64) -> Self {
        self.initial_mmap_size = bytes;
        self
    }

    /// In read-only mode, load the freelist at open (bbolt's `PreLoadFreelist`), so
    /// [`Db::stats`](crate::Db::stats) reports free pages and [`Tx::page`](crate::Tx::page) can tell free pages
    /// apart. Read-write opens always load it.
    pub fn pre_load_freelist(mut self, yes: bool) -> Self {
        self.pre_load_freelist = yes;
        self
    }

    /// How far past need the file grows once it is over this size (bbolt's `AllocSize`,
    /// 16 MiB by default). Small files double instead.
    pub fn alloc_size(mut self, bytes: u64) -> Self {
        self.alloc_size = bytes.max(1);
        self
    }

    /// Run the consistency check after every commit, after the data pages are written and
    /// before the meta page is (bbolt's `StrictMode`). A problem fails the commit with
    /// [`Error::Corrupted`](crate::Error::Corrupted)(crate::Error::Corrupted) listing what was found, and the database
    /// stays at the previous transaction; bbolt panics instead. Slow: for tests and debugging.
    pub fn strict_mode(mut self, yes: bool) -> Self {
        self.strict_mode = yes;
        self
    }

    /// Give free space at the end of the file back to the file system (on by default).
    ///
    /// At each commit, free pages that end at the high-water mark are dropped from the
    /// freelist and the high-water mark is lowered; the file is then truncated, but never
    /// below what either meta page on disk or any open read transaction can address. See
    /// [`Db::shrink`](crate::Db::shrink) to do it on demand. bbolt never shrinks a file; files stay readable by
    /// bbolt either way.
    pub fn shrink(mut self, yes: bool) -> Self {
        self.shrink = yes;
        self
    }

    /// Most calls [`Db::batch`](crate::Db::batch) coalesces into one transaction (bbolt's `MaxBatchSize`, 1000
    /// by default). 0 or 1 makes every batch call a plain [`Db::update`](crate::Db::update).
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self
    }

    /// How long the first caller of a batch waits for others before the batch runs (bbolt's
    /// `MaxBatchDelay`, 10 ms by default).
    pub fn max_batch_delay(mut self, d: Duration) -> Self {
        self.max_batch_delay = d;
        self
    }

    /// The freelist type the writer uses: the one chosen, else the default.
    pub(crate) fn freelist_kind(&self) -> FreelistType {
        self.freelist_type.unwrap_or_default()
    }
}
