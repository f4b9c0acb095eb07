//! I/O error injection on top of `rbolt::storage::Storage` (SQLite's fail-once / fail-
//! persistently loop): [`FaultStorage`] fails the k-th call of one [`FaultKind`] with an
//! `io::Error`, either once or for every later call of that kind too.

use rbolt::storage::{Storage, StorageWrapper};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Which calls a fault counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// `write_at`.
    Write,
    /// `sync_data` and `sync_all`.
    Sync,
    /// `set_len`.
    SetLen,
}

impl FaultKind {
    /// All kinds.
    pub const ALL: [FaultKind; 3] = [FaultKind::Write, FaultKind::Sync, FaultKind::SetLen];
}

/// When to fail.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// Kind of call counted.
    pub kind: FaultKind,
    /// Fail the k-th call of that kind (1-based).
    pub k: usize,
    /// Keep failing every later call of that kind.
    pub persistent: bool,
    /// Error to return (EIO, ENOSPC, ...).
    pub errno: i32,
}

/// Counters shared by every storage a wrapper creates (so a reopen continues the count).
#[derive(Debug, Default)]
pub struct FaultState {
    counts: [AtomicUsize; 3],
    fired: AtomicBool,
    disabled: AtomicBool,
}

impl FaultState {
    /// Whether the fault has fired.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Calls of `kind` seen so far.
    pub fn count(&self, kind: FaultKind) -> usize {
        self.counts[kind as usize].load(Ordering::SeqCst)
    }

    /// Stops injecting (the "disk" is healthy again).
    pub fn disable(&self) {
        self.disabled.store(true, Ordering::SeqCst);
    }
}

/// Fails calls according to a [`FaultPlan`]; syncs are counted but, with
/// `forward_syncs == false`, not performed (these tests are about error paths, not durability).
#[derive(Debug)]
pub struct FaultStorage {
    inner: Box<dyn Storage>,
    plan: Option<FaultPlan>,
    state: Arc<FaultState>,
    forward_syncs: bool,
}

impl FaultStorage {
    fn gate(&self, kind: FaultKind) -> io::Result<()> {
        let n = self.state.counts[kind as usize].fetch_add(1, Ordering::SeqCst) + 1;
        let Some(plan) = &self.plan else {
            return Ok(());
        };
        if plan.kind != kind || self.state.disabled.load(Ordering::SeqCst) {
            return Ok(());
        }
        if n == plan.k || (plan.persistent && n > plan.k) {
            self.state.fired.store(true, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(plan.errno));
        }
        Ok(())
    }
}

impl Storage for FaultStorage {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.gate(FaultKind::Write)?;
        self.inner.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.gate(FaultKind::Sync)?;
        if self.forward_syncs {
            self.inner.sync_data()?;
        }
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.gate(FaultKind::Sync)?;
        if self.forward_syncs {
            self.inner.sync_all()?;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.gate(FaultKind::SetLen)?;
        self.inner.set_len(len)
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

/// A wrapper for `Options::wrap_storage` failing per `plan` (or only counting, with `None`),
/// and the shared state to observe or disable it.
pub fn wrapper(plan: Option<FaultPlan>, forward_syncs: bool) -> (StorageWrapper, Arc<FaultState>) {
    let state = Arc::new(FaultState::default());
    let st = state.clone();
    let w: StorageWrapper = Arc::new(move |inner| {
        Box::new(FaultStorage {
            inner,
            plan: plan.clone(),
            state: st.clone(),
            forward_syncs,
        })
    });
    (w, state)
}

/// What a committed state looks like from outside: its txid, the hash of its dump, where its
/// pages are (each reachable page's type, count and span; free pages only as free, since
/// their bytes are whatever was last written there), and what `check` says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Transaction id.
    pub txid: u64,
    /// `workload::state_hash` of the contents.
    pub hash: u64,
    /// Page layout, one line per page run.
    pub layout: Vec<String>,
    /// `check`'s findings, as text.
    pub problems: Vec<String>,
}

impl Snapshot {
    /// The state `tx` sees.
    pub fn of(tx: &rbolt::Tx<impl rbolt::Mode>) -> anyhow::Result<Self> {
        let mut layout = Vec::new();
        let mut id = rbolt::Pgid(0);
        while let Some(p) = tx.page(id)? {
            if p.page_type == rbolt::PageType::Free {
                layout.push(format!("{id} free"));
                id += 1;
            } else {
                layout.push(format!(
                    "{id} {} count {} overflow {}",
                    p.page_type, p.count, p.overflow
                ));
                id += u64::from(p.overflow) + 1;
            }
        }
        Ok(Self {
            txid: tx.id().get(),
            hash: crate::workload::state_hash(tx)?,
            layout,
            problems: tx.check().iter().map(ToString::to_string).collect(),
        })
    }

    /// The latest committed state of `db`.
    pub fn latest(db: &rbolt::Db) -> anyhow::Result<Self> {
        Self::of(&db.begin_read()?)
    }
}

/// What happened to one transaction of a run that lets commits be refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOutcome {
    /// Committed; the state after it.
    Committed(Box<Snapshot>),
    /// Rolled back by the workload itself.
    RolledBack,
    /// The commit returned an error the run accepts; the state is the one before.
    Refused(String),
}

/// Runs `txs` on `db` (their shrink flags are ignored), accepting commit errors for which
/// `refusable` is true. After a refused commit the handle must carry on as if the transaction
/// had never run: not poisoned, the same latest state (txid, contents, layout, check), and
/// the next transaction runs on the same handle. Any other error, or a refused commit that
/// changed something, is an `Err`.
///
/// The workload was generated assuming every transaction commits, so once one is refused a
/// later op may name a bucket that does not exist: such ops are skipped (a run without the
/// refused transactions skips exactly the same ones).
pub fn run_refusing(
    db: &rbolt::Db,
    txs: &[crate::workload::TxOps],
    refusable: impl Fn(&rbolt::Error) -> bool,
) -> anyhow::Result<Vec<TxOutcome>> {
    let mut out = Vec::with_capacity(txs.len());
    for (i, t) in txs.iter().enumerate() {
        let before = Snapshot::latest(db)?;
        let tx = db.begin_write()?;
        for op in &t.ops {
            if let Err(e) = crate::script::apply_op(&tx, op)
                && !matches!(e.downcast_ref(), Some(rbolt::Error::BucketNotFound))
            {
                anyhow::bail!("tx {i}: {op:.60}: {e:#}");
            }
        }
        if t.rollback {
            tx.rollback();
            out.push(TxOutcome::RolledBack);
            continue;
        }
        match tx.commit() {
            Ok(()) => out.push(TxOutcome::Committed(Box::new(Snapshot::latest(db)?))),
            Err(e) if refusable(&e) => {
                let after = Snapshot::latest(db)?;
                anyhow::ensure!(
                    after == before,
                    "tx {i}: the refused commit ({e}) changed the state: before {before:?}, after {after:?}"
                );
                match db.begin_write() {
                    Ok(w) => w.rollback(),
                    Err(e2) => {
                        anyhow::bail!("tx {i}: after a refused commit ({e}), begin_write: {e2}")
                    }
                }
                out.push(TxOutcome::Refused(e.to_string()));
            }
            Err(e) => anyhow::bail!("tx {i}: commit failed: {e}"),
        }
    }
    Ok(out)
}
