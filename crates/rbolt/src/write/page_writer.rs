//! The page writer: a commit's page images collected in one reused buffer and written to the
//! file in sorted runs of adjacent pages. It owns how pages reach the file (write sizes,
//! coalescing, growth before writing); what the pages hold is the spill's business.

use super::WriterData;
use crate::error::Result;
use rbolt_format::Pgid;
use std::time::{Duration, Instant};

/// Flush buffered pages once this many bytes are waiting. Small enough that the buffer stays
/// in the core's cache between being encoded and being copied by `pwrite`, and that a large
/// commit keeps reusing a few warm pages instead of touching (and faulting in) megabytes.
/// Pages are mostly allocated in file order, so a small window loses little coalescing.
const FLUSH_BYTES: usize = 256 << 10;
/// Largest single write when coalescing a run of pages. Small on purpose: ext4 (Linux ≥ 6.16)
/// caches a file region in folios as large as the write that created them, and a later 4 KiB
/// write into a large folio walks every block of it — about ten times slower after 1 MiB
/// writes than after 16 KiB ones, while 16 KiB writes still coalesce most of a commit's
/// pages. Every small commit pays that per-write cost on each page, so 16 KiB wins; Go bbolt
/// writes page by page and never hits this. (docs/benchmarks.md has the measurement.)
const MAX_WRITE: usize = 16 << 10;
/// A durable commit asks the kernel to start writing back what it has written so far each time
/// this much more is waiting (`Storage::start_writeback`), over its first
/// [`WRITEBACK_LATER_AFTER`]. Otherwise every page of a large commit sits dirty in the page
/// cache until the closing `fdatasync`, which then waits for all of it at once; started
/// early, the disk works while the commit encodes and writes the rest. One flush window: a
/// commit of a MiB or two puts each window on its way as soon as it is written, so its sync
/// finds less left to do. Small commits (one flush window or less) never reach it.
const WRITEBACK_AFTER: usize = FLUSH_BYTES;
/// Past its first MiB a durable commit starts write-back a MiB at a time, and so do no-sync
/// commits that a later commit will sync (`WriterData::sync_later`, as compaction's are:
/// what they write adds up from one to the next). Each start submits its I/O on the
/// committing thread, so a large commit pays for every one; a MiB keeps the disk busy with
/// a fraction of the calls.
const WRITEBACK_LATER_AFTER: usize = 1 << 20;
/// Collects a commit's page images back to back in one buffer, each encoded straight into it,
/// and writes them in sorted, coalesced runs: a run whose pages lie in the buffer in file
/// order (pages are mostly allocated in the order they are spilled) is written from the
/// buffer as it stands, with no copy and no allocation per page.
pub(crate) struct PageWriter {
    /// Page images, each a whole number of pages, in the order they were added.
    pub(super) buf: Vec<u8>,
    /// Each image: its page id, and where it starts in `buf` and how long it is.
    pages: Vec<(Pgid, usize, usize)>,
    /// A run whose images are not back to back in `buf` is gathered here.
    scratch: Vec<u8>,
    /// Pages written and time spent writing (for `TxStats`).
    pub(super) writes: u64,
    pub(super) write_time: Duration,
    /// The commit will sync, or a later one will (`sync_later`): worth starting write-back
    /// early. A plain no-sync commit leaves that to the kernel, as its caller asked.
    durable: bool,
    /// First and end offset of what was written since write-back was last started (by this
    /// commit, or by earlier `sync_later` ones), and how many bytes lie between.
    unstarted: Option<(u64, u64)>,
    unstarted_bytes: usize,
    /// Bytes this commit has started write-back of.
    started: usize,
}

impl PageWriter {
    /// A writer reusing the buffers the last commit left in `w` (warm memory: a large commit
    /// would otherwise take a page fault for every page it encodes).
    pub(crate) fn new(w: &mut WriterData) -> Self {
        let super::writer::PageBuffers {
            mut buf,
            pages,
            scratch,
            unstarted,
            unstarted_bytes,
        } = std::mem::take(&mut w.page_buffers);
        // Room for a whole flush up front: untouched capacity costs address space only, and
        // a large commit then never copies the buffer to grow it.
        buf.reserve(FLUSH_BYTES);
        Self {
            buf,
            pages,
            scratch,
            writes: 0,
            write_time: Duration::ZERO,
            durable: !w.no_sync || w.sync_later,
            unstarted,
            unstarted_bytes,
            started: 0,
        }
    }

    /// Hands the (empty) buffers back to `w` for the next commit; one that grew past a flush
    /// (a huge value's page) is not kept.
    pub(crate) fn finish(mut self, w: &mut WriterData) {
        let keep = self.buf.capacity() <= 2 * FLUSH_BYTES && self.scratch.capacity() <= MAX_WRITE;
        if !keep {
            (self.buf, self.scratch) = (Vec::new(), Vec::new());
        }
        self.buf.clear();
        self.pages.clear();
        // Only a commit whose data a later one will sync hands on what it left unstarted: a
        // syncing commit's sync wrote it all, and a plain no-sync commit leaves it to the kernel.
        let (unstarted, unstarted_bytes) = if w.sync_later {
            (self.unstarted, self.unstarted_bytes)
        } else {
            (None, 0)
        };
        w.page_buffers = super::writer::PageBuffers {
            buf: self.buf,
            pages: self.pages,
            scratch: self.scratch,
            unstarted,
            unstarted_bytes,
        };
    }

    /// Writes what is still buffered at the end of a commit. A commit that will not sync
    /// starts the write-back that is due now (only `sync_later` ones have any); a syncing
    /// commit leaves its tail to the sync that follows.
    pub(crate) fn flush_last(&mut self, w: &mut WriterData) -> Result<()> {
        self.flush(w)?;
        if w.no_sync {
            self.start_due_writeback(w);
        }
        Ok(())
    }

    /// Starts write-back of what was written since it was last started, once that is
    /// [`WRITEBACK_AFTER`] or more ([`WRITEBACK_LATER_AFTER`] in a no-sync commit, and past
    /// the first [`WRITEBACK_LATER_AFTER`] of a syncing one).
    fn start_due_writeback(&mut self, w: &mut WriterData) {
        let due = if w.no_sync || self.started >= WRITEBACK_LATER_AFTER {
            WRITEBACK_LATER_AFTER
        } else {
            WRITEBACK_AFTER
        };
        if self.durable && self.unstarted_bytes >= due {
            if let Some((from, to)) = self.unstarted.take() {
                // A failed hint costs only the overlap: a sync still writes and reports.
                let _ = w.storage.start_writeback(from, to - from);
            }
            self.started += self.unstarted_bytes;
            self.unstarted_bytes = 0;
        }
    }

    /// Makes room for an image of `len` bytes (flushing what is buffered if it would pass
    /// [`FLUSH_BYTES`]) and returns where it starts: encode it onto the end of `self.buf`,
    /// then [`push`](Self::push) it.
    pub(super) fn start(&mut self, w: &mut WriterData, len: usize) -> Result<usize> {
        if !self.pages.is_empty() && self.buf.len() + len > FLUSH_BYTES {
            self.flush(w)?;
            self.start_due_writeback(w);
        }
        Ok(self.buf.len())
    }

    /// Records the image encoded at `start..` as page `pgid`'s.
    pub(super) fn push(&mut self, pgid: Pgid, start: usize) {
        self.pages.push((pgid, start, self.buf.len() - start));
    }

    pub(crate) fn flush(&mut self, w: &mut WriterData) -> Result<()> {
        let Some(&(last, _, last_len)) = self.pages.iter().max_by_key(|p| p.0) else {
            return Ok(());
        };
        let t = Instant::now();
        self.writes += self.pages.len() as u64;
        let ps = w.page_size as u64;
        w.grow(last.get() * ps + last_len as u64)?;
        self.pages.sort_unstable_by_key(|p| p.0);
        let mut i = 0;
        while i < self.pages.len() {
            let (first, at, first_len) = self.pages[i];
            let off = first.get() * ps;
            let (mut len, mut in_order, mut j) = (first_len, true, i + 1);
            while let Some(&(pgid, a, l)) = self.pages.get(j) {
                if pgid.get() * ps != off + len as u64 || len + l > MAX_WRITE {
                    break;
                }
                in_order &= a == at + len;
                len += l;
                j += 1;
            }
            if in_order {
                w.storage.write_at(&self.buf[at..at + len], off)?;
            } else {
                self.scratch.clear();
                for &(_, a, l) in &self.pages[i..j] {
                    self.scratch.extend_from_slice(&self.buf[a..a + l]);
                }
                w.storage.write_at(&self.scratch, off)?;
            }
            let end = off + len as u64;
            self.unstarted = Some(
                self.unstarted
                    .map_or((off, end), |(a, b)| (a.min(off), b.max(end))),
            );
            self.unstarted_bytes += len;
            i = j;
        }
        self.pages.clear();
        self.buf.clear();
        self.write_time += t.elapsed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::freelist::{Freelist, FreelistType};
    use crate::storage::Storage;
    use std::sync::{Arc, Mutex};

    /// Records every write as (offset, bytes), and every write-back started as a range, with
    /// the number of bytes written before it; fails the latter when `fail_writeback`.
    #[derive(Debug, Default)]
    struct Recorder(
        Mutex<Vec<(u64, Vec<u8>)>>,
        Mutex<Vec<(std::ops::Range<u64>, usize)>>,
        bool,
    );

    impl Storage for Recorder {
        fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
            self.0.lock().unwrap().push((offset, buf.to_vec()));
            Ok(())
        }
        fn start_writeback(&self, offset: u64, len: u64) -> std::io::Result<()> {
            let written = self.0.lock().unwrap().iter().map(|w| w.1.len()).sum();
            self.1.lock().unwrap().push((offset..offset + len, written));
            if self.2 {
                return Err(std::io::Error::from_raw_os_error(5));
            }
            Ok(())
        }
        fn sync_data(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn sync_all(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn set_len(&self, _: u64) -> std::io::Result<()> {
            Ok(())
        }
        fn len(&self) -> std::io::Result<u64> {
            Ok(0)
        }
    }

    fn writer_data(rec: Arc<Recorder>, no_sync: bool) -> WriterData {
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(std::fs::File::create(dir.path().join("f")).unwrap());
        WriterData::new(
            Freelist::new(FreelistType::Array),
            u64::MAX,
            4096,
            rec,
            file,
            Arc::default(),
            &crate::Options::new().no_sync(no_sync),
        )
    }

    /// Adds page `id` (one page of `id as u8`) to `pw`.
    fn add_page(pw: &mut PageWriter, w: &mut WriterData, id: u64) {
        let start = pw.start(w, 4096).unwrap();
        pw.buf.resize(start + 4096, id as u8);
        pw.push(Pgid(id), start);
    }

    /// A durable commit of 3 MiB, its pages spread over the file, starts write-back of what it
    /// wrote after each flush window until it has started a MiB, then each time another MiB
    /// waits, over ranges holding exactly those pages; the final flush, right before the
    /// commit's sync, starts none. A no-sync commit that a later one will sync starts it every
    /// MiB, a plain no-sync commit never, and a failing hint changes no byte written.
    #[test]
    fn large_durable_commits_start_writeback_of_what_they_wrote() {
        let ids = |i: u64| 10 + i * 3;
        // (no_sync, sync_later, fail)
        for (no_sync, sync_later, fail) in [
            (false, false, false),
            (true, false, false),
            (true, true, false),
            (false, false, true),
        ] {
            let rec = Arc::new(Recorder(Mutex::default(), Mutex::default(), fail));
            let mut w = writer_data(rec.clone(), no_sync);
            w.sync_later = sync_later;
            let mut pw = PageWriter::new(&mut w);
            for i in 0..768 {
                add_page(&mut pw, &mut w, ids(i));
            }
            pw.flush(&mut w).unwrap();
            let writes = rec.0.lock().unwrap().clone();
            let mut pages: Vec<u64> = writes.iter().map(|(o, _)| o / 4096).collect();
            pages.sort_unstable();
            assert_eq!(
                pages,
                (0..768).map(ids).collect::<Vec<_>>(),
                "{no_sync} {fail}"
            );
            for (off, bytes) in &writes {
                assert!(bytes.iter().all(|&b| b == (off / 4096) as u8));
            }
            let kicks = rec.1.lock().unwrap().clone();
            if no_sync && !sync_later {
                assert!(kicks.is_empty(), "{kicks:?}");
                continue;
            }
            assert_eq!(
                (FLUSH_BYTES, WRITEBACK_AFTER, WRITEBACK_LATER_AFTER),
                (256 << 10, 256 << 10, 1 << 20),
                "the sizes below"
            );
            // Bytes each start covers; 12 flush windows, and the last one starts nothing.
            let (k, m) = (256 << 10, 1 << 20);
            let want: Vec<usize> = if no_sync {
                vec![m, m]
            } else {
                vec![k, k, k, k, m]
            };
            let mut covered = 0;
            let got: Vec<usize> = kicks
                .iter()
                .map(|(_, written)| {
                    let n = written - covered;
                    covered = *written;
                    n
                })
                .collect();
            assert_eq!(got, want, "3 MiB, {no_sync} {sync_later}; {kicks:?}");
            let mut covered = 0;
            for (range, written) in &kicks {
                let inside: Vec<_> = writes
                    .iter()
                    .filter(|(o, _)| range.contains(o))
                    .map(|(o, b)| (*o, b.len()))
                    .collect();
                let bytes: usize = inside.iter().map(|x| x.1).sum();
                assert_eq!(
                    bytes,
                    written - covered,
                    "{range:?} holds what was written since"
                );
                assert!(inside.iter().all(|(o, l)| o + *l as u64 <= range.end));
                covered = *written;
            }
        }
    }

    /// Small no-sync commits that a later commit will sync (compaction's) start write-back
    /// once what they wrote together reaches `WRITEBACK_LATER_AFTER`, over ranges holding
    /// exactly what was written since the last start. Plain no-sync commits start none, and what a
    /// syncing commit wrote is never started again by the next one.
    #[test]
    fn small_sync_later_commits_start_writeback_across_commits() {
        // 40 commits of 64 KiB: (sync_later, commit 20 durable, starts expected). With the
        // durable commit: starts among commits 0..20 and among the 19 after it, none across.
        let per = WRITEBACK_LATER_AFTER / (16 * 4096);
        assert!((2..=16).contains(&per));
        for (sync_later, durable_mid, want) in [
            (true, false, 40 / per),
            (false, false, 0),
            (true, true, 20 / per + 19 / per),
        ] {
            let rec = Arc::new(Recorder::default());
            let mut w = writer_data(rec.clone(), true);
            let mut next = 10;
            for c in 0..40 {
                let durable = durable_mid && c == 20;
                w.no_sync = !durable;
                w.sync_later = sync_later && !durable;
                let mut pw = PageWriter::new(&mut w);
                for _ in 0..16 {
                    add_page(&mut pw, &mut w, next);
                    next += 2;
                }
                pw.flush_last(&mut w).unwrap();
                pw.finish(&mut w);
            }
            let writes = rec.0.lock().unwrap().clone();
            let kicks = rec.1.lock().unwrap().clone();
            assert_eq!(kicks.len(), want, "{sync_later} {durable_mid}: {kicks:?}");
            let synced = if durable_mid { 21 * 16 * 4096 } else { 0 };
            let mut covered = 0;
            for (range, written) in &kicks {
                if synced < *written {
                    covered = covered.max(synced);
                }
                assert!(written - covered >= WRITEBACK_LATER_AFTER, "{kicks:?}");
                let bytes: usize = writes
                    .iter()
                    .filter(|(o, _)| range.contains(o))
                    .map(|(_, b)| b.len())
                    .sum();
                assert_eq!(
                    bytes,
                    written - covered,
                    "{range:?} holds what was written since"
                );
                covered = *written;
            }
        }
    }

    /// Pages added out of file order, of several lengths, in more than one flush window, come
    /// out as runs in file order: adjacent pages coalesced up to `MAX_WRITE`, each page's own
    /// bytes at its own offset, whichever way the buffer held them.
    #[test]
    fn page_writer_writes_sorted_coalesced_runs() {
        let rec = Arc::new(Recorder::default());
        let mut w = writer_data(rec.clone(), false);
        let mut pw = PageWriter::new(&mut w);
        // (first page, pages): 9 and 10 are adjacent but added apart; 3..=7 is a run longer
        // than MAX_WRITE; 12 is an overflow page of 2; the 70 pages of 100.. pass a flush.
        let mut ids: Vec<(u64, usize)> = vec![(10, 1), (4, 1), (3, 1), (9, 1), (5, 1)];
        ids.extend([(6, 1), (7, 1), (12, 2), (2, 1)]);
        ids.extend((100..170).map(|i| (i, 1)));
        for &(id, pages) in &ids {
            let start = pw.start(&mut w, pages * 4096).unwrap();
            pw.buf.resize(start + pages * 4096, id as u8);
            pw.push(Pgid(id), start);
        }
        pw.flush(&mut w).unwrap();
        let writes = rec.0.lock().unwrap().clone();
        let mut expect = vec![0u8; 170 * 4096];
        let mut got = vec![0u8; 170 * 4096];
        for &(id, pages) in &ids {
            let at = id as usize * 4096;
            expect[at..at + pages * 4096].fill(id as u8);
        }
        for (off, bytes) in &writes {
            assert!(bytes.len() <= MAX_WRITE, "a write of {}", bytes.len());
            got[*off as usize..*off as usize + bytes.len()].copy_from_slice(bytes);
        }
        assert_eq!(got, expect);
        let runs: Vec<(u64, usize)> = writes
            .iter()
            .map(|(o, b)| (o / 4096, b.len() / 4096))
            .collect();
        assert_eq!(&runs[..4], &[(2, 4), (6, 2), (9, 2), (12, 2)], "{runs:?}");
        assert_eq!(runs.iter().map(|r| r.1).sum::<usize>(), 80);
        assert!(runs.len() <= 4 + 70 / 4 + 2, "{runs:?}");
    }
}
