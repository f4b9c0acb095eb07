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
//! 4. The file is never truncated below the length of a live mapping while rbolt has it open,
//!    so no mapped byte can turn into a SIGBUS. A mapping covers exactly the file length it saw.
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
