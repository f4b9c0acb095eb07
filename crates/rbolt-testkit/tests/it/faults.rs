//! Part 2 of the reliability harness: I/O error injection, SQLite style. For every workload
//! and every storage call index k of each kind (write, sync, set_len), fail call k once, and
//! again persistently, with EIO or ENOSPC. Pass means: the failing operation returns
//! `Error::Io`; afterwards the `Db` refuses writes with `Error::Poisoned` (or, for a failed
//! `set_len` only, has rolled back cleanly and keeps committing exactly as the reference run)
//! and new readers still see the last acknowledged commit; reopening (with the fault still active, for the
//! persistent runs, then healthy) yields exactly the last acknowledged state or the in-flight
//! one, `check` is clean, and a new commit works.
//!
//! `RBOLT_FAULT_WORKLOADS` sets the number of workloads (default 12, ~2,200 runs).

use rbolt::Error;
use rbolt_testkit::faults::{self, FaultKind, FaultPlan};
use rbolt_testkit::rng::{env_count, env_seed};
use rbolt_testkit::watchdog::Watchdog;
use rbolt_testkit::workload::{Spec, TxOps, db_state, generate, run_tx, run_tx_recorded};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const TXS: usize = 16;

struct Reference {
    spec: Spec,
    txs: Vec<TxOps>,
    snaps: BTreeMap<u64, u64>,
    counts: [usize; 3],
}

fn reference(spec: Spec, dir: &Path) -> Reference {
    let path = dir.join("ref.db");
    let _ = std::fs::remove_file(&path);
    let txs = generate(&spec);
    let (w, state) = faults::wrapper(None, false);
    let mut snaps = BTreeMap::new();
    {
        let db = spec.options().wrap_storage(w).open(&path).unwrap();
        let (t, h) = db_state(&db).unwrap();
        snaps.insert(t, h);
        let mut last = t;
        for tx in &txs {
            last = run_tx_recorded(&db, tx, last, &mut snaps).unwrap();
        }
    }
    let counts = FaultKind::ALL.map(|k| state.count(k));
    Reference {
        spec,
        txs,
        snaps,
        counts,
    }
}

fn is_io(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<Error>(), Some(Error::Io(_)))
}

/// One run; returns a description of what went wrong, if anything.
fn run_case(r: &Reference, plan: &FaultPlan, dir: &Path) -> Result<(), String> {
    let path = dir.join("fault.db");
    let _ = std::fs::remove_file(&path);
    let (w, state) = faults::wrapper(Some(plan.clone()), false);
    let opts = r.spec.options();
    // allowed: the states a reopen may show (txid → hash)
    let mut acked: Option<u64> = None;
    let mut extra: BTreeMap<u64, u64> = BTreeMap::new();
    match opts.clone().wrap_storage(w.clone()).open(&path) {
        Err(e) => {
            if !state.fired() || !matches!(e, Error::Io(_)) {
                return Err(format!(
                    "open failed with {e:?} (fault fired: {})",
                    state.fired()
                ));
            }
        }
        Ok(db) => {
            let (t, _) = db_state(&db).map_err(|e| e.to_string())?;
            acked = Some(t);
            let mut failed_at = None;
            for (i, tx) in r.txs.iter().enumerate() {
                match run_tx(&db, tx) {
                    Ok(true) => acked = Some(db_state(&db).map_err(|e| e.to_string())?.0),
                    Ok(false) => {}
                    Err(e) => {
                        if !state.fired() || !is_io(&e) {
                            return Err(format!(
                                "tx failed with {e:#} (fault fired: {})",
                                state.fired()
                            ));
                        }
                        failed_at = Some(i);
                        break;
                    }
                }
            }
            if !state.fired() {
                return Err("the fault never fired".into());
            }
            let mut a = acked.expect("open succeeded");
            let (t, h) = db_state(&db).map_err(|e| e.to_string())?;
            // A shrink that failed after some of its own commits succeeded leaves those
            // published: they count as acknowledged (same contents as the tx before).
            let mut retry_from = failed_at.unwrap_or(r.txs.len());
            if t > a && r.txs[failed_at.unwrap_or(0)].shrink && r.snaps.get(&t) == Some(&h) {
                a = t;
                acked = Some(t);
                retry_from += 1; // its own commit went through; only the shrink failed
            }
            if t != a || r.snaps.get(&a) != Some(&h) {
                return Err(format!(
                    "a reader after the failure saw txid {t}, want {a} with its contents"
                ));
            }
            match db.begin_write() {
                Err(Error::Poisoned) => {}
                // A failed set_len changed nothing durable (a grow that did not happen), so the
                // engine may roll back cleanly instead of poisoning, as bbolt does for
                // `resizeFileError`. Then the handle must keep working exactly: the failed
                // transaction and the rest of the workload are retried on it.
                Ok(tx) if plan.kind == FaultKind::SetLen => {
                    drop(tx);
                    for tx in &r.txs[retry_from..] {
                        match run_tx(&db, tx) {
                            Ok(true) => {
                                let (t, h) = db_state(&db).map_err(|e| e.to_string())?;
                                if r.snaps.get(&t) != Some(&h) {
                                    return Err(format!(
                                        "after a clean set_len failure, commit {t} differs from the reference"
                                    ));
                                }
                                acked = Some(t);
                            }
                            Ok(false) => {}
                            Err(e) if plan.persistent && is_io(&e) => break,
                            Err(e) => {
                                return Err(format!(
                                    "after a clean set_len failure, a retried tx failed: {e:#}"
                                ));
                            }
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "after the failure begin_write gave {other:?}, want Poisoned"
                    ));
                }
            }
        }
    }
    if plan.persistent {
        // The disk is still failing: a reopen must not make things worse.
        match opts.clone().wrap_storage(w.clone()).open(&path) {
            Ok(db) => {
                let (t, h) = db_state(&db).map_err(|e| e.to_string())?;
                let lo = acked.unwrap_or(1);
                if !(t == lo || t == lo + 1) || r.snaps.get(&t) != Some(&h) {
                    return Err(format!(
                        "reopen on the failing disk saw txid {t} (acked {lo})"
                    ));
                }
                acked = Some(t);
                let res =
                    db.update(|tx| tx.create_bucket_if_not_exists(b"persist")?.put(b"k", b"v"));
                match res {
                    Ok(()) => {
                        let (t, h) = db_state(&db).map_err(|e| e.to_string())?;
                        acked = Some(t);
                        extra.insert(t, h);
                    }
                    Err(Error::Io(_)) => {
                        if !matches!(db.begin_write(), Err(Error::Poisoned)) {
                            return Err(
                                "not poisoned after a failed commit on the failing disk".into()
                            );
                        }
                    }
                    Err(e) => return Err(format!("commit on the failing disk gave {e:?}")),
                }
            }
            Err(Error::Io(_)) => {}
            Err(e) => return Err(format!("reopen on the failing disk gave {e:?}")),
        }
    }
    // Healthy again.
    state.disable();
    let db = opts
        .open(&path)
        .map_err(|e| format!("reopen after the fault: {e}"))?;
    let tx = db.begin_read().map_err(|e| e.to_string())?;
    let problems = rbolt_testkit::crashsim::check_problems(&tx, &r.spec);
    if !problems.is_empty() {
        return Err(format!("check after reopen: {}", problems[0]));
    }
    drop(tx);
    let (t, h) = db_state(&db).map_err(|e| e.to_string())?;
    let lo = acked.unwrap_or(1);
    let ok = (t == lo || t == lo + 1) && (r.snaps.get(&t) == Some(&h) || extra.get(&t) == Some(&h));
    if !ok {
        return Err(format!(
            "reopened at txid {t} (acked {lo}); contents match: {}",
            r.snaps.get(&t) == Some(&h)
        ));
    }
    db.update(|tx| tx.create_bucket_if_not_exists(b"after")?.put(b"k", b"v"))
        .map_err(|e| format!("commit after reopen: {e}"))?;
    let problems = rbolt_testkit::crashsim::check_problems(&db.begin_read().unwrap(), &r.spec);
    if !problems.is_empty() {
        return Err(format!(
            "check after the commit following reopen: {}",
            problems[0]
        ));
    }
    Ok(())
}

#[test]
fn injected_io_errors_poison_and_recover() {
    let start = Instant::now();
    let workloads = env_count("RBOLT_FAULT_WORKLOADS", 12);
    let base = env_seed(100);
    let runs = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    let next = AtomicU64::new(0);
    let wd = Watchdog::new(
        "injected_io_errors_poison_and_recover",
        Duration::from_secs(120),
    );
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let dir = tempfile::tempdir().unwrap();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= workloads || failures.lock().unwrap().len() >= 20 {
                        return;
                    }
                    let seed = base + i;
                    let r = reference(Spec::from_seed(seed, TXS), dir.path());
                    for kind in FaultKind::ALL {
                        for k in 1..=r.counts[kind as usize] {
                            for persistent in [false, true] {
                                let plan = FaultPlan {
                                    kind,
                                    k,
                                    persistent,
                                    errno: if k % 2 == 0 { 28 } else { 5 },
                                };
                                runs.fetch_add(1, Ordering::Relaxed);
                                wd.doing(format!("seed {seed} {plan:?}"));
                                let res =
                                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                        run_case(&r, &plan, dir.path())
                                    }))
                                    .unwrap_or_else(|_| Err("PANIC".into()));
                                if let Err(e) = res {
                                    failures
                                        .lock()
                                        .unwrap()
                                        .push(format!("seed {seed} {plan:?} ({:?}): {e}", r.spec));
                                }
                            }
                        }
                    }
                }
            });
        }
    });
    eprintln!(
        "faults: {workloads} workloads (seeds {base}..), {} runs, {:.1}s",
        runs.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} fault runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
