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
//!
//! Commits can also fail without any I/O error and without poisoning: past
//! `Options::max_size`, or in strict mode when the new tree would not check clean. Those
//! workloads continue on the same handle after each refused commit, and must match, state for
//! state and page for page, a run that skipped the refused transactions
//! (`RBOLT_REFUSED_WORKLOADS`, default 8).

use rbolt::Error;
use rbolt_testkit::faults::{self, FaultKind, FaultPlan, Snapshot, TxOutcome};
use rbolt_testkit::rng::{env_count, env_seed};
use rbolt_testkit::script::hex;
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

// ------------------------------------------------------------------------------------------
// Commits refused without poisoning
// ------------------------------------------------------------------------------------------

/// Runs `txs` on a fresh file at `path` (refusing what `refusable` accepts) and then, as the
/// reference, only the transactions that were not refused on a fresh copy of `start` (or a
/// new file). Every state must match the reference's at the same point (txid, contents, page
/// layout, check), the file must never exceed `max_size`, and after a final `Db::shrink` and a
/// reopen both files must be the same size and hold the same state. Returns (refused, committed
/// after the first refusal).
fn refused_vs_reference(
    name: &str,
    opts: &rbolt::Options,
    start: Option<&[u8]>,
    txs: &[TxOps],
    max_size: Option<u64>,
    refusable: impl Fn(&Error) -> bool,
    dir: &Path,
) -> Result<(usize, usize), String> {
    let fresh = |file: &str| {
        let p = dir.join(file);
        let _ = std::fs::remove_file(&p);
        if let Some(img) = start {
            std::fs::write(&p, img).unwrap();
        }
        p
    };
    let (path, ref_path) = (fresh("refused.db"), fresh("reference.db"));
    let run = |p: &Path, txs: &[TxOps], refusable: &dyn Fn(&Error) -> bool| {
        let db = opts
            .clone()
            .open(p)
            .map_err(|e| format!("{name}: open: {e}"))?;
        let out =
            faults::run_refusing(&db, txs, refusable).map_err(|e| format!("{name}: {e:#}"))?;
        if let Some(max) = max_size {
            let len = std::fs::metadata(p).unwrap().len();
            if len > max {
                return Err(format!(
                    "{name}: the file grew to {len} bytes, past max_size {max}"
                ));
            }
        }
        drop(db);
        // Reopened (the free set comes from the file again) and shrunk without the size
        // limit: moving pages down may need room past the end first.
        let db = opts
            .clone()
            .max_size(u64::MAX)
            .open(p)
            .map_err(|e| format!("{name}: reopen: {e}"))?;
        db.shrink().map_err(|e| format!("{name}: shrink: {e}"))?;
        let end = Snapshot::latest(&db).map_err(|e| format!("{name}: {e:#}"))?;
        Ok::<_, String>((out, end, std::fs::metadata(p).unwrap().len()))
    };
    let (outcomes, end, len) = run(&path, txs, &refusable)?;
    let kept: Vec<TxOps> = txs
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| !matches!(o, TxOutcome::Refused(_)))
        .map(|(t, _)| t.clone())
        .collect();
    let (ref_outcomes, ref_end, ref_len) = run(&ref_path, &kept, &|_| false)?;
    let mut ref_iter = ref_outcomes.iter();
    let (mut refused, mut after) = (0, 0);
    for (i, o) in outcomes.iter().enumerate() {
        if let TxOutcome::Refused(_) = o {
            refused += 1;
            continue;
        }
        if refused > 0 && matches!(o, TxOutcome::Committed(_)) {
            after += 1;
        }
        let want = ref_iter.next().expect("one reference outcome per kept tx");
        if o != want {
            return Err(format!(
                "{name}: tx {i} ({refused} refused before it) differs from the run without the refused transactions:\n  got  {o:?}\n  want {want:?}"
            ));
        }
    }
    if end != ref_end || len != ref_len {
        return Err(format!(
            "{name}: after shrink and reopen: {len} bytes vs the reference's {ref_len}; state {end:?} vs {ref_end:?}"
        ));
    }
    if let Some(p) = end.problems.first().filter(|_| start.is_none()) {
        return Err(format!("{name}: check at the end: {p}"));
    }
    Ok((refused, after))
}

/// Commits refused with `MaxSizeReached` (the file would grow past `Options::max_size`) do
/// not poison: the handle keeps committing, and every later state, the page layout included,
/// is exactly that of a run that never attempted the refused transactions. A rollback that
/// leaked the refused commit's pages, or released pages it had freed, shows up here.
#[test]
fn commits_refused_by_max_size_leave_no_trace() {
    let start = Instant::now();
    let workloads = env_count("RBOLT_REFUSED_WORKLOADS", 8);
    let base = env_seed(300);
    let wd = Watchdog::new(
        "commits_refused_by_max_size_leave_no_trace",
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let (mut refused, mut after, mut failures) = (0, 0, Vec::new());
    for seed in base..base + workloads {
        wd.doing(format!("seed {seed}"));
        let spec = Spec::from_seed(seed, 30);
        let txs = generate(&spec);
        // The size the workload reaches unhindered; the limit is a bit over half of it.
        let peak = {
            let p = dir.path().join("peak.db");
            let _ = std::fs::remove_file(&p);
            let db = spec.options().no_sync(true).open(&p).unwrap();
            let mut peak = 0;
            for t in &txs {
                let plain = TxOps {
                    shrink: false,
                    ..t.clone()
                };
                run_tx(&db, &plain).unwrap();
                peak = peak.max(db.begin_read().unwrap().size());
            }
            peak
        };
        let ps = spec.page_size as u64;
        let max = (peak * 55 / 100).div_ceil(ps).max(8) * ps;
        let opts = spec.options().no_sync(true).max_size(max);
        match refused_vs_reference(
            &format!("seed {seed} max_size {max} ({spec:?})"),
            &opts,
            None,
            &txs,
            Some(max),
            |e| matches!(e, Error::MaxSizeReached),
            dir.path(),
        ) {
            Ok((r, a)) => {
                refused += r;
                after += a;
            }
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "refused (max size): {workloads} workloads (seeds {base}..), {refused} commits refused, {after} committed after a refusal, {:.1}s",
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        refused > 0 && after > 0,
        "the limit must refuse some commits and let later ones through ({refused} refused, {after} after)"
    );
}

/// Strict mode refuses every commit while the file holds a damaged bucket (keys out of
/// order), without poisoning; the transaction that deletes the bucket goes through, and from
/// then on the handle matches, state for state and page for page, a run that never attempted
/// the refused transactions.
#[test]
fn commits_refused_by_strict_mode_leave_no_trace() {
    let start = Instant::now();
    let workloads = env_count("RBOLT_REFUSED_WORKLOADS", 8).div_ceil(2);
    let base = env_seed(400);
    let wd = Watchdog::new(
        "commits_refused_by_strict_mode_leave_no_trace",
        Duration::from_secs(60),
    );
    let dir = tempfile::tempdir().unwrap();
    let (mut refused, mut after, mut failures) = (0, 0, Vec::new());
    for seed in base..base + workloads {
        wd.doing(format!("seed {seed}"));
        let spec = Spec::from_seed(seed, 20);
        let mut txs = generate(&spec);
        let img = damaged_bucket_file(&spec, dir.path());
        // Half-way, the first committing transaction also deletes the damaged bucket.
        let at = (txs.len() / 2..txs.len())
            .find(|&i| !txs[i].rollback)
            .expect("a committing transaction");
        txs[at].ops.push(format!("db {}", hex(b"junk")));
        let opts = spec.options().no_sync(true).strict_mode(true);
        match refused_vs_reference(
            &format!("seed {seed} strict ({spec:?})"),
            &opts,
            Some(&img),
            &txs,
            None,
            |e| matches!(e, Error::Corrupted { what, .. } if what.starts_with("strict mode")),
            dir.path(),
        ) {
            Ok((r, a)) => {
                refused += r;
                after += a;
            }
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "refused (strict mode): {workloads} workloads (seeds {base}..), {refused} commits refused, {after} committed after a refusal, {:.1}s",
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(refused > 0 && after > 0, "{refused} refused, {after} after");
}

/// A file of `spec`'s page size holding bucket `junk`, a single leaf whose first two keys are
/// swapped: `check` reports it, nothing else is wrong.
fn damaged_bucket_file(spec: &Spec, dir: &Path) -> Vec<u8> {
    let path = dir.join("junk.db");
    let _ = std::fs::remove_file(&path);
    let ps = spec.page_size;
    let root = {
        let db = spec.options().no_sync(true).open(&path).unwrap();
        db.update(|tx| {
            let b = tx.create_bucket(b"junk")?;
            for i in 0..8u8 {
                b.put(&[b'j', b'0' + i], &vec![i; ps / 12])?;
            }
            Ok(())
        })
        .unwrap();
        let tx = db.begin_read().unwrap();
        tx.bucket(b"junk").unwrap().unwrap().root()
    };
    let mut img = std::fs::read(&path).unwrap();
    let page = &mut img[root.get() as usize * ps..(root.get() as usize + 1) * ps];
    assert_eq!(page[8], 2, "bucket junk is one leaf page");
    let key_at = |page: &[u8], i: usize| {
        let e = 16 + 16 * i;
        let word = |o: usize| u32::from_le_bytes(page[o..o + 4].try_into().unwrap()) as usize;
        e + word(e + 4)
    };
    let (k0, k1) = (key_at(page, 0), key_at(page, 1));
    page.swap(k0 + 1, k1 + 1);
    std::fs::write(&path, &img).unwrap();
    let db = rbolt::Options::new().read_only(true).open(&path).unwrap();
    let problems = db.begin_read().unwrap().check();
    assert!(
        problems.iter().any(|p| p.pgid() == Some(root)),
        "the damage is seen: {problems:?}"
    );
    img
}
