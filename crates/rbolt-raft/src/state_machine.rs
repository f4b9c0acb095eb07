//! The state machine on rbolt: `sm.db` holds the key space, the client sessions and, in
//! bucket `_raft`, the last applied log id and membership. Each apply batch is one durable
//! rbolt transaction, so after a crash the file is exactly the state after some batch and
//! replaying the log from `last_applied` is idempotent.
//!
//! Snapshots are images of `sm.db` written by one read transaction ([`rbolt::Tx::write_to`]),
//! so data and metadata agree. They live in `snapshots/` as `<index>-<term>-<node>.snap`.
//! Installing one verifies the image (consistency check, metadata equal to what the leader
//! announced), then renames it over `sm.db` and reopens: a crash leaves either the old state
//! or the new one.

use crate::kv;
use crate::log_store::blocking;
use crate::types::{
    LogId, Response, SnapshotMeta, StoredMembership, TypeConfig, decode, encode, io_err,
};
use futures_util::TryStreamExt;
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

const RAFT: &[u8] = b"_raft";
const LAST_APPLIED: &[u8] = b"last_applied";
const LAST_MEMBERSHIP: &[u8] = b"last_membership";
const SM_FILE: &str = "sm.db";
const INSTALLING: &str = "sm.db.installing";
const SNAP_DIR: &str = "snapshots";

/// A raft handle over the rbolt state machine.
pub type Raft = openraft::Raft<TypeConfig, StateMachine>;

/// A snapshot image: a complete rbolt file (an `sm.db` as of the snapshot's last log id).
/// The open handle keeps the bytes readable even if a newer snapshot replaces the file.
#[derive(Debug)]
pub struct SnapshotImage {
    /// The open file, read from offset 0.
    pub file: File,
    /// Where it was when opened.
    pub path: PathBuf,
    /// Its length in bytes.
    pub len: u64,
}

impl SnapshotImage {
    /// Opens the image at `path`.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let file = File::open(&path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, path, len })
    }
}

/// The snapshot type of this state machine.
pub type SnapshotData = Snapshot<
    openraft::alias::CommittedLeaderIdOf<TypeConfig>,
    u64,
    openraft::BasicNode,
    SnapshotImage,
>;

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    db: RwLock<rbolt::Db>,
    /// Serializes the snapshot directory between builders and installs.
    snap_lock: Mutex<()>,
    seq: AtomicU64,
}

/// The state machine. Clones share one file; openraft uses a clone as snapshot builder, and
/// the node serves reads from [`StateMachine::db`].
#[derive(Clone, Debug)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn raft_meta(tx: &rbolt::Tx<impl rbolt::Mode>) -> io::Result<(Option<LogId>, StoredMembership)> {
    let Some(b) = tx.bucket(RAFT).map_err(io_err)? else {
        return Ok((None, StoredMembership::default()));
    };
    let applied = b
        .get(LAST_APPLIED)
        .map_err(io_err)?
        .map(decode)
        .transpose()?;
    let membership = b
        .get(LAST_MEMBERSHIP)
        .map_err(io_err)?
        .map(decode)
        .transpose()?
        .unwrap_or_default();
    Ok((applied, membership))
}

fn snap_name(meta: &SnapshotMeta) -> String {
    match &meta.last_log_id {
        Some(l) => format!(
            "{:020}-{}-{}.snap",
            l.index, l.leader_id.term, l.leader_id.node_id
        ),
        None => format!("{:020}-0-0.snap", 0),
    }
}

fn snap_index(name: &str) -> Option<u64> {
    name.strip_suffix(".snap")?.split('-').next()?.parse().ok()
}

/// Reads the metadata stored inside a snapshot image, after checking the image.
fn verify_image(path: &Path) -> io::Result<SnapshotMeta> {
    let db = rbolt::Options::new()
        .read_only(true)
        .open(path)
        .map_err(io_err)?;
    db.view(|tx| {
        let problems = tx.check();
        if let Some(p) = problems.first() {
            return Ok(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("snapshot image fails its check: {}", p.message()),
            )));
        }
        Ok(
            raft_meta(tx).map(|(last_log_id, last_membership)| SnapshotMeta {
                last_log_id,
                last_membership,
            }),
        )
    })
    .map_err(io_err)?
}

impl StateMachine {
    /// Opens (or creates) the state machine in `dir` (`dir/sm.db` and `dir/snapshots/`).
    /// Leftovers of an interrupted snapshot build or install are removed.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(dir.join(SNAP_DIR))?;
        let stray = dir.join(INSTALLING);
        if stray.exists() {
            fs::remove_file(&stray)?;
        }
        for e in fs::read_dir(dir.join(SNAP_DIR))? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "tmp") {
                fs::remove_file(&p)?;
            }
        }
        let db = Self::open_db(&dir)?;
        Ok(Self {
            shared: Arc::new(Shared {
                dir,
                db: RwLock::new(db),
                snap_lock: Mutex::new(()),
                seq: AtomicU64::new(0),
            }),
        })
    }

    fn open_db(dir: &Path) -> io::Result<rbolt::Db> {
        let db = rbolt::Db::open(dir.join(SM_FILE)).map_err(io_err)?;
        db.update(|tx| {
            tx.create_bucket_if_not_exists(RAFT)?;
            tx.create_bucket_if_not_exists(kv::KV)?;
            tx.create_bucket_if_not_exists(kv::SESSIONS)?;
            Ok(())
        })
        .map_err(io_err)?;
        Ok(db)
    }

    /// The current database (replaced when a snapshot is installed). Read transactions on it
    /// see applied state only.
    pub fn db(&self) -> rbolt::Db {
        self.shared
            .db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Last applied log id as stored in the file.
    pub fn last_applied(&self) -> io::Result<Option<LogId>> {
        self.db()
            .view(|tx| Ok(raft_meta(tx)))
            .map_err(io_err)?
            .map(|(a, _)| a)
    }

    /// Reads one key from the applied state (not linearizable by itself: see the node's
    /// read path).
    pub fn get(&self, key: &[u8]) -> io::Result<Option<crate::types::Versioned>> {
        self.db().view(|tx| kv::get(tx, key)).map_err(io_err)
    }

    /// Reads keys in `[start, end)` (`end` empty: to the last key), at most `limit` (0: all).
    pub fn range(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> io::Result<Vec<(Vec<u8>, crate::types::Versioned)>> {
        self.db()
            .view(|tx| kv::range(tx, start, end, limit))
            .map_err(io_err)
    }

    /// A hash of the key space and sessions (replicas that applied the same log agree).
    pub fn data_hash(&self) -> io::Result<u64> {
        self.db().view(kv::data_hash).map_err(io_err)
    }

    fn snap_dir(&self) -> PathBuf {
        self.shared.dir.join(SNAP_DIR)
    }

    fn tmp_path(&self, what: &str) -> PathBuf {
        let n = self.shared.seq.fetch_add(1, Ordering::Relaxed);
        self.snap_dir()
            .join(format!("{what}-{}-{n}.tmp", std::process::id()))
    }

    /// Removes every snapshot file but `keep`.
    fn remove_other_snapshots(&self, keep: &Path) -> io::Result<()> {
        for e in fs::read_dir(self.snap_dir())? {
            let p = e?.path();
            if p != keep && p.extension().is_some_and(|x| x == "snap") {
                fs::remove_file(&p)?;
            }
        }
        Ok(())
    }

    fn current_snapshot_path(&self) -> io::Result<Option<PathBuf>> {
        let mut best: Option<(u64, PathBuf)> = None;
        for e in fs::read_dir(self.snap_dir())? {
            let p = e?.path();
            let Some(idx) = p.file_name().and_then(|n| n.to_str()).and_then(snap_index) else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _)| idx > *b) {
                best = Some((idx, p));
            }
        }
        Ok(best.map(|(_, p)| p))
    }

    fn build_blocking(&self) -> io::Result<SnapshotData> {
        let _g = self
            .shared
            .snap_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let tmp = self.tmp_path("build");
        let db = self.db();
        let meta = db
            .view(|tx| {
                let (last_log_id, last_membership) = match raft_meta(tx) {
                    Ok(m) => m,
                    Err(e) => return Ok(Err(e)),
                };
                let f = File::create(&tmp)?;
                tx.write_to(BufWriter::with_capacity(1 << 20, &f))?;
                f.sync_all()?;
                Ok(Ok(SnapshotMeta {
                    last_log_id,
                    last_membership,
                }))
            })
            .map_err(io_err)??;
        let path = self.snap_dir().join(snap_name(&meta));
        fs::rename(&tmp, &path)?;
        sync_dir(&self.snap_dir())?;
        self.remove_other_snapshots(&path)?;
        Ok(Snapshot {
            meta,
            snapshot: SnapshotImage::open(path)?,
        })
    }

    fn install_blocking(&self, meta: &SnapshotMeta, image: &SnapshotImage) -> io::Result<()> {
        let _g = self
            .shared
            .snap_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // 1. Keep our own copy of the image as the current snapshot.
        let tmp = self.tmp_path("install");
        let found = match copy_image(image, &tmp).and_then(|()| verify_image(&tmp)) {
            Ok(found) => found,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        if found.last_log_id != meta.last_log_id || found.last_membership != meta.last_membership {
            fs::remove_file(&tmp)?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "snapshot image holds state at {:?}, announced {:?}",
                    found.last_log_id, meta.last_log_id
                ),
            ));
        }
        let snap = self.snap_dir().join(snap_name(meta));
        fs::rename(&tmp, &snap)?;
        sync_dir(&self.snap_dir())?;
        // 2. Replace sm.db by a copy of it: the rename is the commit point.
        let installing = self.shared.dir.join(INSTALLING);
        copy_image(&SnapshotImage::open(&snap)?, &installing)?;
        let mut slot = self
            .shared
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        fs::rename(&installing, self.shared.dir.join(SM_FILE))?;
        sync_dir(&self.shared.dir)?;
        *slot = Self::open_db(&self.shared.dir)?;
        drop(slot);
        self.remove_other_snapshots(&snap)
    }
}

/// Copies an image to `to` and makes the copy durable.
fn copy_image(image: &SnapshotImage, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let out = File::create(to)?;
    let mut w = BufWriter::with_capacity(1 << 20, &out);
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < image.len {
        let n = usize::try_from((image.len - off).min(buf.len() as u64)).unwrap_or(buf.len());
        image.file.read_exact_at(&mut buf[..n], off)?;
        w.write_all(&buf[..n])?;
        off += n as u64;
    }
    w.flush()?;
    drop(w);
    out.sync_all()
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotImage;

    async fn build_snapshot(&mut self) -> io::Result<SnapshotData> {
        let this = self.clone();
        blocking(move || this.build_blocking()).await
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotImage;
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let db = self.db();
        blocking(move || db.view(|tx| Ok(raft_meta(tx))).map_err(io_err)?).await
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> io::Result<()>
    where
        Strm: futures_util::Stream<Item = io::Result<EntryResponder<TypeConfig>>>
            + Unpin
            + OptionalSend,
    {
        let mut batch = Vec::new();
        while let Some(item) = entries.try_next().await? {
            batch.push(item);
        }
        if batch.is_empty() {
            return Ok(());
        }
        let db = self.db();
        let (batch, responses) = blocking(move || {
            let responses = db
                .update(|tx| {
                    let raft = tx.create_bucket_if_not_exists(RAFT)?;
                    let stored: Option<LogId> = match raft.get(LAST_APPLIED)? {
                        Some(b) => Some(decode(b).map_err(|e| rbolt::Error::Corrupted {
                            pgid: None,
                            what: e.to_string(),
                        })?),
                        None => None,
                    };
                    let floor = stored.map(|l| l.index());
                    let mut out = Vec::with_capacity(batch.len());
                    let mut last = None;
                    for (entry, _) in &batch {
                        let index = entry.index();
                        // Entries already in the file (a replay after a crash) are not run twice.
                        if floor.is_some_and(|f| index <= f) {
                            out.push(Response::Stale { index });
                            continue;
                        }
                        let resp = match &entry.payload {
                            EntryPayload::Blank => Response::None,
                            EntryPayload::Normal(req) => {
                                kv::apply(tx, req.session, &req.op, index)?
                            }
                            EntryPayload::Membership(m) => {
                                let sm = StoredMembership::new(Some(entry.log_id()), m.clone());
                                raft.put(LAST_MEMBERSHIP, &encode(&sm).map_err(rbolt::Error::Io)?)?;
                                Response::None
                            }
                        };
                        last = Some(entry.log_id());
                        out.push(resp);
                    }
                    if let Some(l) = last {
                        raft.put(LAST_APPLIED, &encode(&l).map_err(rbolt::Error::Io)?)?;
                    }
                    Ok(out)
                })
                .map_err(io_err)?;
            Ok((batch, responses))
        })
        .await?;
        for ((_, responder), resp) in batch.into_iter().zip(responses) {
            if let Some(r) = responder {
                r.send(resp);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotImage,
    ) -> io::Result<()> {
        let this = self.clone();
        let meta = meta.clone();
        blocking(move || this.install_blocking(&meta, &snapshot)).await
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<SnapshotData>> {
        let this = self.clone();
        blocking(move || {
            let _g = this
                .shared
                .snap_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let Some(path) = this.current_snapshot_path()? else {
                return Ok(None);
            };
            let meta = verify_image(&path)?;
            Ok(Some(Snapshot {
                meta,
                snapshot: SnapshotImage::open(path)?,
            }))
        })
        .await
    }
}
