//! The raft log on rbolt: one file holding the entries (bucket `log`, keyed by big-endian
//! index so that byte order is index order), the vote and the last purged log id (bucket
//! `meta`). Every write is one durable rbolt commit made on a blocking thread, so an append's
//! completion callback fires only once its entries are on disk, and the vote is on disk before
//! `save_vote` returns. Truncation and purging run in one transaction each, so no crash can
//! leave a hole in the log.

use crate::types::{Entry, LogId, TypeConfig, Vote, decode, encode, io_err};
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{OptionalSend, entry::RaftEntry};
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;

const LOG: &[u8] = b"log";
const META: &[u8] = b"meta";
const VOTE: &[u8] = b"vote";
const LAST_PURGED: &[u8] = b"last_purged";

/// The log store. Clones share the same file; openraft uses clones as log readers.
#[derive(Clone, Debug)]
pub struct LogStore {
    db: rbolt::Db,
}

#[expect(clippy::big_endian_bytes, reason = "log keys must sort by index")]
fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

#[expect(clippy::big_endian_bytes, reason = "log keys sort by index")]
fn index_of(k: &[u8]) -> io::Result<u64> {
    let b: [u8; 8] = k
        .try_into()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "log key is not 8 bytes"))?;
    Ok(u64::from_be_bytes(b))
}

/// Runs blocking rbolt work on tokio's blocking pool, keeping it off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("storage task failed: {e}")))?
}

impl LogStore {
    /// Opens (or creates) the log file at `path`.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::open_with(path, rbolt::Options::new())
    }

    /// Opens the log file with explicit rbolt options (tests inject storage faults this way).
    pub fn open_with(path: impl AsRef<Path>, opts: rbolt::Options) -> io::Result<Self> {
        let db = opts.open(path).map_err(io_err)?;
        db.update(|tx| {
            tx.create_bucket_if_not_exists(LOG)?;
            tx.create_bucket_if_not_exists(META)?;
            Ok(())
        })
        .map_err(io_err)?;
        Ok(Self { db })
    }

    /// The underlying database, for inspection and checks.
    pub fn db(&self) -> &rbolt::Db {
        &self.db
    }

    fn read_meta<T: for<'de> serde::Deserialize<'de>>(&self, name: &[u8]) -> io::Result<Option<T>> {
        let raw = self
            .db
            .view(|tx| Ok(tx.open_bucket(META)?.get(name)?.map(<[u8]>::to_vec)))
            .map_err(io_err)?;
        raw.map(|b| decode(&b)).transpose()
    }

    fn entries(&self, start: u64, end: Bound<u64>) -> io::Result<Vec<Entry>> {
        let raw: Vec<(Vec<u8>, Vec<u8>)> = self
            .db
            .view(|tx| {
                let log = tx.open_bucket(LOG)?;
                let mut out = Vec::new();
                let hi = match end {
                    Bound::Included(e) => Bound::Included(key(e)),
                    Bound::Excluded(e) => Bound::Excluded(key(e)),
                    Bound::Unbounded => Bound::Unbounded,
                };
                for item in log.range((Bound::Included(key(start)), hi)) {
                    let (k, v) = item?;
                    let v = v.ok_or_else(|| rbolt::Error::Corrupted {
                        pgid: None,
                        what: "sub-bucket inside the log".into(),
                    })?;
                    out.push((k.to_vec(), v.to_vec()));
                }
                Ok(out)
            })
            .map_err(io_err)?;
        let mut out = Vec::with_capacity(raw.len());
        let mut expect = None;
        for (k, v) in raw {
            let index = index_of(&k)?;
            let entry: Entry = decode(&v)?;
            if entry.index() != index {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("log key {index} holds entry {}", entry.index()),
                ));
            }
            if expect.is_some_and(|e| e != index) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("hole in the log before index {index}"),
                ));
            }
            expect = Some(index + 1);
            out.push(entry);
        }
        Ok(out)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = range.end_bound().cloned();
        if matches!(end, Bound::Excluded(e) if e <= start) {
            return Ok(Vec::new());
        }
        let this = self.clone();
        blocking(move || this.entries(start, end)).await
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        let this = self.clone();
        blocking(move || this.read_meta(VOTE)).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let this = self.clone();
        blocking(move || {
            let last_purged: Option<LogId> = this.read_meta(LAST_PURGED)?;
            let raw = this
                .db
                .view(|tx| {
                    let log = tx.open_bucket(LOG)?;
                    let last = log.cursor().last()?;
                    Ok(last.and_then(|(_, v)| v.map(<[u8]>::to_vec)))
                })
                .map_err(io_err)?;
            let last = raw
                .map(|v| decode::<Entry>(&v))
                .transpose()?
                .map(|e| e.log_id());
            Ok(LogState {
                last_log_id: last.or(last_purged),
                last_purged_log_id: last_purged,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        let bytes = encode(vote)?;
        let db = self.db.clone();
        blocking(move || {
            db.update(|tx| tx.open_bucket(META)?.put(VOTE, &bytes))
                .map_err(io_err)
        })
        .await
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut rows = Vec::new();
        for e in entries {
            rows.push((key(e.index()), encode(&e)?));
        }
        let db = self.db.clone();
        let res = blocking(move || {
            db.update(|tx| {
                let log = tx.open_bucket(LOG)?;
                for (k, v) in &rows {
                    log.put(k, v)?;
                }
                Ok(())
            })
            .map_err(io_err)
        })
        .await;
        match res {
            Ok(()) => {
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate_after(&mut self, last: Option<LogId>) -> io::Result<()> {
        let from = last.map_or(0, |l| l.index() + 1);
        let db = self.db.clone();
        blocking(move || {
            db.update(|tx| {
                let log = tx.open_bucket(LOG)?;
                let keys: Vec<Vec<u8>> = log
                    .range(&key(from)[..]..)
                    .map(|r| r.map(|(k, _)| k.to_vec()))
                    .collect::<rbolt::Result<_>>()?;
                for k in keys.iter().rev() {
                    log.delete(k)?;
                }
                Ok(())
            })
            .map_err(io_err)
        })
        .await
    }

    async fn purge(&mut self, upto: LogId) -> io::Result<()> {
        let bytes = encode(&upto)?;
        let end = upto.index();
        let db = self.db.clone();
        blocking(move || {
            db.update(|tx| {
                tx.open_bucket(META)?.put(LAST_PURGED, &bytes)?;
                let log = tx.open_bucket(LOG)?;
                let keys: Vec<Vec<u8>> = log
                    .range(..=&key(end)[..])
                    .map(|r| r.map(|(k, _)| k.to_vec()))
                    .collect::<rbolt::Result<_>>()?;
                for k in &keys {
                    log.delete(k)?;
                }
                Ok(())
            })
            .map_err(io_err)
        })
        .await
    }
}
