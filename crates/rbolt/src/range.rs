//! [`KeyRange`]: what [`Bucket::range`](crate::Bucket::range) and
//! [`Bucket::delete_range`](crate::Bucket::delete_range) accept.
//!
//! std's `RangeBounds<T>` is implemented both for `Range<T>` and for `Range<&T>`, so a method
//! generic over the key type `K` with `impl RangeBounds<K>` cannot tell which `K` is meant for
//! `b"a"..b"c"` (`[u8; 1]` or `&[u8; 1]`?), `&lo..&hi` or `..`, and asks for annotations. This
//! trait is implemented once per range *type*, so the argument alone decides.

use std::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

/// A range of byte-string keys: any std range (`a..b`, `a..=b`, `a..`, `..b`, `..=b`, `..`) or
/// a `(Bound, Bound)` pair whose endpoints are `AsRef<[u8]>` — byte strings, slices, arrays,
/// `Vec<u8>`, `&str`, `String`.
///
/// ```
/// use std::ops::Bound;
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = rbolt::Db::open(dir.path().join("r.db"))?;
/// db.update(|tx| {
///     let b = tx.create_bucket(b"b")?;
///     for k in ["a", "b", "c", "d"] { b.put(k, "")?; }
///     let keys = |it: rbolt::Iter<'_, rbolt::ReadWrite>| it.keys().map(|k| k.map(<[u8]>::to_vec)).collect::<rbolt::Result<Vec<_>>>();
///     assert_eq!(keys(b.range(b"b"..b"d"))?, [b"b", b"c"]);
///     assert_eq!(keys(b.range("b"..="c"))?, [b"b", b"c"]);
///     assert_eq!(keys(b.range(..))?.len(), 4);
///     let (lo, hi) = (b"b".to_vec(), b"d".to_vec());
///     assert_eq!(keys(b.range(&lo..&hi))?, [b"b", b"c"]);
///     assert_eq!(keys(b.range(lo..))?, [b"b", b"c", b"d"]);
///     assert_eq!(keys(b.range((Bound::Excluded(b"a"), Bound::Unbounded)))?.len(), 3);
///     Ok(())
/// })?;
/// # Ok::<(), rbolt::Error>(())
/// ```
///
/// Both ends of a std range have one type, so `b"a"..b"cc"` (arrays of different lengths)
/// does not compile; write `&b"a"[..]..&b"cc"[..]` or `"a".."cc"`.
pub trait KeyRange {
    /// The lower and upper bound, as byte strings.
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>);
}

fn bound<K: AsRef<[u8]>>(b: &Bound<K>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<K: AsRef<[u8]>> KeyRange for Range<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            Bound::Included(self.start.as_ref()),
            Bound::Excluded(self.end.as_ref()),
        )
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeInclusive<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            Bound::Included(self.start().as_ref()),
            Bound::Included(self.end().as_ref()),
        )
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeFrom<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Included(self.start.as_ref()), Bound::Unbounded)
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeTo<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Excluded(self.end.as_ref()))
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeToInclusive<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Included(self.end.as_ref()))
    }
}

impl KeyRange for RangeFull {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}

impl<K: AsRef<[u8]>> KeyRange for (Bound<K>, Bound<K>) {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (bound(&self.0), bound(&self.1))
    }
}

impl<R: KeyRange + ?Sized> KeyRange for &R {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (**self).key_bounds()
    }
}

/// The keys starting with `prefix`, as owned bounds: from `prefix` up to (excluding) the
/// shortest byte string greater than every key with that prefix — the prefix with its last
/// byte below 0xff incremented and what follows dropped; unbounded if there is none.
pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let start = Bound::Included(prefix.to_vec());
    let end = match prefix.iter().rposition(|&b| b != 0xff) {
        Some(i) => {
            let mut e = prefix[..=i].to_vec();
            e[i] += 1;
            Bound::Excluded(e)
        }
        None => Bound::Unbounded,
    };
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor() {
        assert_eq!(prefix_bounds(b"ab").1, Bound::Excluded(b"ac".to_vec()));
        assert_eq!(
            prefix_bounds(b"a\xff\xff").1,
            Bound::Excluded(b"b".to_vec())
        );
        assert_eq!(prefix_bounds(b"\xff").1, Bound::Unbounded);
        assert_eq!(prefix_bounds(b"").1, Bound::Unbounded);
    }
}
