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
//! 2. A mapping is never unmapped or resized while anything borrows it: every transaction holds
//!    an `Arc<Mapping>` of the generation it began with, and all slices it hands out borrow from
//!    the transaction. Growth creates a *new* mapping; the old one is dropped with its last
//!    transaction.
//! 3. The writer only `pwrite`s pages that no open transaction can reach: pages freed by a
//!    commit stay pending until every reader that could see them has ended (freelist rule), and
//!    the meta page written is the older of the two, which no snapshot reads after begin
//!    (transactions copy their meta at begin).
//! 4. Every byte of every live mapping lies inside the file, so no mapped byte can turn into a
//!    SIGBUS and every slice over a mapping is dereferenceable in full. A mapping covers at
//!    most the file length it saw. The file only gets shorter through shrink (`shrink.rs`),
//!    which cuts only: (a) after installing, under the state lock, a current generation no
//!    longer than the cut, so no transaction that begins later maps past it; (b) to no less
//!    than the longest generation still alive — every generation is registered, weakly, when
//!    created, and the committing writer first drops its own; transactions clone the current
//!    generation under the same lock, so none can appear between that measurement and the
//!    cut; (c) to no less than the high-water mark of either meta page on disk or of any open
//!    reader's snapshot, so a crash or a reader never addresses a page past the end.
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

use memmap2::{Advice, Mmap, MmapOptions};
use std::fs::File;
use std::io;

/// One generation of the file mapping.
#[derive(Debug)]
pub(crate) struct Mapping {
    map: Option<Mmap>,
}

impl Mapping {
    /// Maps the first `len` bytes of `file` read-only. `len` must not exceed the file's length
    /// (point 4 above); callers pass the length they just measured or set.
    pub(crate) fn new(file: &File, len: u64, populate: bool) -> io::Result<Self> {
        if len == 0 {
            return Ok(Self { map: None });
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mmap too large"))?;
        let mut opts = MmapOptions::new();
        opts.len(len);
        if populate {
            opts.populate();
        }
        // SAFETY: read-only shared mapping of a file this process holds the bbolt flock on;
        // rbolt never writes through it nor truncates below `len` while it lives (module doc).
        let map = unsafe { opts.map(file)? };
        // bbolt advises random access too; B+tree descents jump around. Failure is harmless.
        let _ = map.advise(Advice::Random);
        Ok(Self { map: Some(map) })
    }

    /// The mapped bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Length of the mapping in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.bytes().len() as u64
    }
}

/// A write transaction's append-only byte store: the keys and values passed to `put` (and
/// bucket values built at commit), copied into large chunks instead of one heap allocation
/// each, and handed out as `&[u8]` for the transaction's whole life.
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
pub(crate) struct ByteArena {
    chunks: std::cell::RefCell<Vec<RawChunk>>,
}

struct RawChunk {
    ptr: std::ptr::NonNull<std::mem::MaybeUninit<u8>>,
    cap: usize,
    len: usize,
}

/// First chunk size: a small transaction costs one modest allocation.
const FIRST_CHUNK: usize = 4 << 10;
/// Chunks double up to this; larger entries get a chunk of their own size.
const MAX_CHUNK: usize = 1 << 20;

// SAFETY: the arena exclusively owns its chunks (point 3 above); moving it to another thread
// moves that ownership, exactly as for `Vec<Box<[u8]>>`.
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
            let cap = next.max(need);
            let buf = Box::<[u8]>::new_uninit_slice(cap);
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

impl Drop for ByteArena {
    fn drop(&mut self) {
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
    use super::ByteArena;

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

    #[test]
    #[should_panic(expected = "written bytes")]
    fn arena_refuses_unwritten_ranges() {
        let a = ByteArena::new();
        let (c, off) = a.push(&[b"abc"]);
        let _ = a.get(c, off, 4);
    }
}
