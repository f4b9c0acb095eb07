//! Views of an [`Iter`] without bbolt's `None`-means-sub-bucket convention: [`Entry`] tells
//! values from sub-buckets by variant; [`Pairs`], [`Keys`] and [`Buckets`] keep one kind.

use crate::error::Result;
use crate::tx::{Item, Iter, Mode, ReadOnly};

/// One entry of a bucket: a value under its key, or a sub-bucket's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry<'tx> {
    /// A plain value under its key.
    Value(&'tx [u8], &'tx [u8]),
    /// A sub-bucket; open it with [`Bucket::bucket`](crate::Bucket::bucket).
    Bucket(&'tx [u8]),
}

impl<'tx> Entry<'tx> {
    /// The key, or the sub-bucket's name.
    pub fn key(&self) -> &'tx [u8] {
        match *self {
            Entry::Value(k, _) | Entry::Bucket(k) => k,
        }
    }

    /// The value; `None` for a sub-bucket.
    pub fn value(&self) -> Option<&'tx [u8]> {
        match *self {
            Entry::Value(_, v) => Some(v),
            Entry::Bucket(_) => None,
        }
    }

    /// True for a sub-bucket.
    pub fn is_bucket(&self) -> bool {
        matches!(self, Entry::Bucket(_))
    }
}

impl<'tx> From<Item<'tx>> for Entry<'tx> {
    fn from((k, v): Item<'tx>) -> Self {
        match v {
            Some(v) => Entry::Value(k, v),
            None => Entry::Bucket(k),
        }
    }
}

/// Defines a double-ended adapter over [`Iter`] that maps (or skips) each item with `$f`.
macro_rules! adapter {
    ($(#[$doc:meta])* $name:ident, $out:ty, $f:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<'tx, M: Mode = ReadOnly>(pub(crate) Iter<'tx, M>);

        impl<'tx, M: Mode> Iterator for $name<'tx, M> {
            type Item = Result<$out>;

            fn next(&mut self) -> Option<Self::Item> {
                let f: fn(Item<'tx>) -> Option<$out> = $f;
                loop {
                    match self.0.next()? {
                        Ok(item) => match f(item) {
                            Some(x) => return Some(Ok(x)),
                            None => continue,
                        },
                        Err(e) => return Some(Err(e)),
                    }
                }
            }
        }

        impl<'tx, M: Mode> DoubleEndedIterator for $name<'tx, M> {
            fn next_back(&mut self) -> Option<Self::Item> {
                let f: fn(Item<'tx>) -> Option<$out> = $f;
                loop {
                    match self.0.next_back()? {
                        Ok(item) => match f(item) {
                            Some(x) => return Some(Ok(x)),
                            None => continue,
                        },
                        Err(e) => return Some(Err(e)),
                    }
                }
            }
        }
    };
}

adapter!(
    /// Every entry as an [`Entry`]; from [`Iter::entries`] or [`Bucket::entries`](crate::Bucket::entries).
    Entries, Entry<'tx>, |i| Some(Entry::from(i))
);
adapter!(
    /// `(key, value)` of the plain values, skipping sub-buckets; from [`Iter::pairs`].
    Pairs, (&'tx [u8], &'tx [u8]), |(k, v)| v.map(|v| (k, v))
);
adapter!(
    /// Keys of the plain values, skipping sub-buckets; from [`Iter::keys`].
    Keys, &'tx [u8], |(k, v)| v.map(|_| k)
);
adapter!(
    /// Names of the sub-buckets, skipping values; from [`Iter::buckets`] or
    /// [`Tx::buckets`](crate::Tx::buckets).
    Buckets, &'tx [u8], |(k, v)| v.is_none().then_some(k)
);

impl<'tx, M: Mode> Iter<'tx, M> {
    /// This walk as [`Entry`] values.
    pub fn entries(self) -> Entries<'tx, M> {
        Entries(self)
    }

    /// This walk's plain values as `(key, value)`, skipping sub-buckets.
    pub fn pairs(self) -> Pairs<'tx, M> {
        Pairs(self)
    }

    /// This walk's keys of plain values, skipping sub-buckets.
    pub fn keys(self) -> Keys<'tx, M> {
        Keys(self)
    }

    /// This walk's sub-bucket names, skipping plain values.
    pub fn buckets(self) -> Buckets<'tx, M> {
        Buckets(self)
    }
}
