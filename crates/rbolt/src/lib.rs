//! rbolt: an embedded key/value store that reads and writes the file format of Go's
//! [bbolt](https://github.com/etcd-io/bbolt).
//!
//! One file, read through a read-only memory map; a copy-on-write B+tree; buckets nested to
//! any depth; cursors; one writer and any number of concurrent readers, each on a consistent
//! snapshot. A file written by a Go program with bbolt opens here, and the other way round.
//!
//! # Basics
//!
//! - [`Db`] is an open file, cheap to clone. [`Db::open`] creates it if missing; [`Options`]
//!   sets page size, read-only mode, lock timeout and durability knobs.
//! - [`Tx`] is a transaction: `Tx` (that is, `Tx<ReadOnly>`) reads a snapshot and is
//!   `Send + Sync`; `Tx<ReadWrite>` also writes, and only it has `put`, `create_bucket`,
//!   `commit` and the other writing methods. [`Db::view`] runs a closure in a read
//!   transaction, [`Db::update`] in a write transaction that commits when the closure returns
//!   `Ok`; [`Db::try_view`] and [`Db::try_update`] let the closure return your own error type.
//!   [`Db::begin_read`] / [`Db::begin_write`] give you the transaction to manage; dropping it
//!   without [`Tx::commit`] rolls back. Code that only reads takes `&Tx<impl Mode>` (or
//!   `Bucket<'_, impl Mode>`) and works in both.
//! - [`Bucket`] is a named collection of key/value pairs and sub-buckets. Keys are byte
//!   strings ordered bytewise; methods take anything `AsRef<[u8]>` (`b"k"`, `"k"`, a `Vec`).
//! - [`Cursor`] moves over a bucket; [`Bucket::iter`], [`Bucket::range`] (any [`KeyRange`])
//!   and [`Bucket::prefix`] are iterators, double-ended, yielding `(key, Some(value))` for
//!   values and `(name, None)` for sub-buckets — or, through [`Iter::entries`],
//!   [`Iter::pairs`], [`Iter::keys`] and [`Iter::buckets`], without the `Option`.
//! - [`typed::TypedBucket`] reads and writes a bucket through codecs: integers in numeric
//!   order, strings, and (feature `serde`) any serde type.
//!
//! # Caveats
//!
//! - Values returned by `get` and cursors borrow from the transaction; the compiler keeps you
//!   from using them after it ends. Copy what you need to keep.
//! - One write transaction at a time: [`Db::begin_write`] waits while another is open. Do not
//!   open a second write transaction on the same thread while holding one — it waits forever.
//! - A long-running read transaction keeps the pages it can see from being reused, so the file
//!   grows while it is open. It never blocks the writer.
//! - The file is locked with `flock`, like Go bbolt, so processes (Rust or Go) exclude each
//!   other. Within one process a second open of a file that is already open fails at once
//!   with [`Error::DatabaseAlreadyOpen`] (read-only opens may share a file).
//! - Do not modify or truncate the file behind rbolt's back, and do not put it on a network
//!   filesystem: the memory map assumes the bytes only change through rbolt.
//! - Files are little-endian; files written by Go bbolt on big-endian machines are not read.
//! - Unix only (Linux and other Unix systems with `flock` and `mmap`); Windows, which bbolt
//!   supports, is not.
//! - A read-write [`Db`] reserves address space for its map to grow in place (at least
//!   1 GiB, or twice the file; address space only, no memory). Pages of the file the process
//!   has read stay mapped, so RSS counts them: that is page cache the kernel can reclaim.
//!
//! # Example
//!
//! ```
//! # fn main() -> rbolt::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let db = rbolt::Db::open(dir.path().join("app.db"))?;
//! db.update(|tx| {
//!     let users = tx.create_bucket_if_not_exists("users")?;
//!     users.put("alice", "1")?;
//!     users.put("bob", "2")?;
//!     let id = users.next_sequence()?;
//!     assert_eq!(id, 1);
//!     Ok(())
//! })?;
//! db.view(|tx| {
//!     let users = tx.open_bucket("users")?;
//!     assert_eq!(users.get("alice")?, Some(&b"1"[..]));
//!     let names: Vec<&[u8]> = users.keys().rev().collect::<rbolt::Result<_>>()?;
//!     assert_eq!(names, [&b"bob"[..], b"alice"]);
//!     assert_eq!(users.range(b"a"..b"b").count(), 1);
//!     Ok(())
//! })?;
//! # Ok(()) }
//! ```

// Layers, each using only those above it in this list.
mod batch;
mod counters;
mod db;
mod defects;
mod error;
mod freelist;
mod limits;
mod mmap;
mod ops;
mod options;
mod pgid_hash;
mod range;
mod read;
mod registry;
mod shared;
mod state;
pub mod storage;
mod sync;
mod sys;
mod tx;
pub mod typed;
mod write;

pub use counters::{Stats, TxStats};
pub use db::Db;
pub use error::{Error, Result};
pub use freelist::FreelistType;
pub use limits::{DEFAULT_FILL_PERCENT, MAX_FILL_PERCENT, MAX_NESTING, MIN_FILL_PERCENT};
pub use ops::compact::compact;
pub use ops::info::{BucketStructure, Info, PageInfo, PageType};
pub use ops::stats::BucketStats;
pub use options::Options;
pub use range::KeyRange;
pub use rbolt_format::{MAX_KEY_SIZE, MAX_VALUE_SIZE, Pgid, Txid};
pub use read::walk::{CheckError, CheckOptions, KeyFormatter};
pub use tx::{
    Bucket, Buckets, Cursor, Entries, Entry, Item, Iter, Keys, Mode, Pairs, ReadOnly, ReadWrite, Tx,
};
