//! Codec for the bbolt on-disk format (bbolt's `internal/common`): page headers, branch and leaf
//! elements, bucket headers, meta pages and freelist pages.
//!
//! Every decoder takes a byte slice and returns `Result`: bytes read from a database file are
//! untrusted, so no offset, count or size is used before it has been checked against the slice
//! it points into. Nothing here panics on bad input, performs I/O, or uses `unsafe`.
//!
//! All integers are little-endian (the bytes Go bbolt writes on x86-64 and aarch64). The normative
//! description, with byte diagrams, is `docs/format.md`.
#![forbid(unsafe_code)]

mod error;
mod freelist;
mod ids;
mod meta;
mod page;

pub use error::FormatError;
pub use freelist::{
    decode_freelist, encode_freelist, encode_freelist_header, freelist_alloc_pages,
    freelist_encoded_size, freelist_id_count,
};
pub use ids::{Pgid, Txid};
pub use meta::{Meta, MetaError, fnv1a64};
pub use page::{
    BranchElem, BranchPage, LeafElem, LeafPage, PageHeader, branch_page_size, encode_branch,
    encode_branch_into, encode_leaf, encode_leaf_into, key_prefix, leaf_page_size, patch_branch,
    split_runs,
};

/// Size of the header at the start of every page.
pub const PAGE_HEADER_SIZE: usize = 16;
/// Size of one branch element in a branch page's element array.
pub const BRANCH_ELEM_SIZE: usize = 16;
/// Size of one leaf element in a leaf page's element array.
pub const LEAF_ELEM_SIZE: usize = 16;
/// Size of the bucket header stored as a bucket's value (and in the meta for the root bucket).
pub const BUCKET_HEADER_SIZE: usize = 16;
/// Size of the meta struct that follows the page header on pages 0 and 1.
pub const META_SIZE: usize = 64;

/// Page type: branch (interior) node of a B+tree.
pub const BRANCH_PAGE: u16 = 0x01;
/// Page type: leaf node of a B+tree.
pub const LEAF_PAGE: u16 = 0x02;
/// Page type: one of the two meta pages.
pub const META_PAGE: u16 = 0x04;
/// Page type: the freelist.
pub const FREELIST_PAGE: u16 = 0x10;
/// Leaf element flag: the value is a bucket header (possibly followed by an inline page).
pub const BUCKET_LEAF_FLAG: u32 = 0x01;

/// `meta.magic` of every valid bbolt file.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The only data-format version bbolt has ever written.
pub const VERSION: u32 = 2;
/// `meta.freelist` value meaning "no freelist page was written; rebuild it by walking the tree".
pub const PGID_NO_FREELIST: Pgid = Pgid(u64::MAX);

/// Longest key (and bucket name) accepted by `put`.
pub const MAX_KEY_SIZE: usize = 32768;
/// Longest value accepted by `put`.
pub const MAX_VALUE_SIZE: usize = (1 << 31) - 2;
/// Most elements a branch or leaf page may hold: `count` is a u16 and bbolt refuses 0xFFFF.
pub const MAX_PAGE_ELEMENTS: usize = 0xFFFE;
/// `count` value of a freelist page whose real count is stored in the first u64 of its body.
pub const FREELIST_COUNT_OVERFLOW: u16 = 0xFFFF;
/// Smallest page size rbolt creates or accepts. Anything smaller cannot hold a meta page.
pub const MIN_PAGE_SIZE: usize = 1024;
/// Largest page size rbolt creates or accepts (bbolt probes up to 16 MiB when detecting it).
pub const MAX_PAGE_SIZE: usize = 16 << 20;

/// Reads a little-endian u16 at `off`, or `None` if `buf` is too short.
#[inline]
pub fn read_u16(buf: &[u8], off: usize) -> Option<u16> {
    let b = buf.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Reads a little-endian u32 at `off`, or `None` if `buf` is too short.
#[inline]
pub fn read_u32(buf: &[u8], off: usize) -> Option<u32> {
    let b = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a little-endian u64 at `off`, or `None` if `buf` is too short.
#[inline]
pub fn read_u64(buf: &[u8], off: usize) -> Option<u64> {
    let b = buf.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// Writes `v` little-endian at `buf[off..off + 2]`. The caller sized `buf`; a short buffer is a
/// bug in the writer, not bad input, so this panics.
#[inline]
pub fn write_u16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` little-endian at `buf[off..off + 4]`.
#[inline]
pub fn write_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` little-endian at `buf[off..off + 8]`.
#[inline]
pub fn write_u64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The 16-byte value that marks a key as a bucket: where its tree starts, and its counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketHeader {
    /// Page id of the bucket's root page; 0 means the bucket is inline (its page follows).
    pub root: Pgid,
    /// The bucket's sequence counter (`next_sequence`).
    pub sequence: u64,
}

impl BucketHeader {
    /// Decodes the header at the start of a bucket value. Values may sit at any byte offset in
    /// their page, so this reads bytes rather than assuming alignment.
    pub fn decode(value: &[u8]) -> Result<Self, FormatError> {
        match (read_u64(value, 0), read_u64(value, 8)) {
            (Some(root), Some(sequence)) => Ok(Self {
                root: Pgid(root),
                sequence,
            }),
            _ => Err(FormatError::BucketValueTooShort { len: value.len() }),
        }
    }

    /// Writes the header into the first 16 bytes of `out`.
    pub fn encode(&self, out: &mut [u8]) {
        write_u64(out, 0, self.root.0);
        write_u64(out, 8, self.sequence);
    }

    /// The inline page image that follows a header whose `root` is 0.
    pub fn inline_page(value: &[u8]) -> &[u8] {
        value.get(BUCKET_HEADER_SIZE..).unwrap_or(&[])
    }
}

/// Lower-case hex of `bytes`: how the format's text tools (dumps, check messages, scripts)
/// print keys, values and bucket names.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &x in bytes {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_readers_reject_short_and_overflowing_offsets() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(read_u16(&b, 6), Some(0x0807));
        assert_eq!(read_u16(&b, 7), None);
        assert_eq!(read_u32(&b, usize::MAX - 1), None);
        assert_eq!(read_u64(&b, 0), Some(0x0807_0605_0403_0201));
        assert_eq!(read_u64(&b, 1), None);
    }

    #[test]
    fn bucket_header_round_trip_and_short_value() {
        let h = BucketHeader {
            root: Pgid(7),
            sequence: 99,
        };
        let mut buf = [0u8; 16];
        h.encode(&mut buf);
        assert_eq!(BucketHeader::decode(&buf).unwrap(), h);
        assert!(BucketHeader::decode(&buf[..15]).is_err());
        assert!(BucketHeader::inline_page(&buf).is_empty());
    }
}
