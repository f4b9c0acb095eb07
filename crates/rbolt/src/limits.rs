//! The engine's fixed bounds and defaults, in one place: how deep trees and bucket nesting may
//! go (every reader and walker applies the same bounds), and the defaults bbolt documents for
//! fill percent, batching and file growth.

use crate::error::{Error, Result};
use rbolt_format::Pgid;
use std::time::Duration;

/// Most levels a B+tree may have (a root leaf is one level; levels are numbered from 0 at
/// the root, so the deepest allowed is `MAX_DEPTH - 1`). A real tree of 2^64 keys with
/// fan-out ≥ 2 stays far below this; a crafted cycle of branch pages would otherwise be
/// followed forever. Every reader and walker applies the same bound.
pub(crate) const MAX_DEPTH: usize = 64;

/// Deepest nesting of buckets: a top-level bucket is at depth 1, its sub-buckets at 2.
/// [`Bucket::create_bucket`](crate::Bucket::create_bucket) and
/// [`Bucket::move_bucket`](crate::Bucket::move_bucket) refuse to go deeper
/// ([`Error::BucketNestingTooDeep`]). The format has no limit; rbolt refuses to create deeper
/// buckets (so nothing it writes is ever reported as corrupt) and reports deeper ones in a
/// file as corruption. Walkers keep their own explicit stacks, so this bounds work and
/// memory, not the call stack.
pub const MAX_NESTING: usize = 1024;

/// Fill percent used for splits unless a bucket sets another (bbolt's `DefaultFillPercent`).
pub const DEFAULT_FILL_PERCENT: f64 = 0.5;

/// Smallest fill percent a bucket accepts (bbolt's `minFillPercent`).
pub const MIN_FILL_PERCENT: f64 = 0.1;

/// Largest fill percent a bucket accepts (bbolt's `maxFillPercent`).
pub const MAX_FILL_PERCENT: f64 = 1.0;

/// A node is split during the transaction once its page image would exceed this many pages.
pub(crate) const EAGER_SPLIT_PAGES: usize = 1;
/// ... or once it holds this many elements, whatever their size.
pub(crate) const EAGER_SPLIT_ELEMS: usize = 4096;
/// A bucket's last leaf, while puts append past its last key, grows to this many pages (and
/// at most [`EAGER_SPLIT_ELEMS`] elements) before it is split, and then keeps its whole
/// pages: an ascending load makes one node per this many pages instead of one per page.
pub(crate) const TAIL_SPLIT_PAGES: usize = 64;

/// bbolt's `DefaultMaxBatchSize`.
pub(crate) const DEFAULT_MAX_BATCH_SIZE: usize = 1000;
/// bbolt's `DefaultMaxBatchDelay`.
pub(crate) const DEFAULT_MAX_BATCH_DELAY: Duration = Duration::from_millis(10);
/// bbolt's `DefaultAllocSize`: how far past need the file grows once it is large.
pub(crate) const DEFAULT_ALLOC_SIZE: u64 = 16 << 20;

/// The error for a tree with more than [`MAX_DEPTH`] levels.
pub(crate) fn too_deep(pgid: impl Into<Option<Pgid>>) -> Error {
    Error::corrupted(pgid, format!("tree deeper than {MAX_DEPTH} levels"))
}

/// Errors if a bucket at `depth` (top level = 1) lies past [`MAX_NESTING`].
pub(crate) fn check_nesting(depth: usize) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(Error::corrupted(
            None,
            format!("buckets nested deeper than {MAX_NESTING}"),
        ));
    }
    Ok(())
}
