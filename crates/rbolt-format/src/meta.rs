//! Meta pages (pages 0 and 1): the root of everything, chosen by highest valid txid on open.
//! Mirrors bbolt's `internal/common/meta.go`.

use crate::{
    BucketHeader, MAGIC, META_PAGE, META_SIZE, PAGE_HEADER_SIZE, PageHeader, Pgid, Txid, VERSION,
    read_u32, read_u64, write_u32, write_u64,
};
use std::fmt;

/// FNV-1a 64-bit, the hash bbolt uses (Go's `hash/fnv.New64a`) for the meta checksum.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET_BASIS, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The decoded meta struct (64 bytes at page offset 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Always [`MAGIC`] in a valid meta.
    pub magic: u32,
    /// Always [`VERSION`] in a valid meta.
    pub version: u32,
    /// Page size the file was created with.
    pub page_size: u32,
    /// Unused by the library (bbolt's `surgery meta update` sets 0x04).
    pub flags: u32,
    /// Header of the root bucket, whose keys are the top-level bucket names.
    pub root: BucketHeader,
    /// Page id of the freelist, or [`crate::PGID_NO_FREELIST`].
    pub freelist: Pgid,
    /// High-water mark: the first page id never allocated.
    pub pgid: Pgid,
    /// Id of the transaction that wrote this meta.
    pub txid: Txid,
    /// FNV-1a over the first 56 bytes of the struct.
    pub checksum: u64,
}

/// Why a meta page is not valid, in the order bbolt's `Meta.Validate` checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaError {
    /// Wrong magic, or the page is too short to hold a meta.
    Invalid,
    /// The version is not 2.
    VersionMismatch,
    /// The stored checksum does not match the bytes.
    Checksum,
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Invalid => "invalid database",
            Self::VersionMismatch => "version mismatch",
            Self::Checksum => "checksum error",
        })
    }
}

impl std::error::Error for MetaError {}

impl Meta {
    /// A meta for a new file, as bbolt's `DB.init` writes it (before `txid` and the checksum
    /// are set).
    pub fn new(page_size: u32, root: Pgid, freelist: Pgid, pgid: Pgid, txid: Txid) -> Self {
        let mut m = Self {
            magic: MAGIC,
            version: VERSION,
            page_size,
            flags: 0,
            root: BucketHeader { root, sequence: 0 },
            freelist,
            pgid,
            txid,
            checksum: 0,
        };
        m.checksum = m.sum();
        m
    }

    /// Decodes and validates the meta in a page that starts at `page[0]`. The page header is
    /// not checked, as in bbolt.
    pub fn decode(page: &[u8]) -> Result<Self, MetaError> {
        let b = page
            .get(PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + META_SIZE)
            .ok_or(MetaError::Invalid)?;
        let u32_at = |o| read_u32(b, o).ok_or(MetaError::Invalid);
        let u64_at = |o| read_u64(b, o).ok_or(MetaError::Invalid);
        let m = Self {
            magic: u32_at(0)?,
            version: u32_at(4)?,
            page_size: u32_at(8)?,
            flags: u32_at(12)?,
            root: BucketHeader {
                root: Pgid(u64_at(16)?),
                sequence: u64_at(24)?,
            },
            freelist: Pgid(u64_at(32)?),
            pgid: Pgid(u64_at(40)?),
            txid: Txid(u64_at(48)?),
            checksum: u64_at(56)?,
        };
        if m.magic != MAGIC {
            return Err(MetaError::Invalid);
        }
        if m.version != VERSION {
            return Err(MetaError::VersionMismatch);
        }
        if m.checksum != fnv1a64(&b[..56]) {
            return Err(MetaError::Checksum);
        }
        Ok(m)
    }

    /// Like [`Meta::decode`] but without the checksum test: for repair tools that must look at
    /// a damaged meta, never for choosing which meta to trust.
    pub fn decode_unverified(page: &[u8]) -> Result<Self, MetaError> {
        match Self::decode(page) {
            Err(MetaError::Checksum) => {
                let b = &page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + META_SIZE];
                let mut m = Self::new(
                    read_u32(b, 8).unwrap_or(0),
                    Pgid(read_u64(b, 16).unwrap_or(0)),
                    Pgid(read_u64(b, 32).unwrap_or(0)),
                    Pgid(read_u64(b, 40).unwrap_or(0)),
                    Txid(read_u64(b, 48).unwrap_or(0)),
                );
                m.flags = read_u32(b, 12).unwrap_or(0);
                m.root.sequence = read_u64(b, 24).unwrap_or(0);
                m.checksum = read_u64(b, 56).unwrap_or(0);
                Ok(m)
            }
            other => other,
        }
    }

    /// The checksum these fields should carry.
    pub fn sum(&self) -> u64 {
        let mut b = [0u8; META_SIZE];
        self.encode_struct(&mut b);
        fnv1a64(&b[..56])
    }

    fn encode_struct(&self, b: &mut [u8]) {
        write_u32(b, 0, self.magic);
        write_u32(b, 4, self.version);
        write_u32(b, 8, self.page_size);
        write_u32(b, 12, self.flags);
        write_u64(b, 16, self.root.root.0);
        write_u64(b, 24, self.root.sequence);
        write_u64(b, 32, self.freelist.0);
        write_u64(b, 40, self.pgid.0);
        write_u64(b, 48, self.txid.0);
        write_u64(b, 56, self.checksum);
    }

    /// Writes a complete meta page for page id `pgid` (0 or 1) into `page`, recomputing the
    /// checksum. `page` must be at least 80 bytes; the rest of it is left as the caller set it
    /// (zeroes, for a file bbolt would write).
    pub fn encode_page(&self, pgid: Pgid, page: &mut [u8]) {
        PageHeader {
            id: pgid,
            flags: META_PAGE,
            count: 0,
            overflow: 0,
        }
        .encode(page);
        let mut m = *self;
        m.checksum = m.sum();
        m.encode_struct(&mut page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + META_SIZE]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_file_metas_match_bbolt_golden_checksums() {
        // bbolt.md §3.8: the two metas of a fresh 4096-byte-page file.
        assert_eq!(
            Meta::new(4096, Pgid(3), Pgid(2), Pgid(4), Txid(0)).checksum,
            0x0751_6E11_4689_FDEE
        );
        assert_eq!(
            Meta::new(4096, Pgid(3), Pgid(2), Pgid(4), Txid(1)).checksum,
            0x264C_351A_5179_480F
        );
    }

    #[test]
    fn decode_validates_in_bbolt_order() {
        let mut page = vec![0u8; 4096];
        Meta::new(4096, Pgid(3), Pgid(2), Pgid(4), Txid(7)).encode_page(Pgid(1), &mut page);
        let m = Meta::decode(&page).unwrap();
        assert_eq!(
            (m.txid, m.pgid, m.root.root, m.freelist),
            (Txid(7), Pgid(4), Pgid(3), Pgid(2))
        );

        let mut bad = page.clone();
        bad[70] ^= 1;
        assert_eq!(Meta::decode(&bad), Err(MetaError::Checksum));
        bad[20] = 3; // version
        assert_eq!(Meta::decode(&bad), Err(MetaError::VersionMismatch));
        bad[16] = 0; // magic
        assert_eq!(Meta::decode(&bad), Err(MetaError::Invalid));
        assert_eq!(Meta::decode(&page[..79]), Err(MetaError::Invalid));
    }
}
