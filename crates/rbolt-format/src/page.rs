//! Page headers and the two B+tree page kinds (bbolt's `internal/common/page.go` and
//! `inode.go`): bounds-checked views over a page span and the encoders that write one.
//!
//! An element's `pos` is measured from the start of its own 16-byte element header; keys (and
//! leaf values) are packed after the element array in element order.

use crate::{
    BRANCH_ELEM_SIZE, BRANCH_PAGE, FormatError, LEAF_ELEM_SIZE, LEAF_PAGE, MAX_PAGE_ELEMENTS,
    PAGE_HEADER_SIZE, Pgid, read_u32, read_u64, write_u16, write_u32, write_u64,
};
use std::cmp::Ordering;
use std::ops::Range;

/// The 16 bytes at the start of every page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageHeader {
    /// The page's own id; must equal its position in the file.
    pub id: Pgid,
    /// Page type ([`BRANCH_PAGE`], [`LEAF_PAGE`], ...), compared by equality.
    pub flags: u16,
    /// Element count (for freelists, 0xFFFF means the count is in the body).
    pub count: u16,
    /// Number of extra pages that follow this one as part of the same span.
    pub overflow: u32,
}

impl PageHeader {
    /// Decodes the header at the start of `page`.
    #[inline]
    pub fn decode(page: &[u8]) -> Result<Self, FormatError> {
        // One bounds check for all four fields: this runs at every level of every descent.
        let Some(h) = page.first_chunk::<PAGE_HEADER_SIZE>() else {
            return Err(FormatError::PageTooShort { len: page.len() });
        };
        let [a, b, c, d, e, f, g, i, fl0, fl1, c0, c1, o0, o1, o2, o3] = *h;
        Ok(Self {
            id: Pgid(u64::from_le_bytes([a, b, c, d, e, f, g, i])),
            flags: u16::from_le_bytes([fl0, fl1]),
            count: u16::from_le_bytes([c0, c1]),
            overflow: u32::from_le_bytes([o0, o1, o2, o3]),
        })
    }

    /// Writes the header into the first 16 bytes of `page`.
    pub fn encode(&self, page: &mut [u8]) {
        write_u64(page, 0, self.id.0);
        write_u16(page, 8, self.flags);
        write_u16(page, 10, self.count);
        write_u32(page, 12, self.overflow);
    }

    /// A human name for the page type, as bbolt's `Tx.Page` reports it.
    pub fn type_name(&self) -> String {
        match self.flags {
            BRANCH_PAGE => "branch".into(),
            LEAF_PAGE => "leaf".into(),
            crate::META_PAGE => "meta".into(),
            crate::FREELIST_PAGE => "freelist".into(),
            f => format!("unknown<{f:02x}>"),
        }
    }
}

fn check_elements(page: &[u8], count: u16, elem_size: usize) -> Result<(), FormatError> {
    let need = PAGE_HEADER_SIZE + usize::from(count) * elem_size;
    if need > page.len() {
        return Err(FormatError::ElementsOutOfBounds {
            count,
            len: page.len(),
        });
    }
    Ok(())
}

/// Returns `base+pos .. base+pos+len` if it lies inside `page`.
fn span(
    page: &[u8],
    base: usize,
    pos: u32,
    len: u32,
    index: usize,
) -> Result<Range<usize>, FormatError> {
    let start = base.checked_add(pos as usize);
    let end = start.and_then(|s| s.checked_add(len as usize));
    match (start, end) {
        (Some(s), Some(e)) if e <= page.len() => Ok(s..e),
        _ => Err(FormatError::ElementOutOfBounds { index }),
    }
}

/// A leaf element: flags and the byte ranges of its key and value within the page span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafElem {
    /// [`crate::BUCKET_LEAF_FLAG`] if the value is a bucket.
    pub flags: u32,
    /// Key bytes, as a range of the page span.
    pub key: Range<usize>,
    /// Value bytes, as a range of the page span.
    pub value: Range<usize>,
}

/// A validated view of a leaf page span (header plus any overflow pages).
#[derive(Clone, Copy, Debug)]
pub struct LeafPage<'a> {
    page: &'a [u8],
    count: usize,
}

impl<'a> LeafPage<'a> {
    /// Checks that `page` is a leaf whose element array fits in the span. Element bodies are
    /// checked when they are read.
    pub fn new(page: &'a [u8]) -> Result<Self, FormatError> {
        Self::with_header(page, &PageHeader::decode(page)?)
    }

    /// [`LeafPage::new`] for a caller that has already decoded the span's header `h`.
    #[inline]
    pub fn with_header(page: &'a [u8], h: &PageHeader) -> Result<Self, FormatError> {
        if h.flags != LEAF_PAGE {
            return Err(FormatError::WrongPageType {
                pgid: h.id,
                flags: h.flags,
            });
        }
        check_elements(page, h.count, LEAF_ELEM_SIZE)?;
        Ok(Self {
            page,
            count: usize::from(h.count),
        })
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if the page holds no element (bbolt leaves such pages behind; cursors skip them).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The whole page span.
    pub fn bytes(&self) -> &'a [u8] {
        self.page
    }

    /// Element `i`, with its ranges checked against the span.
    #[inline]
    pub fn elem(&self, i: usize) -> Result<LeafElem, FormatError> {
        if i >= self.count {
            return Err(FormatError::NoSuchElement { index: i });
        }
        let base = PAGE_HEADER_SIZE + i * LEAF_ELEM_SIZE;
        let p = self.page;
        // The element array was bounds-checked in `new`, so this cannot fail; keep it fallible
        // anyway rather than index. One check for the whole element, then fixed offsets.
        let e: &[u8; LEAF_ELEM_SIZE] = p
            .get(base..base + LEAF_ELEM_SIZE)
            .and_then(|s| s.try_into().ok())
            .ok_or(FormatError::ElementOutOfBounds { index: i })?;
        let word = |o: usize| u32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]);
        let (flags, pos, ksize, vsize) = (word(0), word(4), word(8), word(12));
        if ksize == 0 {
            return Err(FormatError::EmptyKey { index: i });
        }
        let key = span(p, base, pos, ksize, i)?;
        let value = span(p, key.end, 0, vsize, i)?;
        Ok(LeafElem { flags, key, value })
    }

    /// Flags, key and value of element `i`, as slices of the span.
    #[inline]
    pub fn entry(&self, i: usize) -> Result<(u32, &'a [u8], &'a [u8]), FormatError> {
        // The step of every cursor: the element and then key and value in one slice each,
        // without building ranges first.
        let p = self.page;
        let base = PAGE_HEADER_SIZE + i * LEAF_ELEM_SIZE;
        let e = match p
            .get(base..)
            .and_then(<[u8]>::first_chunk::<LEAF_ELEM_SIZE>)
        {
            Some(e) if i < self.count => e,
            _ if i >= self.count => return Err(FormatError::NoSuchElement { index: i }),
            _ => return Err(FormatError::ElementOutOfBounds { index: i }),
        };
        let word = |o: usize| u32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]);
        let (flags, pos, ksize, vsize) = (word(0), word(4), word(8), word(12));
        if ksize == 0 {
            return Err(FormatError::EmptyKey { index: i });
        }
        // Wrapping as in `search_elems`: out-of-page offsets fail the `get`, never index.
        let start = base.wrapping_add(pos as usize);
        let mid = start.wrapping_add(ksize as usize);
        let end = mid.wrapping_add(vsize as usize);
        match (p.get(start..mid), p.get(mid..end)) {
            (Some(key), Some(value)) => Ok((flags, key, value)),
            _ => Err(FormatError::ElementOutOfBounds { index: i }),
        }
    }

    /// Key of element `i`.
    pub fn key(&self, i: usize) -> Result<&'a [u8], FormatError> {
        if i >= self.count {
            return Err(FormatError::NoSuchElement { index: i });
        }
        let base = PAGE_HEADER_SIZE + i * LEAF_ELEM_SIZE;
        let bad = || FormatError::ElementOutOfBounds { index: i };
        let pos = read_u32(self.page, base + 4).ok_or_else(bad)?;
        let ksize = read_u32(self.page, base + 8).ok_or_else(bad)?;
        if ksize == 0 {
            return Err(FormatError::EmptyKey { index: i });
        }
        Ok(&self.page[span(self.page, base, pos, ksize, i)?])
    }

    /// Index of the first element whose key is ≥ `key` (may be `len()`), and whether it is an
    /// exact match. Keys are assumed sorted; on a corrupt page the answer is wrong but safe.
    #[inline]
    pub fn search(&self, key: &[u8]) -> Result<(usize, bool), FormatError> {
        search_elems::<LEAF_ELEM_SIZE, 4>(self.page, self.count, key)
    }
}

/// A branch element: the child's first key (as a range of the span) and its page id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchElem {
    /// Key bytes, as a range of the page span.
    pub key: Range<usize>,
    /// Page id of the child.
    pub pgid: Pgid,
}

/// A validated view of a branch page span.
#[derive(Clone, Copy, Debug)]
pub struct BranchPage<'a> {
    page: &'a [u8],
    count: usize,
}

impl<'a> BranchPage<'a> {
    /// Checks that `page` is a branch whose element array fits in the span.
    pub fn new(page: &'a [u8]) -> Result<Self, FormatError> {
        Self::with_header(page, &PageHeader::decode(page)?)
    }

    /// [`BranchPage::new`] for a caller that has already decoded the span's header `h`.
    #[inline]
    pub fn with_header(page: &'a [u8], h: &PageHeader) -> Result<Self, FormatError> {
        if h.flags != BRANCH_PAGE {
            return Err(FormatError::WrongPageType {
                pgid: h.id,
                flags: h.flags,
            });
        }
        check_elements(page, h.count, BRANCH_ELEM_SIZE)?;
        Ok(Self {
            page,
            count: usize::from(h.count),
        })
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if the page holds no element.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The whole page span.
    pub fn bytes(&self) -> &'a [u8] {
        self.page
    }

    /// Element `i`, with its key range checked against the span.
    pub fn elem(&self, i: usize) -> Result<BranchElem, FormatError> {
        if i >= self.count {
            return Err(FormatError::NoSuchElement { index: i });
        }
        let base = PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE;
        let bad = || FormatError::ElementOutOfBounds { index: i };
        let pos = read_u32(self.page, base).ok_or_else(bad)?;
        let ksize = read_u32(self.page, base + 4).ok_or_else(bad)?;
        let pgid = read_u64(self.page, base + 8).ok_or_else(bad)?;
        if ksize == 0 {
            return Err(FormatError::EmptyKey { index: i });
        }
        Ok(BranchElem {
            key: span(self.page, base, pos, ksize, i)?,
            pgid: Pgid(pgid),
        })
    }

    /// Every element in order, as `(key range, key, child)`, each checked as [`elem`]
    /// checks it (the first bad one is that error). Materialising a branch reads all of them:
    /// one pass over the element array, with no per-index lookup.
    ///
    /// [`elem`]: BranchPage::elem
    #[inline]
    pub fn elems(
        &self,
    ) -> impl Iterator<Item = Result<(Range<usize>, &'a [u8], Pgid), FormatError>> {
        let page = self.page;
        let end = PAGE_HEADER_SIZE + self.count * BRANCH_ELEM_SIZE;
        // The constructor checked that the element array fits the span, so this is never
        // the empty fallback.
        let arr = page.get(PAGE_HEADER_SIZE..end).unwrap_or_default();
        arr.as_chunks::<BRANCH_ELEM_SIZE>()
            .0
            .iter()
            .enumerate()
            .map(move |(i, e)| {
                let [p0, p1, p2, p3, k0, k1, k2, k3, g @ ..] = *e;
                let pos = u32::from_le_bytes([p0, p1, p2, p3]) as usize;
                let ksize = u32::from_le_bytes([k0, k1, k2, k3]) as usize;
                let start = (PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE).checked_add(pos);
                match start.and_then(|s| Some((s, page.get(s..s.checked_add(ksize)?)?))) {
                    Some((s, key)) if ksize != 0 => {
                        Ok((s..s + ksize, key, Pgid(u64::from_le_bytes(g))))
                    }
                    _ if ksize == 0 => Err(FormatError::EmptyKey { index: i }),
                    _ => Err(FormatError::ElementOutOfBounds { index: i }),
                }
            })
    }

    /// Checks every element as [`elems`] does, without producing them: `Ok` if all pass, else
    /// the error `elems` gives for the first bad one. The pass accumulates one flag per
    /// element with no branch or early exit (a writer checks a whole branch it may never
    /// decode), and only a failure walks `elems` again for the error.
    ///
    /// [`elems`]: BranchPage::elems
    #[inline]
    pub fn check_elems(&self) -> Result<(), FormatError> {
        let end = PAGE_HEADER_SIZE + self.count * BRANCH_ELEM_SIZE;
        // The constructor checked that the element array fits the span.
        let arr = self.page.get(PAGE_HEADER_SIZE..end).unwrap_or_default();
        let len = self.page.len() as u64;
        let mut bad = false;
        for (i, e) in arr.as_chunks::<BRANCH_ELEM_SIZE>().0.iter().enumerate() {
            let [p0, p1, p2, p3, k0, k1, k2, k3, ..] = *e;
            let pos = u64::from(u32::from_le_bytes([p0, p1, p2, p3]));
            let ksize = u64::from(u32::from_le_bytes([k0, k1, k2, k3]));
            // u64: an element offset plus two u32s cannot overflow it.
            let key_end = (PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE) as u64 + pos + ksize;
            bad |= (ksize == 0) | (key_end > len);
        }
        if bad {
            return self.elems().try_for_each(|e| e.map(|_| ()));
        }
        Ok(())
    }

    /// Child page id of element `i`.
    #[inline]
    pub fn child(&self, i: usize) -> Result<Pgid, FormatError> {
        if i >= self.count {
            return Err(FormatError::NoSuchElement { index: i });
        }
        let base = PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE;
        read_u64(self.page, base + 8)
            .map(Pgid)
            .ok_or(FormatError::ElementOutOfBounds { index: i })
    }

    /// Key of element `i`.
    pub fn key(&self, i: usize) -> Result<&'a [u8], FormatError> {
        Ok(&self.page[self.elem(i)?.key])
    }

    /// Index of the first element whose key is ≥ `key` (may be `len()`), and whether it is an
    /// exact match.
    #[inline]
    pub fn search(&self, key: &[u8]) -> Result<(usize, bool), FormatError> {
        search_elems::<BRANCH_ELEM_SIZE, 0>(self.page, self.count, key)
    }

    /// Index of the child to descend into for `key`: the last element whose key is ≤ `key`, or
    /// element 0 if `key` sorts before all of them (bbolt's `searchPage`). `None` on an empty
    /// branch, which the format never writes.
    #[inline]
    pub fn child_index(&self, key: &[u8]) -> Result<Option<usize>, FormatError> {
        if self.count == 0 {
            return Ok(None);
        }
        let (i, exact) = self.search(key)?;
        Ok(Some(if exact { i } else { i.saturating_sub(1) }))
    }
}

/// Big-endian, zero-padded first 8 bytes of `k`: different prefixes order keys exactly as the
/// full keys do (padding with 0, the smallest byte, keeps shorter keys first); equal prefixes
/// need a full comparison. The page search and the writer's in-memory nodes both use it.
#[expect(
    clippy::big_endian_bytes,
    reason = "a comparison key, never written to disk: big-endian orders like the bytes"
)]
#[inline]
pub fn key_prefix(k: &[u8]) -> u64 {
    if let Some(head) = k.first_chunk::<8>() {
        return u64::from_be_bytes(*head);
    }
    let mut b = [0u8; 8];
    b[..k.len()].copy_from_slice(k);
    u64::from_be_bytes(b)
}

/// Binary search of a page's element array (elements of `ESIZE` bytes whose key `pos, ksize`
/// pair sits at `POFF`) for the first index whose key is ≥ `key`. Each probe reads only the
/// key's position and size and compares 8-byte prefixes as integers before any `memcmp`:
/// this is the inner loop of every lookup. Keys are assumed sorted; on a corrupt page the
/// answer is wrong but safe (every span is still bounds-checked).
///
/// Constant element geometry lets the compiler fold the offsets, and the element array is
/// sliced (checked) once, so a probe's element read needs no check of its own: the loop bound
/// proves the index. What is left per probe is the key's span check and the compare.
#[inline(always)]
fn search_elems<const ESIZE: usize, const POFF: usize>(
    page: &[u8],
    count: usize,
    key: &[u8],
) -> Result<(usize, bool), FormatError> {
    let kp = key_prefix(key);
    let (elems, _) = page
        .get(PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + count * ESIZE)
        .ok_or(FormatError::ElementsOutOfBounds {
            count: u16::try_from(count).unwrap_or(u16::MAX),
            len: page.len(),
        })?
        .as_chunks::<ESIZE>();
    let (mut lo, mut hi) = (0, elems.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let e = &elems[mid];
        let word = |o: usize| u32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]) as usize;
        let (pos, ksize) = (word(POFF), word(POFF + 4));
        if ksize == 0 {
            return Err(FormatError::EmptyKey { index: mid });
        }
        // Wrapping: a hostile `pos` then points at the wrong bytes (or none), never past the
        // page, and 64-bit targets cannot wrap at all.
        let start = (PAGE_HEADER_SIZE + mid * ESIZE).wrapping_add(pos);
        let Some(k) = page.get(start..start.wrapping_add(ksize)) else {
            return Err(FormatError::ElementOutOfBounds { index: mid });
        };
        let ord = match key_prefix(k).cmp(&kp) {
            Ordering::Equal => k.cmp(key),
            o => o,
        };
        match ord {
            Ordering::Less => lo = mid + 1,
            Ordering::Equal => return Ok((mid, true)),
            Ordering::Greater => hi = mid,
        }
    }
    Ok((lo, false))
}

/// Serialised size of a leaf page holding `count` elements with `data` key+value bytes.
pub fn leaf_page_size(count: usize, data: usize) -> usize {
    PAGE_HEADER_SIZE + count * LEAF_ELEM_SIZE + data
}

/// Serialised size of a branch page holding `count` elements with `data` key bytes.
pub fn branch_page_size(count: usize, data: usize) -> usize {
    PAGE_HEADER_SIZE + count * BRANCH_ELEM_SIZE + data
}

fn u32_len(n: usize) -> u32 {
    u32::try_from(n).expect("invariant: element sizes were limited to u32 before encoding")
}

/// Writes a leaf page (header, element array, packed data) into `buf`, which the caller sized
/// to the whole span. Returns the bytes used. `items` are (flags, key, value) in key order.
pub fn encode_leaf<'a>(
    buf: &mut [u8],
    id: Pgid,
    overflow: u32,
    items: impl ExactSizeIterator<Item = (u32, &'a [u8], &'a [u8])>,
) -> usize {
    let n = items.len();
    PageHeader {
        id,
        flags: LEAF_PAGE,
        count: u16::try_from(n).expect("invariant: pages hold at most 0xFFFE elements"),
        overflow,
    }
    .encode(buf);
    let mut data = PAGE_HEADER_SIZE + n * LEAF_ELEM_SIZE;
    for (i, (flags, k, v)) in items.enumerate() {
        let base = PAGE_HEADER_SIZE + i * LEAF_ELEM_SIZE;
        write_u32(buf, base, flags);
        write_u32(buf, base + 4, u32_len(data - base));
        write_u32(buf, base + 8, u32_len(k.len()));
        write_u32(buf, base + 12, u32_len(v.len()));
        buf[data..data + k.len()].copy_from_slice(k);
        data += k.len();
        buf[data..data + v.len()].copy_from_slice(v);
        data += v.len();
    }
    data
}

/// [`encode_leaf`] appended to `out` (what `out` holds stays), `len` bytes long: each byte is
/// written once — header, elements, keys and values appended in order, then only the unused
/// tail zeroed — so pages can be encoded back to back into one buffer that is written as it
/// stands. `heads` gives each element's flags and key and value lengths (for the element
/// array, before any data), `items` the data area in pieces: every key and value in order,
/// split anywhere (a caller holding several entries' bytes back to back passes them as one).
///
/// # Panics
/// If `items` does not yield `heads.len()` entries of exactly the lengths `heads` gave: the
/// page would not be what its elements describe.
pub fn encode_leaf_into<'a>(
    out: &mut Vec<u8>,
    len: usize,
    id: Pgid,
    overflow: u32,
    heads: impl ExactSizeIterator<Item = (u32, usize, usize)>,
    items: impl Iterator<Item = &'a [u8]>,
) {
    let n = heads.len();
    let start = out.len();
    out.reserve(len);
    push_header(out, id, LEAF_PAGE, n, overflow);
    let mut data = PAGE_HEADER_SIZE + n * LEAF_ELEM_SIZE;
    for (i, (flags, klen, vlen)) in heads.enumerate() {
        let base = PAGE_HEADER_SIZE + i * LEAF_ELEM_SIZE;
        let mut e = [0u8; LEAF_ELEM_SIZE];
        write_u32(&mut e, 0, flags);
        write_u32(&mut e, 4, u32_len(data - base));
        write_u32(&mut e, 8, u32_len(klen));
        write_u32(&mut e, 12, u32_len(vlen));
        out.extend_from_slice(&e);
        data += klen + vlen;
    }
    for piece in items {
        out.extend_from_slice(piece);
    }
    assert_eq!(
        out.len() - start,
        data,
        "leaf data differs from its element lengths"
    );
    out.resize(start + len.max(data), 0);
}

/// [`encode_branch`] into `out`, as [`encode_leaf_into`] does for leaves.
pub fn encode_branch_into<'a>(
    out: &mut Vec<u8>,
    len: usize,
    id: Pgid,
    overflow: u32,
    items: impl ExactSizeIterator<Item = (&'a [u8], Pgid)> + Clone,
) {
    let n = items.len();
    let start = out.len();
    out.reserve(len);
    push_header(out, id, BRANCH_PAGE, n, overflow);
    let mut data = PAGE_HEADER_SIZE + n * BRANCH_ELEM_SIZE;
    for (i, (k, pgid)) in items.clone().enumerate() {
        let base = PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE;
        let mut e = [0u8; BRANCH_ELEM_SIZE];
        write_u32(&mut e, 0, u32_len(data - base));
        write_u32(&mut e, 4, u32_len(k.len()));
        write_u64(&mut e, 8, pgid.0);
        out.extend_from_slice(&e);
        data += k.len();
    }
    for (k, _) in items {
        out.extend_from_slice(k);
    }
    out.resize(start + len.max(out.len() - start), 0);
}

fn push_header(out: &mut Vec<u8>, id: Pgid, flags: u16, n: usize, overflow: u32) {
    let mut h = [0u8; PAGE_HEADER_SIZE];
    PageHeader {
        id,
        flags,
        count: u16::try_from(n).expect("invariant: pages hold at most 0xFFFE elements"),
        overflow,
    }
    .encode(&mut h);
    out.extend_from_slice(&h);
}

/// Writes a branch page into `buf`. `items` are (first key of child, child page id).
pub fn encode_branch<'a>(
    buf: &mut [u8],
    id: Pgid,
    overflow: u32,
    items: impl ExactSizeIterator<Item = (&'a [u8], Pgid)>,
) -> usize {
    let n = items.len();
    PageHeader {
        id,
        flags: BRANCH_PAGE,
        count: u16::try_from(n).expect("invariant: pages hold at most 0xFFFE elements"),
        overflow,
    }
    .encode(buf);
    let mut data = PAGE_HEADER_SIZE + n * BRANCH_ELEM_SIZE;
    for (i, (k, pgid)) in items.enumerate() {
        let base = PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE;
        write_u32(buf, base, u32_len(data - base));
        write_u32(buf, base + 4, u32_len(k.len()));
        write_u64(buf, base + 8, pgid.0);
        buf[data..data + k.len()].copy_from_slice(k);
        data += k.len();
    }
    data
}

/// Turns `page`, a copy of a branch page (one page, no overflow), into page `id` with child
/// `i`'s page id replaced for every `(i, pgid)` in `children` — what [`encode_branch`] would
/// write for the same keys, at the cost of the copy.
pub fn patch_branch(
    page: &mut [u8],
    id: Pgid,
    children: &[(usize, Pgid)],
) -> Result<(), FormatError> {
    let len = BranchPage::new(page)?.len();
    if PageHeader::decode(page)?.overflow != 0 {
        return Err(FormatError::PageTooShort { len: page.len() });
    }
    write_u64(page, 0, id.0);
    for &(i, pgid) in children {
        if i >= len {
            return Err(FormatError::NoSuchElement { index: i });
        }
        write_u64(page, PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE + 8, pgid.0);
    }
    Ok(())
}

/// Cuts a node of `count` elements, element `i` taking `size(i)` bytes of a page (element
/// header, key, value), into page-sized runs with bbolt's rule (`node.split`/`splitIndex`),
/// into `runs` (cleared first): a run closes before the element that would push it past
/// `threshold` (the page size times the fill percent), keeping at least two elements per
/// page; the tail is left alone once it has ≤ 4 elements or fits a page — "fits" including
/// exactly one page, where bbolt's strict `<` would cut it in two. Without `fold_tail` the
/// tail is left alone only once it fits `threshold` (or has ≤ 4 elements): the runs are then
/// those of any longer sequence these elements begin.
pub fn split_runs(
    count: usize,
    size: impl Fn(usize) -> usize,
    page_size: usize,
    threshold: usize,
    fold_tail: bool,
    runs: &mut Vec<Range<usize>>,
) {
    let tail_fits = if fold_tail { page_size } else { threshold };
    runs.clear();
    let mut start = 0;
    let mut rest_size = PAGE_HEADER_SIZE + (0..count).map(&size).sum::<usize>();
    loop {
        let rest = count - start;
        if (rest <= 4 || rest_size <= tail_fits) && rest <= MAX_PAGE_ELEMENTS {
            runs.push(start..count);
            return;
        }
        let mut sz = PAGE_HEADER_SIZE;
        let mut idx = 0;
        for i in 0..rest - 2 {
            idx = i;
            let el = size(start + i);
            if (i >= 2 && sz + el > threshold) || i >= MAX_PAGE_ELEMENTS {
                break;
            }
            sz += el;
        }
        runs.push(start..start + idx);
        rest_size -= sz - PAGE_HEADER_SIZE;
        start += idx;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The appending encoders write exactly what the slice encoders write into a zeroed
    /// buffer, after whatever the buffer held before, which they leave alone.
    #[test]
    fn encoders_into_a_vec_match_the_slice_encoders() {
        let kv: Vec<(Vec<u8>, Vec<u8>)> = (0u8..30)
            .map(|i| {
                (
                    vec![i; 1 + usize::from(i % 7)],
                    vec![i ^ 0x5a; usize::from(i) * 3],
                )
            })
            .collect();
        for n in [0, 1, 5, 30] {
            for len in [4096, 8192] {
                let items = || {
                    kv[..n]
                        .iter()
                        .enumerate()
                        .map(|(i, (k, v))| (i as u32 & 1, k.as_slice(), v.as_slice()))
                };
                let mut want = vec![0u8; len];
                encode_leaf(&mut want, Pgid(9), 1, items());
                let mut got = vec![0xEE; 9000];
                got.truncate(7);
                let heads = items().map(|(f, k, v)| (f, k.len(), v.len()));
                // Pieces cut across entries: keys and values joined two entries at a time.
                let bytes: Vec<Vec<u8>> = kv[..n]
                    .chunks(2)
                    .map(|c| {
                        c.iter()
                            .flat_map(|(k, v)| [k, v])
                            .flatten()
                            .copied()
                            .collect()
                    })
                    .collect();
                let data = bytes.iter().map(Vec::as_slice);
                encode_leaf_into(&mut got, len, Pgid(9), 1, heads, data);
                assert_eq!(got[..7], [0xEE; 7], "leaf of {n} in {len}: prefix");
                assert_eq!(got[7..], want, "leaf of {n} in {len}");
                let children = || {
                    kv[..n]
                        .iter()
                        .enumerate()
                        .map(|(i, (k, _))| (k.as_slice(), Pgid(100 + i as u64)))
                };
                let mut want = vec![0u8; len];
                encode_branch(&mut want, Pgid(3), 0, children());
                let mut got = vec![0xEE; 100];
                got.truncate(5);
                encode_branch_into(&mut got, len, Pgid(3), 0, children());
                assert_eq!(got[..5], [0xEE; 5], "branch of {n} in {len}: prefix");
                assert_eq!(got[5..], want, "branch of {n} in {len}");
            }
        }
    }

    /// Branch page 9 over `keys`, element `i` pointing at child `i + 10`.
    fn branch(keys: &[Vec<u8>]) -> Vec<u8> {
        let data: usize = keys.iter().map(Vec::len).sum();
        let mut buf = vec![0u8; branch_page_size(keys.len(), data)];
        encode_branch(
            &mut buf,
            Pgid(9),
            0,
            keys.iter()
                .enumerate()
                .map(|(i, k)| (&k[..], Pgid(i as u64 + 10))),
        );
        buf
    }

    fn leaf(items: &[(u32, &[u8], &[u8])]) -> Vec<u8> {
        let data: usize = items.iter().map(|(_, k, v)| k.len() + v.len()).sum();
        let mut buf = vec![0u8; leaf_page_size(items.len(), data)];
        let used = encode_leaf(&mut buf, Pgid(3), 0, items.iter().copied());
        assert_eq!(used, buf.len());
        buf
    }

    /// `entry` is the cursor's fast path; on every damaged element it must answer exactly as
    /// the checked `elem` does: the same slices, or an error.
    #[test]
    fn entry_agrees_with_elem_on_damaged_elements() {
        let good = leaf(&[
            (0, b"apple", b"1"),
            (1, b"banana", b"22"),
            (0, b"cherry", b""),
        ]);
        let header_and_elems = PAGE_HEADER_SIZE + 3 * LEAF_ELEM_SIZE;
        for at in PAGE_HEADER_SIZE..header_and_elems {
            for x in [0u8, 1, 7, 0x40, 0x7f, 0x80, 0xff] {
                let mut page = good.clone();
                page[at] = x;
                let p = LeafPage::new(&page).unwrap();
                for i in 0..4 {
                    let slow = p.elem(i).map(|e| (e.flags, &page[e.key], &page[e.value]));
                    assert_eq!(p.entry(i), slow, "byte {at} = {x:#x}, element {i}");
                }
            }
        }
    }

    /// The search against the slice's own binary search, for every size up to 40 and keys
    /// that tie on their 8-byte prefix, are shorter than 8 bytes, or fall between, before and
    /// after the page's keys.
    #[test]
    fn search_and_child_index_agree_with_a_sorted_slice() {
        let all: Vec<Vec<u8>> = (0..40u8)
            .flat_map(|i| [vec![b'a', i], [&b"samepfx:"[..], &[i, 1]].concat()])
            .collect();
        for n in 0..40 {
            let mut keys: Vec<Vec<u8>> = all.iter().step_by(2).take(n).cloned().collect();
            keys.extend(all.iter().skip(1).step_by(2).take(n).cloned());
            keys.sort();
            let items: Vec<(u32, &[u8], &[u8])> =
                keys.iter().map(|k| (0, &k[..], &b"v"[..])).collect();
            let lbuf = leaf(&items);
            let l = LeafPage::new(&lbuf).unwrap();
            let data: usize = keys.iter().map(Vec::len).sum();
            let mut bbuf = vec![0u8; branch_page_size(keys.len(), data)];
            encode_branch(
                &mut bbuf,
                Pgid(4),
                0,
                keys.iter().map(|k| (&k[..], Pgid(9))),
            );
            let b = BranchPage::new(&bbuf).unwrap();
            let probes = all
                .iter()
                .cloned()
                .chain([vec![0], vec![b'a'], vec![0xff; 9]]);
            for probe in probes {
                let want = match keys.binary_search(&probe) {
                    Ok(i) => (i, true),
                    Err(i) => (i, false),
                };
                assert_eq!(l.search(&probe).unwrap(), want, "leaf of {n}, {probe:?}");
                assert_eq!(b.search(&probe).unwrap(), want, "branch of {n}, {probe:?}");
                let child = (!keys.is_empty()).then(|| match want {
                    (i, true) => i,
                    (i, false) => i.saturating_sub(1),
                });
                assert_eq!(b.child_index(&probe).unwrap(), child, "{n}, {probe:?}");
            }
        }
    }

    #[test]
    fn inline_bucket_leaf_matches_bbolt_bytes() {
        // bbolt.md §3.4: bucket "b" holding foo->bar, one element with pos 16.
        let buf = leaf(&[(0, b"foo", b"bar")]);
        assert_eq!(
            &buf[16..32],
            &[0, 0, 0, 0, 16, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0]
        );
        assert_eq!(&buf[32..], b"foobar");
        let p = LeafPage::new(&buf).unwrap();
        let e = p.elem(0).unwrap();
        assert_eq!((&buf[e.key], &buf[e.value]), (&b"foo"[..], &b"bar"[..]));
    }

    #[test]
    fn leaf_search_finds_lower_bound() {
        let buf = leaf(&[(0, b"b", b"1"), (1, b"d", b""), (0, b"f", b"3")]);
        let p = LeafPage::new(&buf).unwrap();
        assert_eq!(p.search(b"a").unwrap(), (0, false));
        assert_eq!(p.search(b"d").unwrap(), (1, true));
        assert_eq!(p.search(b"e").unwrap(), (2, false));
        assert_eq!(p.search(b"g").unwrap(), (3, false));
        assert_eq!(p.elem(1).unwrap().flags, 1);
        assert!(p.elem(1).unwrap().value.is_empty());
    }

    #[test]
    fn branch_positions_and_child_index() {
        let keys: Vec<Vec<u8>> = (0..126u8).map(|i| vec![b'k', i]).collect();
        let buf = branch(&keys);
        // bbolt.md §3.19: element 0 of a 126-element branch has pos 2016, element 1 2008 + 2.
        assert_eq!(read_u32(&buf, 16), Some(2016));
        let p = BranchPage::new(&buf).unwrap();
        assert_eq!(p.child_index(b"a").unwrap(), Some(0));
        assert_eq!(p.child_index(&[b'k', 5]).unwrap(), Some(5));
        assert_eq!(p.child_index(&[b'k', 5, 0]).unwrap(), Some(5));
        assert_eq!(p.child(125).unwrap(), Pgid(135));
    }

    /// `elems` yields what `elem(i)` gives for every `i`, and on a hostile element the same
    /// error as `elem` for the first bad one (position past the span, key size 0, a size
    /// that overflows); `check_elems` fails exactly then, with that error.
    #[test]
    fn branch_elems_agree_with_elem_on_good_and_hostile_pages() {
        let keys: Vec<Vec<u8>> = (0..40u8)
            .map(|i| vec![b'k'; 1 + usize::from(i % 9)])
            .collect();
        let buf = branch(&keys);
        let check = |buf: &[u8]| {
            let p = BranchPage::new(buf).unwrap();
            let got: Vec<_> = p.elems().collect();
            let first_bad = (0..p.len()).position(|i| p.elem(i).is_err());
            assert_eq!(got.len(), p.len());
            for (i, g) in got.iter().enumerate() {
                match (g, p.elem(i)) {
                    (Ok((r, k, c)), Ok(e)) => {
                        assert_eq!((r, *c), (&e.key, e.pgid));
                        assert_eq!(*k, &buf[e.key.clone()]);
                    }
                    (Err(a), Err(b)) => assert_eq!(*a, b),
                    (a, b) => panic!("element {i}: elems {a:?}, elem {b:?}"),
                }
            }
            let first_err = first_bad.map(|i| p.elem(i).unwrap_err());
            assert_eq!(p.check_elems().err(), first_err, "check_elems");
            first_bad
        };
        assert_eq!(check(&buf), None);
        let at = |i: usize| PAGE_HEADER_SIZE + i * BRANCH_ELEM_SIZE;
        let mut bad = buf.clone();
        bad[at(7)..at(7) + 4].copy_from_slice(&4000u32.to_le_bytes()); // pos past the span
        assert_eq!(check(&bad), Some(7));
        let mut bad = buf.clone();
        bad[at(3) + 4..at(3) + 8].copy_from_slice(&0u32.to_le_bytes()); // key size 0
        assert_eq!(check(&bad), Some(3));
        let mut bad = buf.clone();
        bad[at(39) + 4..at(39) + 8].copy_from_slice(&u32::MAX.to_le_bytes()); // huge size
        assert_eq!(check(&bad), Some(39));
    }

    #[test]
    fn hostile_elements_are_errors() {
        let mut buf = leaf(&[(0, b"foo", b"bar")]);
        buf[20] = 200; // pos past the page
        let p = LeafPage::new(&buf).unwrap();
        assert_eq!(p.elem(0), Err(FormatError::ElementOutOfBounds { index: 0 }));
        assert!(p.key(0).is_err());
        buf[20] = 16;
        buf[24] = 0; // ksize 0
        assert_eq!(
            LeafPage::new(&buf).unwrap().elem(0),
            Err(FormatError::EmptyKey { index: 0 })
        );
        buf[10] = 0xff; // count far past the span
        assert!(LeafPage::new(&buf).is_err());
        buf[8] = 1; // now a branch
        assert!(matches!(
            LeafPage::new(&buf),
            Err(FormatError::WrongPageType { .. })
        ));
        assert!(PageHeader::decode(&buf[..15]).is_err());
        let mut vbuf = leaf(&[(0, b"foo", b"bar")]);
        vbuf[28] = 0xff; // vsize
        assert!(LeafPage::new(&vbuf).unwrap().elem(0).is_err());
    }

    #[test]
    fn patch_branch_equals_a_fresh_encode_with_new_children() {
        let keys: [&[u8]; 3] = [b"a", b"mm", b"zzz"];
        let mut src = vec![0u8; 4096];
        encode_branch(
            &mut src,
            Pgid(7),
            0,
            keys.iter().copied().zip([10, 11, 12].map(Pgid)),
        );
        let mut want = vec![0u8; 4096];
        encode_branch(
            &mut want,
            Pgid(9),
            0,
            keys.iter().copied().zip([10, 40, 41].map(Pgid)),
        );
        let mut got = src.clone();
        patch_branch(&mut got, Pgid(9), &[(1, Pgid(40)), (2, Pgid(41))]).unwrap();
        assert_eq!(got, want);
        assert!(patch_branch(&mut got, Pgid(9), &[(3, Pgid(1))]).is_err());
        let mut leaf = vec![0u8; 4096];
        encode_leaf(
            &mut leaf,
            Pgid(7),
            0,
            [(0, &b"k"[..], &b"v"[..])].into_iter(),
        );
        assert!(
            patch_branch(&mut leaf, Pgid(9), &[]).is_err(),
            "not a branch"
        );
    }
}
