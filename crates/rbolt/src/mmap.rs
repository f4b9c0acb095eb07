//! The read-only memory map of the database file: the one place in rbolt with `unsafe`.
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
    reason = "memory-mapping a file is inherently unsafe; argued above"
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
