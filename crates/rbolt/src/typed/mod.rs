//! Typed buckets: a [`TypedBucket<K, V>`] reads and writes a plain [`Bucket`] through a
//! [`Codec`] for its keys and one for its values. The file format is unchanged — a typed
//! bucket is an ordinary bucket whose bytes happen to follow a codec — so Go programs and
//! untyped code see the same data.
//!
//! ```
//! use rbolt::typed::TypedBucket;
//! # let dir = tempfile::tempdir().unwrap();
//! # let db = rbolt::Db::open(dir.path().join("t.db"))?;
//! db.update(|tx| {
//!     let ages = TypedBucket::<str, u32>::new(tx.create_bucket("ages")?);
//!     ages.put("alice", &31)?;
//!     ages.put("bob", &27)?;
//!     assert_eq!(ages.get("alice")?, Some(31));
//!     let by_id = TypedBucket::<i64, str>::new(tx.create_bucket("by_id")?);
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
use crate::tx::{Bucket, Iter};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

/// A [`Bucket`] whose keys go through codec `K` and values through codec `V`. Sub-buckets
/// inside it are skipped by its iterators; reach them through [`TypedBucket::bucket`].
pub struct TypedBucket<'tx, K: Codec + ?Sized, V: Codec + ?Sized> {
    bucket: Bucket<'tx>,
    codecs: PhantomData<fn() -> (*const K, *const V)>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Clone for TypedBucket<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> Copy for TypedBucket<'_, K, V> {}

impl<K: Codec + ?Sized, V: Codec + ?Sized> fmt::Debug for TypedBucket<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedBucket")
            .field("bucket", &self.bucket)
            .field("key", &std::any::type_name::<K>())
            .field("value", &std::any::type_name::<V>())
            .finish()
    }
}

fn encode_bound<K: Codec + ?Sized>(b: Bound<&K::Item>) -> Result<Bound<Vec<u8>>> {
    Ok(match b {
        Bound::Included(k) => Bound::Included(K::encode(k)?.into_owned()),
        Bound::Excluded(k) => Bound::Excluded(K::encode(k)?.into_owned()),
        Bound::Unbounded => Bound::Unbounded,
    })
}

impl<'tx, K: Codec + ?Sized, V: Codec + ?Sized> TypedBucket<'tx, K, V> {
    /// Views `bucket` through the codecs `K` and `V`.
    pub fn new(bucket: Bucket<'tx>) -> Self {
        Self {
            bucket,
            codecs: PhantomData,
        }
    }

    /// The untyped bucket underneath.
    pub fn bucket(&self) -> Bucket<'tx> {
        self.bucket
    }

    /// The value under `key`, decoded; `None` if there is none.
    pub fn get(&self, key: &K::Item) -> Result<Option<V::Out<'tx>>> {
        match self.bucket.get(K::encode(key)?)? {
            Some(v) => V::decode(v).map(Some),
            None => Ok(None),
        }
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: &K::Item, value: &V::Item) -> Result<()> {
        self.bucket.put(K::encode(key)?, V::encode(value)?)
    }

    /// Removes `key`; a missing key is not an error.
    pub fn delete(&self, key: &K::Item) -> Result<()> {
        self.bucket.delete(K::encode(key)?)
    }

    /// True if `key` holds a value.
    pub fn contains_key(&self, key: &K::Item) -> Result<bool> {
        self.bucket.contains_key(K::encode(key)?)
    }

    /// Every `(key, value)` in key order, decoded (double-ended).
    pub fn iter(&self) -> TypedIter<'tx, K, V> {
        TypedIter::new(self.bucket.iter())
    }

    /// The `(key, value)` pairs whose keys fall in `range`, given as items: `0..10` for an
    /// integer codec, `"a".."m"` for `str`. An item that fails to encode yields one error.
    pub fn range(&self, range: impl RangeBounds<K::Item>) -> TypedIter<'tx, K, V> {
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
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = Result<K::Out<'tx>>> + use<'tx, K, V> {
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

/// Decoded `(key, value)` pairs of a [`TypedBucket`], skipping sub-buckets; double-ended.
pub struct TypedIter<'tx, K: Codec + ?Sized, V: Codec + ?Sized> {
    inner: Iter<'tx>,
    /// An error to report first (a range bound that did not encode).
    pending: Option<crate::Error>,
    /// Set once `pending` was reported: the walk stops there.
    done: bool,
    codecs: PhantomData<fn() -> (*const K, *const V)>,
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> fmt::Debug for TypedIter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedIter")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<'tx, K: Codec + ?Sized, V: Codec + ?Sized> TypedIter<'tx, K, V> {
    fn new(inner: Iter<'tx>) -> Self {
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
        mut advance: impl FnMut(&mut Iter<'tx>) -> Option<Result<crate::Item<'tx>>>,
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

impl<'tx, K: Codec + ?Sized, V: Codec + ?Sized> Iterator for TypedIter<'tx, K, V> {
    type Item = Result<(K::Out<'tx>, V::Out<'tx>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(Iter::next)
    }
}

impl<K: Codec + ?Sized, V: Codec + ?Sized> DoubleEndedIterator for TypedIter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(Iter::next_back)
    }
}
