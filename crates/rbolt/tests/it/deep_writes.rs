//! Write transactions deep in multi-level trees: each mixes puts, deletes (single and in runs
//! that empty leaves and merge branches), values large enough to split, runs of appends past
//! the bucket's last key (long enough that its last leaf grows to many pages and splits), puts
//! and deletes among keys just appended, nested buckets made and dropped, and cursor walks
//! (some deleting as they go) between the changes, against a `BTreeMap` model. The writer keeps the branches on a descent's path as their pages until
//! one of them changes, so every kind of change here lands on such a branch: a child split
//! under it, children merged away beneath it, a cursor walking through it.
//!
//! `RBOLT_SEED=<n>` replays a seed (printed); `RBOLT_DEEP_ROUNDS=<n>` sets the transactions.

use rbolt::{Bucket, Options, ReadWrite};
use rbolt_testkit::TempDb;
use rbolt_testkit::rng::{Rng, env_count, fresh_seed};
use std::collections::BTreeMap;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Where a nested bucket of the main bucket sits: its name sorts among the main keys, so its
/// entry lives in one of the main tree's leaves like any key.
const SUB: &[u8] = b"k05000-sub";
const KEYS: u64 = 12_000;

fn key(n: u64) -> Vec<u8> {
    format!("k{n:05}").into_bytes()
}

fn value(r: &mut Rng) -> Vec<u8> {
    // Mostly small; now and then one that fills most of a page, so leaves split.
    let len = if r.chance(0.03) {
        r.range(300, 900)
    } else {
        r.range(1, 40)
    };
    r.bytes(len as usize)
}

/// Panics with the first key where `got` and `want` differ (whole maps are too long to print).
fn assert_same(got: &Model, want: &Model, what: &str) {
    if got == want {
        return;
    }
    let first = got
        .iter()
        .zip(want.iter())
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    let show = |m: &Model| {
        m.iter()
            .nth(first)
            .map(|(k, v)| format!("{} ({} value bytes)", String::from_utf8_lossy(k), v.len()))
    };
    panic!(
        "{what}: {} entries, the model {}; entry {first} is {:?}, the model's {:?}",
        got.len(),
        want.len(),
        show(got),
        show(want)
    );
}

/// The bucket's entries as a cursor walks them forward, sub-buckets skipped.
fn values_of(b: &Bucket<'_, ReadWrite>) -> Model {
    let mut out = Model::new();
    let mut c = b.cursor();
    let mut item = c.first().unwrap();
    while let Some((k, v)) = item {
        if let Some(v) = v {
            out.insert(k.to_vec(), v.to_vec());
        }
        item = c.next().unwrap();
    }
    out
}

/// Keys that sort after every `key(n)`: appended in ascending order.
fn tail_key(n: u64) -> Vec<u8> {
    format!("z{n:08}").into_bytes()
}

/// A run of appends past the last key of `b`, then now and then puts and deletes among the
/// keys just appended (inside the leaf the appends grew, or the pages split off it).
fn append_run(r: &mut Rng, b: &Bucket<'_, ReadWrite>, m: &mut Model) {
    let next = m
        .keys()
        .next_back()
        .filter(|k| k.first() == Some(&b'z'))
        .map_or(0, |k| {
            std::str::from_utf8(&k[1..9])
                .unwrap()
                .parse::<u64>()
                .unwrap()
                + 1
        });
    let run = if r.chance(0.3) {
        r.range(1_500, 4_000)
    } else {
        r.range(1, 300)
    };
    for n in next..next + run {
        let v = value(r);
        b.put(tail_key(n), &v).unwrap();
        m.insert(tail_key(n), v);
    }
    for _ in 0..r.range(0, 6) {
        let mut k = tail_key(next + r.below(run));
        if r.chance(0.5) {
            b.delete(&k).unwrap();
            m.remove(&k);
        } else {
            k.push(b'm');
            let v = value(r);
            b.put(&k, &v).unwrap();
            m.insert(k, v);
        }
    }
}

/// One random change or check on bucket `b` (modelled by `m`) inside a write transaction.
fn step(r: &mut Rng, b: &Bucket<'_, ReadWrite>, m: &mut Model, seed: u64) {
    if r.chance(0.03) {
        append_run(r, b, m);
        return;
    }
    match r.below(100) {
        0..40 => {
            let (k, v) = (key(r.below(KEYS)), value(r));
            b.put(&k, &v).unwrap();
            m.insert(k, v);
        }
        40..55 => {
            let k = key(r.below(KEYS));
            b.delete(&k).unwrap();
            m.remove(&k);
        }
        55..63 => {
            // A run of neighbours: empties leaves, so commit merges them (and their parents).
            let start = r.below(KEYS);
            let run = r.range(20, 400);
            for n in start..(start + run).min(KEYS) {
                b.delete(key(n)).unwrap();
                m.remove(&key(n));
            }
        }
        63..68 => {
            // A dense run of puts: splits a leaf (and maybe its parent) during the transaction.
            let start = r.below(KEYS);
            for n in start..(start + r.range(10, 200)).min(KEYS) {
                let v = value(r);
                b.put(key(n), &v).unwrap();
                m.insert(key(n), v);
            }
        }
        68..80 => {
            // A cursor walk from a random key, compared with the model as it goes.
            let from = key(r.below(KEYS));
            let mut c = b.cursor();
            let mut item = c.seek(&from).unwrap();
            let mut want = m.range(from.clone()..).map(|(k, v)| (k.clone(), v.clone()));
            for _ in 0..r.range(1, 60) {
                // Sub-buckets are not in the model.
                while let Some((k, None)) = item {
                    assert_eq!(k, SUB, "seed {seed}");
                    item = c.next().unwrap();
                }
                let got = item.map(|(k, v)| (k.to_vec(), v.unwrap().to_vec()));
                assert_eq!(got, want.next(), "seed {seed}: cursor walk from {from:?}");
                if got.is_none() {
                    break;
                }
                item = c.next().unwrap();
            }
        }
        80..86 => {
            // A walk that deletes every other entry it passes.
            let from = key(r.below(KEYS));
            let mut c = b.cursor();
            let mut item = c.seek(&from).unwrap();
            for i in 0..r.range(1, 80) {
                let Some((k, v)) = item else { break };
                if v.is_some() && i % 2 == 0 {
                    let k = k.to_vec();
                    c.delete().unwrap();
                    m.remove(&k);
                }
                item = c.next().unwrap();
            }
        }
        86..90 => {
            // A backward walk from the end of a random range.
            let to = key(r.below(KEYS));
            let mut c = b.cursor();
            let mut item = c.seek(&to).unwrap();
            if item.is_none() {
                item = c.last().unwrap();
            } else if item.is_some_and(|(k, _)| k > to.as_slice()) {
                item = c.prev().unwrap();
            }
            let mut want = m.range(..=to.clone()).rev();
            for _ in 0..r.range(1, 40) {
                while let Some((k, None)) = item {
                    assert_eq!(k, SUB, "seed {seed}");
                    item = c.prev().unwrap();
                }
                let got = item.map(|(k, v)| (k.to_vec(), v.unwrap().to_vec()));
                let exp = want.next().map(|(k, v)| (k.clone(), v.clone()));
                assert_eq!(got, exp, "seed {seed}: backward walk from {to:?}");
                if got.is_none() {
                    break;
                }
                item = c.prev().unwrap();
            }
        }
        90..94 => {
            let k = key(r.below(KEYS));
            assert_eq!(
                b.get(&k).unwrap(),
                m.get(&k).map(Vec::as_slice),
                "seed {seed}: get {k:?}"
            );
        }
        94..97 => {
            // A nested bucket made, filled and dropped again within the transaction.
            let name = format!("k{:05}-tmp", r.below(KEYS)).into_bytes();
            let n = b.create_bucket(&name).unwrap();
            for i in 0..r.range(1, 300) {
                n.put(key(i), value(r)).unwrap();
            }
            b.delete_bucket(&name).unwrap();
        }
        _ => {
            assert_same(
                &values_of(b),
                m,
                &format!("seed {seed}: full walk mid-transaction"),
            );
        }
    }
}

fn load(db: &TempDb, r: &mut Rng, main: &mut Model, sub: &mut Model) {
    db.update(|tx| {
        let b = tx.create_bucket(b"main")?;
        for n in (0..KEYS).filter(|n| n % 3 != 1) {
            let v = value(r);
            b.put(key(n), &v)?;
            main.insert(key(n), v);
        }
        let s = b.create_bucket(SUB)?;
        for n in (0..KEYS / 2).filter(|n| n % 2 == 0) {
            let v = value(r);
            s.put(key(n), &v)?;
            sub.insert(key(n), v);
        }
        Ok(())
    })
    .unwrap();
}

fn check_committed(db: &TempDb, main: &Model, sub: &Model, seed: u64, round: u64) {
    let tx = db.begin_write().unwrap();
    let b = tx.open_bucket(b"main").unwrap();
    assert_same(
        &values_of(&b),
        main,
        &format!("seed {seed} round {round}: main"),
    );
    assert_eq!(b.len().unwrap(), main.len() as u64 + 1, "seed {seed}: len");
    let s = b.open_bucket(SUB).unwrap();
    assert_same(
        &values_of(&s),
        sub,
        &format!("seed {seed} round {round}: sub"),
    );
    assert_eq!(s.len().unwrap(), sub.len() as u64, "seed {seed}: sub len");
    assert_eq!(tx.check(), vec![], "seed {seed} round {round}");
    tx.rollback();
}

#[test]
fn deep_write_transactions_match_a_model() {
    let seed = fresh_seed();
    let rounds = env_count("RBOLT_DEEP_ROUNDS", 60);
    eprintln!("deep writes: seed {seed}, {rounds} rounds; replay with RBOLT_SEED={seed}");
    let mut r = Rng::new(seed);
    // Small pages: three and four levels of branches from a few thousand keys.
    let db = TempDb::with_options(Options::new().page_size(1024).no_sync(true));
    let (mut main, mut sub) = (Model::new(), Model::new());
    load(&db, &mut r, &mut main, &mut sub);
    check_committed(&db, &main, &sub, seed, 0);
    for round in 1..=rounds {
        let tx = db.begin_write().unwrap();
        let (mut m2, mut s2) = (main.clone(), sub.clone());
        {
            let b = tx.open_bucket(b"main").unwrap();
            let s = b.open_bucket(SUB).unwrap();
            // bbolt's default, and appends packed full.
            for x in [&b, &s] {
                x.set_fill_percent(if r.chance(0.3) { 1.0 } else { 0.5 })
                    .unwrap();
            }
            // Small transactions (one put, as most commits are) as well as large ones.
            let ops = if r.chance(0.3) { 1 } else { r.range(2, 120) };
            for _ in 0..ops {
                if r.chance(0.25) {
                    step(&mut r, &s, &mut s2, seed);
                } else {
                    step(&mut r, &b, &mut m2, seed);
                }
            }
        }
        if r.chance(0.1) {
            tx.rollback();
        } else {
            tx.commit().unwrap();
            (main, sub) = (m2, s2);
        }
        check_committed(&db, &main, &sub, seed, round);
    }
    db.must_check();
}

/// `Bucket::stats` in a write transaction walks the writer's nodes: a branch still kept as
/// its page must count as that page (elements, bytes, overflow) and lead to its children,
/// the materialised one included. Rewriting values with same-sized ones changes no page's
/// shape, so the stats must equal a reader's before, and again after a cursor walked the
/// whole tree through those branches.
#[test]
fn stats_in_a_write_transaction_count_unchanged_branches_as_their_pages() {
    let seed = fresh_seed();
    eprintln!("deep writes stats: seed {seed}; replay with RBOLT_SEED={seed}");
    let mut r = Rng::new(seed);
    let db = TempDb::with_options(Options::new().page_size(1024).no_sync(true));
    let (mut main, mut sub) = (Model::new(), Model::new());
    load(&db, &mut r, &mut main, &mut sub);
    let before = db.view(|tx| tx.bucket(b"main")?.unwrap().stats()).unwrap();
    assert!(before.depth >= 3, "three levels at least: {before:?}");
    let tx = db.begin_write().unwrap();
    let b = tx.open_bucket(b"main").unwrap();
    for _ in 0..3 {
        let (k, v) = main.iter().nth(r.index(main.len())).unwrap();
        b.put(k, vec![0x5A; v.len()]).unwrap();
    }
    assert_eq!(b.stats().unwrap(), before, "seed {seed}");
    assert_eq!(values_of(&b).len(), main.len(), "seed {seed}");
    assert_eq!(b.stats().unwrap(), before, "seed {seed}: after a walk");
    tx.commit().unwrap();
    let after = db.view(|tx| tx.bucket(b"main")?.unwrap().stats()).unwrap();
    assert_eq!(after, before, "seed {seed}: committed");
}
