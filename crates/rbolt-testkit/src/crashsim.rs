//! Simulated power cuts on top of `rbolt::storage::Storage` (reliability.md §2.2).
//!
//! [`Recorder`] wraps the engine's storage and appends every `write_at`, `sync_data`,
//! `sync_all` and `set_len` to an [`OpLog`]; the workload adds [`Op::Ack`] markers when a
//! commit has returned `Ok`. [`Sweep`] then walks the log: for each crash point (a boundary
//! between two ops) it knows the *durable* image (everything a completed sync covers) and the
//! *pending* ops since, and [`Sweep::image`] builds a post-crash file under one [`Model`].
//!
//! Durability rules of the simulated file system (the strict reading of POSIX that bbolt's
//! commit protocol assumes):
//! - `sync_data` makes every earlier write durable, including the file size the writes imply,
//!   and any earlier `set_len` that *shrinks* the file;
//! - a `set_len` that *grows* the file is durable only after a later `sync_all` (fdatasync is
//!   not trusted with size changes: boltdb #284, ext4 fast_commit);
//! - `sync_all` makes everything earlier durable.

use crate::rng::Rng;
use rbolt::storage::Storage;
use std::io;
use std::sync::{Arc, Mutex};

/// Sector size used for torn writes.
pub const SECTOR: usize = 512;

/// One recorded storage call or marker.
#[derive(Clone, Debug)]
pub enum Op {
    /// `write_at(data, off)`.
    Write {
        /// Byte offset.
        off: u64,
        /// The bytes written.
        data: Arc<[u8]>,
    },
    /// `sync_data()`.
    SyncData,
    /// `sync_all()`.
    SyncAll,
    /// `set_len(n)`.
    SetLen(u64),
    /// Marker: the transaction with this txid is acknowledged (commit or open returned `Ok`).
    Ack(u64),
}

/// The shared log a [`Recorder`] appends to.
#[derive(Clone, Debug, Default)]
pub struct OpLog(Arc<Mutex<Vec<Op>>>);

impl OpLog {
    /// A new, empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `op`.
    pub fn push(&self, op: Op) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(op);
    }

    /// A copy of the ops so far.
    pub fn ops(&self) -> Vec<Op> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Number of ops so far.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A storage wrapper for `Options::wrap_storage` that records into this log. With
    /// `forward_syncs == false` syncs are recorded but not performed (the simulation decides
    /// durability, so the real fsync would only cost time).
    pub fn wrapper(&self, forward_syncs: bool) -> rbolt::storage::StorageWrapper {
        let log = self.clone();
        Arc::new(move |inner| {
            Box::new(Recorder {
                inner,
                log: log.clone(),
                forward_syncs,
            })
        })
    }
}

/// Records every call into an [`OpLog`], then forwards it.
#[derive(Debug)]
pub struct Recorder {
    inner: Box<dyn Storage>,
    log: OpLog,
    forward_syncs: bool,
}

impl Storage for Recorder {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.log.push(Op::Write {
            off: offset,
            data: buf.into(),
        });
        self.inner.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.log.push(Op::SyncData);
        if self.forward_syncs {
            self.inner.sync_data()?;
        }
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.log.push(Op::SyncAll);
        if self.forward_syncs {
            self.inner.sync_all()?;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.log.push(Op::SetLen(len));
        self.inner.set_len(len)
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

/// How a crash treats the ops that were not yet durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Model {
    /// Process crash (kill -9): the page cache survives, every pending op is kept.
    Keep,
    /// Power cut, M1: every pending op is lost.
    Lose,
    /// Power cut, M2: each pending write is kept, dropped, or kept for a random subset of its
    /// sectors; each pending `set_len` kept or dropped; the kept ops land in random order.
    Subset,
    /// The last pending write is torn at sector granularity; earlier pending ops are kept.
    Torn,
    /// Every pending write is kept but pending size changes are lost: the file keeps its
    /// durable length, cutting whatever was written past it.
    SizeLost,
    /// M3: pending size changes are kept but the new extent reads as garbage (not zeros);
    /// pending writes are kept or dropped at random and some land as garbage sectors.
    Garbage,
}

impl Model {
    /// Every model, in a fixed order.
    pub const ALL: [Model; 6] = [
        Model::Keep,
        Model::Lose,
        Model::Subset,
        Model::Torn,
        Model::SizeLost,
        Model::Garbage,
    ];

    /// True if images under this model depend on the random generator.
    pub fn is_random(self) -> bool {
        matches!(self, Model::Subset | Model::Torn | Model::Garbage)
    }
}

/// A file image: its bytes are its length.
pub type Image = Vec<u8>;

fn write_into(img: &mut Image, off: u64, data: &[u8]) {
    let off = off as usize;
    let end = off + data.len();
    if img.len() < end {
        img.resize(end, 0);
    }
    img[off..end].copy_from_slice(data);
}

fn set_len(img: &mut Image, n: u64, garbage: Option<&mut Rng>) {
    let n = n as usize;
    let old = img.len();
    img.resize(n, 0);
    if let Some(r) = garbage
        && n > old
    {
        r.fill(&mut img[old..]);
    }
}

fn is_grow(op: &Op, len_before: usize) -> bool {
    matches!(op, Op::SetLen(n) if *n as usize > len_before)
}

/// Walks an op log crash point by crash point.
#[derive(Debug)]
pub struct Sweep<'a> {
    ops: &'a [Op],
    /// Ops `[0, pos)` have happened.
    pos: usize,
    durable: Image,
    /// Indices of ops not yet durable, in issue order.
    pending: Vec<usize>,
    /// Live length, to classify `set_len` as grow or shrink.
    live_len: usize,
    acked: Option<u64>,
    meta_issued: Option<u64>,
    page_size: usize,
}

/// What the oracle needs to know about a crash point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashPoint {
    /// Number of ops that happened before the crash.
    pub pos: usize,
    /// The last acknowledged txid (`None`: the crash is inside the first open).
    pub acked: Option<u64>,
    /// The highest txid whose meta page write was issued before the crash.
    pub meta_issued: Option<u64>,
    /// Number of pending (not durable) ops.
    pub pending: usize,
}

/// Txid in a meta-page write, if `data` at `off` is exactly one meta page.
pub fn meta_txid(off: u64, data: &[u8], page_size: usize) -> Option<u64> {
    if data.len() != page_size || (off != 0 && off != page_size as u64) {
        return None;
    }
    let b: [u8; 8] = data.get(64..72)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

impl<'a> Sweep<'a> {
    /// Starts before the first op of `ops`, recorded on a file with `page_size` pages.
    pub fn new(ops: &'a [Op], page_size: usize) -> Self {
        Sweep {
            ops,
            pos: 0,
            durable: Vec::new(),
            pending: Vec::new(),
            live_len: 0,
            acked: None,
            meta_issued: None,
            page_size,
        }
    }

    /// Starts before the first op of `ops`, recorded on a file that already held `image`
    /// (durable) when recording began, e.g. after a reopen.
    pub fn from_image(ops: &'a [Op], page_size: usize, image: Image) -> Self {
        let mut s = Self::new(ops, page_size);
        s.live_len = image.len();
        s.durable = image;
        s
    }

    /// The current crash point.
    pub fn point(&self) -> CrashPoint {
        CrashPoint {
            pos: self.pos,
            acked: self.acked,
            meta_issued: self.meta_issued,
            pending: self.pending.len(),
        }
    }

    /// Number of crash points: ops + 1.
    pub fn points(&self) -> usize {
        self.ops.len() + 1
    }

    /// Moves past the next op; false at the end of the log.
    pub fn advance(&mut self) -> bool {
        let Some(op) = self.ops.get(self.pos) else {
            return false;
        };
        let i = self.pos;
        self.pos += 1;
        match op {
            Op::Write { off, data } => {
                self.live_len = self.live_len.max(*off as usize + data.len());
                if self.pos == 1 && data.len() >= 4 * self.page_size {
                    // The init write: four pages, metas txid 0 and 1.
                    self.meta_issued = Some(1);
                } else if let Some(t) = meta_txid(*off, data, self.page_size) {
                    self.meta_issued = Some(self.meta_issued.map_or(t, |m| m.max(t)));
                }
                self.pending.push(i);
            }
            Op::SetLen(n) => {
                self.live_len = *n as usize;
                self.pending.push(i);
            }
            Op::SyncData => {
                let mut keep = Vec::new();
                for &j in &self.pending {
                    match &self.ops[j] {
                        Op::Write { off, data } => write_into(&mut self.durable, *off, data),
                        op @ Op::SetLen(n) => {
                            if is_grow(op, self.durable.len()) {
                                keep.push(j);
                            } else {
                                set_len(&mut self.durable, *n, None);
                            }
                        }
                        _ => {}
                    }
                }
                self.pending = keep;
            }
            Op::SyncAll => {
                for &j in &self.pending {
                    match &self.ops[j] {
                        Op::Write { off, data } => write_into(&mut self.durable, *off, data),
                        Op::SetLen(n) => set_len(&mut self.durable, *n, None),
                        _ => {}
                    }
                }
                self.pending.clear();
            }
            Op::Ack(t) => self.acked = Some(*t),
        }
        true
    }

    /// The durable bytes at this point.
    pub fn durable(&self) -> &Image {
        &self.durable
    }

    /// The image with exactly the pending ops whose bit is set in `mask` (bit `j` = the
    /// `j`-th pending op), applied in issue order: the bounded-exhaustive enumeration of
    /// CrashMonkey/ACE for points with few pending ops.
    pub fn subset_image(&self, mask: u64) -> Image {
        let mut img = self.durable.clone();
        for (j, &i) in self.pending.iter().enumerate() {
            if j < 64 && mask & (1 << j) != 0 {
                apply(&mut img, &self.ops[i], None);
            }
        }
        img
    }

    /// The post-crash image at this point under `model`.
    pub fn image(&self, model: Model, r: &mut Rng) -> Image {
        let mut img = self.durable.clone();
        let pend: Vec<&Op> = self.pending.iter().map(|&j| &self.ops[j]).collect();
        match model {
            Model::Lose => {}
            Model::Keep => {
                for op in pend {
                    apply(&mut img, op, None);
                }
            }
            Model::Subset | Model::Garbage => {
                let garbage = model == Model::Garbage;
                let mut chosen: Vec<Op> = Vec::new();
                for op in pend {
                    match op {
                        Op::Write { off, data } => match r.below(100) {
                            0..45 => chosen.push(op.clone()),
                            45..80 => {}
                            _ => {
                                for (s, piece) in sectors(*off, data) {
                                    if r.chance(0.5) {
                                        let piece = if garbage && r.chance(0.3) {
                                            r.bytes(piece.len())
                                        } else {
                                            piece.to_vec()
                                        };
                                        chosen.push(Op::Write {
                                            off: s,
                                            data: piece.into(),
                                        });
                                    }
                                }
                            }
                        },
                        Op::SetLen(_) if garbage || r.chance(0.5) => chosen.push(op.clone()),
                        _ => {}
                    }
                }
                if garbage {
                    // Size changes first, so the garbage extent is what unkept writes leave.
                    chosen.sort_by_key(|op| !matches!(op, Op::SetLen(_)));
                    let (lens, writes): (Vec<Op>, Vec<Op>) = chosen
                        .into_iter()
                        .partition(|op| matches!(op, Op::SetLen(_)));
                    for op in &lens {
                        apply(&mut img, op, Some(r));
                    }
                    let mut writes = writes;
                    r.shuffle(&mut writes);
                    for op in &writes {
                        apply(&mut img, op, None);
                    }
                } else {
                    r.shuffle(&mut chosen);
                    for op in &chosen {
                        apply(&mut img, op, None);
                    }
                }
            }
            Model::Torn => {
                let last = pend.iter().rposition(|op| matches!(op, Op::Write { .. }));
                for (i, op) in pend.iter().enumerate() {
                    if Some(i) == last {
                        let Op::Write { off, data } = op else {
                            unreachable!()
                        };
                        let secs: Vec<(u64, &[u8])> = sectors(*off, data).collect();
                        // A proper prefix or a random proper subset of the sectors.
                        if r.chance(0.5) {
                            let k = r.index(secs.len());
                            for (s, piece) in &secs[..k] {
                                write_into(&mut img, *s, piece);
                            }
                        } else {
                            let skip = r.index(secs.len());
                            for (j, (s, piece)) in secs.iter().enumerate() {
                                if j != skip && r.chance(0.5) {
                                    write_into(&mut img, *s, piece);
                                }
                            }
                        }
                    } else {
                        apply(&mut img, op, None);
                    }
                }
            }
            Model::SizeLost => {
                // Writes reach the disk but the size does not: whatever lies past the durable
                // length is cut.
                let durable_len = img.len();
                for op in pend {
                    if let Op::Write { .. } = op {
                        apply(&mut img, op, None);
                    }
                }
                img.truncate(durable_len);
            }
        }
        img
    }
}

fn apply(img: &mut Image, op: &Op, garbage: Option<&mut Rng>) {
    match op {
        Op::Write { off, data } => write_into(img, *off, data),
        Op::SetLen(n) => set_len(img, *n, garbage),
        _ => {}
    }
}

/// The 512-byte-aligned pieces of a write.
fn sectors(off: u64, data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let abs = off as usize + pos;
        let end = ((abs / SECTOR + 1) * SECTOR - off as usize).min(data.len());
        let piece = (abs as u64, &data[pos..end]);
        pos = end;
        Some(piece)
    })
}

/// Rules of the commit protocol checked on a recorded log (reliability.md §2.4 T3): a meta
/// page is written only after every earlier data write was synced; it goes to slot
/// `txid % 2`; it is synced before its commit is acknowledged; and a grown file is `sync_all`ed
/// before a meta is written. Returns the first violation.
pub fn check_protocol(ops: &[Op], page_size: usize) -> Result<(), String> {
    let mut unsynced_data: Option<usize> = None;
    let mut unsynced_meta: Option<(usize, u64)> = None;
    let mut unsynced_grow: Option<usize> = None;
    let mut len = 0u64;
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Write { off, data } => {
                if i == 0 && data.len() >= 4 * page_size {
                    unsynced_data = Some(i);
                    len = data.len() as u64;
                    continue;
                }
                len = len.max(off + data.len() as u64);
                let is_meta_slot = *off < 2 * page_size as u64;
                if is_meta_slot {
                    if data.len() != page_size || off % page_size as u64 != 0 {
                        return Err(format!(
                            "op {i}: write to a meta slot is not one whole page"
                        ));
                    }
                    let t = meta_txid(*off, data, page_size).unwrap_or(0);
                    if off / page_size as u64 != t % 2 {
                        return Err(format!(
                            "op {i}: meta of txid {t} written to slot {}",
                            off / page_size as u64
                        ));
                    }
                    if let Some(d) = unsynced_data {
                        return Err(format!(
                            "op {i}: meta of txid {t} written before data write op {d} was synced"
                        ));
                    }
                    if let Some(g) = unsynced_grow {
                        return Err(format!(
                            "op {i}: meta of txid {t} written before the grow at op {g} was sync_all'ed"
                        ));
                    }
                    unsynced_meta = Some((i, t));
                } else {
                    if let Some((m, t)) = unsynced_meta {
                        return Err(format!(
                            "op {i}: data written after meta of txid {t} (op {m}) before it was synced"
                        ));
                    }
                    unsynced_data = Some(i);
                }
            }
            Op::SetLen(n) => {
                if *n > len {
                    unsynced_grow = Some(i);
                }
                len = *n;
            }
            Op::SyncData => {
                unsynced_data = None;
                unsynced_meta = None;
            }
            Op::SyncAll => {
                unsynced_data = None;
                unsynced_meta = None;
                unsynced_grow = None;
            }
            Op::Ack(t) => {
                if let Some((m, mt)) = unsynced_meta
                    && mt == *t
                {
                    return Err(format!(
                        "op {i}: txid {t} acknowledged before its meta (op {m}) was synced"
                    ));
                }
                if unsynced_data.is_some() && *t <= 1 {
                    return Err(format!(
                        "op {i}: open returned before the new file was synced"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A workload run under a [`Recorder`], with the state hash of every committed txid.
#[derive(Debug)]
pub struct Recorded {
    /// The workload.
    pub spec: crate::workload::Spec,
    /// Every storage call, with `Ack` markers.
    pub ops: Vec<Op>,
    /// txid → state hash of each acknowledged commit (including the empty state at open).
    pub snaps: std::collections::BTreeMap<u64, u64>,
}

/// Runs `spec`'s workload on a fresh file in `dir`, recording it.
pub fn record(spec: &crate::workload::Spec, dir: &std::path::Path) -> anyhow::Result<Recorded> {
    use crate::workload::{db_state, generate, run_tx_recorded};
    let path = dir.join("recorded.db");
    let _ = std::fs::remove_file(&path);
    let log = OpLog::new();
    let mut snaps = std::collections::BTreeMap::new();
    {
        let db = spec
            .options()
            .wrap_storage(log.wrapper(false))
            .open(&path)?;
        let (t, h) = db_state(&db)?;
        log.push(Op::Ack(t));
        snaps.insert(t, h);
        let mut last = t;
        for tx in generate(spec) {
            let now = run_tx_recorded(&db, &tx, last, &mut snaps)?;
            if now != last {
                log.push(Op::Ack(now));
                last = now;
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(Recorded {
        spec: spec.clone(),
        ops: log.ops(),
        snaps,
    })
}

/// `tx.check()`. (It once filtered a false positive of the checker on files without a
/// persisted freelist, the bug `check_on_no_freelist_file_reports_free_pages_as_leaks`; kept
/// as the one place to put such a filter while a checker bug is open.)
pub fn check_problems(tx: &rbolt::Tx, _spec: &crate::workload::Spec) -> Vec<rbolt::CheckError> {
    tx.check()
}

/// What a verified image recovered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovered {
    /// Opened at this txid, contents exactly that commit's snapshot, check clean.
    Txid(u64),
    /// The crash was inside the first open and the image was refused with this kind of error.
    Refused,
}

/// Opens `img` (written to `path`) and applies the oracle of reliability.md §2.3:
/// it opens; `check` is clean; its txid `T` satisfies `acked ≤ T ≤ max(acked, meta_issued)`;
/// its contents equal the snapshot of `T` exactly. With `usable`, also commits one more
/// transaction, reopens and checks again. A crash inside the very first open may instead leave
/// a file that is refused with an error (the file was never acknowledged).
pub fn verify_image(
    img: &[u8],
    path: &std::path::Path,
    point: CrashPoint,
    rec: &Recorded,
    usable: bool,
) -> Result<Recovered, String> {
    use crate::workload::state_hash;
    std::fs::write(path, img).map_err(|e| format!("write image: {e}"))?;
    let opts = rec.spec.options().no_sync(true);
    let db = match opts.clone().open(path) {
        Ok(db) => db,
        Err(e) if point.acked.is_none() => {
            let _ = e;
            return Ok(Recovered::Refused);
        }
        Err(e) => return Err(format!("open failed: {e}")),
    };
    let tx = db.begin_read().map_err(|e| format!("begin_read: {e}"))?;
    let t = tx.id().get();
    let problems = check_problems(&tx, &rec.spec);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
        return Err(format!(
            "check found {} problems at txid {t}: {}",
            problems.len(),
            list.join("; ")
        ));
    }
    let h = state_hash(&tx).map_err(|e| format!("dump at txid {t}: {e}"))?;
    // Before the first open returned, a recovered file may only be the fresh one (txid 0/1).
    let lo = point.acked.unwrap_or(0);
    let hi = match point.acked {
        Some(a) => a.max(point.meta_issued.unwrap_or(0)),
        None => 1,
    };
    if t < lo || t > hi {
        return Err(format!("recovered txid {t}, allowed {lo}..={hi}"));
    }
    match rec.snaps.get(&t) {
        Some(&want) if want == h => {}
        Some(_) => {
            return Err(format!(
                "contents at txid {t} differ from that commit's snapshot"
            ));
        }
        None if point.acked.is_none() && t <= 1 => {}
        None => return Err(format!("txid {t} was never committed")),
    }
    drop(tx);
    if usable {
        let key = b"after-crash";
        db.update(|tx| {
            tx.create_bucket_if_not_exists(b"zz-recovery")?
                .put(key, b"ok")
        })
        .map_err(|e| format!("write after recovery: {e}"))?;
        drop(db);
        let db = opts
            .open(path)
            .map_err(|e| format!("reopen after recovery write: {e}"))?;
        let tx = db.begin_read().map_err(|e| format!("begin_read: {e}"))?;
        let problems = check_problems(&tx, &rec.spec);
        if !problems.is_empty() {
            return Err(format!("check after recovery write: {}", problems[0]));
        }
        let got = tx
            .bucket(b"zz-recovery")
            .ok()
            .flatten()
            .and_then(|b| b.get(key).ok().flatten().map(<[u8]>::to_vec));
        if got.as_deref() != Some(&b"ok"[..]) {
            return Err("write after recovery was lost".into());
        }
    }
    Ok(Recovered::Txid(t))
}

/// Double crash (reliability.md §2.3 rule 5): recover `img` as [`verify_image`] does, then
/// commit one more transaction through a [`Recorder`] and crash *that* at a random point under
/// `model`; the second image must recover to the first recovered state or the new commit,
/// exactly. Returns the txid the second recovery found.
pub fn verify_double_crash(
    img: &[u8],
    path: &std::path::Path,
    point: CrashPoint,
    rec: &Recorded,
    model: Model,
    r: &mut Rng,
) -> Result<u64, String> {
    use crate::workload::db_state;
    let t = match verify_image(img, path, point, rec, false)? {
        Recovered::Txid(t) => t,
        Recovered::Refused => return Ok(0),
    };
    let base = std::fs::read(path).map_err(|e| format!("read recovered file: {e}"))?;
    let log = OpLog::new();
    let mut snaps = std::collections::BTreeMap::new();
    {
        let db = rec
            .spec
            .options()
            .wrap_storage(log.wrapper(false))
            .open(path)
            .map_err(|e| format!("reopen for the second crash: {e}"))?;
        let (t0, h0) = db_state(&db).map_err(|e| e.to_string())?;
        snaps.insert(t0, h0);
        log.push(Op::Ack(t0));
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists(b"zz-second")?;
            b.put(b"k", &[7u8; 300])?;
            b.put(b"big", &vec![9u8; 3 * rec.spec.page_size])
        })
        .map_err(|e| format!("commit after the first crash: {e}"))?;
        let (t1, h1) = db_state(&db).map_err(|e| e.to_string())?;
        snaps.insert(t1, h1);
        log.push(Op::Ack(t1));
    }
    let ops = log.ops();
    let cut = r.index(ops.len() + 1).max(1);
    let mut sw = Sweep::from_image(&ops[..cut], rec.spec.page_size, base);
    while sw.advance() {}
    let img2 = sw.image(model, r);
    let rec2 = Recorded {
        spec: rec.spec.clone(),
        ops: Vec::new(),
        snaps,
    };
    match verify_image(&img2, path, sw.point(), &rec2, false) {
        Ok(Recovered::Txid(t2)) => Ok(t2),
        Ok(Recovered::Refused) => Err("second crash image refused".into()),
        Err(e) => Err(format!(
            "after recovering txid {t}, second crash at {cut}/{}: {e}",
            ops.len()
        )),
    }
}
