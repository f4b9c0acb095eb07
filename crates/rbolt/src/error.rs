//! The crate's one error type. Variants mirror bbolt's `errors/errors.go` one to one, with the
//! same messages, so tools and people who know bbolt recognise them; rbolt adds `Io`,
//! `Corrupted` (bad bytes found after open) and `Poisoned` (an earlier write or sync failed).

use rbolt_format::{FormatError, MetaError, Pgid};
use std::fmt;
use std::io;

/// Result with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in rbolt.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The database is not open ("database not open").
    DatabaseNotOpen,
    /// Both meta pages are invalid, or the file is not a bbolt database ("invalid database").
    Invalid,
    /// The file was written with a different data-format version ("version mismatch").
    VersionMismatch,
    /// Both meta pages fail their checksum ("checksum error").
    Checksum,
    /// The file lock could not be taken before the timeout ("timeout").
    Timeout,
    /// This process already has the file open through another [`Db`](crate::Db) (its file
    /// lock would make this open wait for that one forever). Read-only opens may share a file
    /// with each other, never with a read-write open.
    DatabaseAlreadyOpen,
    /// A write was attempted in a read-only transaction ("tx not writable"). The types rule
    /// this out for the public API; the variant stays for bbolt's error set.
    TxNotWritable,
    /// The transaction is already closed ("tx closed").
    TxClosed,
    /// A write transaction was requested on a read-only database
    /// ("database is in read-only mode").
    DatabaseReadOnly,
    /// The freelist is needed but was not loaded ("free pages are not pre-loaded").
    FreePagesNotLoaded,
    /// The bucket does not exist ("bucket not found").
    BucketNotFound,
    /// A bucket with that name already exists ("bucket already exists").
    BucketExists,
    /// A bucket name must not be empty ("bucket name required").
    BucketNameRequired,
    /// A key must not be empty ("key required").
    KeyRequired,
    /// The key is longer than [`crate::MAX_KEY_SIZE`] ("key too large").
    KeyTooLarge,
    /// The value is longer than [`crate::MAX_VALUE_SIZE`] ("value too large").
    ValueTooLarge,
    /// The database would grow past `Options::max_size` ("database reached maximum size").
    MaxSizeReached,
    /// The key holds a value where a bucket was expected, or the reverse
    /// ("incompatible value").
    IncompatibleValue,
    /// Source and target of a bucket move are the same bucket.
    SameBuckets,
    /// Source and target of a bucket move are in different database files.
    DifferentDb,
    /// Creating or moving a bucket would nest buckets deeper than [`crate::MAX_NESTING`].
    BucketNestingTooDeep,
    /// An argument or option is out of its range (a page size, a fill percent), or
    /// [`Options::create(false)`](crate::Options::create) found no file; the message says which.
    InvalidArgument(String),
    /// A [typed bucket](crate::typed)'s codec could not encode an item or decode the bytes
    /// stored (wrong length for an integer, not UTF-8, not the serialised type).
    Codec(String),
    /// An operating-system I/O error.
    Io(io::Error),
    /// Bytes read from the file break the format's rules. The file may have been damaged or
    /// crafted; nothing was changed because of it.
    Corrupted {
        /// The page where the problem was found, if known.
        pgid: Option<Pgid>,
        /// What was wrong.
        what: String,
    },
    /// An earlier write or sync failed, or a commit panicked, so this handle no longer knows
    /// the state of the file: the database refuses further writes (and [`Db::sync`]) until it
    /// is reopened. After a failed fsync the kernel may have dropped the unwritten pages and a
    /// later fsync can report success anyway ("fsyncgate"). Readers keep working on the last
    /// state this handle published.
    ///
    /// [`Db::sync`]: crate::Db::sync
    Poisoned,
}

impl Error {
    // Cold and out of line: every page read has error exits, and building the message inline
    // costs the hot path registers and stack in each of them.
    #[cold]
    #[inline(never)]
    pub(crate) fn corrupted(pgid: impl Into<Option<Pgid>>, what: impl fmt::Display) -> Self {
        Self::Corrupted {
            pgid: pgid.into(),
            what: what.to_string(),
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn format(pgid: Pgid, e: FormatError) -> Self {
        Self::corrupted(pgid, e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::DatabaseNotOpen => "database not open",
            Self::Invalid => "invalid database",
            Self::VersionMismatch => "version mismatch",
            Self::Checksum => "checksum error",
            Self::Timeout => "timeout",
            Self::DatabaseAlreadyOpen => {
                "database file already open in this process; use that Db or drop it first"
            }
            Self::TxNotWritable => "tx not writable",
            Self::TxClosed => "tx closed",
            Self::DatabaseReadOnly => "database is in read-only mode",
            Self::FreePagesNotLoaded => "free pages are not pre-loaded",
            Self::BucketNotFound => "bucket not found",
            Self::BucketExists => "bucket already exists",
            Self::BucketNameRequired => "bucket name required",
            Self::KeyRequired => "key required",
            Self::KeyTooLarge => "key too large",
            Self::ValueTooLarge => "value too large",
            Self::MaxSizeReached => "database reached maximum size",
            Self::IncompatibleValue => "incompatible value",
            Self::SameBuckets => "the source and target are the same bucket",
            Self::DifferentDb => "the source and target buckets are in different database files",
            Self::BucketNestingTooDeep => {
                "buckets cannot nest deeper than 1024 levels (rbolt::MAX_NESTING)"
            }
            Self::InvalidArgument(what) => return write!(f, "invalid argument: {what}"),
            Self::Codec(what) => return write!(f, "codec: {what}"),
            Self::Io(e) => return write!(f, "i/o error: {e}"),
            Self::Corrupted {
                pgid: Some(p),
                what,
            } => {
                return write!(f, "database corrupted at page {p}: {what}");
            }
            Self::Corrupted { pgid: None, what } => {
                return write!(f, "database corrupted: {what}");
            }
            Self::Poisoned => {
                "an earlier write or sync failed, or a commit panicked; reopen the database \
                 before writing again"
            }
        };
        f.write_str(s)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<MetaError> for Error {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::Invalid => Self::Invalid,
            MetaError::VersionMismatch => Self::VersionMismatch,
            MetaError::Checksum => Self::Checksum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_bbolt() {
        assert_eq!(Error::BucketNotFound.to_string(), "bucket not found");
        assert_eq!(Error::KeyRequired.to_string(), "key required");
        assert_eq!(
            Error::DatabaseReadOnly.to_string(),
            "database is in read-only mode"
        );
        assert_eq!(
            Error::from(MetaError::Checksum).to_string(),
            "checksum error"
        );
        let c = Error::corrupted(Pgid(7), "bad");
        assert_eq!(c.to_string(), "database corrupted at page 7: bad");
    }
}
