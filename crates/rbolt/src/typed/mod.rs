//! Typed buckets: a [`TypedBucket<K, V>`] reads and writes a plain [`Bucket`] through a
//! [`Codec`] for its keys and one for its values; get one with [`Bucket::typed`]. The file format is unchanged — a typed
//! bucket is an ordinary bucket whose bytes happen to follow a codec — so Go programs and
//! untyped code see the same data.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let db = rbolt::Db::open(dir.path().join("t.db"))?;
//! db.update(|tx| {
//!     let ages = tx.create_bucket("ages")?.typed::<str, u32>();
//!     ages.put("alice", &31)?;
//!     ages.put("bob", &27)?;
//!     assert_eq!(ages.get("alice")?, Some(31));
//!     let by_id = tx.create_bucket("by_id")?.typed::<i64, str>();
//!     for (id, name) in [(10, "ten"), (-3, "minus three"), (2, "two")] {
//!         by_id.put(&id, name)?;
//!     }
//!     let ids: Vec<i64> = by_id.keys().collect::<rbolt::Result<_>>()?;
//!     assert_eq!(ids, [-3, 2, 10]); // numeric order, negatives first
//!     assert_eq!(by_id.range(0..).next().transpose()?, Some((2, "two")));
//!     Ok(())
//! })?;
//! # Ok::<(), rbolt::Error>(())
//! ```

mod codec;

pub use codec::Codec;
#[cfg(feature = "serde")]
pub use codec::Serde;

use crate::error::Result;
use crate::tx::{Bucket, Iter, Mode, ReadOnly, ReadWrite};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

/// A [`Bucket`] whose keys go through codec `K` and values through codec `V`. Sub-buckets
/// inside it are skipped by its iterators; reach them through [`TypedBucket::bucket`].
pub struct TypedBucket<'tx, K: Codec + ?Sized, V: Codec + ?Sized, M: Mode = ReadOnly> {
    bucket: Bucket<'tx, M>,
    codecs: PhantomData<fn() -> (*const K, *const V)>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized, M: Mode> Clone for TypedBucket<'_, K, V, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized, M: Mode> Copy for TypedBucket<'_, K, V, M> {}

impl<K: Codec + ?Sized, V: Codec + ?Sized, M: Mode> fmt::Debug for TypedBucket<'_, K, V, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedBucket")
            .field("bucket", &self.bucket)
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .finish()
    }
}

impl<'tx, M: Mode> Bucket<'tx, M> {
    /// This bucket seen through codecs: `K` for keys, `V` for values. Writing through it needs
    /// a bucket of a write transaction, like writing through the bucket itself.
    pub fn typed<K: Codec + ?Sized, V: Codec + ?Sized>(self) -> TypedBucket<'tx, K, V, M> {
        TypedBucket::new(self)
    }
}

fn encode_bound<K: Codec + ?Sized>(b: Bound<&K::Item>) -> Result<Bound<Vec<u8>>> {
    Ok(match b {
        Bound::Included(k) => Bound::Included(K::encode(k)?.into_owned()),
        Bound::Excluded(k) => Bound::Excluded(K::encode(k)?.into_owned()),
        Bound::Unbounded => Bound::Unbounded,
    })
}

impl<'tx, K: Codec + ?Sized, V: Codec + ?Sized, M: Mode> TypedBucket<'tx, K, V, M> {
    /// Views `bucket` through the codecs `K` and `V` (usually spelled
    /// [`bucket.typed::<K, V>()`](Bucket::typed), which keeps the transaction's mode).
    pub fn new(bucket: Bucket<'tx, M>) -> Self {
        Self {
            bucket,
            codecs: PhantomData,
        }
    }

    /// The untyped bucket underneath.
    pub fn bucket(&self) -> Bucket<'tx, M> {
        self.bucket
    }

    /// The value under `key`, decoded; `None` if there is none.
    pub fn get(&self, key: &K::Item) -> Result<Option<V::Out<'tx>>> {
        match self.bucket.get(K::encode(key)?)? {
            Some(v) => V::decode(v).map(Some),
            None => Ok(None),
        }
    }

    /// True if `key` holds a value.
    pub fn contains_key(&self, key: &K::Item) -> Result<bool> {
        self.bucket.contains_key(K::encode(key)?)
    }

    /// Every `(key, value)` in key order, decoded (double-ended).
    pub fn iter(&self) -> TypedIter<'tx, K, V, M> {
        TypedIter::new(self.bucket.iter())
    }

    /// The `(key, value)` pairs whose keys fall in `range`, given as items: `0..10` for an
    /// integer codec, `"a".."m"` for `str`. An item that fails to encode yields one error.
    pub fn range(&self, range: impl RangeBounds<K::Item>) -> TypedIter<'tx, K, V, M> {
        let bounds = encode_bound::<K>(range.start_bound())
            .and_then(|s| Ok((s, encode_bound::<K>(range.end_bound())?)));
        match bounds {
            Ok(b) => TypedIter::new(self.bucket.range(b)),
            Err(e) => TypedIter {
                inner: self.bucket.range(..),
                pending: Some(e),
                done: false,
                codecs: PhantomData,
            },
        }
    }

    /// The keys in order, decoded.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = Result<K::Out<'tx>>> + use<'tx, K, V, M> {
        self.bucket.keys().map(|k| k.and_then(|k| K::decode(k)))
    }

    /// The first `(key, value)`, decoded.
    pub fn first(&self) -> Result<Option<(K::Out<'tx>, V::Out<'tx>)>> {
        self.iter().next().transpose()
    }

    /// The last `(key, value)`, decoded.
    pub fn last(&self) -> Result<Option<(K::Out<'tx>, V::Out<'tx>)>> {
        self.iter().next_back().transpose()
    }
}

/// Writing: only through a bucket of a write transaction.
impl<K: Codec + ?Sized, V: Codec + ?Sized> TypedBucket<'_, K, V, ReadWrite> {
    /// Stores `value` under `key`.
    pub fn put(&self, key: &K::Item, value: &V::Item) -> Result<()> {
        self.bucket.put(K::encode(key)?, V::encode(value)?)
    }

    /// Removes `key`; a missing key is not an error.
    pub fn delete(&self, key: &K::Item) -> Result<()> {
        self.bucket.delete(K::encode(key)?)
    }
}

/// Decoded `(key, value)` pairs of a [`TypedBucket`], skipping sub-buckets; double-ended.
pub struct TypedIter<'tx, K: Codec + ?Sized, V: Codec + ?Sized, M: Mode = ReadOnly> {
    inner: Iter<'tx, M>,
    /// An error to report first (a range bound that did not encode).
    pending: Option<crate::Error>,
    /// Set once `pending` was reported: the walk stops there.
    done: bool,
    codecs: PhantomData<fn() -> (*const K, *const V)>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized, M: Mode> fmt::Debug for TypedIter<'_, K, V, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedIter")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<'tx, K: Codec + ?Sized, V: Codec + ?Sized, M: Mode> TypedIter<'tx, K, V, M> {
    fn new(inner: Iter<'tx, M>) -> Self {
        Self {
            inner,
            pending: None,
            done: false,
            codecs: PhantomData,
        }
    }

    /// The next decoded pair from `advance` (a step forward or back), skipping sub-buckets;
    /// an error found when the iterator was made comes first, and ends it.
    fn step(
        &mut self,
        mut advance: impl FnMut(&mut Iter<'tx, M>) -> Option<Result<crate::Item<'tx>>>,
    ) -> Option<Result<(K::Out<'tx>, V::Out<'tx>)>> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        loop {
            if let Some(x) = Self::decode(advance(&mut self.inner)?) {
                return Some(x);
            }
        }
    }

    fn decode(item: Result<crate::Item<'tx>>) -> Option<Result<(K::Out<'tx>, V::Out<'tx>)>> {
        match item {
            Ok((_, None)) => None,
            Ok((k, Some(v))) => Some(K::decode(k).and_then(|k| Ok((k, V::decode(v)?)))),
            Err(e) => Some(Err(e)),
        }
    }
}

impl<'tx, K: Codec + ?Sized, V: Codec + ?Sized, M: Mode> Iterator for TypedIter<'tx, K, V, M> {
    type Item = Result<(K::Out<'tx>, V::Out<'tx>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(Iter::next)
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized, M: Mode> DoubleEndedIterator for TypedIter<'_, K, V, M> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(Iter::next_back)
    }
}
