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
