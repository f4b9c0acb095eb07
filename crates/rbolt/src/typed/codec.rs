//! [`Codec`]: how a typed bucket turns its keys and values into bytes and back, and the
//! built-in codecs. Integers are big-endian, and signed ones have their sign bit flipped, so
//! that bytewise order (the file's order) is numeric order.

#![allow(
    clippy::big_endian_bytes,
    reason = "integer codecs are big-endian so that byte order is numeric order"
)]

use crate::error::{Error, Result};
use std::borrow::Cow;

/// Turns items into bytes and bytes back into items for a
/// [`TypedBucket`](crate::typed::TypedBucket). The implementing type names the codec; it is
/// often the item type itself (`u64`, `str`, `String`), or a wrapper such as
/// `Serde<T>` (feature `serde`) that stores `T` in some format.
pub trait Codec {
    /// What is stored: [`TypedBucket::put`](crate::typed::TypedBucket::put) takes `&Item`.
    type Item: ?Sized;
    /// What is read back, possibly borrowing from the transaction (`&'a str`).
    type Out<'a>;
    /// The bytes for `item`. Keys must encode so that byte order is the order you want.
    fn encode(item: &Self::Item) -> Result<Cow<'_, [u8]>>;
    /// The item stored in `bytes`; [`Error::Codec`] if they do not hold one.
    fn decode(bytes: &[u8]) -> Result<Self::Out<'_>>;
}

/// Raw bytes, borrowed on the way out.
impl Codec for [u8] {
    type Item = [u8];
    type Out<'a> = &'a [u8];
    fn encode(item: &[u8]) -> Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(item))
    }
    fn decode(bytes: &[u8]) -> Result<&[u8]> {
        Ok(bytes)
    }
}

/// UTF-8 text, borrowed on the way out.
impl Codec for str {
    type Item = str;
    type Out<'a> = &'a str;
    fn encode(item: &str) -> Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(item.as_bytes()))
    }
    fn decode(bytes: &[u8]) -> Result<&str> {
        std::str::from_utf8(bytes).map_err(|e| Error::Codec(format!("not UTF-8: {e}")))
    }
}

/// UTF-8 text, copied into a `String` on the way out.
impl Codec for String {
    type Item = str;
    type Out<'a> = String;
    fn encode(item: &str) -> Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(item.as_bytes()))
    }
    fn decode(bytes: &[u8]) -> Result<String> {
        <str as Codec>::decode(bytes).map(str::to_owned)
    }
}

/// Copied into a `Vec<u8>` on the way out.
impl Codec for Vec<u8> {
    type Item = [u8];
    type Out<'a> = Vec<u8>;
    fn encode(item: &[u8]) -> Result<Cow<'_, [u8]>> {
        Ok(Cow::Borrowed(item))
    }
    fn decode(bytes: &[u8]) -> Result<Vec<u8>> {
        Ok(bytes.to_vec())
    }
}

fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| Error::Codec(format!("{what} needs {N} bytes, found {}", bytes.len())))
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        /// Big-endian, so byte order is numeric order.
        impl Codec for $t {
            type Item = $t;
            type Out<'a> = $t;
            fn encode(item: &$t) -> Result<Cow<'_, [u8]>> {
                Ok(Cow::Owned(item.to_be_bytes().to_vec()))
            }
            fn decode(bytes: &[u8]) -> Result<$t> {
                Ok(<$t>::from_be_bytes(fixed(bytes, stringify!($t))?))
            }
        }
    )*};
}

macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        /// Big-endian with the sign bit flipped, so byte order is numeric order (negative
        /// numbers first).
        impl Codec for $t {
            type Item = $t;
            type Out<'a> = $t;
            fn encode(item: &$t) -> Result<Cow<'_, [u8]>> {
                let flipped = (*item as $u) ^ (1 << (<$u>::BITS - 1));
                Ok(Cow::Owned(flipped.to_be_bytes().to_vec()))
            }
            fn decode(bytes: &[u8]) -> Result<$t> {
                let u = <$u>::from_be_bytes(fixed(bytes, stringify!($t))?);
                Ok((u ^ (1 << (<$u>::BITS - 1))) as $t)
            }
        }
    )*};
}

unsigned!(u8, u16, u32, u64, u128);
signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

/// Any `serde` type, stored in [postcard](https://docs.rs/postcard)'s format: compact, with a
/// wire format that is specified and stable across postcard 1.x — what data kept in a file
/// needs. For values; postcard's byte order is not numeric order, so use the integer or
/// string codecs for keys you iterate in order.
#[cfg(feature = "serde")]
#[derive(Debug)]
pub struct Serde<T>(std::marker::PhantomData<T>);

#[cfg(feature = "serde")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> Codec for Serde<T> {
    type Item = T;
    type Out<'a> = T;
    fn encode(item: &T) -> Result<Cow<'_, [u8]>> {
        postcard::to_allocvec(item)
            .map(Cow::Owned)
            .map_err(|e| Error::Codec(format!("postcard: {e}")))
    }
    fn decode(bytes: &[u8]) -> Result<T> {
        postcard::from_bytes(bytes).map_err(|e| Error::Codec(format!("postcard: {e}")))
    }
}
