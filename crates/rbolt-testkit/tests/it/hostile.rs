//! Part 4 of the reliability harness: hostile files. Valid databases from generated workloads
//! are mutated (`hostile::mutate`: bit flips, truncation, extension, random page headers,
//! element positions and sizes out of range, cycles and shared subtrees in branch pages,
//! overflow past EOF, huge counts, freelist ids out of range, both metas damaged, metas with a
//! valid checksum but bad fields, misdirected pages, lying bucket values) and each file goes
//! through `hostile::exercise` under `catch_unwind` with a per-case time budget. A panic, hang
//! or inconsistency is reported with `RBOLT_HOSTILE_CASE=<n>`, which replays just that case.
//!
//! Beyond "no panic, no hang", a case fails when:
//! - `check` was clean but walking the file hit an error: the checker, which every other test
//!   uses as its oracle, missed damage;
//! - (read-write cases) a reader's snapshot, or a value it borrowed, changed while unrelated
//!   transactions committed: the writer reused a page that snapshot can reach;
//! - (read-write cases) a file whose `check` was clean does not commit, or no longer dumps
//!   the same or checks clean after commits that added and then removed an unrelated bucket.
//!
//! `RBOLT_HOSTILE_CASES` sets the count (default 10,000), `RBOLT_SEED` the base seed.

use rbolt::Options;
use rbolt_testkit::crashsim::{self, Model, Sweep};
use rbolt_testkit::hostile::{self, Outcome};
use rbolt_testkit::rng::{Rng, env_count, env_seed};
use rbolt_testkit::workload::{Spec, db_state, state_hash};
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A case taking longer than this is a hang.
const BUDGET: Duration = Duration::from_secs(20);

/// Valid base files: (image, page size, description).
fn bases() -> Vec<(Vec<u8>, usize, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for (seed, txs, ps, nofl) in [
        (1u64, 30, 4096, false),
        (2, 30, 1024, false),
        (3, 40, 1024, true),
        (4, 20, 4096, true),
        (5, 60, 1024, false),
        (6, 10, 4096, false),
    ] {
        let mut spec = Spec::from_seed(seed, txs);
        spec.page_size = ps;
        spec.no_freelist_sync = nofl;
        let path = dir.path().join(format!("base-{seed}.db"));
        {
            let db = spec.options().no_sync(true).open(&path).unwrap();
            for tx in rbolt_testkit::workload::generate(&spec) {
                rbolt_testkit::workload::run_tx(&db, &tx).unwrap();
            }
        }
        out.push((std::fs::read(&path).unwrap(), ps, format!("{spec:?}")));
    }
    out
}

/// Values a read transaction has borrowed, walked through every bucket (bounded), each with
/// an owned copy to compare with later.
fn borrow_values<'tx>(tx: &'tx rbolt::Tx, out: &mut Vec<(&'tx [u8], Vec<u8>)>) {
    fn walk<'tx>(b: &rbolt::Bucket<'tx>, depth: usize, out: &mut Vec<(&'tx [u8], Vec<u8>)>) {
        if depth > 16 {
            return;
        }
        for item in b.iter() {
            if out.len() >= 50_000 {
                return;
            }
            match item {
                Ok((_, Some(v))) => out.push((v, v.to_vec())),
                Ok((k, None)) => {
                    if let Ok(Some(sub)) = b.bucket(k) {
                        walk(&sub, depth + 1, out);
                    }
                }
                Err(_) => return,
            }
        }
    }
    walk(&tx.cursor().bucket(), 0, out);
}

/// A hash of everything `tx` sees (nesting, keys, values, sequences, in cursor order), or
/// `None` if a read fails or buckets nest deeper than any workload makes them (a hostile file
/// can make a bucket contain itself; the walk must end).
fn dump(tx: &rbolt::Tx) -> Option<u64> {
    fn walk(b: &rbolt::Bucket<'_>, depth: usize, h: &mut DefaultHasher) -> Option<()> {
        if depth > 16 {
            return None;
        }
        for item in b.iter() {
            let (k, v) = item.ok()?;
            (depth, k, v).hash(h);
            if v.is_none() {
                let sub = b.bucket(k).ok()??;
                sub.sequence().hash(h);
                walk(&sub, depth + 1, h)?;
            }
        }
        Some(())
    }
    let mut h = DefaultHasher::new();
    walk(&tx.cursor().bucket(), 0, &mut h).map(|()| h.finish())
}

/// The read-write criterion. Opens the file read-write and holds a reader (its dump and the
/// values it borrowed) while three unrelated transactions commit: one adds a bucket, one
/// grows it over several pages, one deletes it again. Then the reader must see exactly what
/// it saw before, borrowed values included, whatever the file held. If the reader's `check`
/// was clean, every commit must succeed, and the new state must dump as before and check
/// clean.
fn read_write_criterion(path: &std::path::Path) -> Result<(), String> {
    let opts = Options::new()
        .no_sync(true)
        .timeout(Duration::from_millis(200));
    let Ok(db) = opts.open(path) else {
        return Ok(());
    };
    let Ok(tx) = db.begin_read() else {
        return Ok(());
    };
    let found = tx.check();
    let clean = found.is_empty();
    // What check saw before the commits, to tell a writer bug from a checker miss.
    let saw = if clean {
        "check was clean".to_string()
    } else {
        let first: Vec<String> = found.iter().take(3).map(ToString::to_string).collect();
        format!(
            "check had found {} problem(s): {}",
            found.len(),
            first.join("; ")
        )
    };
    let before = dump(&tx);
    let mut borrowed = Vec::new();
    borrow_values(&tx, &mut borrowed);
    let name: &[u8] = b"hostile-rw-criterion";
    let step = |i: usize, w: &rbolt::Tx<rbolt::ReadWrite>| -> rbolt::Result<()> {
        match i {
            0 => w.create_bucket(name)?.put(b"k", b"v"),
            1 => {
                let b = w.open_bucket(name)?;
                for k in 0..12 {
                    b.put(format!("{k:03}").as_bytes(), [0xA5; 700])?;
                }
                Ok(())
            }
            _ => w.delete_bucket(name),
        }
    };
    for i in 0..3 {
        match db.update(|w| step(i, w)) {
            Ok(()) => {}
            Err(e) if clean => {
                return Err(format!(
                    "check was clean but unrelated commit {i} failed: {e}"
                ));
            }
            Err(_) => break,
        }
    }
    if let Some((i, _)) = borrowed
        .iter()
        .enumerate()
        .find(|(_, (live, copy))| *live != copy.as_slice())
    {
        return Err(format!(
            "value {i} borrowed by an open reader changed while the writer committed ({saw})"
        ));
    }
    if before.is_some() && dump(&tx) != before {
        return Err(format!(
            "an open reader's snapshot changed while the writer committed ({saw})"
        ));
    }
    drop(tx);
    if !clean {
        return Ok(());
    }
    let tx = db
        .begin_read()
        .map_err(|e| format!("begin_read after the commits: {e}"))?;
    if dump(&tx) != before {
        return Err(
            "check was clean, but after adding and deleting an unrelated bucket the file \
             no longer dumps the same"
                .into(),
        );
    }
    let problems = tx.check();
    if let Some(p) = problems.first() {
        return Err(format!(
            "check was clean, but after unrelated commits it reports {} problem(s), first: {p}",
            problems.len()
        ));
    }
    Ok(())
}

/// The case a worker is running: index, start, mutation.
type Running = Option<(u64, Instant, String)>;

fn case_seed(base: u64, i: u64) -> u64 {
    base.wrapping_mul(0x9E37_79B9).wrapping_add(i)
}

#[test]
fn hostile_files_never_panic_or_hang() {
    let start = Instant::now();
    let cases = env_count("RBOLT_HOSTILE_CASES", 10_000);
    let base = env_seed(4);
    let only: Option<u64> = std::env::var("RBOLT_HOSTILE_CASE")
        .ok()
        .and_then(|s| s.parse().ok());
    let bases = Arc::new(bases());
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let outcomes = Arc::new(Mutex::new(BTreeMap::<Outcome, u64>::new()));
    let threads = 2;
    // Each worker publishes (case index, start time) so the watchdog can name a hung case.
    let current: Arc<Vec<Mutex<Running>>> =
        Arc::new((0..threads).map(|_| Mutex::new(None)).collect());
    let mut handles = Vec::new();
    for t in 0..threads {
        let (bases, next, failures, outcomes, current) = (
            bases.clone(),
            next.clone(),
            failures.clone(),
            outcomes.clone(),
            current.clone(),
        );
        // Named, so that an abort (a stack overflow) at least says it was a hostile case.
        let worker = std::thread::Builder::new().name(format!("hostile worker {t}"));
        handles.push(
            worker
                .spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("hostile.db");
                    loop {
                        let i = match only {
                            Some(c) => {
                                if next.fetch_add(1, Ordering::Relaxed) > 0 {
                                    return;
                                }
                                c
                            }
                            None => next.fetch_add(1, Ordering::Relaxed),
                        };
                        if i >= cases && only.is_none() || failures.lock().unwrap().len() >= 20 {
                            return;
                        }
                        if i > 0 && i.is_multiple_of(100_000) {
                            eprintln!("hostile: {i} cases so far");
                        }
                        let seed = case_seed(base, i);
                        let mut r = Rng::new(seed);
                        let (img0, ps, _) = &bases[r.index(bases.len())];
                        let mut img = img0.clone();
                        let desc = hostile::mutate(&mut img, *ps, &mut r);
                        let rw = r.chance(0.5);
                        *current[t].lock().unwrap() = Some((i, Instant::now(), desc.clone()));
                        if only.is_some() {
                            eprintln!("case {i}: {desc} (read-write: {rw})");
                        }
                        std::fs::write(&path, &img).unwrap();
                        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            let o = hostile::exercise(&path, rw)?;
                            if rw {
                                // `exercise` committed to the file: start again from the image.
                                std::fs::write(&path, &img).unwrap();
                                read_write_criterion(&path)?;
                            }
                            Ok::<_, String>(o)
                        }));
                        let msg = match res {
                            Ok(Ok(o)) => {
                                *outcomes.lock().unwrap().entry(o).or_default() += 1;
                                (o == Outcome::CheckMissed).then(|| {
                                    "check was clean but walking the file hit errors: the checker \
                             missed damage"
                                        .to_string()
                                })
                            }
                            Ok(Err(e)) => Some(e),
                            Err(p) => Some(format!("PANIC: {}", rbolt_testkit::panic_message(&*p))),
                        };
                        if let Some(m) = msg {
                            failures.lock().unwrap().push(format!(
                        "RBOLT_HOSTILE_CASE={i} RBOLT_SEED={base} ({desc}; read-write {rw}): {m}"
                    ));
                        }
                        *current[t].lock().unwrap() = None;
                    }
                })
                .expect("spawn a hostile worker"),
        );
    }
    // Watchdog.
    loop {
        if handles.iter().all(|h| h.is_finished()) {
            break;
        }
        for c in current.iter() {
            if let Some((i, since, desc)) = &*c.lock().unwrap()
                && since.elapsed() > BUDGET
            {
                panic!(
                    "HANG: RBOLT_HOSTILE_CASE={i} RBOLT_SEED={base} ({desc}) has run for {:?}",
                    since.elapsed()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for h in handles {
        h.join().unwrap();
    }
    eprintln!(
        "hostile: {} cases (seed {base}), outcomes {:?}, {:.1}s",
        next.load(Ordering::Relaxed).min(cases),
        outcomes.lock().unwrap(),
        start.elapsed().as_secs_f64()
    );
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} hostile cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every single-bit flip in the newest meta page must be caught by its checksum (or be
/// harmless): the file opens at the newest or the previous commit, with exactly that
/// commit's contents, and `check` is clean.
#[test]
fn damaged_newest_meta_falls_back_to_the_previous_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for seed in [21u64, 22] {
        let mut spec = Spec::from_seed(seed, 12);
        spec.no_freelist_sync = false;
        let rec = crashsim::record(&spec, dir.path()).unwrap();
        let mut sw = Sweep::new(&rec.ops, spec.page_size);
        while sw.advance() {}
        let img = sw.image(Model::Keep, &mut Rng::new(0));
        let newest = *rec.snaps.keys().last().unwrap();
        let slot = (newest % 2) as usize * spec.page_size;
        let path = dir.path().join("meta.db");
        for byte in 16..80 {
            for bit in [0u8, 3, 7] {
                let mut m = img.clone();
                m[slot + byte] ^= 1 << bit;
                std::fs::write(&path, &m).unwrap();
                let res = std::panic::catch_unwind(|| -> Result<(), String> {
                    let db = spec
                        .options()
                        .read_only(true)
                        .open(&path)
                        .map_err(|e| format!("open: {e}"))?;
                    let (t, h) = db_state(&db).map_err(|e| e.to_string())?;
                    let tx = db.begin_read().unwrap();
                    let problems = crashsim::check_problems(&tx, &spec);
                    if !problems.is_empty() {
                        return Err(format!("check at txid {t}: {}", problems[0]));
                    }
                    if !(t == newest || t + 1 == newest) || rec.snaps.get(&t) != Some(&h) {
                        return Err(format!(
                            "opened at txid {t} (newest {newest}) with contents matching: {}",
                            rec.snaps.get(&t) == Some(&h)
                        ));
                    }
                    let _ = state_hash(&tx);
                    Ok(())
                });
                match res {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => failures.push(format!("seed {seed} byte {byte} bit {bit}: {e}")),
                    Err(_) => failures.push(format!("seed {seed} byte {byte} bit {bit}: PANIC")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} meta flips not handled:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
