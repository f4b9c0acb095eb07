//! Flags of `rbolt browse`.

use super::{BucketFormat, Positional};
use clap::Args;

pub(crate) const LONG_ABOUT: &str = "\
Browse a bbolt database in the terminal: a bucket tree, the keys of the selected bucket and an \
inspector that shows a value as text, JSON, hex, integers, times or base64. The key list reads \
only what is on screen, so million-key buckets open at once.

The file is opened read-only with a shared lock (other readers may share it; a writer holding \
it makes browse wait --timeout). --write opens it read-write: edits (e p b D m) then each run \
in their own transaction.

Keys: j/k move, l/Enter open, h back, / seek a key prefix, : go to a path or #page, v change \
view, f search, P pages, C check, S stats, X export, ? help, q quit.

Examples:
  rbolt browse app.db
  rbolt browse app.db users sessions
  rbolt browse --write app.db";

/// `rbolt browse FILE [BUCKET…]`.
#[derive(Debug, Args)]
pub(crate) struct BrowseArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// Open read-write (an exclusive lock): enables put, delete, new bucket and move bucket,
    /// each its own transaction. Without it the file is opened read-only with a shared lock.
    #[arg(long)]
    pub(crate) write: bool,
    /// How bucket arguments are read: raw bytes, or hex for binary names.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
}
