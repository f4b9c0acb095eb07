//! Opening a database and handing out transactions (bbolt's `db.go`): file lock, meta
//! selection, the free set the writer starts from, and the begin and end of transactions.
//! What all handles share lives in `shared.rs`.

use crate::batch::Batcher;
use crate::counters::DbCounters;
use crate::error::{Error, Result};
use crate::freelist::{Freelist, FreelistType};
use crate::mmap::{ByteArena, Mapping};
use crate::options::Options;
use crate::read::Snapshot;
use crate::read::counts::{RecentCounts, SubtreeCounts};
use crate::read::recent_buckets::RecentBuckets;
use crate::read::walk::writer_free_set;
use crate::registry::Registration;
use crate::shared::{OpenSnapshots, Shared, State, WriterLease};
use crate::state::{BucketState, Staged, WState};
use crate::storage::{FileStorage, Storage};
use crate::sync::lock;
use crate::tx::{ReadWrite, Tx};
use crate::write::WriterData;
use rbolt_format::{
    FREELIST_PAGE, MAX_PAGE_SIZE, MIN_PAGE_SIZE, Meta, PGID_NO_FREELIST, PageHeader, Pgid, Txid,
};
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often a blocked open retries the file lock, as bbolt does.
const LOCK_RETRY: Duration = Duration::from_millis(50);

impl Options {
    /// Opens the database at `path`, creating it unless read-only or
    /// [`create(false)`](Options::create).
    pub fn open(self, path: impl AsRef<Path>) -> Result<Db> {
        Db::open_with(path.as_ref(), self)
    }
}

/// An open database. It is `Send`, `Sync` and cheap to [`Clone`]: clones share the open file,
/// its lock, its writer and its batches, so hand one to each thread or task instead of wrapping
/// it in an `Arc`. Any number of read transactions may run at once, and one write transaction.
///
/// The file is closed (and its lock released) when the last clone *and* the last transaction
/// begun from any of them are gone; [`Db::close`] just drops one handle.
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
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) shared: Arc<Shared>,
    batcher: Arc<Batcher>,
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
            .create(!opts.read_only && opts.create)
            .truncate(false)
            .open(path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound if !opts.create && !opts.read_only => {
                    Error::InvalidArgument(format!(
                        "{}: no database file there, and Options::create(false) forbids \
                         creating one",
                        path.display()
                    ))
                }
                _ => Error::Io(e),
            })?;
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
                return Err(Error::InvalidArgument(format!(
                    "page size {ps} is not a power of two from 1 KiB to 16 MiB"
                )));
            }
            init_file(storage.as_ref(), ps)?;
            sync_parent_dir(path)?;
            len = 4 * ps as u64;
        }
        let page_size = detect_page_size(&file, len)?;
        if !opts.read_only && len < opts.initial_mmap_size {
            // bbolt maps ahead of the file; rbolt maps exactly the file, so it sizes the file.
            len = opts.initial_mmap_size.div_ceil(page_size as u64) * page_size as u64;
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
                readers: OpenSnapshots::new(),
                recent: RecentCounts::default(),
                buckets: RecentBuckets::default(),
            }),
            writer: Mutex::new(None),
            writer_free: Condvar::new(),
            poisoned: AtomicBool::new(false),
            no_sync: AtomicBool::new(opts.no_sync),
            no_grow_sync: opts.no_grow_sync,
            populate: opts.mmap_populate,
            freelist_type: opts.freelist_kind(),
            counters: DbCounters::default(),
            storage: (!opts.read_only).then(|| storage.clone()),
            generations: Mutex::new(Vec::new()),
            counts: Arc::new(SubtreeCounts::default()),
            _registration: registration,
        };
        let mut persist_freelist = false;
        if opts.read_only && opts.pre_load_freelist {
            let st = lock(&shared.state);
            let freelist = load_freelist(&st.map, &st.meta, page_size, opts.freelist_kind())?;
            shared.counters.note_freelist(&freelist);
        }
        if !opts.read_only {
            let freelist = {
                let st = lock(&shared.state);
                load_freelist(&st.map, &st.meta, page_size, opts.freelist_kind())?
            };
            shared.counters.note_freelist(&freelist);
            persist_freelist = meta.freelist == PGID_NO_FREELIST && !opts.no_freelist_sync;
            shared.writer = Mutex::new(Some(Box::new(WriterData::new(
                freelist,
                len,
                page_size,
                storage,
                file.clone(),
                shared.counts.clone(),
                &opts,
            ))));
        }
        shared.register_map(&lock(&shared.state).map);
        let db = Db {
            shared: Arc::new(shared),
            batcher: Arc::new(Batcher::new(opts.max_batch_size, opts.max_batch_delay)),
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
        let (meta, map, recent, buckets) = {
            let mut st = lock(&self.shared.state);
            let (meta, map) = (st.meta, st.map.clone());
            st.readers.add(meta.txid, meta.pgid);
            (meta, map, st.recent, st.buckets)
        };
        self.shared.counters.begin_read();
        let snap = Snapshot {
            map,
            meta,
            page_size: self.shared.page_size,
            recent,
            buckets,
        };
        Ok(Tx::reader(self.shared.clone(), snap))
    }

    /// Starts the write transaction, waiting while another one is open.
    pub fn begin_write(&self) -> Result<Tx<ReadWrite>> {
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
        data.sync_later = false;
        let (mut meta, map, readers, buckets) = {
            let st = lock(&self.shared.state);
            let readers: Vec<Txid> = st.readers.txids().collect();
            (st.meta, st.map.clone(), readers, st.buckets)
        };
        // Releasing is O(pending pages): done outside the lock every reader's begin and end
        // takes. A reader that begins meanwhile has the latest txid, which no pending page is
        // hidden from (each was freed by a commit at or below it), so the copy is enough.
        data.freelist.release(&readers);
        meta.txid = meta.txid.next();
        let mut ws = WState::default();
        ws.buckets.push(BucketState::new(meta.root, None, 0));
        let snap = Snapshot {
            map,
            meta,
            page_size: self.shared.page_size,
            recent: RecentCounts::default(),
            buckets,
        };
        let staged = Staged {
            st: RefCell::new(ws),
            arena: ByteArena::new(),
        };
        Ok(Tx::writer(
            self.shared.clone(),
            snap,
            staged,
            data.into_inner(),
        ))
    }

    /// Runs `f` in a read transaction. For a closure with an error type of your own, see
    /// [`Db::try_view`].
    pub fn view<T>(&self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        self.try_view(f)
    }

    /// Runs `f` in a write transaction: commits if it returns `Ok`, rolls back on `Err` (or
    /// on panic) and returns that error. For a closure with an error type of your own, see
    /// [`Db::try_update`].
    pub fn update<T>(&self, f: impl FnOnce(&Tx<ReadWrite>) -> Result<T>) -> Result<T> {
        self.try_update(f)
    }

    /// [`Db::view`] for a closure that returns your own error type `E` (anything rbolt's
    /// [`Error`] converts into, so `?` works on rbolt calls inside): Go's `View` returns
    /// whatever error the function returned, and so does this.
    pub fn try_view<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&Tx) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self.begin_read()?;
        f(&tx)
    }

    /// [`Db::update`] for a closure that returns your own error type `E`: an `Err` of yours
    /// rolls the transaction back and comes back unchanged; rbolt's errors (from `?` inside,
    /// from beginning or committing) arrive converted by `E::from`.
    ///
    /// ```
    /// #[derive(Debug)]
    /// enum AppError { Db(rbolt::Error), Overdrawn }
    /// impl From<rbolt::Error> for AppError {
    ///     fn from(e: rbolt::Error) -> Self { AppError::Db(e) }
    /// }
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = rbolt::Db::open(dir.path().join("bank.db")).unwrap();
    /// let r: Result<(), AppError> = db.try_update(|tx| {
    ///     let acct = tx.create_bucket_if_not_exists("acct")?;
    ///     acct.put("alice", "-5")?;
    ///     Err(AppError::Overdrawn)
    /// });
    /// assert!(matches!(r, Err(AppError::Overdrawn)));
    /// assert!(db.view(|tx| Ok(tx.bucket("acct")?.is_none()))?); // rolled back
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn try_update<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&Tx<ReadWrite>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self.begin_write()?;
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    }

    /// Runs `f` in a write transaction shared with other threads calling `batch` at about the
    /// same time, and returns once that transaction has committed (bbolt's `Batch`).
    ///
    /// Under concurrent small writes this trades a little latency (up to
    /// [`Options::max_batch_delay`](crate::Options::max_batch_delay), 10 ms by default) for far
    /// fewer commits and fsyncs: up to
    /// [`Options::max_batch_size`](crate::Options::max_batch_size) calls (1000) share one.
    ///
    /// **`f` may run more than once**, so it must be idempotent apart from its effect on the
    /// transaction: if any closure in the batch fails, the transaction is rolled back and
    /// redone without it, and the failing one is then run alone. The error (or panic) a caller
    /// sees comes only from its own closure, or from a commit of its own changes. Panics
    /// propagate to the caller whose closure panicked; the others are unaffected.
    ///
    /// Each closure runs on its caller's thread while the batch's leader waits, so like
    /// [`Db::update`] it must not begin another write transaction (that would wait forever).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = rbolt::Db::open(dir.path().join("b.db"))?;
    /// db.update(|tx| tx.create_bucket(b"hits").map(|_| ()))?;
    /// std::thread::scope(|s| {
    ///     for i in 0..8u8 {
    ///         let db = &db;
    ///         s.spawn(move || db.batch(|tx| tx.bucket(b"hits")?.unwrap().put(&[i], b"1")));
    ///     }
    /// });
    /// assert_eq!(db.view(|tx| Ok(tx.bucket(b"hits")?.unwrap().iter().count()))?, 8);
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn batch<F>(&self, f: F) -> Result<()>
    where
        F: FnMut(&Tx<ReadWrite>) -> Result<()>,
    {
        self.try_batch(f)
    }

    /// [`Db::batch`] for a closure that returns your own error type `E`. The error a caller
    /// gets is the one its own closure returned when it last ran (closures may be rerun), or an
    /// rbolt error converted by `E::from`.
    pub fn try_batch<F, E>(&self, f: F) -> std::result::Result<(), E>
    where
        F: FnMut(&Tx<ReadWrite>) -> std::result::Result<(), E>,
        E: From<Error>,
    {
        self.batcher.run(f, &|| self.begin_write())
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

    /// Drops this handle. The file (and its lock) is closed once every clone of this `Db`
    /// and every transaction begun from one have ended.
    pub fn close(self) {}
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
        let Some(s) = &self.shared.storage else {
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
        Meta::new(ps as u32, Pgid(3), Pgid(2), Pgid(4), Txid(i))
            .encode_page(Pgid(i), &mut buf[i as usize * ps..]);
    }
    PageHeader {
        id: Pgid(2),
        flags: FREELIST_PAGE,
        count: 0,
        overflow: 0,
    }
    .encode(&mut buf[2 * ps..]);
    PageHeader {
        id: Pgid(3),
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
        let hwm_ok = m.pgid.byte_offset(ps).is_some_and(|b| b <= len);
        let root_ok = m.root.root >= Pgid(2) && m.root.root < m.pgid;
        let fl_ok =
            m.freelist == PGID_NO_FREELIST || (m.freelist >= Pgid(2) && m.freelist < m.pgid);
        if m.page_size as usize != ps || !hwm_ok || !root_ok || !fl_ok || m.txid == Txid(u64::MAX) {
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
fn load_freelist(
    map: &Arc<Mapping>,
    meta: &Meta,
    ps: usize,
    kind: FreelistType,
) -> Result<Freelist> {
    let ids = writer_free_set(map.bytes(), meta, ps)?;
    Freelist::from_ids_typed(ids, meta.pgid, kind).map_err(|e| Error::corrupted(meta.freelist, e))
}
