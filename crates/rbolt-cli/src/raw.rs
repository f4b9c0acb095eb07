//! Reading pages straight from the file with `pread`, as bbolt's page-level commands do
//! (its `guts_cli`): no lock, no map, no trust in the bytes. Works on files the engine
//! refuses to open.

use crate::error::CliError;
use rbolt_format::{
    MAGIC, MAX_PAGE_SIZE, META_SIZE, MIN_PAGE_SIZE, Meta, PAGE_HEADER_SIZE, PageHeader,
};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// An open database file read page by page.
#[derive(Debug)]
pub(crate) struct RawFile {
    file: File,
    len: u64,
    /// Page size from meta page 0, as bbolt reads it.
    pub(crate) page_size: u64,
    /// High-water mark from meta page 0.
    pub(crate) hwm0: u64,
    /// High-water mark that bounds a page's overflow count: the active meta's, so spans a
    /// newer transaction wrote past meta 0's mark are readable.
    hwm_guard: u64,
}

impl RawFile {
    /// Opens `path` and reads the page size and high-water mark from the first 4 KiB (bbolt's
    /// `ReadPageAndHWMSize`), with its error texts.
    pub(crate) fn open(path: &Path) -> Result<Self, CliError> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut head = vec![0u8; 4096];
        let mut got = 0;
        while got < head.len() {
            match file.read(&mut head[got..])? {
                0 => break,
                n => got += n,
            }
        }
        if got < head.len() {
            // io.ReadFull: nothing read is EOF, a partial read "unexpected EOF".
            return Err(CliError::msg(if got == 0 {
                "EOF"
            } else {
                "unexpected EOF"
            }));
        }
        let u32_at =
            |o: usize| u32::from_le_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&head[o..o + 8]);
            u64::from_le_bytes(a)
        };
        if u32_at(PAGE_HEADER_SIZE) != MAGIC {
            return Err(CliError::msg("the Meta Page has wrong (unexpected) magic"));
        }
        let hwm0 = u64_at(PAGE_HEADER_SIZE + 40);
        let mut raw = Self {
            file,
            len,
            page_size: u64::from(u32_at(PAGE_HEADER_SIZE + 8)),
            hwm0,
            hwm_guard: hwm0,
        };
        if let Ok(Some((_, m))) = raw.active_meta() {
            raw.hwm_guard = raw.hwm0.max(m.pgid.get());
        }
        Ok(raw)
    }

    fn check_page_size(&self) -> Result<usize, CliError> {
        let ps = usize::try_from(self.page_size).unwrap_or(usize::MAX);
        if !(PAGE_HEADER_SIZE + META_SIZE..=MAX_PAGE_SIZE).contains(&ps) {
            return Err(CliError::msg(format!(
                "the Meta Page has an unusable page size: {}",
                self.page_size
            )));
        }
        Ok(ps)
    }

    /// Reads `n` bytes at `off`; a read past the end is Go's `EOF`.
    fn read_at(&self, off: u64, n: usize) -> Result<Vec<u8>, CliError> {
        let end = off.checked_add(n as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(CliError::msg("EOF"));
        }
        let mut buf = vec![0u8; n];
        self.file.read_exact_at(&mut buf, off)?;
        Ok(buf)
    }

    /// One page without its overflow, exactly `page_size` bytes (what `dump` prints).
    pub(crate) fn read_block(&self, id: u64) -> Result<Vec<u8>, CliError> {
        let ps = self.check_page_size()?;
        let off = id
            .checked_mul(self.page_size)
            .ok_or_else(|| CliError::msg("EOF"))?;
        self.read_at(off, ps)
    }

    /// Page `id` with its overflow pages (bbolt's `ReadPage`): the header must name the page,
    /// and an absurd overflow count is refused before anything is allocated.
    pub(crate) fn read_page(&self, id: u64) -> Result<(PageHeader, Vec<u8>), CliError> {
        let first = self.read_block(id)?;
        let h = PageHeader::decode(&first).map_err(|e| CliError::msg(e.to_string()))?;
        if h.id.get() != id {
            return Err(CliError::msg(format!(
                "error: invalid value due to unexpected Page id: {} != {id}",
                h.id
            )));
        }
        // bbolt's guard, with its 32-bit arithmetic (a high-water mark below 3 wraps).
        let limit = (self.hwm_guard as u32).wrapping_sub(3);
        if h.overflow >= limit {
            return Err(CliError::msg(format!(
                "error: invalid value, Page claims to have {} overflow pages (>=hwm={}). Interrupting to avoid risky OOM",
                h.overflow, self.hwm_guard
            )));
        }
        if h.overflow == 0 {
            return Ok((h, first));
        }
        let n = (u64::from(h.overflow) + 1)
            .checked_mul(self.page_size)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| CliError::msg("EOF"))?;
        let buf = self.read_at(id * self.page_size, n)?;
        Ok((h, buf))
    }

    /// Pages `id..id + n` as one buffer, for a caller that has already bounded `n` (no
    /// high-water-mark guard, unlike [`RawFile::read_page`]).
    pub(crate) fn read_span(&self, id: u64, n: u64) -> Result<Vec<u8>, CliError> {
        let off = id
            .checked_mul(self.page_size)
            .ok_or_else(|| CliError::msg("EOF"))?;
        let len = n
            .checked_mul(self.page_size)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| CliError::msg("EOF"))?;
        self.read_at(off, len)
    }

    /// Both meta pages, decoded without trusting their checksums (`None` when a page does
    /// not even carry the magic), with each one's validity.
    pub(crate) fn metas(&self) -> Result<[MetaSlot; 2], CliError> {
        let read = |id| -> Result<MetaSlot, CliError> {
            let b = self.read_block(id)?;
            Ok(MetaSlot {
                meta: Meta::decode_unverified(&b).ok(),
                valid: Meta::decode(&b).map(|_| ()),
            })
        };
        Ok([read(0)?, read(1)?])
    }

    /// The meta a reader would use: the valid one with the higher txid (like the engine and
    /// bbolt on open), or `None` when neither is valid.
    pub(crate) fn active_meta(&self) -> Result<Option<(u64, Meta)>, CliError> {
        let [a, b] = self.metas()?;
        Ok(match (a.checked(), b.checked()) {
            (Some(m0), Some(m1)) if m1.txid > m0.txid => Some((1, m1)),
            (Some(m0), _) => Some((0, m0)),
            (None, Some(m1)) => Some((1, m1)),
            (None, None) => None,
        })
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.len
    }

    /// Whole pages in the file.
    pub(crate) fn pages(&self) -> u64 {
        self.len / self.page_size.max(1)
    }

    /// Like [`RawFile::open`], for forensic commands: a meta page 0 that is torn or wiped
    /// does not stop it. The page size then comes from meta page 1, found by trying every
    /// page size bbolt can write.
    pub(crate) fn open_lenient(path: &Path) -> Result<Self, CliError> {
        let first = Self::open(path);
        // The engine's rule: meta 0's page size if meta 0 is valid and its size is one
        // bbolt can write, else the first size at which a valid meta page 1 sits.
        if let Ok(raw) = &first
            && raw.page_size.is_power_of_two()
            && (MIN_PAGE_SIZE as u64..=MAX_PAGE_SIZE as u64).contains(&raw.page_size)
            && raw.metas().is_ok_and(|[m0, _]| m0.valid.is_ok())
        {
            return first;
        }
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut ps = MIN_PAGE_SIZE as u64;
        while ps <= MAX_PAGE_SIZE as u64 {
            let mut buf = vec![0u8; PAGE_HEADER_SIZE + META_SIZE];
            if file.read_exact_at(&mut buf, ps).is_ok()
                && let Ok(m) = Meta::decode(&buf)
                && u64::from(m.page_size) == ps
            {
                let mut raw = Self {
                    file,
                    len,
                    page_size: ps,
                    hwm0: m.pgid.0,
                    hwm_guard: m.pgid.0,
                };
                if let Ok([m0, _]) = raw.metas()
                    && let Some(m0) = m0.meta
                {
                    raw.hwm0 = m0.pgid.0;
                    raw.hwm_guard = m.pgid.0.max(m0.pgid.0.min(raw.pages()));
                }
                return Ok(raw);
            }
            ps *= 2;
        }
        first
    }

    /// A file no meta page describes, read as pages of `page_size` bytes (for `map`,
    /// which still draws it).
    pub(crate) fn assume(path: &Path, page_size: u64) -> Result<Self, CliError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let pages = len / page_size.max(1);
        Ok(Self {
            file,
            len,
            page_size,
            hwm0: pages,
            hwm_guard: pages,
        })
    }

    /// The snapshot to read: meta page `want` when given (it must be valid), else the
    /// active one.
    pub(crate) fn snapshot(&self, want: Option<u64>) -> Result<(u64, Meta), CliError> {
        match want {
            Some(id) => {
                let slot = self.metas()?[usize::from(id == 1)];
                match (slot.meta, slot.valid) {
                    (Some(m), Ok(())) => Ok((id, m)),
                    (_, Err(e)) => Err(CliError::msg(format!("meta page {id} is invalid: {e}"))),
                    (None, Ok(())) => Err(CliError::msg(format!("meta page {id} is invalid"))),
                }
            }
            None => {
                // The engine's choice on open: a valid meta that also fits this file.
                let [m0, m1] = self.metas()?;
                let fits = |m: Option<Meta>| m.filter(|m| self.fits(m));
                match (fits(m0.checked()), fits(m1.checked())) {
                    (Some(a), Some(b)) if b.txid.0 > a.txid.0 => Ok((1, b)),
                    (Some(a), _) => Ok((0, a)),
                    (None, Some(b)) => Ok((1, b)),
                    (None, None) => Err(CliError::msg(
                        "invalid database: neither meta page is valid",
                    )),
                }
            }
        }
    }

    /// Whether a meta page describes this file: its page size, a high-water mark within
    /// the file, root and freelist below it (what the engine checks before using one).
    fn fits(&self, m: &Meta) -> bool {
        let hwm_ok = m
            .pgid
            .0
            .checked_mul(self.page_size)
            .is_some_and(|b| b <= self.len);
        let root_ok = m.root.root.0 >= 2 && m.root.root.0 < m.pgid.0;
        let fl_ok = m.freelist.0 == rbolt_format::PGID_NO_FREELIST.0
            || (m.freelist.0 >= 2 && m.freelist.0 < m.pgid.0);
        u64::from(m.page_size) == self.page_size
            && hwm_ok
            && root_ok
            && fl_ok
            && m.txid.0 != u64::MAX
    }
}

/// One meta page as found on disk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MetaSlot {
    pub(crate) meta: Option<Meta>,
    pub(crate) valid: Result<(), rbolt_format::MetaError>,
}

impl MetaSlot {
    /// The meta, if it passes every check.
    pub(crate) fn checked(&self) -> Option<Meta> {
        self.valid.ok().and(self.meta)
    }
}
