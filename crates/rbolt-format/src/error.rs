//! The one error type of the codec: what was wrong with the bytes, in enough detail for a
//! `Corrupted` message to point at the field.

use crate::Pgid;
use std::fmt;

/// Bytes that do not form a valid structure of the bbolt format.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// A page slice is shorter than the 16-byte header.
    PageTooShort {
        /// Length of the slice.
        len: usize,
    },
    /// The header's id is not the position the page was read from.
    PageIdMismatch {
        /// Where the page was read.
        expected: Pgid,
        /// What its header says.
        found: Pgid,
    },
    /// The page type is not the one this position requires.
    WrongPageType {
        /// The page id.
        pgid: Pgid,
        /// The flags found in the header.
        flags: u16,
    },
    /// The element array does not fit in the page.
    ElementsOutOfBounds {
        /// Element count from the header.
        count: u16,
        /// Length of the page span.
        len: usize,
    },
    /// An element's key or value lies (partly) outside its page.
    ElementOutOfBounds {
        /// Index of the element.
        index: usize,
    },
    /// An element index past `count` was asked for.
    NoSuchElement {
        /// The index asked for.
        index: usize,
    },
    /// A key of length zero, which the format forbids.
    EmptyKey {
        /// Index of the element.
        index: usize,
    },
    /// A bucket value shorter than the 16-byte bucket header.
    BucketValueTooShort {
        /// Length of the value.
        len: usize,
    },
    /// A freelist page whose id list runs past the page.
    FreelistOutOfBounds {
        /// Number of ids the page claims.
        count: u64,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PageTooShort { len } => write!(f, "page slice of {len} bytes has no header"),
            Self::PageIdMismatch { expected, found } => {
                write!(
                    f,
                    "page expected to be {expected}, but self identifies as {found}"
                )
            }
            Self::WrongPageType { pgid, flags } => {
                write!(f, "page {pgid}: unexpected page type {flags:#04x}")
            }
            Self::ElementsOutOfBounds { count, len } => {
                write!(
                    f,
                    "{count} elements do not fit in a page span of {len} bytes"
                )
            }
            Self::ElementOutOfBounds { index } => {
                write!(f, "element {index}: key or value outside the page")
            }
            Self::NoSuchElement { index } => write!(f, "element {index} past the element count"),
            Self::EmptyKey { index } => write!(f, "element {index}: zero-length key"),
            Self::BucketValueTooShort { len } => {
                write!(
                    f,
                    "bucket value of {len} bytes is shorter than its 16-byte header"
                )
            }
            Self::FreelistOutOfBounds { count } => {
                write!(f, "freelist claims {count} ids, more than its pages hold")
            }
        }
    }
}

impl std::error::Error for FormatError {}
