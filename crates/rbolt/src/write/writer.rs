//! The writer's own state, kept between write transactions: the freelist, the file's length
//! and its growth policy, the storage it writes through, and a pool of page buffers.

use crate::error::Result;
use crate::freelist::Freelist;
use crate::options::Options;
use crate::read::counts::SubtreeCounts;
use crate::storage::Storage;
use rbolt_format::Pgid;
use std::fs::File;
use std::sync::Arc;

/// How hard a commit cuts the end of the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum ShrinkMode {
    /// No cut (`Options::shrink(false)`).
    Off,
    /// Cut when the file has at least a growth step of slack past what it needs.
    #[default]
    Auto,
    /// Cut to exactly what the metas and readers need ([`Db::shrink`]).
    Now,
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
    /// This transaction's commit skips its sync but a later commit will sync what it writes
    /// (compaction into a fresh file): start its write-back early, as a durable commit does.
    pub(crate) sync_later: bool,
    pub(crate) no_freelist_sync: bool,
    pub(crate) max_size: Option<u64>,
    pub(crate) alloc_size: u64,
    pub(crate) initial_mmap_size: u64,
    pub(crate) strict_mode: bool,
    pub(crate) shrink: bool,
    /// The file itself, for strict mode's check of what was written.
    pub(crate) file: Arc<File>,
    /// Remembered subtree counts, forgotten for every page id this writer allocates.
    pub(crate) counts: Arc<SubtreeCounts>,
    /// The page writer's buffers, kept from one commit to the next.
    pub(super) page_buffers: PageBuffers,
    /// The meta page image: zeroes but for the meta, which every commit writes at the same
    /// offsets, so the page is zeroed once, not per commit.
    pub(super) meta_page: Vec<u8>,
}

/// The commit page writer's buffers (see `commit::PageWriter`), empty between commits.
#[derive(Debug, Default)]
pub(super) struct PageBuffers {
    /// Page images back to back.
    pub(super) buf: Vec<u8>,
    /// Each image's page id, start in `buf` and length.
    pub(super) pages: Vec<(Pgid, usize, usize)>,
    /// Where a run whose images are not back to back is gathered.
    pub(super) scratch: Vec<u8>,
    /// What earlier `sync_later` commits wrote that no write-back was started for yet: first
    /// and end offset, and the bytes written between.
    pub(super) unstarted: Option<(u64, u64)>,
    pub(super) unstarted_bytes: usize,
}

impl WriterData {
    /// The writer state of a database opened read-write with `opts`.
    pub(crate) fn new(
        freelist: Freelist,
        file_len: u64,
        page_size: usize,
        storage: Arc<dyn Storage>,
        file: Arc<File>,
        counts: Arc<SubtreeCounts>,
        opts: &Options,
    ) -> Self {
        Self {
            freelist,
            counts,
            file_len,
            page_size,
            storage,
            no_sync: opts.no_sync,
            no_grow_sync: opts.no_grow_sync,
            sync_later: false,
            no_freelist_sync: opts.no_freelist_sync,
            max_size: opts.max_size,
            alloc_size: opts.alloc_size,
            initial_mmap_size: opts.initial_mmap_size,
            strict_mode: opts.strict_mode,
            shrink: opts.shrink,
            file,
            page_buffers: Default::default(),
            meta_page: Vec::new(),
        }
    }

    /// Makes the file at least `need` bytes long, growing ahead of need.
    pub(crate) fn grow(&mut self, need: u64) -> Result<()> {
        if need <= self.file_len {
            return Ok(());
        }
        let target = grow_target(need, self.page_size as u64, self.alloc_size);
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

    /// Gives back what growing ahead of a spill took beyond what its pages needed: the file
    /// ends where it would have had it grown only as pages passed its end (`used` bytes, plus
    /// the usual slack), never below `floor`, its length when the commit began, which open
    /// readers may map. Best effort: a failed cut leaves a longer file, which is harmless.
    pub(crate) fn trim_growth(&mut self, floor: u64, used: u64) {
        let target = grow_target(used, self.page_size as u64, self.alloc_size).max(floor);
        if target < self.file_len && self.storage.set_len(target).is_ok() {
            self.file_len = target;
        }
    }
}

/// New file length for a file that must hold `need` bytes: powers of two from 32 KiB while
/// small (so early commits rarely grow it), then `need` plus `alloc` (bbolt's `AllocSize`,
/// 16 MiB by default), in whole pages.
pub(crate) fn grow_target(need: u64, page_size: u64, alloc: u64) -> u64 {
    let t = if need <= alloc {
        need.next_power_of_two().max(32 << 10)
    } else {
        need + alloc
    };
    t.div_ceil(page_size) * page_size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_doubles_then_steps() {
        const A: u64 = 16 << 20;
        assert_eq!(grow_target(20_000, 4096, A), 32 << 10);
        assert_eq!(grow_target(5 << 20, 4096, A), 8 << 20);
        assert_eq!(grow_target(20 << 20, 4096, A), 36 << 20);
        assert_eq!(grow_target(5 << 20, 4096, 1 << 20), 6 << 20);
    }
}
