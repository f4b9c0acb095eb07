//! bbolt's operational surface, built on the public handles: statistics, inspection, hot
//! backup, compaction, moving buckets and shrinking the file. Each module adds its methods to
//! [`Db`](crate::Db), [`Tx`](crate::Tx) or [`Bucket`](crate::Bucket).

mod backup;
pub(crate) mod compact;
pub(crate) mod info;
mod move_bucket;
mod shrink;
pub(crate) mod stats;
