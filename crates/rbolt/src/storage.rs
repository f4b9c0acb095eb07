//! The narrow interface every byte rbolt writes goes through. Reads come from the map; writes,
//! syncs and size changes come here, so tests can record them, simulate a crash at any point,
//! or inject a failure at the k-th call (see `Options::wrap_storage`).

use std::fmt::Debug;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Where rbolt writes. Implementations must be usable from several threads (one writer at a
/// time, but the `Db` that owns it is shared).
#[expect(
    clippy::len_without_is_empty,
    reason = "mirrors File::metadata().len(); emptiness is meaningless here"
)]
pub trait Storage: Send + Sync + Debug {
    /// Writes all of `buf` at byte `offset` (pwrite).
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes written data durable (fdatasync on Linux).
    fn sync_data(&self) -> io::Result<()>;
    /// Makes data and metadata, including the file length, durable (fsync).
    fn sync_all(&self) -> io::Result<()>;
    /// Sets the file length (ftruncate).
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Current file length.
    fn len(&self) -> io::Result<u64>;
    /// Starts writing `offset..offset + len` to disk without waiting for it (Linux's
    /// `sync_file_range` with `SYNC_FILE_RANGE_WRITE`), so that a large commit's earlier pages
    /// are on their way while it writes the rest. A hint: the commit's `sync_data` still makes
    /// the range durable and reports any error, and the commit goes on if this fails. The
    /// default does nothing, which is right for anything that is not a real file.
    fn start_writeback(&self, offset: u64, len: u64) -> io::Result<()> {
        let _ = (offset, len);
        Ok(())
    }
}

/// The real thing: the database file.
#[derive(Debug)]
pub struct FileStorage {
    file: Arc<File>,
}

impl FileStorage {
    /// Wraps an open file.
    pub fn new(file: Arc<File>) -> Self {
        Self { file }
    }
}

impl Storage for FileStorage {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn start_writeback(&self, offset: u64, len: u64) -> io::Result<()> {
        crate::sys::start_writeback(&self.file, offset, len)
    }
}

/// A function that wraps the file storage, for tests that record or fail writes.
pub type StorageWrapper = Arc<dyn Fn(Box<dyn Storage>) -> Box<dyn Storage> + Send + Sync>;
