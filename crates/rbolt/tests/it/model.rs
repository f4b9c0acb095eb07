//! Model-based property test: random op sequences (nested buckets, puts, overwrites, deletes,
//! bucket deletes, sequences, commits, rollbacks, reopens) against a `BTreeMap` model. After
//! every step that ends a transaction the whole database is dumped and compared with the
//! model; inside transactions reads are compared too.
//!
//! `RBOLT_MODEL_SEED=<n>` replays one seed; `RBOLT_MODEL_CASES=<n>` sets how many seeds run.

use rbolt::{Bucket, Options, Tx};
use rbolt_testkit::TempDb;
use rbolt_testkit::rng::Rng;
use rbolt_testkit::script::{dump_tx, hex};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq)]
struct MBucket {
    seq: u64,
    entries: BTreeMap<Vec<u8>, MVal>,
}

#[derive(Clone, Debug, PartialEq)]
enum MVal {
    Value(Vec<u8>),
    Bucket(MBucket),
}

impl MBucket {
    fn at(&mut self, path: &[Vec<u8>]) -> &mut MBucket {
        let mut b = self;
        for name in path {
            b = match b.entries.get_mut(name) {
                Some(MVal::Bucket(c)) => c,
                _ => panic!("model path missing"),
            };
        }
        b
    }

    fn bucket_paths(&self, prefix: &mut Vec<Vec<u8>>, out: &mut Vec<Vec<Vec<u8>>>) {
        for (k, v) in &self.entries {
            if let MVal::Bucket(c) = v {
                prefix.push(k.clone());
                out.push(prefix.clone());
                c.bucket_paths(prefix, out);
                prefix.pop();
            }
        }
    }

    fn render(&self, path: &str, out: &mut String) {
        for (k, v) in &self.entries {
            match v {
                MVal::Value(v) => out.push_str(&format!("K {path} {} {}\n", hex(k), hex(v))),
                MVal::Bucket(c) => {
                    let sub = if path.is_empty() {
                        hex(k)
                    } else {
                        format!("{path}/{}", hex(k))
                    };
                    out.push_str(&format!("B {sub} seq={}\n", c.seq));
                    c.render(&sub, out);
                }
            }
        }
    }
}

fn dump(tx: &Tx<impl rbolt::Mode>) -> String {
    let mut out = Vec::new();
    dump_tx(tx, &mut out).expect("dump");
    String::from_utf8(out).expect("ascii dump")
}

fn open_path<'tx, M: rbolt::Mode>(tx: &'tx Tx<M>, path: &[Vec<u8>]) -> Bucket<'tx, M> {
    let mut b = tx.bucket(&path[0]).expect("bucket").expect("bucket exists");
    for name in &path[1..] {
        b = b.bucket(name).expect("bucket").expect("sub-bucket exists");
    }
    b
}

fn key(rng: &mut Rng) -> Vec<u8> {
    match rng.random_range(0..100) {
        // Small alphabet: lots of overwrites and deletes of existing keys.
        0..70 => format!("k{:03}", rng.random_range(0..400)).into_bytes(),
        70..95 => (0..rng.random_range(1..40)).map(|_| rng.random()).collect(),
        _ => vec![rng.random(); rng.random_range(100..3000)],
    }
}

fn value(rng: &mut Rng) -> Vec<u8> {
    match rng.random_range(0..100) {
        0..10 => Vec::new(),
        10..90 => (0..rng.random_range(1..200))
            .map(|_| rng.random())
            .collect(),
        90..98 => vec![rng.random(); rng.random_range(200..3000)],
        _ => vec![rng.random(); rng.random_range(4000..40_000)],
    }
}

/// Runs one seeded case; panics with the seed on the first divergence.
fn run_case(seed: u64, steps: usize) {
    let mut rng = Rng::new(seed);
    let page_size = [1024, 4096, 4096, 16384][rng.random_range(0..4)];
    let mut db = TempDb::with_options(Options::new().page_size(page_size).no_sync(true));
    let mut committed = MBucket::default();
    let mut tx = Some(db.begin_write().unwrap());
    let mut working = committed.clone();
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step} page_size {page_size}");
        let t = tx.as_ref().unwrap();
        let mut paths = Vec::new();
        working.bucket_paths(&mut Vec::new(), &mut paths);
        let r = rng.random_range(0..1000);
        match r {
            // put
            0..550 if !paths.is_empty() => {
                let p = &paths[rng.random_range(0..paths.len())];
                // Mostly single puts; sometimes an ascending or descending run after one
                // base key (appends, and the writer's last-leaf shortcut at its edges).
                let base = key(&mut rng);
                let run = if rng.random_bool(0.1) {
                    rng.random_range(5..80)
                } else {
                    1
                };
                let down = rng.random_bool(0.3);
                for j in 0..run {
                    let mut k = base.clone();
                    if run > 1 {
                        let j = if down { run - j } else { j };
                        k.extend_from_slice(format!("{j:04}").as_bytes());
                    }
                    let v = value(&mut rng);
                    let m = working.at(p);
                    let res = open_path(t, p).put(&k, &v);
                    if matches!(m.entries.get(&k), Some(MVal::Bucket(_))) {
                        assert!(
                            matches!(res, Err(rbolt::Error::IncompatibleValue)),
                            "{ctx}: {res:?}"
                        );
                    } else {
                        res.unwrap_or_else(|e| panic!("{ctx}: put: {e}"));
                        m.entries.insert(k, MVal::Value(v));
                    }
                }
            }
            // delete an existing key (or a random one)
            550..750 if !paths.is_empty() => {
                let p = &paths[rng.random_range(0..paths.len())];
                let m = working.at(p);
                let k = if !m.entries.is_empty() && rng.random_bool(0.8) {
                    m.entries
                        .keys()
                        .nth(rng.random_range(0..m.entries.len()))
                        .unwrap()
                        .clone()
                } else {
                    key(&mut rng)
                };
                let res = open_path(t, p).delete(&k);
                if matches!(m.entries.get(&k), Some(MVal::Bucket(_))) {
                    assert!(
                        matches!(res, Err(rbolt::Error::IncompatibleValue)),
                        "{ctx}: {res:?}"
                    );
                } else {
                    res.unwrap_or_else(|e| panic!("{ctx}: delete: {e}"));
                    m.entries.remove(&k);
                }
            }
            // create a bucket (top level or nested)
            750..800 => {
                let name = format!("b{}", rng.random_range(0..12)).into_bytes();
                let parent = if paths.is_empty() || rng.random_bool(0.3) {
                    Vec::new()
                } else {
                    paths[rng.random_range(0..paths.len())].clone()
                };
                let m = working.at(&parent);
                let res = if parent.is_empty() {
                    t.create_bucket(&name).map(|_| ())
                } else {
                    open_path(t, &parent).create_bucket(&name).map(|_| ())
                };
                match m.entries.get(&name) {
                    Some(MVal::Bucket(_)) => {
                        assert!(
                            matches!(res, Err(rbolt::Error::BucketExists)),
                            "{ctx}: {res:?}"
                        )
                    }
                    Some(MVal::Value(_)) => {
                        assert!(
                            matches!(res, Err(rbolt::Error::IncompatibleValue)),
                            "{ctx}: {res:?}"
                        )
                    }
                    None => {
                        res.unwrap_or_else(|e| panic!("{ctx}: create_bucket: {e}"));
                        m.entries.insert(name, MVal::Bucket(MBucket::default()));
                    }
                }
            }
            // delete a bucket
            800..825 if !paths.is_empty() => {
                let p = paths[rng.random_range(0..paths.len())].clone();
                let (name, parent) = p.split_last().unwrap();
                let res = if parent.is_empty() {
                    t.delete_bucket(name)
                } else {
                    open_path(t, parent).delete_bucket(name)
                };
                res.unwrap_or_else(|e| panic!("{ctx}: delete_bucket: {e}"));
                working.at(parent).entries.remove(name);
            }
            // sequence
            825..850 if !paths.is_empty() => {
                let p = &paths[rng.random_range(0..paths.len())];
                let b = open_path(t, p);
                let n = if rng.random_bool(0.5) {
                    b.next_sequence().unwrap()
                } else {
                    let n = rng.random();
                    b.set_sequence(n).unwrap();
                    n
                };
                working.at(p).seq = n;
            }
            // read checks inside the transaction
            850..900 => {
                let mut want = String::new();
                working.render("", &mut want);
                assert_eq!(dump(t), want, "{ctx}: in-tx dump");
            }
            // commit
            900..960 => {
                tx.take()
                    .unwrap()
                    .commit()
                    .unwrap_or_else(|e| panic!("{ctx}: commit: {e}"));
                committed = working.clone();
                let r = db.begin_read().unwrap();
                let mut want = String::new();
                committed.render("", &mut want);
                assert_eq!(dump(&r), want, "{ctx}: after commit");
                let problems = r.check();
                assert!(problems.is_empty(), "{ctx}: check: {problems:?}");
                drop(r);
                tx = Some(db.begin_write().unwrap());
            }
            // rollback
            960..985 => {
                tx.take().unwrap().rollback();
                working = committed.clone();
                tx = Some(db.begin_write().unwrap());
            }
            // reopen (what is not committed is lost)
            _ => {
                drop(tx.take());
                working = committed.clone();
                db.reopen();
                let r = db.begin_read().unwrap();
                let mut want = String::new();
                committed.render("", &mut want);
                assert_eq!(dump(&r), want, "{ctx}: after reopen");
                drop(r);
                tx = Some(db.begin_write().unwrap());
            }
        }
    }
    tx.take().unwrap().commit().unwrap();
    let r = db.begin_read().unwrap();
    let mut want = String::new();
    working.render("", &mut want);
    assert_eq!(dump(&r), want, "seed {seed}: final");
    // Reverse iteration of every bucket equals the forward order reversed.
    let mut paths = Vec::new();
    working.bucket_paths(&mut Vec::new(), &mut paths);
    for p in &paths {
        let b = open_path(&r, p);
        let fwd: Vec<_> = b.iter().map(|e| e.unwrap().0.to_vec()).collect();
        let mut rev: Vec<_> = b.iter().rev().map(|e| e.unwrap().0.to_vec()).collect();
        rev.reverse();
        assert_eq!(fwd, rev, "seed {seed}: reverse iteration of {p:?}");
    }
}

fn seeds(default_cases: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("RBOLT_MODEL_SEED") {
        return vec![s.parse().expect("RBOLT_MODEL_SEED must be a u64")];
    }
    let cases = std::env::var("RBOLT_MODEL_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default_cases);
    let base = rbolt_testkit::rng::fresh_seed();
    eprintln!(
        "model test: base seed {base} ({cases} cases); replay one with RBOLT_MODEL_SEED=<seed>"
    );
    (0..cases).map(|i| base.wrapping_add(i)).collect()
}

#[test]
fn random_ops_match_btreemap_model() {
    for seed in seeds(24) {
        let r = std::panic::catch_unwind(|| run_case(seed, 1500));
        if let Err(e) = r {
            eprintln!("model test FAILED for RBOLT_MODEL_SEED={seed}");
            std::panic::resume_unwind(e);
        }
    }
}
