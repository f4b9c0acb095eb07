//! Data access for the browser: one read snapshot held open (refreshed after each edit), and
//! every read the screen needs done with cursors and seeks, so nothing ever loads a whole
//! bucket. Buckets are addressed by their path of names from the root (empty = the root, whose
//! entries are the top-level buckets). Edits run one write transaction each.

use crate::error::CliError;
use crate::raw::RawFile;
use crate::source;
use rbolt::{Bucket, Cursor, Db, Mode, Tx};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A bucket's address: the names from the root down.
pub(crate) type BucketPath = Vec<Vec<u8>>;

/// One entry of a bucket as the key list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) key: Vec<u8>,
    /// A sub-bucket rather than a value.
    pub(crate) bucket: bool,
    /// Length of the value (0 for a bucket).
    pub(crate) len: usize,
}

/// What the header line shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) file: String,
    pub(crate) page_size: usize,
    pub(crate) txid: u64,
    pub(crate) hwm: u64,
    pub(crate) file_size: u64,
    /// Pages on the freelist, when the file has one.
    pub(crate) free: Option<u64>,
    pub(crate) writable: bool,
}

/// A bucket's own facts and its statistics (sub-buckets included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BucketInfo {
    pub(crate) sequence: u64,
    pub(crate) root: u64,
    /// `None` when not asked for and the bucket spans more than one page.
    pub(crate) stats: Option<rbolt::BucketStats>,
}

/// An edit, run in its own write transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    Put {
        bucket: BucketPath,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        bucket: BucketPath,
        key: Vec<u8>,
    },
    CreateBucket {
        parent: BucketPath,
        name: Vec<u8>,
    },
    DeleteBucket {
        parent: BucketPath,
        name: Vec<u8>,
    },
    MoveBucket {
        from: BucketPath,
        name: Vec<u8>,
        to: BucketPath,
    },
}

/// The open database and the snapshot the screen shows.
pub(crate) struct Data {
    db: Arc<Db>,
    tx: Tx,
    path: PathBuf,
    free: Option<u64>,
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data").field("path", &self.path).finish()
    }
}

fn not_found() -> CliError {
    CliError::msg("bucket not found")
}

impl Data {
    /// Opens `path` read-only with a shared lock, or read-write with `write`; both give up
    /// after `timeout`.
    pub(crate) fn open(
        path: &Path,
        write: bool,
        timeout: Option<Duration>,
    ) -> Result<Self, CliError> {
        let db = if write {
            source::open_read_write(path, timeout, false)?
        } else {
            source::open_read_only(path, timeout)?
        };
        Self::from_db(Arc::new(db), path)
    }

    /// Browses an already open database.
    pub(crate) fn from_db(db: Arc<Db>, path: &Path) -> Result<Self, CliError> {
        let tx = db.begin_read()?;
        Ok(Self {
            db,
            tx,
            free: free_pages(path),
            path: path.to_path_buf(),
        })
    }

    /// The database, for background jobs that take their own snapshot.
    pub(crate) fn db(&self) -> Arc<Db> {
        self.db.clone()
    }

    pub(crate) fn file_path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn writable(&self) -> bool {
        !self.db.is_read_only()
    }

    /// Moves to the latest committed snapshot.
    pub(crate) fn refresh(&mut self) -> Result<(), CliError> {
        self.tx = self.db.begin_read()?;
        self.free = free_pages(&self.path);
        Ok(())
    }

    pub(crate) fn header(&self) -> Header {
        let file = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Header {
            file,
            page_size: self.tx.page_size(),
            txid: self.tx.id().get(),
            hwm: self.tx.size() / self.tx.page_size() as u64,
            file_size: std::fs::metadata(&self.path).map_or(0, |m| m.len()),
            free: self.free,
            writable: self.writable(),
        }
    }

    fn bucket(&self, path: &[Vec<u8>]) -> Result<Option<Bucket<'_>>, CliError> {
        let Some((first, rest)) = path.split_first() else {
            return Ok(None);
        };
        let mut b = self.tx.bucket(first)?.ok_or_else(not_found)?;
        for n in rest {
            b = b.bucket(n)?.ok_or_else(not_found)?;
        }
        Ok(Some(b))
    }

    fn cursor(&self, path: &[Vec<u8>]) -> Result<Cursor<'_>, CliError> {
        Ok(match self.bucket(path)? {
            Some(b) => b.cursor(),
            None => self.tx.cursor(),
        })
    }

    /// Whether `path` names a bucket (the root always does).
    pub(crate) fn is_bucket(&self, path: &[Vec<u8>]) -> bool {
        self.bucket(path).is_ok()
    }

    /// The first `limit` sub-buckets of `path`, and whether there are more.
    pub(crate) fn child_buckets(
        &self,
        path: &[Vec<u8>],
        limit: usize,
    ) -> Result<(Vec<Vec<u8>>, bool), CliError> {
        let mut c = self.cursor(path)?;
        let mut out = Vec::new();
        let mut item = c.first()?;
        // Values between sub-buckets are skipped; a bucket of a million values and no
        // sub-bucket is still a full scan, so the scan is bounded too.
        let mut budget = 100_000usize;
        while let Some((k, v)) = item {
            if v.is_none() {
                if out.len() == limit {
                    return Ok((out, true));
                }
                out.push(k.to_vec());
            }
            budget -= 1;
            if budget == 0 {
                return Ok((out, true));
            }
            item = c.next()?;
        }
        Ok((out, false))
    }

    /// Up to `n` rows of `path` in key order, starting at the first key ≥ `from` (> `from`
    /// when `after`), or at the first key when `from` is `None`.
    pub(crate) fn rows_from(
        &self,
        path: &[Vec<u8>],
        from: Option<&[u8]>,
        after: bool,
        n: usize,
    ) -> Result<Vec<Row>, CliError> {
        let mut c = self.cursor(path)?;
        let mut item = match from {
            None => c.first()?,
            Some(k) => {
                let found = c.seek(k)?;
                match found {
                    Some((fk, _)) if after && fk == k => c.next()?,
                    other => other,
                }
            }
        };
        let mut out = Vec::with_capacity(n);
        while let Some((k, v)) = item {
            if out.len() == n {
                break;
            }
            out.push(row(k, v));
            item = c.next()?;
        }
        Ok(out)
    }

    /// Up to `n` rows of `path` just before `before` (all keys < it), or the last `n` when
    /// `before` is `None`; in key order.
    pub(crate) fn rows_before(
        &self,
        path: &[Vec<u8>],
        before: Option<&[u8]>,
        n: usize,
    ) -> Result<Vec<Row>, CliError> {
        let mut c = self.cursor(path)?;
        let mut item = match before {
            None => c.last()?,
            Some(k) => match c.seek(k)? {
                Some(_) => c.prev()?,
                // Every key is < k.
                None => c.last()?,
            },
        };
        let mut out = Vec::with_capacity(n);
        while let Some((k, v)) = item {
            if out.len() == n {
                break;
            }
            if before.is_some_and(|b| k >= b) {
                break;
            }
            out.push(row(k, v));
            item = c.prev()?;
        }
        out.reverse();
        Ok(out)
    }

    /// Calls `f` with the value of `key` in `path` (`None` if missing or a bucket), borrowed
    /// from the snapshot: large values are never copied.
    pub(crate) fn with_value<R>(
        &self,
        path: &[Vec<u8>],
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R, CliError> {
        Ok(match self.bucket(path)? {
            Some(b) => f(b.get(key)?),
            None => f(None),
        })
    }

    /// Sequence, root page and statistics of the bucket at `path` (not the root). The
    /// statistics walk the whole bucket, so they come only with `stats` unless the bucket
    /// is inline.
    pub(crate) fn bucket_info(
        &self,
        path: &[Vec<u8>],
        stats: bool,
    ) -> Result<BucketInfo, CliError> {
        let b = self.bucket(path)?.ok_or_else(not_found)?;
        // Only an inline bucket is surely small: it can hold no sub-bucket.
        let small = b.root().get() == 0;
        Ok(BucketInfo {
            sequence: b.sequence(),
            root: b.root().get(),
            stats: if stats || small {
                Some(b.stats()?)
            } else {
                None
            },
        })
    }

    /// The page holding `key` of `path`: its leaf, found by descending from the bucket's root
    /// page; for an inline bucket, the leaf holding the bucket itself in its parent.
    pub(crate) fn leaf_page_of(
        &self,
        path: &[Vec<u8>],
        key: &[u8],
    ) -> Result<Option<u64>, CliError> {
        let root = match self.bucket(path)? {
            Some(b) => b.root().get(),
            None => self.tx.cursor().bucket().root().get(),
        };
        if root == 0 {
            // Inline: the bucket's value lives in its parent's leaf.
            return match path.split_last() {
                Some((name, parent)) => self.leaf_page_of(parent, name),
                None => Ok(None),
            };
        }
        let raw = RawFile::open(&self.path)?;
        let mut id = root;
        for _ in 0..64 {
            let (h, page) = raw.read_page(id)?;
            if h.flags & rbolt_format::LEAF_PAGE != 0 {
                return Ok(Some(id));
            }
            let br =
                rbolt_format::BranchPage::new(&page).map_err(|e| CliError::msg(e.to_string()))?;
            let i = br
                .child_index(key)
                .map_err(|e| CliError::msg(e.to_string()))?
                .ok_or_else(|| CliError::msg(format!("page {id}: empty branch")))?;
            id = br.child(i).map_err(|e| CliError::msg(e.to_string()))?.get();
        }
        Err(CliError::msg("tree deeper than 64 levels"))
    }

    /// The children of page `id` when it is a branch page (empty otherwise), read from the
    /// file.
    pub(crate) fn children_of(&self, id: u64) -> Result<Vec<u64>, CliError> {
        let raw = RawFile::open(&self.path)?;
        let (h, page) = raw.read_page(id)?;
        if h.flags & rbolt_format::BRANCH_PAGE == 0 {
            return Ok(Vec::new());
        }
        let br = rbolt_format::BranchPage::new(&page).map_err(|e| CliError::msg(e.to_string()))?;
        (0..br.len())
            .map(|i| {
                br.child(i)
                    .map(|c| c.get())
                    .map_err(|e| CliError::msg(e.to_string()))
            })
            .collect()
    }

    /// The branch page among `branches` that points to page `id`.
    pub(crate) fn parent_of(
        &self,
        id: u64,
        branches: impl Iterator<Item = u64>,
    ) -> Result<Option<u64>, CliError> {
        for b in branches {
            if self.children_of(b)?.contains(&id) {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// Runs `edit` in one write transaction and moves to the snapshot it committed.
    pub(crate) fn apply(&mut self, edit: &Edit) -> Result<(), CliError> {
        let r = self.db.update(|tx| match edit {
            Edit::Put { bucket, key, value } => need(resolve(tx, bucket)?)?.put(key, value),
            Edit::Delete { bucket, key } => need(resolve(tx, bucket)?)?.delete(key),
            Edit::CreateBucket { parent, name } => match resolve(tx, parent)? {
                Some(b) => b.create_bucket(name).map(|_| ()),
                None => tx.create_bucket(name).map(|_| ()),
            },
            Edit::DeleteBucket { parent, name } => match resolve(tx, parent)? {
                Some(b) => b.delete_bucket(name),
                None => tx.delete_bucket(name),
            },
            Edit::MoveBucket { from, name, to } => {
                let src = resolve(tx, from)?;
                let dst = resolve(tx, to)?;
                tx.move_bucket(name, src.as_ref(), dst.as_ref())
            }
        });
        self.refresh()?;
        r.map_err(CliError::from)
    }
}

/// The active meta's freelist length, read from the file (the engine keeps it to itself).
fn free_pages(path: &Path) -> Option<u64> {
    let raw = RawFile::open(path).ok()?;
    let (_, meta) = raw.active_meta().ok()??;
    if meta.freelist == rbolt_format::PGID_NO_FREELIST {
        return None;
    }
    let (_, page) = raw.read_page(meta.freelist.get()).ok()?;
    rbolt_format::freelist_id_count(&page).ok()
}

fn resolve<'tx, M: Mode>(tx: &'tx Tx<M>, p: &[Vec<u8>]) -> rbolt::Result<Option<Bucket<'tx, M>>> {
    let Some((first, rest)) = p.split_first() else {
        return Ok(None);
    };
    let mut b = tx.bucket(first)?.ok_or(rbolt::Error::BucketNotFound)?;
    for n in rest {
        b = b.bucket(n)?.ok_or(rbolt::Error::BucketNotFound)?;
    }
    Ok(Some(b))
}

/// The bucket an edit of keys needs (the root holds only buckets).
fn need<M: Mode>(b: Option<Bucket<'_, M>>) -> rbolt::Result<Bucket<'_, M>> {
    b.ok_or(rbolt::Error::IncompatibleValue)
}

fn row(k: &[u8], v: Option<&[u8]>) -> Row {
    Row {
        key: k.to_vec(),
        bucket: v.is_none(),
        len: v.map_or(0, <[u8]>::len),
    }
}
