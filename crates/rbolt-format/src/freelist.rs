//! Freelist pages (bbolt's `freelist.Write`/`Read`): a sorted list of u64 page ids, with the
//! count moved into the body when it does not fit the header's u16.

use crate::{
    FREELIST_COUNT_OVERFLOW, FREELIST_PAGE, FormatError, PAGE_HEADER_SIZE, PageHeader, Pgid,
    read_u64, write_u64,
};

/// Number of ids a freelist page span claims, and the offset where they start.
fn layout(page: &[u8]) -> Result<(u64, usize), FormatError> {
    let h = PageHeader::decode(page)?;
    if h.flags != FREELIST_PAGE {
        return Err(FormatError::WrongPageType {
            pgid: h.id,
            flags: h.flags,
        });
    }
    if h.count == FREELIST_COUNT_OVERFLOW {
        let n = read_u64(page, PAGE_HEADER_SIZE)
            .ok_or(FormatError::FreelistOutOfBounds { count: u64::MAX })?;
        Ok((n, PAGE_HEADER_SIZE + 8))
    } else {
        Ok((u64::from(h.count), PAGE_HEADER_SIZE))
    }
}

/// Number of ids in a freelist page span, checked to fit in it.
pub fn freelist_id_count(page: &[u8]) -> Result<u64, FormatError> {
    let (n, start) = layout(page)?;
    let fits = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(8))
        .and_then(|b| b.checked_add(start))
        .is_some_and(|end| end <= page.len());
    if fits {
        Ok(n)
    } else {
        Err(FormatError::FreelistOutOfBounds { count: n })
    }
}

/// The ids listed in a freelist page span, in the order stored (bbolt writes them sorted but
/// readers sort anyway).
pub fn decode_freelist(page: &[u8]) -> Result<Vec<Pgid>, FormatError> {
    let n = freelist_id_count(page)?;
    let (_, start) = layout(page)?;
    let n = usize::try_from(n).map_err(|_| FormatError::FreelistOutOfBounds { count: n })?;
    let body = &page[start..start + n * 8];
    Ok(body
        .chunks_exact(8)
        .map(|c| {
            Pgid(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]))
        })
        .collect())
}

/// Bytes a freelist of `n` ids occupies once written.
pub fn freelist_encoded_size(n: usize) -> usize {
    let extra = if n >= usize::from(FREELIST_COUNT_OVERFLOW) {
        8
    } else {
        0
    };
    PAGE_HEADER_SIZE + extra + 8 * n
}

/// Pages to allocate for a freelist of `n` ids. Like bbolt this is `size / page_size + 1`, one
/// more than needed when the size is an exact multiple, so page usage matches Go's.
pub fn freelist_alloc_pages(n: usize, page_size: usize) -> usize {
    freelist_encoded_size(n) / page_size + 1
}

/// Writes a freelist page span with the given (sorted) ids into `buf`.
pub fn encode_freelist(
    buf: &mut [u8],
    id: Pgid,
    overflow: u32,
    ids: impl ExactSizeIterator<Item = Pgid>,
) {
    let mut off = encode_freelist_header(buf, id, overflow, ids.len());
    for pgid in ids {
        write_u64(buf, off, pgid.0);
        off += 8;
    }
}

/// Writes the header of a freelist page span that will hold `n` ids and returns the offset
/// where the first id goes (each id is then 8 bytes, little-endian, in sorted order): for a
/// writer that produces the ids in order without collecting them first.
pub fn encode_freelist_header(buf: &mut [u8], id: Pgid, overflow: u32, n: usize) -> usize {
    let (count, off) = match u16::try_from(n) {
        Ok(c) if c < FREELIST_COUNT_OVERFLOW => (c, PAGE_HEADER_SIZE),
        _ => {
            write_u64(buf, PAGE_HEADER_SIZE, n as u64);
            (FREELIST_COUNT_OVERFLOW, PAGE_HEADER_SIZE + 8)
        }
    };
    PageHeader {
        id,
        flags: FREELIST_PAGE,
        count,
        overflow,
    }
    .encode(buf);
    off
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(n: usize) {
        let ids: Vec<Pgid> = (0..n as u64).map(|i| Pgid(i * 3 + 2)).collect();
        let pages = freelist_alloc_pages(n, 1024);
        let mut buf = vec![0u8; pages * 1024];
        encode_freelist(&mut buf, Pgid(5), (pages - 1) as u32, ids.iter().copied());
        assert_eq!(decode_freelist(&buf).unwrap(), ids);
        assert_eq!(freelist_id_count(&buf).unwrap(), n as u64);
        let h = PageHeader::decode(&buf).unwrap();
        assert_eq!(h.count == FREELIST_COUNT_OVERFLOW, n >= 0xFFFF);
    }

    #[test]
    fn both_count_forms_round_trip() {
        round_trip(0);
        round_trip(10);
        round_trip(0xFFFE);
        round_trip(0xFFFF);
        round_trip(80_980);
    }

    #[test]
    fn page_estimate_matches_bbolt() {
        assert_eq!(freelist_alloc_pages(0, 4096), 1);
        // 16 + 8 * 510 = 4096 exactly: bbolt still allocates one extra page.
        assert_eq!(freelist_alloc_pages(510, 4096), 2);
        // bbolt.md §3.19: 80,980 ids on 1 KiB pages took 633 pages.
        assert_eq!(freelist_alloc_pages(80_980, 1024), 633);
    }

    #[test]
    fn lying_counts_are_errors() {
        let mut buf = vec![0u8; 1024];
        encode_freelist(&mut buf, Pgid(2), 0, [Pgid(7), Pgid(9)].into_iter());
        buf[10] = 200; // count 200 > 126 that fit
        assert!(decode_freelist(&buf).is_err());
        buf[10] = 0xff;
        buf[11] = 0xff;
        write_u64(&mut buf, 16, u64::MAX);
        assert!(decode_freelist(&buf).is_err());
        buf[8] = 2;
        assert!(decode_freelist(&buf).is_err());
    }
}
