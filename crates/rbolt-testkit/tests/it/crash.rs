//! Part 1 of the reliability harness: simulated power cuts and process crashes.
//!
//! Each workload is recorded once through `crashsim::Recorder`; then every crash point of its
//! op log is turned into post-crash images under every `crashsim::Model`, and each image must
//! pass the oracle in `crashsim::verify_image`. `RBOLT_CRASH_IMAGES` sets the number of images
//! (default 12,000; the soak target is 1,000,000), `RBOLT_SEED` the first workload seed.
//! A failure prints `RBOLT_CRASH_CASE=seed:pos:model:sample`, which replays just that image.

use rbolt_testkit::crashsim::{self, Model, Op, Recorded, Sweep, check_protocol};
use rbolt_testkit::rng::{Rng, env_count, env_seed};
use rbolt_testkit::watchdog::Watchdog;
use rbolt_testkit::workload::Spec;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Transactions per recorded workload.
const TXS: usize = 24;
/// Random images per crash point for the random models.
const SAMPLES: u64 = 2;

fn image_seed(seed: u64, pos: usize, model: usize, sample: u64) -> u64 {
    seed.wrapping_mul(0x100_0000_01B3) ^ ((pos as u64) << 20) ^ ((model as u64) << 8) ^ sample
}

#[derive(Default)]
struct Tally {
    images: AtomicU64,
    refused: AtomicU64,
    newer: AtomicU64,
    double: AtomicU64,
    per_model: Mutex<BTreeMap<String, u64>>,
    failures: Mutex<Vec<String>>,
    /// Told of every image checked: a hung image ends the test by name.
    wd: Option<Watchdog>,
}

/// Runs every image of one recorded workload (or only `only` = (pos, model, sample)).
fn sweep(rec: &Recorded, budget: u64, tally: &Tally, only: Option<(usize, usize, u64)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.db");
    let mut sw = Sweep::new(&rec.ops, rec.spec.page_size);
    let mut n = 0u64;
    loop {
        let point = sw.point();
        for (mi, &model) in Model::ALL.iter().enumerate() {
            if point.pending == 0 && model != Model::Keep {
                continue; // every model gives the durable image
            }
            let samples = if model.is_random() { SAMPLES } else { 1 };
            for sample in 0..samples {
                if only.is_some_and(|o| o != (point.pos, mi, sample)) {
                    continue;
                }
                if n >= budget {
                    return;
                }
                n += 1;
                let iseed = image_seed(rec.spec.seed, point.pos, mi, sample);
                let img = sw.image(model, &mut Rng::new(iseed));
                let usable = iseed.is_multiple_of(8);
                // One image in eight also takes a commit; another one in eight crashes again
                // while committing after recovery (double crash).
                let double = iseed % 8 == 1 && point.acked.is_some();
                if double {
                    tally.double.fetch_add(1, Ordering::Relaxed);
                }
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if double {
                        let mut r2 = Rng::new(iseed ^ 0xD0B1E);
                        crashsim::verify_double_crash(&img, &path, point, rec, model, &mut r2)
                            .map(crashsim::Recovered::Txid)
                    } else {
                        crashsim::verify_image(&img, &path, point, rec, usable)
                    }
                }));
                let done = tally.images.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(wd) = &tally.wd {
                    wd.doing(format!(
                        "RBOLT_CRASH_CASE={}:{}:{mi}:{sample}",
                        rec.spec.seed, point.pos
                    ));
                }
                if done.is_multiple_of(100_000) {
                    eprintln!("crash: {done} images so far");
                }
                *tally
                    .per_model
                    .lock()
                    .unwrap()
                    .entry(format!("{model:?}"))
                    .or_default() += 1;
                let msg = match r {
                    Ok(Ok(crashsim::Recovered::Refused)) => {
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                    Ok(Ok(crashsim::Recovered::Txid(t))) => {
                        if point.acked.is_some_and(|a| t > a) {
                            tally.newer.fetch_add(1, Ordering::Relaxed);
                        }
                        None
                    }
                    Ok(Err(e)) => Some(e),
                    Err(p) => Some(format!("PANIC: {}", rbolt_testkit::panic_message(&*p))),
                };
                if let Some(e) = msg {
                    let saved = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
                        "crash-{}-{}-{:?}-{}.db",
                        rec.spec.seed, point.pos, model, sample
                    ));
                    let _ = std::fs::write(&saved, &img);
                    tally.failures.lock().unwrap().push(format!(
                        "RBOLT_CRASH_CASE={}:{}:{}:{} ({:?}, {:?}, acked {:?}, meta issued {:?}): {e} [image: {}]",
                        rec.spec.seed,
                        point.pos,
                        mi,
                        sample,
                        model,
                        rec.spec,
                        point.acked,
                        point.meta_issued,
                        saved.display()
                    ));
                }
            }
        }
        if !sw.advance() {
            return;
        }
    }
}

fn parse_case(s: &str) -> (u64, usize, usize, u64) {
    let f: Vec<u64> = s
        .split(':')
        .map(|x| x.parse().expect("RBOLT_CRASH_CASE"))
        .collect();
    (f[0], f[1] as usize, f[2] as usize, f[3])
}

#[test]
fn crash_images_recover_to_a_committed_snapshot() {
    let start = Instant::now();
    let target = env_count("RBOLT_CRASH_IMAGES", 12_000);
    let base = env_seed(1);
    let tally = Tally {
        wd: Some(Watchdog::new(
            "crash_images_recover_to_a_committed_snapshot",
            Duration::from_secs(120),
        )),
        ..Tally::default()
    };
    let case = std::env::var("RBOLT_CRASH_CASE")
        .ok()
        .map(|s| parse_case(&s));
    if let Some((seed, pos, model, sample)) = case {
        let dir = tempfile::tempdir().unwrap();
        let rec = crashsim::record(&Spec::from_seed(seed, TXS), dir.path()).unwrap();
        sweep(&rec, u64::MAX, &tally, Some((pos, model, sample)));
    } else {
        let next = AtomicU64::new(base);
        let workloads = AtomicUsize::new(0);
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(4);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let dir = tempfile::tempdir().unwrap();
                    while tally.images.load(Ordering::Relaxed) < target
                        && tally.failures.lock().unwrap().len() < 20
                    {
                        let seed = next.fetch_add(1, Ordering::Relaxed);
                        let rec = crashsim::record(&Spec::from_seed(seed, TXS), dir.path())
                            .unwrap_or_else(|e| panic!("recording workload seed {seed}: {e:#}"));
                        if let Err(e) = check_protocol(&rec.ops, rec.spec.page_size) {
                            tally
                                .failures
                                .lock()
                                .unwrap()
                                .push(format!("protocol violation in workload seed {seed}: {e}"));
                        }
                        workloads.fetch_add(1, Ordering::Relaxed);
                        let left = target.saturating_sub(tally.images.load(Ordering::Relaxed));
                        sweep(&rec, left.min(2_000), &tally, None);
                    }
                });
            }
        });
        eprintln!(
            "crash: {} workloads (seeds {base}..), {} images {:?}, {} refused pre-ack, {} recovered the in-flight commit, {} double crashes, {:.1}s",
            workloads.load(Ordering::Relaxed),
            tally.images.load(Ordering::Relaxed),
            tally.per_model.lock().unwrap(),
            tally.refused.load(Ordering::Relaxed),
            tally.newer.load(Ordering::Relaxed),
            tally.double.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64()
        );
    }
    let failures = tally.failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} crash images failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The harness must be able to fail: with writes since the file was created kept at random
/// and no barrier respected (M5 in reliability.md), some images must be detected as damaged.
#[test]
fn crash_oracle_detects_damage_without_barriers() {
    let dir = tempfile::tempdir().unwrap();
    let rec = crashsim::record(&Spec::from_seed(77, TXS), dir.path()).unwrap();
    let path = dir.path().join("m5.db");
    let mut r = Rng::new(5);
    let mut detected = 0;
    let writes: Vec<&Op> = rec
        .ops
        .iter()
        .filter(|o| matches!(o, Op::Write { .. }))
        .collect();
    let last = rec.snaps.keys().last().copied();
    for _ in 0..200 {
        let mut img = Vec::new();
        for op in &writes {
            if let Op::Write { off, data } = op
                && (r.chance(0.7) || img.is_empty())
            {
                let end = *off as usize + data.len();
                if img.len() < end {
                    img.resize(end, 0);
                }
                img[*off as usize..end].copy_from_slice(data);
            }
        }
        let point = crashsim::CrashPoint {
            pos: rec.ops.len(),
            acked: last,
            meta_issued: last,
            pending: 0,
        };
        if crashsim::verify_image(&img, &path, point, &rec, false).is_err() {
            detected += 1;
        }
    }
    assert!(
        detected > 20,
        "only {detected}/200 barrier-free images were flagged"
    );
}

/// Rules of the commit protocol hold on recorded logs of many workloads (T3).
#[test]
fn commit_protocol_conforms() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 0..12 {
        let spec = Spec::from_seed(1000 + seed, 40);
        let rec = crashsim::record(&spec, dir.path()).unwrap();
        check_protocol(&rec.ops, spec.page_size)
            .unwrap_or_else(|e| panic!("workload {spec:?}: {e}"));
        let metas = rec
            .ops
            .iter()
            .filter(|o| matches!(o, Op::Write { off, data } if crashsim::meta_txid(*off, data, spec.page_size).is_some()))
            .count();
        assert!(metas + 1 >= rec.snaps.len(), "every commit writes a meta");
    }
}

/// Bounded-exhaustive crash states (CrashMonkey/ACE style): small workloads that grow the file
/// several times; at every crash point with at most 8 pending ops, every subset of them.
#[test]
fn every_subset_of_pending_writes_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("subset.db");
    let cap = env_count("RBOLT_SUBSET_IMAGES", 6_000);
    let mut images = 0u64;
    let mut failures = Vec::new();
    'outer: for seed in 0..50u64 {
        let mut spec = Spec::from_seed(500 + seed, 8);
        spec.page_size = 1024;
        let rec = crashsim::record(&spec, dir.path()).unwrap();
        let mut sw = Sweep::new(&rec.ops, spec.page_size);
        loop {
            let point = sw.point();
            if (1..=8).contains(&point.pending) && point.acked.is_some() {
                for mask in 0..(1u64 << point.pending) {
                    let img = sw.subset_image(mask);
                    images += 1;
                    if let Err(e) = crashsim::verify_image(&img, &path, point, &rec, false) {
                        failures.push(format!(
                            "seed {} pos {} mask {mask:#b}: {e}",
                            spec.seed, point.pos
                        ));
                    }
                    if images >= cap || failures.len() >= 10 {
                        break 'outer;
                    }
                }
            }
            if !sw.advance() {
                break;
            }
        }
    }
    eprintln!("crash subsets: {images} images");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
