//! Opening a database and handing out transactions (bbolt's `db.go`): file lock, meta
//! selection, the mapping generations, the registry of open readers and the single writer slot.
//!
//! Lock order (the full list is in docs/architecture.md): the writer slot (held for a whole
//! write transaction, as a token) before `state` (held only for a few instructions, never for
//! work that grows with the data). Readers take `state` alone. Nothing blocks on a reader:
//! growth publishes a new generation (the old mapping extended in its reserved address space,
//! see `mmap.rs`) and old generations live on in the transactions that hold them.
//!
//! Poisoning: an I/O error in a commit or in [`Db::sync`], or a panic that unwinds while the
//! writer data is out of both its slot and a transaction ([`WriterLease`]), poisons the
//! database. Every writer, waiting or not, then gets [`Error::Poisoned`] at once.

use crate::commit::grow_target;
use crate::error::{Error, Result};
use crate::freelist::Freelist;
use crate::mmap::Mapping;
use crate::node::{BucketState, WState};
use crate::ops::{OpsShared, OptionsExt, TxExt};
use crate::registry::Registration;
use crate::storage::{FileStorage, Storage, StorageWrapper};
use crate::tx::{Tx, WriteTx};
use rbolt_format::{
    FREELIST_PAGE, MAX_PAGE_SIZE, MIN_PAGE_SIZE, Meta, PGID_NO_FREELIST, PageHeader,
};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a blocked open retries the file lock, as bbolt does.
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// Settings for [`Db`]; start from [`Options::new`], end with [`Options::open`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("app.db");
/// use std::time::Duration;
/// let db = rbolt::Options::new().page_size(16384).timeout(Duration::from_secs(1)).open(&path)?;
/// assert_eq!(db.page_size(), 16384);
/// # Ok::<(), rbolt::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Options {
    page_size: Option<usize>,
    read_only: bool,
    timeout: Option<Duration>,
    no_sync: bool,
    no_grow_sync: bool,
    no_freelist_sync: bool,
    mmap_populate: bool,
    max_size: Option<u64>,
    wrap_storage: Option<StorageWrapper>,
    /// Options of the operational features (see `ops.rs` for their builders).
    pub(crate) ext: OptionsExt,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("page_size", &self.page_size)
            .field("read_only", &self.read_only)
            .field("timeout", &self.timeout)
            .field("no_sync", &self.no_sync)
            .field("no_grow_sync", &self.no_grow_sync)
            .field("no_freelist_sync", &self.no_freelist_sync)
            .field("mmap_populate", &self.mmap_populate)
            .field("max_size", &self.max_size)
            .field("ext", &self.ext)
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

    /// Open read-only: a shared lock, no writes, the file is never created.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    /// Give up with [`Error::Timeout`] if the file lock is not free within `d` (retried every
    /// 50 ms). Without a timeout, opening waits as long as another process holds the lock.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Skip both fdatasyncs of a commit. **Unsafe for your data**: a crash can lose or corrupt
    /// committed transactions. For bulk loads you can redo; call [`Db::sync`] when done.
    /// [`Db::set_no_sync`] changes it on an open database.
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
    /// [`Error::MaxSizeReached`] and nothing changes.
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

    /// Opens (or, unless read-only, creates) the database at `path`.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Db> {
        Db::open_with(path.as_ref(), self)
    }
}

/// State that only the current writer touches, kept between write transactions.
#[derive(Debug)]
pub(crate) struct WriterData {
    pub(crate) freelist: Freelist,
    pub(crate) file_len: u64,
    pub(crate) page_size: usize,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) no_sync: bool,
    pub(crate) no_grow_sync: bool,
    pub(crate) no_freelist_sync: bool,
    pub(crate) max_size: Option<u64>,
    pub(crate) ext: OptionsExt,
    pool: Vec<Vec<u8>>,
}

impl WriterData {
    /// A buffer for `pages` pages; single pages come from a pool (bbolt's `pagePool`) and
    /// hold the bytes of an earlier page: callers clear what they do not overwrite.
    pub(crate) fn page_buf(&mut self, pages: usize) -> Vec<u8> {
        if pages == 1
            && let Some(b) = self.pool.pop()
        {
            return b;
        }
        vec![0u8; pages * self.page_size]
    }

    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if buf.len() == self.page_size && self.pool.len() < 1024 {
            self.pool.push(buf);
        }
    }

    /// Makes the file at least `need` bytes long, growing ahead of need.
    pub(crate) fn grow(&mut self, need: u64) -> Result<()> {
        if need <= self.file_len {
            return Ok(());
        }
        let target = grow_target(need, self.page_size as u64, self.ext.alloc_size);
        let target = match self.max_size {
            Some(max) if target > max => need.max(max.min(target)),
            _ => target,
        };
        self.storage.set_len(target)?;
        if !self.no_grow_sync {
            self.storage.sync_all()?;
        }
        self.file_len = target;
        Ok(())
    }
}

/// The writer data while it is out of both its slot and a transaction (in `begin_write` and
/// in `commit`). Dropped still holding the data — which only a panic unwinding through that
/// code does — it poisons the database: the panic may have left the freelist or the file half
/// changed, and without it every later `begin_write` would wait for a writer that never
/// returns.
pub(crate) struct WriterLease<'a> {
    shared: &'a Shared,
    data: Option<Box<WriterData>>,
}

impl<'a> WriterLease<'a> {
    pub(crate) fn new(shared: &'a Shared, data: Box<WriterData>) -> Self {
        Self {
            shared,
            data: Some(data),
        }
    }

    /// Ends the lease: the caller puts the data back into a transaction.
    pub(crate) fn into_inner(mut self) -> Box<WriterData> {
        self.data
            .take()
            .expect("invariant: a lease holds its data until it ends")
    }
}

impl std::ops::Deref for WriterLease<'_> {
    type Target = WriterData;
    fn deref(&self) -> &WriterData {
        self.data
            .as_deref()
            .expect("invariant: a lease holds its data until it ends")
    }
}

impl std::ops::DerefMut for WriterLease<'_> {
    fn deref_mut(&mut self) -> &mut WriterData {
        self.data
            .as_deref_mut()
            .expect("invariant: a lease holds its data until it ends")
    }
}

impl Drop for WriterLease<'_> {
    fn drop(&mut self) {
        if self.data.is_some() {
            self.shared.poison();
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) meta: Meta,
    pub(crate) map: Arc<Mapping>,
    /// txid → number of open read transactions on that snapshot.
    pub(crate) readers: BTreeMap<u64, usize>,
    /// High-water mark (meta.pgid) → number of open read transactions whose snapshot has it:
    /// the file is never truncated below the largest (see `shrink.rs`).
    pub(crate) reader_hwms: BTreeMap<u64, usize>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    path: PathBuf,
    pub(crate) file: Arc<File>,
    pub(crate) page_size: usize,
    pub(crate) read_only: bool,
    pub(crate) state: Mutex<State>,
    writer: Mutex<Option<Box<WriterData>>>,
    writer_free: Condvar,
    /// Set (under the `writer` lock, see [`Shared::poison`]) when this handle no longer knows
    /// the state of the file.
    poisoned: AtomicBool,
    /// The user's no-sync setting ([`Db::set_no_sync`]), copied into the writer data at the
    /// start of each write transaction.
    pub(crate) no_sync: AtomicBool,
    /// [`Options::no_grow_sync`], restored at the start of each write transaction (compaction
    /// relaxes it for its own transactions only).
    no_grow_sync: bool,
    pub(crate) populate: bool,
    pub(crate) ops: OpsShared,
    /// Last, so that it goes after every field that keeps the file (and its lock) open.
    _registration: Registration,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind (no invariant spans the
    // critical sections), so recovering the guard is sound.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Refuses all further writes through this handle, and wakes every writer waiting for the
    /// slot so that it sees the poison instead of waiting for data that may never return.
    /// Takes the `writer` lock: a writer tests the flag under it before it waits, so it cannot
    /// miss the wake-up.
    pub(crate) fn poison(&self) {
        let _slot = lock(&self.writer);
        self.poisoned.store(true, Ordering::Release);
        self.writer_free.notify_all();
    }

    pub(crate) fn end_read(&self, txid: u64, hwm: u64) {
        let mut st = lock(&self.state);
        if let Some(n) = st.readers.get_mut(&txid) {
            *n -= 1;
            if *n == 0 {
                st.readers.remove(&txid);
            }
        }
        if let Some(n) = st.reader_hwms.get_mut(&hwm) {
            *n -= 1;
            if *n == 0 {
                st.reader_hwms.remove(&hwm);
            }
        }
        drop(st);
        self.ops.counters.end_read();
    }

    pub(crate) fn end_write(&self, data: Box<WriterData>) {
        self.ops.counters.note_freelist(&data.freelist);
        *lock(&self.writer) = Some(data);
        self.writer_free.notify_one();
    }

    /// Makes a committed meta the one new transactions see, mapping the grown file first.
    pub(crate) fn publish(&self, meta: Meta, file_len: u64) -> Result<()> {
        let needed = meta.pgid * self.page_size as u64;
        let current = lock(&self.state).map.clone();
        let map = if current.len() < needed {
            let map = Arc::new(current.grown(&self.file, file_len.max(needed), self.populate)?);
            self.ops.register_map(&map);
            map
        } else {
            current
        };
        let mut st = lock(&self.state);
        st.meta = meta;
        st.map = map;
        Ok(())
    }
}

/// An open database. Share it between threads by reference or in an `Arc`; it is `Send` and
/// `Sync`. Any number of read transactions may run at once, and one write transaction.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// let db = rbolt::Db::open(dir.path().join("app.db"))?;
/// db.update(|tx| {
///     tx.create_bucket_if_not_exists(b"users")?.put(b"alice", b"1")
/// })?;
/// let v = db.view(|tx| {
///     let users = tx.bucket(b"users")?.ok_or(rbolt::Error::BucketNotFound)?;
///     Ok(users.get(b"alice")?.map(<[u8]>::to_vec))
/// })?;
/// assert_eq!(v.as_deref(), Some(&b"1"[..]));
/// # Ok::<(), rbolt::Error>(())
/// ```
#[derive(Debug)]
pub struct Db {
    pub(crate) shared: Arc<Shared>,
}

impl Db {
    /// Opens the database at `path` with default [`Options`], creating it if missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Db> {
        Options::new().open(path)
    }

    fn open_with(path: &Path, opts: Options) -> Result<Db> {
        let file = OpenOptions::new()
            .read(true)
            .write(!opts.read_only)
            .create(!opts.read_only)
            .truncate(false)
            .open(path)?;
        // Before the lock: a second open from this process would wait on its own lock.
        let registration = Registration::new(&file, opts.read_only)?;
        lock_file(&file, opts.read_only, opts.timeout)?;
        let file = Arc::new(file);
        let mut storage: Box<dyn Storage> = Box::new(FileStorage::new(file.clone()));
        if let Some(wrap) = &opts.wrap_storage {
            storage = wrap(storage);
        }
        let storage: Arc<dyn Storage> = Arc::from(storage);

        let mut len = file.metadata()?.len();
        let new_ps = opts.page_size.unwrap_or_else(rustix::param::page_size);
        if len == 0 || (!opts.read_only && never_initialised(&file, len, new_ps)?) {
            if opts.read_only {
                return Err(Error::Invalid);
            }
            let ps = new_ps;
            if !ps.is_power_of_two() || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&ps) {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("page size {ps} is not a power of two from 1 KiB to 16 MiB"),
                )));
            }
            init_file(storage.as_ref(), ps)?;
            sync_parent_dir(path)?;
            len = 4 * ps as u64;
        }
        let page_size = detect_page_size(&file, len)?;
        if !opts.read_only && len < opts.ext.initial_mmap_size {
            // bbolt maps ahead of the file; rbolt maps exactly the file, so it sizes the file.
            len = opts.ext.initial_mmap_size.div_ceil(page_size as u64) * page_size as u64;
            storage.set_len(len)?;
        }
        let map = if opts.read_only {
            Mapping::new(&file, len, opts.mmap_populate)?
        } else {
            Mapping::growable(&file, len, opts.mmap_populate)?
        };
        let meta = choose_meta(map.bytes(), page_size, len)?;

        let mut shared = Shared {
            path: path.to_path_buf(),
            file: file.clone(),
            page_size,
            read_only: opts.read_only,
            state: Mutex::new(State {
                meta,
                map: Arc::new(map),
                readers: BTreeMap::new(),
                reader_hwms: BTreeMap::new(),
            }),
            writer: Mutex::new(None),
            writer_free: Condvar::new(),
            poisoned: AtomicBool::new(false),
            no_sync: AtomicBool::new(opts.no_sync),
            no_grow_sync: opts.no_grow_sync,
            populate: opts.mmap_populate,
            ops: OpsShared::new(opts.ext, (!opts.read_only).then(|| storage.clone())),
            _registration: registration,
        };
        let mut persist_freelist = false;
        if opts.read_only && opts.ext.pre_load_freelist {
            let st = lock(&shared.state);
            let freelist = load_freelist(&st.map, &st.meta, page_size, opts.ext)?;
            shared.ops.counters.note_freelist(&freelist);
        }
        if !opts.read_only {
            let freelist = {
                let st = lock(&shared.state);
                load_freelist(&st.map, &st.meta, page_size, opts.ext)?
            };
            shared.ops.counters.note_freelist(&freelist);
            persist_freelist = meta.freelist == PGID_NO_FREELIST && !opts.no_freelist_sync;
            shared.writer = Mutex::new(Some(Box::new(WriterData {
                freelist,
                file_len: len,
                page_size,
                storage,
                no_sync: opts.no_sync,
                no_grow_sync: opts.no_grow_sync,
                no_freelist_sync: opts.no_freelist_sync,
                max_size: opts.max_size,
                ext: opts.ext,
                pool: Vec::new(),
            })));
        }
        shared.ops.register_map(&lock(&shared.state).map);
        let db = Db {
            shared: Arc::new(shared),
        };
        if persist_freelist {
            // Like bbolt: write a freelist now so that readers unaware of the sentinel (and
            // our own next open) need not rebuild it.
            db.begin_write()?.commit()?;
        }
        Ok(db)
    }

    /// Starts a read transaction on the latest committed snapshot. It never waits for the
    /// writer, and the writer never waits for it.
    pub fn begin_read(&self) -> Result<Tx> {
        let (meta, map) = {
            let mut st = lock(&self.shared.state);
            let (meta, map) = (st.meta, st.map.clone());
            *st.readers.entry(meta.txid).or_insert(0) += 1;
            *st.reader_hwms.entry(meta.pgid).or_insert(0) += 1;
            (meta, map)
        };
        self.shared.ops.counters.begin_read();
        Ok(Tx {
            shared: self.shared.clone(),
            map,
            meta,
            page_size: self.shared.page_size,
            w: None,
            ext: TxExt::default(),
        })
    }

    /// Starts the write transaction, waiting while another one is open.
    pub fn begin_write(&self) -> Result<Tx> {
        if self.shared.read_only {
            return Err(Error::DatabaseReadOnly);
        }
        let data = {
            let mut slot = lock(&self.shared.writer);
            loop {
                // Tested under the slot's lock, where `poison` sets it: a writer waiting here
                // when a commit fails or panics wakes up to the error.
                if self.shared.is_poisoned() {
                    return Err(Error::Poisoned);
                }
                if let Some(d) = slot.take() {
                    break d;
                }
                slot = self
                    .shared
                    .writer_free
                    .wait(slot)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        let mut data = WriterLease::new(&self.shared, data);
        data.no_sync = self.shared.no_sync.load(Ordering::Relaxed);
        data.no_grow_sync = self.shared.no_grow_sync;
        let (mut meta, map, readers) = {
            let st = lock(&self.shared.state);
            let readers: Vec<u64> = st.readers.keys().copied().collect();
            (st.meta, st.map.clone(), readers)
        };
        // Releasing is O(pending pages): done outside the lock every reader's begin and end
        // takes. A reader that begins meanwhile has the latest txid, which no pending page is
        // hidden from (each was freed by a commit at or below it), so the copy is enough.
        data.freelist.release(&readers);
        meta.txid += 1;
        let mut ws = WState::default();
        ws.buckets.push(BucketState::new(meta.root, None, 0));
        Ok(Tx {
            shared: self.shared.clone(),
            map,
            meta,
            page_size: self.shared.page_size,
            w: Some(WriteTx {
                st: RefCell::new(ws),
                arena: crate::mmap::ByteArena::new(),
                writer: Some(data.into_inner()),
            }),
            ext: TxExt::default(),
        })
    }

    /// Runs `f` in a read transaction.
    pub fn view<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let tx = self.begin_read()?;
        f(&tx)
    }

    /// Runs `f` in a write transaction: commits if it returns `Ok`, rolls back on `Err` (or
    /// on panic) and returns that error.
    pub fn update<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let tx = self.begin_write()?;
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    }

    /// The path the database was opened with.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The page size of the file.
    pub fn page_size(&self) -> usize {
        self.shared.page_size
    }

    /// True if opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.shared.read_only
    }

    /// Closes the database. Transactions still open keep the file (and its lock) until they
    /// end.
    pub fn close(self) {}
}

fn lock_file(file: &File, shared: bool, timeout: Option<Duration>) -> Result<()> {
    let start = Instant::now();
    loop {
        let r = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match r {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        if let Some(t) = timeout
            && start.elapsed() + LOCK_RETRY > t
        {
            return Err(Error::Timeout);
        }
        std::thread::sleep(LOCK_RETRY);
    }
}

/// Writes a new database with the same bytes as bbolt's `DB.init`: metas at txid 0 and 1, an
/// empty freelist at page 2 and an empty root leaf at page 3.
///
/// Unlike bbolt (one write, one sync; etcd-io/etcd#16596), pages 2–3 are made durable before
/// the metas are written, so a power cut during creation leaves either no valid meta (the
/// open fails with `Invalid`) or metas whose pages are all on disk — never a file that opens
/// and then turns out corrupt.
fn init_file(storage: &dyn Storage, ps: usize) -> Result<()> {
    let mut buf = vec![0u8; 4 * ps];
    for i in 0..2u64 {
        Meta::new(ps as u32, 3, 2, 4, i).encode_page(i, &mut buf[i as usize * ps..]);
    }
    PageHeader {
        id: 2,
        flags: FREELIST_PAGE,
        count: 0,
        overflow: 0,
    }
    .encode(&mut buf[2 * ps..]);
    PageHeader {
        id: 3,
        flags: rbolt_format::LEAF_PAGE,
        count: 0,
        overflow: 0,
    }
    .encode(&mut buf[3 * ps..]);
    storage.write_at(&buf[2 * ps..], 2 * ps as u64)?;
    storage.sync_all()?;
    // Meta 1 (txid 1, the state every later commit builds on) first: a creation cut short
    // after it still opens at txid 1; one cut short before it is re-initialised on open.
    storage.write_at(&buf[ps..2 * ps], ps as u64)?;
    storage.write_at(&buf[..ps], 0)?;
    storage.sync_all()?;
    Ok(())
}

/// Makes a new file's directory entry durable: without it a power cut can leave the
/// directory without the file even though its data was synced (bbolt does not do this).
fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// True for a file whose creation failed before any meta reached it: no larger than a fresh
/// database and with an all-zero meta area. Nothing in it was ever acknowledged, so it is
/// initialised again rather than refused.
fn never_initialised(file: &File, len: u64, ps: usize) -> Result<bool> {
    if len > 4 * ps as u64 {
        return Ok(false);
    }
    let n = len.min(2 * ps as u64) as usize;
    let mut head = vec![0u8; n];
    file.read_exact_at(&mut head, 0)?;
    Ok(head.iter().all(|&b| b == 0))
}

/// Finds the page size: from meta 0 if it validates, else from the first valid meta at a
/// power-of-two offset from 1 KiB to 16 MiB (bbolt's `getPageSize`). A meta only counts if
/// its stored page size equals the offset it was found at.
fn detect_page_size(file: &File, len: u64) -> Result<usize> {
    let mut buf = vec![0u8; 4096];
    let read = |buf: &mut [u8], off: u64| -> io::Result<usize> {
        let n = (len.saturating_sub(off)).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], off)?;
        Ok(n)
    };
    let n = read(&mut buf, 0)?;
    let first_err = match Meta::decode(&buf[..n]) {
        Ok(m) if valid_page_size(m.page_size) => return Ok(m.page_size as usize),
        Ok(_) => Error::Invalid,
        Err(e) => e.into(),
    };
    let mut off = MIN_PAGE_SIZE as u64;
    while off <= MAX_PAGE_SIZE as u64 && off + 80 <= len {
        let n = read(&mut buf, off)?;
        if let Ok(m) = Meta::decode(&buf[..n])
            && u64::from(m.page_size) == off
        {
            return Ok(off as usize);
        }
        off <<= 1;
    }
    Err(first_err)
}

fn valid_page_size(ps: u32) -> bool {
    ps.is_power_of_two() && (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&(ps as usize))
}

/// Picks the valid meta with the higher txid (meta 0 on ties). A meta whose fields point
/// outside the file is treated as invalid, so a commit whose file growth was lost in a crash
/// falls back to the previous one. With both invalid, meta 0's error is returned, as in bbolt.
fn choose_meta(map: &[u8], ps: usize, len: u64) -> Result<Meta> {
    let check = |i: usize| -> Result<Meta> {
        let page = map.get(i * ps..).ok_or(Error::Invalid)?;
        let m = if crate::defects::active("ignore-checksum") {
            Meta::decode_unverified(page)?
        } else {
            Meta::decode(page)?
        };
        // root in [2, pgid) already implies pgid >= 3: metas + root, the smallest file
        // without a freelist page (what shrink leaves of an empty no-freelist database).
        let hwm_ok = m.pgid.checked_mul(ps as u64).is_some_and(|b| b <= len);
        let root_ok = m.root.root >= 2 && m.root.root < m.pgid;
        let fl_ok = m.freelist == PGID_NO_FREELIST || (m.freelist >= 2 && m.freelist < m.pgid);
        if m.page_size as usize != ps || !hwm_ok || !root_ok || !fl_ok || m.txid == u64::MAX {
            return Err(Error::Invalid);
        }
        Ok(m)
    };
    match (check(0), check(1)) {
        (Ok(a), Ok(b)) => Ok(if b.txid > a.txid { b } else { a }),
        (Ok(a), Err(_)) => Ok(a),
        (Err(_), Ok(b)) => Ok(b),
        (Err(e), Err(_)) => Err(e),
    }
}

/// The free set the writer starts from: the freelist page's list (or, for files written
/// without one, every page the tree does not reach), verified against the tree so that no
/// page a reader can reach is ever handed to the writer.
fn load_freelist(map: &Arc<Mapping>, meta: &Meta, ps: usize, ext: OptionsExt) -> Result<Freelist> {
    let ids = crate::check::writer_free_set(map.bytes(), meta, ps)?;
    Freelist::from_ids_typed(ids, meta.pgid, ext.freelist_type())
        .map_err(|e| Error::corrupted(meta.freelist, e))
}
