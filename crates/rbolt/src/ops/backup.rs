//! Hot backup (bbolt's `Tx.WriteTo` / `Tx.CopyFile`): a consistent copy of a transaction's
//! snapshot, written while writers go on committing.
//!
//! The image is bbolt's: two fresh meta pages built from the snapshot's meta — page 0 with its
//! txid T, page 1 with T − 1 — then pages `2 .. pgid` read from the file with `pread` (not the
//! map, so a large backup does not fault the whole file into this process's page cache
//! mappings). Exactly `Tx::size()` bytes.
//!
//! Why the copy is consistent without blocking anyone: every page reachable from the snapshot
//! stays untouched while the transaction is open (the freelist keeps them pending), and no
//! truncation cuts below an open reader's high-water mark. Pages that are free in the snapshot
//! may be overwritten while they are copied; the copy's freelist (the snapshot's) lists them
//! as free, so their bytes never matter.

use crate::error::{Error, Result};
use crate::tx::{Mode, Tx};
use rbolt_format::{Pgid, Txid};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes copied per `pread`/write.
const CHUNK: usize = 1 << 20;

impl<M: Mode> Tx<M> {
    /// Writes this transaction's snapshot to `w` as a complete database file; returns the
    /// bytes written (always [`Tx::size`]). Other readers and the writer carry on meanwhile.
    ///
    /// In a write transaction this copies the state the transaction started from (its
    /// uncommitted changes are not included), with the metas' txids one higher, as bbolt does.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = rbolt::Db::open(dir.path().join("a.db"))?;
    /// db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))?;
    /// let mut image = Vec::new();
    /// let n = db.view(|tx| tx.write_to(&mut image))?;
    /// assert_eq!(n, image.len() as u64);
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn write_to(&self, mut w: impl Write) -> Result<u64> {
        let ps = self.snap.page_size;
        let mut page = vec![0u8; ps];
        let mut meta = self.snap.meta;
        meta.encode_page(Pgid(0), &mut page);
        w.write_all(&page).map_err(|e| copy_err("meta 0 copy", e))?;
        meta.txid = Txid(meta.txid.get().saturating_sub(1));
        page.fill(0);
        meta.encode_page(Pgid(1), &mut page);
        w.write_all(&page).map_err(|e| copy_err("meta 1 copy", e))?;

        let file = &self.shared.file;
        let end = self.size();
        let mut off = 2 * ps as u64;
        let mut buf = vec![0u8; CHUNK.max(ps)];
        while off < end {
            let n = usize::try_from((end - off).min(buf.len() as u64)).unwrap_or(buf.len());
            file.read_exact_at(&mut buf[..n], off)?;
            w.write_all(&buf[..n])?;
            off += n as u64;
        }
        w.flush()?;
        Ok(end.max(2 * ps as u64))
    }

    /// Writes the snapshot to a new file at `path` (created or truncated), and syncs it
    /// (bbolt's `CopyFile`). The copy opens with rbolt and with Go bbolt.
    pub fn copy_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        self.write_to(std::io::BufWriter::with_capacity(CHUNK, &f))?;
        f.sync_all()?;
        Ok(())
    }
}

fn copy_err(what: &str, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(e.kind(), format!("{what}: {e}")))
}
