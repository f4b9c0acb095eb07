//! Memory rbolt hands out by address: the read-only map of the database file and the write
//! transaction's byte arena — the one place in rbolt with `unsafe`.
//!
//! # Soundness
//!
//! Mapping a file is unsafe because the bytes behind a `&[u8]` could change or vanish under us.
//! rbolt rules that out for everything it controls:
//!
//! 1. The map is read-only (`PROT_READ`); rbolt never writes through it. All writes are
//!    `pwrite`s on the file descriptor.
//! 2. Mapped bytes are never unmapped or replaced while anything borrows them. Every
//!    transaction holds an `Arc<Mapping>` of the generation it began with, and all slices it
//!    hands out borrow from the transaction. A generation is a prefix of a `Region`: address
//!    space reserved `PROT_NONE` up front, whose start holds the file. Growth maps only the new
//!    tail, `MAP_FIXED` over reserved addresses past everything mapped so far, so no byte a
//!    generation covers is touched (and the page tables of the old part survive, which is the
//!    point: Go bbolt keeps its map across growth too). When the reservation is used up the
//!    next generation gets a new region; the old region is unmapped with its last generation.
//! 3. The writer only `pwrite`s pages that no open transaction can reach. That rests on three
//!    things. (a) The free set it starts from is proven, not believed: the freelist page has
//!    no checksum, so a read-write open walks the whole page structure and refuses the file if
//!    the freelist lists a page the tree reaches, or if any page is reached twice (which would
//!    let copy-on-write free it through one parent while the other still reaches it)
//!    (`check::writer_free_set`). (b) After that, pages enter the free set only when the
//!    writer stops using them — pages it found through the tree, each reached once — and stay
//!    pending until every reader that could see them has ended (freelist rule). (c) The meta
//!    page written is the older of the two, which no snapshot reads after begin (transactions
//!    copy their meta at begin). New pages come from the free set or from past the high-water
//!    mark, which no snapshot addresses.
//! 4. Every byte of every live generation lies inside the file, so no byte a slice covers
//!    can turn into a SIGBUS and every slice over a mapping is dereferenceable in full. A
//!    generation covers at most the file length it saw. (A region may have more of the file
//!    mapped than any live generation covers — after a shrink — but nothing reads those bytes,
//!    and if the file grows again they already map the right offsets.) The file only gets
//!    shorter through shrink (`shrink.rs`), which cuts only: (a) after installing, under the
//!    state lock, a current generation no longer than the cut, so no transaction that begins
//!    later reads past it; (b) to no less than the longest generation still alive — every
//!    generation is registered, weakly, when created, and the committing writer first drops
//!    its own; transactions clone the current generation under the same lock, so none can
//!    appear between that measurement and the cut; (c) to no less than the high-water mark of
//!    either meta page on disk or of any open reader's snapshot, so a crash or a reader never
//!    addresses a page past the end.
//! 5. The file lock (`flock`, the same one Go bbolt takes) keeps cooperating processes, Rust or
//!    Go, from writing while we map.
//!
//! What remains is a process that ignores the lock and writes or truncates the file. That is
//! outside what a library can prevent; the crate docs list it under Caveats, as bbolt and LMDB
//! do.
#![expect(
    unsafe_code,
    reason = "memory-mapping a file and handing out arena memory by address are inherently unsafe; argued above and on ByteArena"
)]

use rustix::mm::{Advice, MapFlags, ProtFlags};
use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// Smallest reservation of a read-write database: growth inside it keeps the map (and its
/// page tables). Address space only; `PROT_NONE` + `MAP_NORESERVE` costs no memory or
/// commit charge.
const MIN_RESERVE: usize = 1 << 30;

/// One generation of the file mapping: the first `len` bytes of a region.
#[derive(Debug)]
pub(crate) struct Mapping {
    region: Option<Arc<Region>>,
    /// The region's base (dangling when there is none, with `len` 0), copied here so that
    /// `bytes`, which every page access calls, is two loads and no branch.
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: `base` points into the region the mapping keeps alive (or is dangling with `len` 0)
// and is only ever turned into a shared slice of read-only memory, so the mapping is as
// shareable as the `&[u8]` it hands out; the region itself is `Send + Sync` (below).
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// A generation that maps nothing.
    pub(crate) fn empty() -> Self {
        Self {
            region: None,
            base: NonNull::dangling(),
            len: 0,
        }
    }

    /// Maps the first `len` bytes of `file` read-only, with no room to grow (a one-off view,
    /// or a read-only open). `len` must not exceed the file's length (point 4 above).
    pub(crate) fn new(file: &File, len: u64, populate: bool) -> io::Result<Self> {
        let len = to_usize(len)?;
        Self::in_region(file, len, len, populate)
    }

    /// Like [`new`](Self::new), in a reservation big enough for the file to grow a while
    /// without a new region (a read-write open).
    pub(crate) fn growable(file: &File, len: u64, populate: bool) -> io::Result<Self> {
        let len = to_usize(len)?;
        match Self::in_region(file, len, reserve_for(len), populate) {
            Ok(m) => Ok(m),
            // Address space can be scarce (32-bit, `ulimit -v`): fall back to an exact map.
            Err(_) => Self::in_region(file, len, len, populate),
        }
    }

    /// The generation after growth to `len` bytes (at most the file's length): this region's,
    /// extended in place, when the reservation has room; otherwise a new region.
    pub(crate) fn grown(&self, file: &File, len: u64, populate: bool) -> io::Result<Self> {
        let want = to_usize(len)?;
        if let Some(region) = &self.region
            && region.extend(file, want, populate)
        {
            return Ok(Self {
                base: region.base,
                region: Some(region.clone()),
                len: want.max(self.len),
            });
        }
        Self::growable(file, len, populate)
    }

    /// A generation over the first `len` bytes of this one (shrink installs it before it cuts
    /// the file).
    pub(crate) fn shorter(&self, len: u64) -> Self {
        Self {
            region: self.region.clone(),
            base: self.base,
            len: self.len.min(usize::try_from(len).unwrap_or(usize::MAX)),
        }
    }

    fn in_region(file: &File, len: usize, reserve: usize, populate: bool) -> io::Result<Self> {
        if len == 0 {
            return Ok(Self::empty());
        }
        let region = Region::reserve(reserve.max(len))?;
        if !region.extend_or_err(file, len, populate)? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "mmap larger than its reservation",
            ));
        }
        Ok(Self {
            base: region.base,
            region: Some(Arc::new(region)),
            len,
        })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: with a region, `len` bytes from its `base` are mapped from the file
        // (`Region::mapped` only grows, and `len <= mapped` whenever a generation is made),
        // read-only, inside the file (point 4), and stay mapped until the region drops, which
        // the `Arc` we borrow from prevents (point 2). Without one, `base` is dangling, aligned
        // and non-null, which is all an empty slice needs.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// Length of the mapping in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len as u64
    }

    /// Whether `other` shares this generation's region (growth kept the map).
    #[cfg(test)]
    fn same_region(&self, other: &Self) -> bool {
        match (&self.region, &other.region) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Asks the CPU to start loading lines 1 to `LINES - 1` (64 bytes each) from `bytes[off]`
/// into its caches, without waiting for them. A hint only: it loads nothing the program sees
/// and never faults, so an offset past `bytes` is harmless.
#[inline(always)]
pub(crate) fn prefetch_lines<const LINES: usize>(bytes: &[u8], off: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in 1..LINES {
        let p = bytes.as_ptr().wrapping_add(off.wrapping_add(line * 64));
        // SAFETY: PREFETCHh is a hint that does not fault and changes no program state,
        // whatever the address (Intel SDM, "PREFETCHh"), so no argument can make it unsound.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, off);
}

fn to_usize(len: u64) -> io::Result<usize> {
    usize::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mmap too large"))
}

/// How much address space to reserve for a read-write database of `len` bytes: room to double,
/// and at least [`MIN_RESERVE`], on 64-bit targets; exactly the file on smaller ones.
fn reserve_for(len: usize) -> usize {
    if usize::BITS < 64 {
        return len;
    }
    len.saturating_mul(2).max(MIN_RESERVE)
}

fn reserve_flags() -> MapFlags {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return MapFlags::PRIVATE | MapFlags::NORESERVE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    return MapFlags::PRIVATE;
}

/// `MAP_POPULATE` where it exists (Linux); elsewhere pages fault in on first touch.
fn populate_flag(populate: bool) -> MapFlags {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if populate {
        return MapFlags::POPULATE;
    }
    let _ = populate;
    MapFlags::empty()
}

fn os_page() -> usize {
    rustix::param::page_size()
}

/// Reserved address space whose first `mapped` bytes map the file at the same offsets.
#[derive(Debug)]
struct Region {
    base: NonNull<u8>,
    reserved: usize,
    state: Mutex<RegionState>,
}

#[derive(Debug)]
struct RegionState {
    /// Bytes from `base` mapped from the file: a multiple of the OS page size, only grows.
    mapped: usize,
    /// Set when a `MAP_FIXED` failed: the kernel may have unmapped that range of the
    /// reservation, so someone else's mapping may land there. The region is never extended
    /// again and `Drop` leaves that range alone.
    lost: Option<(usize, usize)>,
}

// SAFETY: the region is a read-only view of a file plus bookkeeping behind a mutex; sharing
// it between threads is sharing `&[u8]`s, which is `Send + Sync`.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    fn reserve(bytes: usize) -> io::Result<Self> {
        let reserved = bytes.div_ceil(os_page()) * os_page();
        // SAFETY: a fresh anonymous mapping at an address the kernel picks (no MAP_FIXED), so
        // it cannot clobber anything; `PROT_NONE` memory is never read.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                reserved,
                ProtFlags::empty(),
                reserve_flags(),
            )?
        };
        let base = NonNull::new(base.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null reservation"))?;
        Ok(Self {
            base,
            reserved,
            state: Mutex::new(RegionState {
                mapped: 0,
                lost: None,
            }),
        })
    }

    /// Makes sure the first `len` bytes map the file; false when the reservation cannot hold
    /// them (or a failed map took it out of use), so the caller needs a new region.
    fn extend(&self, file: &File, len: usize, populate: bool) -> bool {
        self.extend_or_err(file, len, populate).unwrap_or(false)
    }

    fn extend_or_err(&self, file: &File, len: usize, populate: bool) -> io::Result<bool> {
        let want = len.div_ceil(os_page()) * os_page();
        let mut st = crate::sync::lock(&self.state);
        if want <= st.mapped {
            return Ok(true);
        }
        if st.lost.is_some() || want > self.reserved {
            return Ok(false);
        }
        let from = st.mapped;
        let at = self.base.as_ptr().wrapping_add(from).cast::<c_void>();
        let flags = MapFlags::SHARED | MapFlags::FIXED | populate_flag(populate);
        // SAFETY: `[from, want)` lies inside this region's reservation (checked above) and
        // past every byte mapped so far, so MAP_FIXED only replaces our own `PROT_NONE`
        // pages, which nothing references (point 2); `from` is page-aligned, as `mmap` needs.
        // The file bytes it maps exist: callers pass at most the file's length, and a tail
        // rounded up to the OS page reads as zeros, not SIGBUS (point 4).
        let mapped =
            unsafe { rustix::mm::mmap(at, want - from, ProtFlags::READ, flags, file, from as u64) };
        if let Err(e) = mapped {
            st.lost = Some((from, want));
            return Err(e.into());
        }
        st.mapped = want;
        // bbolt advises random access too; B+tree descents jump around. Failure is harmless.
        // SAFETY: advice on pages we just mapped; it changes readahead, never contents.
        let _ = unsafe { rustix::mm::madvise(at, want - from, Advice::Random) };
        Ok(true)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let (lost_from, lost_to) = st.lost.unwrap_or((self.reserved, self.reserved));
        for (from, to) in [(0, lost_from), (lost_to, self.reserved)] {
            if to > from {
                // SAFETY: the last generation (and so every slice) over this region is gone,
                // and `[from, to)` is still ours: a range a failed MAP_FIXED may have given up
                // is skipped.
                let _ = unsafe {
                    rustix::mm::munmap(self.base.as_ptr().wrapping_add(from).cast(), to - from)
                };
            }
        }
    }
}

/// A write transaction's append-only byte store: the keys and values passed to `put` (and
/// bucket values built at commit), copied into large chunks instead of one heap allocation
/// each, and handed out as `&[u8]` for the transaction's whole life.
///
/// Once a transaction has used [`PREFETCH_AFTER`] bytes of chunks, a second thread allocates
/// the next [`PREFETCH_CHUNK`]-sized chunks ahead and faults their pages in, so the page
/// faults of fresh memory (the kernel zeroing and charging each page) run beside the
/// transaction instead of inside its `put`s. `push` takes a ready chunk if one is waiting and
/// allocates its own otherwise; it never waits for the other thread. If that thread cannot be
/// started or panics, chunks are simply allocated in place as before.
///
/// # Soundness
///
/// It is the file map's argument in miniature, for memory the arena owns:
/// 1. A chunk is allocated once (`Box<[MaybeUninit<u8>]>`, turned into a raw pointer so that
///    no `Box` is ever moved or reborrowed while slices of it exist) and freed only in `Drop`,
///    which needs `&mut self`, so no slice handed out by [`get`](ByteArena::get) (borrowing
///    `&self`) can outlive it.
/// 2. Bytes are written once, into the part of the current chunk past its `len`, and `len`
///    then moves past them. `get` only hands out ranges below `len` (checked), so it never
///    exposes uninitialised memory, and no write ever touches a byte a slice can see.
/// 3. `push` takes `&self` but the arena is not `Sync` (the `RefCell`), so pushes and reads
///    never race; `Send` is fine because the arena owns its chunks outright, like a
///    `Vec<Box<[u8]>>`.
/// 4. A prefetched chunk crosses threads as an owned `Box` through a channel, so until the
///    arena receives it the other thread is its only owner and nothing else can point into
///    it; the channel's send/receive orders the faulting writes before anything the arena
///    does with it. From receipt on it is a chunk like any other (point 1). Chunks not yet
///    received are `Box`es owned by the channel or the thread and freed by them when the
///    arena drops its receiver, which `Drop` does before joining the thread, so none
///    outlives the arena or leaks.
pub(crate) struct ByteArena {
    chunks: std::cell::RefCell<Vec<RawChunk>>,
    prefetch: std::cell::RefCell<Prefetch>,
}

struct RawChunk {
    ptr: std::ptr::NonNull<std::mem::MaybeUninit<u8>>,
    cap: usize,
    len: usize,
}

type Chunk = Box<[std::mem::MaybeUninit<u8>]>;

/// The prefetching thread's side of the arena.
enum Prefetch {
    /// Not started: the arena is still small.
    Off,
    /// Running: ready chunks arrive on `ready`.
    On {
        ready: std::sync::mpsc::Receiver<Chunk>,
        thread: std::thread::JoinHandle<()>,
    },
    /// Ended or never started (spawn failed, or the thread panicked): allocate in place.
    Gone,
}

/// First chunk size: a small transaction costs one modest allocation.
const FIRST_CHUNK: usize = 4 << 10;
/// Chunks double up to this; larger entries get a chunk of their own size.
const MAX_CHUNK: usize = 1 << 20;
/// Bytes of chunks a transaction has before chunks are prefetched: small transactions never
/// start a thread.
const PREFETCH_AFTER: usize = 4 << 20;
/// Size of a prefetched chunk.
const PREFETCH_CHUNK: usize = 1 << 20;
/// Chunks ready and waiting, beyond the one the thread is preparing; what a transaction may
/// have allocated but not used when it ends.
const PREFETCH_AHEAD: usize = 1;

// SAFETY: the arena exclusively owns its chunks (point 3 above); moving it to another thread
// moves that ownership, exactly as for `Vec<Box<[u8]>>`. The prefetch side is a `Receiver`
// and a `JoinHandle`, both `Send`.
unsafe impl Send for ByteArena {}

impl std::fmt::Debug for ByteArena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteArena")
            .field("chunks", &self.chunks.borrow().len())
            .finish()
    }
}

impl ByteArena {
    pub(crate) fn new() -> Self {
        Self {
            chunks: std::cell::RefCell::new(Vec::new()),
            prefetch: std::cell::RefCell::new(Prefetch::Off),
        }
    }

    /// Copies `parts`, back to back, into the arena; returns (chunk, offset) of the copy.
    pub(crate) fn push(&self, parts: &[&[u8]]) -> (u32, usize) {
        let need: usize = parts.iter().map(|p| p.len()).sum();
        let mut chunks = self.chunks.borrow_mut();
        let fits = chunks.last().is_some_and(|c| c.cap - c.len >= need);
        if !fits {
            let next = chunks
                .last()
                .map_or(FIRST_CHUNK, |c| (c.cap * 2).min(MAX_CHUNK));
            let buf = self
                .prefetched(&chunks, need)
                .unwrap_or_else(|| Box::<[u8]>::new_uninit_slice(next.max(need)));
            let cap = buf.len();
            let ptr =
                std::ptr::NonNull::new(Box::into_raw(buf).cast::<std::mem::MaybeUninit<u8>>())
                    .expect("invariant: Box pointers are non-null");
            chunks.push(RawChunk { ptr, cap, len: 0 });
        }
        let idx = chunks.len() - 1;
        let c = chunks
            .last_mut()
            .expect("invariant: a chunk was just ensured");
        let start = c.len;
        let mut at = start;
        for p in parts {
            // SAFETY: `at + p.len() <= cap` (checked above), so the destination lies inside the
            // chunk's allocation, past `len`: no slice handed out covers it (point 2); `p` is
            // caller memory, never inside this unshared tail, so the ranges cannot overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    p.as_ptr(),
                    c.ptr.as_ptr().wrapping_add(at).cast::<u8>(),
                    p.len(),
                );
            }
            at += p.len();
        }
        c.len = at;
        (
            u32::try_from(idx).expect("invariant: fewer than 2^32 chunks"),
            start,
        )
    }

    /// A prefetched chunk for an entry of `need` bytes, if one is ready; starts the
    /// prefetching thread once the arena has grown past [`PREFETCH_AFTER`].
    fn prefetched(&self, chunks: &[RawChunk], need: usize) -> Option<Chunk> {
        if need > PREFETCH_CHUNK {
            return None;
        }
        let mut pf = self.prefetch.borrow_mut();
        match &*pf {
            Prefetch::Off => {
                if chunks.iter().map(|c| c.cap).sum::<usize>() >= PREFETCH_AFTER {
                    *pf = start_prefetch();
                }
                None
            }
            Prefetch::On { ready, .. } => match ready.try_recv() {
                Ok(buf) => Some(buf),
                Err(std::sync::mpsc::TryRecvError::Empty) => None,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    // The thread panicked; dropping its handle detaches nothing still running.
                    *pf = Prefetch::Gone;
                    None
                }
            },
            Prefetch::Gone => None,
        }
    }

    /// The `len` bytes at `off` of chunk `chunk`, written by an earlier `push`.
    pub(crate) fn get(&self, chunk: u32, off: usize, len: usize) -> &[u8] {
        let chunks = self.chunks.borrow();
        let c = &chunks[chunk as usize];
        assert!(
            off <= c.len && len <= c.len - off,
            "invariant: arena slots point at written bytes"
        );
        // SAFETY: the range is inside the chunk's written prefix (just checked), so it is
        // initialised and never written again; the chunk lives until `drop(&mut self)`, which
        // cannot run while the returned borrow of `self` exists (points 1 and 2).
        unsafe { std::slice::from_raw_parts(c.ptr.as_ptr().wrapping_add(off).cast::<u8>(), len) }
    }
}

/// Starts the thread that prepares chunks ahead; [`Prefetch::Gone`] if it cannot be started.
fn start_prefetch() -> Prefetch {
    let (tx, ready) = std::sync::mpsc::sync_channel::<Chunk>(PREFETCH_AHEAD);
    let spawned = std::thread::Builder::new()
        .name("rbolt-arena".into())
        .spawn(move || {
            loop {
                let mut buf = Box::<[u8]>::new_uninit_slice(PREFETCH_CHUNK);
                fault_in(&mut buf);
                // Fails once the arena has dropped its receiver; the chunk is freed here.
                if tx.send(buf).is_err() {
                    return;
                }
            }
        });
    match spawned {
        Ok(thread) => Prefetch::On { ready, thread },
        Err(_) => Prefetch::Gone,
    }
}

/// Makes the kernel back every page of `buf` now, on this thread, rather than at first write.
fn fault_in(buf: &mut [std::mem::MaybeUninit<u8>]) {
    if buf.is_empty() {
        return;
    }
    let page = rustix::param::page_size();
    let last = buf.len() - 1;
    #[cfg(all(not(miri), any(target_os = "linux", target_os = "android")))]
    {
        // madvise wants a page-aligned start: the whole pages inside `buf`, then its two ends
        // by touching.
        let skip = (buf.as_ptr() as usize).next_multiple_of(page) - buf.as_ptr() as usize;
        let whole = buf.len().saturating_sub(skip) / page * page;
        if whole > 0 {
            let from = buf.as_mut_ptr().wrapping_add(skip);
            // SAFETY: `[from, from + whole)` lies inside `buf`, which we own mutably; it is
            // page-aligned as madvise requires. POPULATE_WRITE faults the pages in and never
            // changes bytes the program could observe (and `buf` is uninitialised anyway).
            let populated =
                unsafe { rustix::mm::madvise(from.cast(), whole, Advice::LinuxPopulateWrite) };
            if populated.is_ok() {
                touch(&mut buf[0]);
                touch(&mut buf[last]);
                return;
            }
        }
    }
    // Kernels before 5.14, other systems and Miri: write one byte per page.
    for i in (0..buf.len()).step_by(page) {
        touch(&mut buf[i]);
    }
    touch(&mut buf[last]);
}

/// Writes a byte the compiler cannot drop for being never read, so its page is faulted in.
fn touch(byte: &mut std::mem::MaybeUninit<u8>) {
    let byte: *mut std::mem::MaybeUninit<u8> = byte;
    // SAFETY: `byte` comes from a live `&mut`, so it is valid and aligned for the write; any
    // byte is a valid `MaybeUninit<u8>`.
    unsafe { std::ptr::write_volatile(byte, std::mem::MaybeUninit::new(0)) };
}

impl Drop for ByteArena {
    fn drop(&mut self) {
        if let Prefetch::On { ready, thread } =
            std::mem::replace(self.prefetch.get_mut(), Prefetch::Gone)
        {
            // Receiver first: the thread's next (or pending) send fails and it returns,
            // freeing its chunk; chunks queued in the channel are freed with it.
            drop(ready);
            let _ = thread.join();
        }
        for c in self.chunks.get_mut().drain(..) {
            let slice = std::ptr::slice_from_raw_parts_mut(c.ptr.as_ptr(), c.cap);
            // SAFETY: `ptr`/`cap` came from `Box::into_raw` of a `[MaybeUninit<u8>]` of
            // exactly `cap` elements and are freed once, here.
            drop(unsafe { Box::from_raw(slice) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ByteArena, Mapping, PREFETCH_AFTER, PREFETCH_CHUNK, Prefetch};
    use std::fs::File;
    use std::os::unix::fs::FileExt;

    /// Makes bytes `from..len` of the file `i % 251`, written a 4 KiB page at a time as the
    /// writer does: big writes get big page-cache folios, which a single fault maps whole.
    fn patterned(file: &File, from: u64, len: u64) {
        let bytes: Vec<u8> = (from..len).map(|i| (i % 251) as u8).collect();
        for (n, chunk) in bytes.chunks(4096).enumerate() {
            file.write_all_at(chunk, from + n as u64 * 4096).unwrap();
        }
    }

    fn assert_pattern(m: &Mapping) {
        let b = m.bytes();
        assert_eq!(b.len() as u64, m.len());
        for (i, &x) in b.iter().enumerate().step_by(97) {
            assert_eq!(x, (i % 251) as u8, "byte {i}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "mmap of a file")]
    fn growth_maps_the_tail_beside_the_old_bytes() {
        let file = tempfile::tempfile().unwrap();
        patterned(&file, 0, 64 << 10);
        let a = Mapping::growable(&file, 64 << 10, false).unwrap();
        patterned(&file, 64 << 10, 3 << 20);
        let b = a.grown(&file, 3 << 20, false).unwrap();
        assert!(a.same_region(&b));
        assert_eq!(a.bytes().as_ptr(), b.bytes().as_ptr());
        assert_eq!(b.len(), 3 << 20);
        assert_eq!(a.len(), 64 << 10, "the old generation keeps its length");
        assert_pattern(&a);
        assert_pattern(&b);
    }

    #[test]
    #[cfg_attr(miri, ignore = "mmap of a file")]
    fn growth_past_the_reservation_gets_a_new_region() {
        let file = tempfile::tempfile().unwrap();
        patterned(&file, 0, 64 << 10);
        let a = Mapping::new(&file, 64 << 10, false).unwrap();
        patterned(&file, 64 << 10, 256 << 10);
        let b = a.grown(&file, 256 << 10, false).unwrap();
        assert!(!a.same_region(&b));
        assert_pattern(&a);
        assert_pattern(&b);
        drop(a);
        assert_pattern(&b);
    }

    #[test]
    #[cfg_attr(miri, ignore = "mmap of a file")]
    fn a_shorter_generation_survives_a_cut_and_regrowth() {
        let file = tempfile::tempfile().unwrap();
        patterned(&file, 0, 1 << 20);
        let a = Mapping::growable(&file, 1 << 20, false).unwrap();
        let short = a.shorter(128 << 10);
        drop(a);
        file.set_len(128 << 10).unwrap();
        assert_pattern(&short);
        file.set_len(2 << 20).unwrap();
        patterned(&file, 128 << 10, 2 << 20);
        let b = short.grown(&file, 2 << 20, false).unwrap();
        assert!(short.same_region(&b));
        assert_pattern(&b);
    }

    #[test]
    #[cfg_attr(miri, ignore = "mmap of a file")]
    fn empty_and_unaligned_generations() {
        let file = tempfile::tempfile().unwrap();
        assert!(
            Mapping::growable(&file, 0, false)
                .unwrap()
                .bytes()
                .is_empty()
        );
        patterned(&file, 0, 5000);
        let a = Mapping::growable(&file, 5000, true).unwrap();
        assert_pattern(&a);
        patterned(&file, 5000, 9000);
        let b = a.grown(&file, 9000, true).unwrap();
        assert!(a.same_region(&b));
        assert_pattern(&b);
    }

    /// Minor page faults of this thread so far (field 10 of /proc/thread-self/stat).
    #[cfg(target_os = "linux")]
    fn minor_faults() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
        after_comm.split(' ').nth(7).unwrap().parse().unwrap()
    }

    /// Regression: every growth of the file re-created the whole map, so pages read before it
    /// faulted again afterwards (`Bucket::len` over 230k keys: 0.85 ms warm, 4.6 ms after a
    /// remap), where Go bbolt keeps its map.
    #[test]
    #[cfg(target_os = "linux")]
    fn growth_keeps_faulted_pages_mapped() {
        let ps = super::os_page();
        let file = tempfile::tempfile().unwrap();
        patterned(&file, 0, 4 << 20);
        let a = Mapping::growable(&file, 4 << 20, false).unwrap();
        let touch = |m: &Mapping| {
            let b = m.bytes();
            (0..b.len())
                .step_by(ps)
                .map(|i| u64::from(b[i]))
                .sum::<u64>()
        };
        let warm = touch(&a);
        patterned(&file, 4 << 20, 8 << 20);
        let b = a.grown(&file, 8 << 20, false).unwrap();
        let before = minor_faults();
        let again = touch(&b.shorter(4 << 20));
        let faults = minor_faults() - before;
        assert_eq!(warm, again);
        // The control: a fresh map of the same cached file faults on first touch (once per
        // fault-around window, 64 KiB by default, so not once per page).
        let fresh = Mapping::new(&file, 4 << 20, false).unwrap();
        let before = minor_faults();
        assert_eq!(touch(&fresh), warm);
        let fresh_faults = minor_faults() - before;
        let pages = (4 << 20) / ps as u64;
        assert!(
            fresh_faults >= pages / 64,
            "a fresh map of {pages} pages faulted {fresh_faults} times"
        );
        assert!(
            faults * 4 <= fresh_faults,
            "{faults} faults re-reading pages already mapped, {fresh_faults} on a fresh map"
        );
        assert!(b.len() > a.len());
    }

    #[test]
    fn arena_slices_survive_later_pushes_and_chunk_growth() {
        let a = ByteArena::new();
        let mut kept = Vec::new();
        for i in 0..20_000u32 {
            let v = vec![(i % 251) as u8; (i % 300) as usize];
            let (c, off) = a.push(&[&i.to_le_bytes(), &v]);
            kept.push((a.get(c, off, 4 + v.len()), i, v));
        }
        let big = vec![9u8; 3 << 20];
        let (c, off) = a.push(&[&big]);
        assert_eq!(a.get(c, off, big.len()), &big[..]);
        for (s, i, v) in kept {
            assert_eq!(&s[..4], &i.to_le_bytes());
            assert_eq!(&s[4..], &v[..]);
        }
    }

    /// Kept slices stay intact while chunks arrive from the prefetching thread, entries of
    /// every size mixed in (larger than a prefetched chunk too).
    #[test]
    fn arena_slices_survive_prefetched_chunks() {
        let a = ByteArena::new();
        let mut kept = Vec::new();
        let mut total = 0;
        let mut i = 0u32;
        while total < 3 * PREFETCH_AFTER {
            let len = match i % 7 {
                0 => 60_000,
                3 => 700_000,
                _ => (i as usize * 37) % 5000,
            };
            let len = if i == 40 { PREFETCH_CHUNK + 3 } else { len };
            let v = vec![(i % 251) as u8; len];
            let (c, off) = a.push(&[&i.to_le_bytes(), &v]);
            kept.push((a.get(c, off, 4 + len), i, v));
            total += 4 + len;
            i += 1;
        }
        assert!(
            matches!(*a.prefetch.borrow(), Prefetch::On { .. }),
            "prefetching did not start after {total} bytes"
        );
        for (s, i, v) in kept {
            assert_eq!(&s[..4], &i.to_le_bytes());
            assert_eq!(&s[4..], &v[..]);
        }
    }

    /// Dropping the arena while the thread is faulting a chunk in, or has one queued, ends the
    /// thread and frees its chunks (Miri's leak check fails otherwise).
    #[test]
    fn arena_drops_with_chunks_in_flight() {
        for round in 0..3 {
            let a = ByteArena::new();
            let v = vec![7u8; 500_000];
            let mut total = 0;
            while total <= 2 * PREFETCH_AFTER + round * PREFETCH_CHUNK {
                a.push(&[&v]);
                total += v.len();
            }
            assert!(matches!(*a.prefetch.borrow(), Prefetch::On { .. }));
            drop(a);
        }
    }

    /// When the thread cannot start, or dies (a panic while it faults a chunk in), the arena
    /// allocates in place from then on: every entry still lands, and it never waits on the
    /// channel or starts another thread.
    #[test]
    fn arena_goes_on_in_place_without_its_thread() {
        for dies in [false, true] {
            let a = ByteArena::new();
            if dies {
                let (tx, ready) = std::sync::mpsc::sync_channel::<super::Chunk>(1);
                let thread = std::thread::spawn(move || {
                    let _sender = tx;
                    panic!("the prefetching thread fails");
                });
                while !thread.is_finished() {
                    std::thread::yield_now();
                }
                *a.prefetch.borrow_mut() = Prefetch::On { ready, thread };
            } else {
                *a.prefetch.borrow_mut() = Prefetch::Gone;
            }
            let mut kept = Vec::new();
            let mut total = 0;
            let mut i = 0u32;
            while total < 2 * PREFETCH_AFTER {
                let v = vec![(i % 251) as u8; 30_000 + (i as usize * 977) % 40_000];
                let (c, off) = a.push(&[&i.to_le_bytes(), &v]);
                kept.push((a.get(c, off, 4 + v.len()), i, v));
                total += 4 + kept.last().map_or(0, |k| k.2.len());
                i += 1;
            }
            assert!(
                matches!(*a.prefetch.borrow(), Prefetch::Gone),
                "dies={dies}: the arena did not settle on allocating in place"
            );
            for (s, i, v) in kept {
                assert_eq!(&s[..4], &i.to_le_bytes(), "dies={dies}");
                assert_eq!(&s[4..], &v[..], "dies={dies}");
            }
        }
    }

    /// A transaction that stays small never starts a thread.
    #[test]
    fn arena_small_never_prefetches() {
        let a = ByteArena::new();
        let v = vec![1u8; 1000];
        for _ in 0..(PREFETCH_AFTER / 2) / v.len() {
            a.push(&[&v]);
        }
        assert!(matches!(*a.prefetch.borrow(), Prefetch::Off));
    }

    #[test]
    #[should_panic(expected = "written bytes")]
    fn arena_refuses_unwritten_ranges() {
        let a = ByteArena::new();
        let (c, off) = a.push(&[b"abc"]);
        let _ = a.get(c, off, 4);
    }
}
