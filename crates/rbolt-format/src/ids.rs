//! Page ids and transaction ids as distinct types, so one can never be passed where the other
//! is meant. Both are the plain little-endian `u64`s of the file; the wrappers cost nothing.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A page id: the page's position in the file, in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[repr(transparent)]
pub struct Pgid(pub u64);

/// A transaction id: the number a write transaction commits under, one more than its
/// predecessor's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
#[repr(transparent)]
pub struct Txid(pub u64);

impl Pgid {
    /// The number as stored in the file.
    #[inline]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Byte offset of the page in a file of `page_size`-byte pages, if it fits in a `u64`.
    #[inline]
    pub fn byte_offset(self, page_size: usize) -> Option<u64> {
        self.0.checked_mul(page_size as u64)
    }

    /// The id `n` pages further on, if it fits in a `u64`.
    #[inline]
    pub fn checked_add(self, n: u64) -> Option<Pgid> {
        self.0.checked_add(n).map(Pgid)
    }
}

impl Txid {
    /// The number as stored in the file.
    #[inline]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The id the next write transaction commits under.
    #[inline]
    pub const fn next(self) -> Txid {
        Txid(self.0.wrapping_add(1))
    }
}

/// Pages further on; overflow is a bug in the caller (ids are checked against the file's
/// high-water mark before arithmetic), so it wraps like `u64` in release builds.
impl Add<u64> for Pgid {
    type Output = Pgid;
    #[inline]
    fn add(self, n: u64) -> Pgid {
        Pgid(self.0 + n)
    }
}

impl AddAssign<u64> for Pgid {
    #[inline]
    fn add_assign(&mut self, n: u64) {
        self.0 += n;
    }
}

/// The number of pages between two ids.
impl Sub for Pgid {
    type Output = u64;
    #[inline]
    fn sub(self, other: Pgid) -> u64 {
        self.0 - other.0
    }
}

impl fmt::Display for Pgid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<Pgid> for u64 {
    #[inline]
    fn from(p: Pgid) -> u64 {
        p.0
    }
}

impl From<Txid> for u64 {
    #[inline]
    fn from(t: Txid) -> u64 {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_and_display() {
        let p = Pgid(10);
        assert_eq!(p + 3, Pgid(13));
        assert_eq!(Pgid(13) - p, 3);
        assert_eq!(p.byte_offset(4096), Some(40960));
        assert_eq!(Pgid(u64::MAX).byte_offset(2), None);
        assert_eq!(Pgid(u64::MAX).checked_add(1), None);
        assert_eq!(Txid(7).next(), Txid(8));
        assert_eq!(format!("{} {}", Pgid(5), Txid(6)), "5 6");
        assert_eq!(u64::from(Pgid(9)), 9);
    }
}
