//! Criterion micro-benchmarks for rbolt's hot paths: page decode, cursor seek, get, put into
//! a large write transaction, and commit of a small transaction.
//!
//! `cargo bench -p rbolt --bench hot_paths` (add `-- --quick` for a fast pass). Keys are 24
//! random bytes and values 150 random bytes, as in `rbolt-bench`.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rbolt_format::{BranchPage, LeafPage, Pgid, encode_branch, encode_leaf};
use rbolt_testkit::rng::Rng;
use std::hint::black_box;
use std::time::{Duration, Instant};

const KEYS: usize = 100_000;

/// Key/value pairs as the benchmark stores them.
type Pairs = Vec<([u8; 24], [u8; 150])>;

fn pairs(n: usize, seed: u64) -> Pairs {
    let mut r = Rng::new(seed);
    (0..n).map(|_| (r.random(), r.random())).collect()
}

/// A database holding `KEYS` pairs in bucket "t", and the pairs in insertion order.
fn populated(dir: &std::path::Path) -> (rbolt::Db, Pairs) {
    let db = rbolt::Options::new()
        .no_sync(true)
        .open(dir.join("bench.db"))
        .expect("open");
    let data = pairs(KEYS, 1);
    let tx = db.begin_write().expect("begin_write");
    {
        let b = tx.create_bucket_if_not_exists(b"t").expect("bucket");
        for (k, v) in &data {
            b.put(k, v).expect("put");
        }
    }
    tx.commit().expect("commit");
    (db, data)
}

fn page_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("page_decode");
    // A full 4 KiB leaf as rbolt writes it: 21 × (24 B key + 150 B value).
    let items = pairs(21, 2);
    let mut sorted: Vec<_> = items
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    sorted.sort();
    let mut leaf = vec![0u8; 4096];
    encode_leaf(
        &mut leaf,
        Pgid(7),
        0,
        sorted.iter().map(|(k, v)| (0u32, *k, *v)),
    );
    g.bench_function("leaf_new_and_all_elems", |b| {
        b.iter(|| {
            let p = LeafPage::new(black_box(&leaf)).expect("leaf");
            let mut sum = 0usize;
            for i in 0..p.len() {
                let e = p.elem(i).expect("elem");
                sum += e.value.start;
            }
            sum
        })
    });
    let probe = sorted[13].0.to_vec();
    g.bench_function("leaf_search", |b| {
        b.iter(|| {
            LeafPage::new(black_box(&leaf))
                .expect("leaf")
                .search(black_box(&probe))
                .expect("search")
        })
    });
    // A 4 KiB branch: 24 B keys, 16 B elements -> 102 children.
    let keys = pairs(102, 3);
    let mut bkeys: Vec<&[u8]> = keys.iter().map(|(k, _)| k.as_slice()).collect();
    bkeys.sort();
    let mut branch = vec![0u8; 4096];
    encode_branch(
        &mut branch,
        Pgid(9),
        0,
        bkeys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, Pgid(100 + i as u64))),
    );
    let bprobe = bkeys[57].to_vec();
    g.bench_function("branch_child_index", |b| {
        b.iter(|| {
            BranchPage::new(black_box(&branch))
                .expect("branch")
                .child_index(black_box(&bprobe))
                .expect("child_index")
        })
    });
    g.finish();
}

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, data) = populated(dir.path());
    let tx = db.begin_read().expect("begin_read");
    let b = tx.bucket(b"t").expect("bucket").expect("bucket t");
    let mut g = c.benchmark_group("reads");
    let mut i = 0usize;
    g.bench_function("get_hit_100k", |bench| {
        bench.iter(|| {
            i = (i + 7919) % KEYS;
            b.get(black_box(&data[i].0)).expect("get").map(|v| v[0])
        })
    });
    let mut j = 0usize;
    g.bench_function("cursor_seek_100k", |bench| {
        let mut cur = b.cursor();
        bench.iter(|| {
            j = (j + 7919) % KEYS;
            cur.seek(black_box(&data[j].0))
                .expect("seek")
                .map(|(k, _)| k[0])
        })
    });
    g.bench_function("range_10_100k", |bench| {
        bench.iter(|| {
            j = (j + 7919) % KEYS;
            let mut s = 0u64;
            for item in b.range(&data[j].0[..]..).take(10) {
                let (_, v) = item.expect("item");
                s += u64::from(v.map_or(0, |v| v[0]));
            }
            s
        })
    });
    let mut cur = b.cursor();
    cur.first().expect("first");
    g.bench_function("cursor_next_100k", |bench| {
        bench.iter(|| match cur.next().expect("next") {
            Some((k, _)) => k[0],
            None => cur.first().expect("first").map_or(0, |(k, _)| k[0]),
        })
    });
    g.bench_function("len_100k_remembered", |bench| {
        bench.iter(|| b.len().expect("len"))
    });
    // A copy, opened afresh for every call: a new handle has nothing remembered.
    std::fs::copy(dir.path().join("bench.db"), dir.path().join("h.db")).expect("copy");
    g.bench_function("len_100k_first_walk", |bench| {
        bench.iter_batched(
            || {
                let db = rbolt::Db::open(dir.path().join("h.db")).expect("reopen");
                let tx = db.begin_read().expect("begin_read");
                (db, tx)
            },
            |(_db, tx)| {
                tx.bucket(b"t")
                    .expect("bucket")
                    .expect("t")
                    .len()
                    .expect("len")
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, _) = populated(dir.path());
    let mut g = c.benchmark_group("writes");
    // Puts of fresh random keys into one write transaction on a 100k-key tree; the
    // transaction grows with criterion's iteration count, then rolls back.
    let fresh = pairs(2_000_000, 99);
    g.bench_function("put_into_large_tx", |bench| {
        bench.iter_custom(|iters| {
            let tx = db.begin_write().expect("begin_write");
            let b = tx.bucket(b"t").expect("bucket").expect("bucket t");
            let start = Instant::now();
            for i in 0..iters as usize {
                let (k, v) = &fresh[i % fresh.len()];
                b.put(k, v).expect("put");
            }
            let el = start.elapsed();
            drop(tx); // roll back
            el
        })
    });
    // One put and a commit, without fdatasync (the CPU side of a small commit).
    let mut r = Rng::new(5);
    g.bench_function("commit_small_tx_nosync", |bench| {
        bench.iter_batched(
            || (r.random::<[u8; 24]>(), r.random::<[u8; 150]>()),
            |(k, v)| {
                let tx = db.begin_write().expect("begin_write");
                tx.bucket(b"t")
                    .expect("bucket")
                    .expect("bucket t")
                    .put(k, v)
                    .expect("put");
                tx.commit().expect("commit");
            },
            BatchSize::SmallInput,
        )
    });
    // The first len() after a small commit, in a new read transaction: the commit rewrote
    // the path to one leaf, so whatever len() knew about those branch pages is gone.
    let mut r = Rng::new(6);
    g.bench_function("len_100k_after_commit", |bench| {
        bench.iter_custom(|iters| {
            let mut el = Duration::ZERO;
            for _ in 0..iters {
                db.update(|tx| {
                    let b = tx.bucket(b"t")?.expect("bucket t");
                    b.put(r.random::<[u8; 24]>(), r.random::<[u8; 150]>())
                })
                .expect("commit");
                let start = Instant::now();
                let n = db
                    .view(|tx| tx.bucket(b"t")?.expect("bucket t").len())
                    .expect("len");
                el += start.elapsed();
                black_box(n);
            }
            el
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = page_decode, reads, writes
}
criterion_main!(benches);
