//! The read layer: everything that turns mapped bytes into validated pages and tree levels,
//! and the reachability walk behind the consistency check. Nothing here writes.

pub(crate) mod counts;
pub(crate) mod recent_buckets;
mod view;
pub(crate) mod walk;

pub(crate) use view::{LeafEntry, Snapshot, View, WHOLE_PAGE_LINES};
