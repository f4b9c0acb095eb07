//! `Bucket::len` and `Bucket::is_empty` against a model, in read and write transactions, with
//! inline and paged sub-buckets, and on files whose tree is shared or cyclic.

use rbolt::{Bucket, Error, Options};
use rbolt_testkit::TempDb;
use rbolt_testkit::rng::Rng;
use std::collections::BTreeMap;

/// The seed for a property test here: `RBOLT_LEN_SEED` if set, else a fresh one; printed
/// with `what` so a failure can be replayed.
fn len_seed(what: &str) -> u64 {
    let seed = std::env::var("RBOLT_LEN_SEED")
        .ok()
        .map_or_else(rbolt_testkit::rng::fresh_seed, |s| {
            s.parse().expect("RBOLT_LEN_SEED must be a u64")
        });
    eprintln!("{what}: seed {seed}; replay with RBOLT_LEN_SEED={seed}");
    seed
}

/// What a top-level bucket holds: plain keys, and sub-buckets with their own key counts.
#[derive(Default)]
struct Model {
    top: BTreeMap<Vec<u8>, Option<u64>>,
}

impl Model {
    /// Entries directly in the top bucket: what `len` must return.
    fn len(&self) -> u64 {
        self.top.len() as u64
    }

    /// bbolt's `KeyN`: every leaf element, nested ones included.
    fn key_n(&self) -> u64 {
        self.len() + self.top.values().flatten().sum::<u64>()
    }
}

fn sub_name(i: u64) -> Vec<u8> {
    format!("sub{i:03}").into_bytes()
}

/// Asserts `len`, `is_empty` and `stats().key_n` of `top` and of each sub-bucket.
fn assert_counts(top: &Bucket<'_, impl rbolt::Mode>, m: &Model) -> rbolt::Result<()> {
    assert_eq!(top.len()?, m.len());
    assert_eq!(top.is_empty()?, m.len() == 0);
    assert_eq!(top.stats()?.key_n, m.key_n());
    for (name, sub) in &m.top {
        if let Some(n) = sub {
            let b = top.bucket(name)?.expect("sub-bucket in the model");
            assert_eq!(
                b.len()?,
                *n,
                "sub-bucket {:?}",
                String::from_utf8_lossy(name)
            );
            assert_eq!(b.is_empty()?, *n == 0);
        }
    }
    Ok(())
}

/// Random puts, deletes and sub-buckets (some staying inline, some growing to pages), counted
/// before commit, after commit and after reopening.
#[test]
fn len_matches_a_model_through_nested_inline_and_uncommitted_changes() {
    let mut db = TempDb::with_options(Options::new().page_size(1024));
    let mut r = Rng::new(0x1e4);
    let mut m = Model::default();
    for round in 0..12 {
        db.update(|tx| {
            let top = tx.create_bucket_if_not_exists(b"top")?;
            for _ in 0..r.range(50, 800) {
                let k = r.below(3000).to_be_bytes().to_vec();
                match r.below(10) {
                    0..=5 => {
                        if m.top.get(&k).is_none_or(|v| v.is_none()) {
                            top.put(&k, vec![7; r.index(60)])?;
                            m.top.insert(k, None);
                        }
                    }
                    6..=7 => {
                        if m.top.get(&k) == Some(&None) {
                            top.delete(&k)?;
                            m.top.remove(&k);
                        }
                    }
                    8 => {
                        // Fill a sub-bucket: the first five stay small enough to be
                        // inline (1 KiB pages inline up to 256 bytes), the rest need pages.
                        let i = r.below(20);
                        let name = sub_name(i);
                        let b = top.create_bucket_if_not_exists(&name)?;
                        let n = m.top.entry(name).or_insert(Some(0));
                        let most = match (i < 5, n.unwrap_or(0) < 5) {
                            (true, true) => 2,
                            (true, false) => 0,
                            (false, _) => 200,
                        };
                        for _ in 0..r.range(0, most) {
                            let k = r.below(1000).to_be_bytes();
                            if b.get(k)?.is_none() {
                                b.put(k, b"v")?;
                                *n = n.map(|c| c + 1);
                            }
                        }
                    }
                    _ => {
                        // Only the larger ones, so that small ones survive to the end.
                        let name = sub_name(r.range(10, 19));
                        if m.top.get(&name).is_some_and(Option::is_some) {
                            top.delete_bucket(&name)?;
                            m.top.remove(&name);
                        }
                    }
                }
            }
            assert_counts(&top, &m)
        })
        .unwrap();
        db.view(|tx| assert_counts(&tx.bucket(b"top")?.unwrap(), &m))
            .unwrap();
        if round % 4 == 3 {
            db.reopen();
        }
    }
    let inline = db
        .view(|tx| {
            let top = tx.bucket(b"top")?.unwrap();
            let mut inline = 0;
            for (name, sub) in &m.top {
                if sub.is_some() && top.bucket(name)?.unwrap().root().get() == 0 {
                    inline += 1;
                }
            }
            Ok(inline)
        })
        .unwrap();
    assert!(
        inline > 0,
        "the workload must leave some sub-buckets inline"
    );
    assert!(m.top.values().any(|s| s.is_some_and(|n| n > 100)));
    assert!(m.len() > 500, "deep enough for branch pages: {}", m.len());
}

/// Deletes and rollbacks: an uncommitted count never leaks into the next transaction.
#[test]
fn len_of_a_rolled_back_transaction_and_of_a_deleted_bucket() {
    let db = TempDb::with_options(Options::new().page_size(1024));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        assert!(b.is_empty()?);
        for i in 0u32..2000 {
            b.put(i.to_be_bytes(), [1; 20])?;
        }
        Ok(())
    })
    .unwrap();
    {
        let tx = db.begin_write().unwrap();
        let b = tx.bucket(b"b").unwrap().unwrap();
        for i in 0u32..1500 {
            b.delete(i.to_be_bytes()).unwrap();
        }
        assert_eq!(b.len().unwrap(), 500);
        tx.delete_bucket(b"b").unwrap();
        assert!(matches!(b.len(), Err(Error::BucketNotFound)));
        assert!(matches!(b.is_empty(), Err(Error::BucketNotFound)));
    } // rolled back
    let n = db.view(|tx| tx.bucket(b"b")?.unwrap().len()).unwrap();
    assert_eq!(n, 2000);
}

/// Rewrites child pointer `i` of the branch page `pgid` in the file at `path`.
fn set_child(path: &std::path::Path, ps: usize, pgid: u64, i: usize, child: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let off = pgid as usize * ps + 16 + i * 16 + 8;
    bytes[off..off + 8].copy_from_slice(&child.to_le_bytes());
    std::fs::write(path, &bytes).unwrap();
}

/// A tree whose branch pages point at one page twice, or back at themselves, is an error
/// (not a double count, not a hang).
#[test]
fn len_rejects_shared_and_cyclic_pages() {
    let ps = 1024;
    let mut db = TempDb::with_options(Options::new().page_size(ps));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0u32..3000 {
            b.put(i.to_be_bytes(), [5; 40])?;
        }
        Ok(())
    })
    .unwrap();
    let (root, first_child) = db
        .view(|tx| {
            let root = tx.bucket(b"b")?.unwrap().root().get();
            let p = tx.page(rbolt::Pgid(root))?.unwrap();
            assert_eq!(p.page_type, rbolt::PageType::Branch, "needs a branch root");
            Ok((root, p.count))
        })
        .unwrap();
    assert!(first_child >= 2);
    db.close();
    let saved = std::fs::read(db.path()).unwrap();
    let child0 = u64::from_le_bytes(saved[root as usize * ps + 24..][..8].try_into().unwrap());
    for (what, child) in [("shared", child0), ("cycle", root)] {
        std::fs::write(db.path(), &saved).unwrap();
        set_child(db.path(), ps, root, 1, child);
        db.reopen_with(Options::new().read_only(true));
        let got = db.view(|tx| tx.bucket(b"b")?.unwrap().len());
        assert!(
            matches!(got, Err(Error::Corrupted { .. })),
            "{what}: {got:?}"
        );
        let got = db.view(|tx| tx.bucket(b"b")?.unwrap().stats());
        assert!(
            matches!(got, Err(Error::Corrupted { .. })),
            "{what}: {got:?}"
        );
        db.close();
    }
    std::fs::write(db.path(), &saved).unwrap();
    db.reopen_with(Options::new().page_size(ps));
    assert_eq!(db.view(|tx| tx.bucket(b"b")?.unwrap().len()).unwrap(), 3000);
}

/// Remembered subtree counts stay right while pages are freed, reused, cut off the end of the
/// file and grown back: `len` after every commit equals the model, in fresh and in long-lived
/// read transactions. (A count kept for a page id the writer had reused would show here as a
/// wrong total.) Seed from `RBOLT_LEN_SEED`, printed.
#[test]
fn remembered_counts_follow_page_reuse() {
    let seed = len_seed("remembered counts");
    let mut rng = Rng::new(seed);
    let db = TempDb::with_options(Options::new().page_size(1024).shrink(true));
    let mut model: BTreeMap<u32, ()> = BTreeMap::new();
    let mut old: Option<(rbolt::Tx, u64)> = None;
    for round in 0..60 {
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists(b"b")?;
            let grow = rng.chance(0.55);
            for _ in 0..rng.range(1, 400) {
                let k = rng.below(4000) as u32;
                if grow {
                    b.put(k.to_be_bytes(), [7; 30])?;
                    model.insert(k, ());
                } else {
                    b.delete(k.to_be_bytes())?;
                    model.remove(&k);
                }
            }
            assert_eq!(
                b.len()?,
                model.len() as u64,
                "seed {seed} round {round}: in the writer"
            );
            Ok(())
        })
        .unwrap();
        let n = db.view(|tx| tx.bucket(b"b")?.unwrap().len()).unwrap();
        assert_eq!(
            n,
            model.len() as u64,
            "seed {seed} round {round}: after commit"
        );
        if let Some((tx, want)) = &old {
            let got = tx.bucket(b"b").unwrap().unwrap().len().unwrap();
            assert_eq!(got, *want, "seed {seed} round {round}: an older snapshot");
        }
        if rng.chance(0.3) {
            old = Some((db.begin_read().unwrap(), model.len() as u64));
        } else if rng.chance(0.3) {
            old = None;
        }
        if rng.chance(0.1) {
            old = None;
            db.shrink().unwrap();
            let n = db.view(|tx| tx.bucket(b"b")?.unwrap().len()).unwrap();
            assert_eq!(
                n,
                model.len() as u64,
                "seed {seed} round {round}: after shrink"
            );
        }
    }
}

/// Entries (keys and sub-bucket names) of every bucket, by path from the root.
type Tree = BTreeMap<Vec<Vec<u8>>, std::collections::BTreeSet<Vec<u8>>>;

/// Keys a bucket at `depth` (1: top level) draws from: deep buckets stay small, some inline.
fn key_space(depth: usize) -> u64 {
    [3000, 600, 60][depth.min(3) - 1]
}

fn data_key(i: u64) -> Vec<u8> {
    let mut k = b"k".to_vec();
    k.extend_from_slice(&(i as u32).to_be_bytes());
    k
}

/// The bucket at `path` (which exists) in transaction `tx`, of either kind.
macro_rules! open_path {
    ($tx:expr, $path:expr) => {{
        let path: &[Vec<u8>] = $path;
        let mut b = $tx.bucket(&path[0]).unwrap().expect("bucket in the model");
        for name in &path[1..] {
            b = b.bucket(name).unwrap().expect("sub-bucket in the model");
        }
        b
    }};
}

/// Asserts that `len` of the buckets in `tx` that `pick` chooses equals the model and
/// (`walk`) a walk of their entries.
macro_rules! assert_tree {
    ($tx:expr, $tree:expr, $ctx:expr, $walk:expr, $pick:expr) => {
        for (path, entries) in $tree {
            if !$pick() {
                continue;
            }
            let b = open_path!($tx, path);
            if $walk {
                let walked = b.iter().map(|e| e.map(|_| ()));
                let walked = walked.collect::<rbolt::Result<Vec<()>>>().unwrap();
                assert_eq!(walked.len(), entries.len(), "{}: walk of {path:?}", $ctx);
            }
            let want = entries.len() as u64;
            assert_eq!(b.len().unwrap(), want, "{}: len of {path:?}", $ctx);
        }
    };
}

/// One random change to the model and the transaction: runs of puts and deletes, single
/// ones, and sub-buckets created and deleted (up to three levels), in bucket `b` at `path`.
fn random_change(
    rng: &mut Rng,
    tree: &mut Tree,
    path: Vec<Vec<u8>>,
    b: &Bucket<'_, rbolt::ReadWrite>,
) {
    let space = key_space(path.len());
    let entries = tree.get_mut(&path).unwrap();
    match rng.below(10) {
        0..=3 => {
            let start = rng.below(space);
            for i in start..(start + rng.range(1, space / 4)).min(space) {
                b.put(data_key(i), vec![9; rng.index(40)]).unwrap();
                entries.insert(data_key(i));
            }
        }
        4..=5 => {
            let start = rng.below(space);
            for i in start..(start + rng.range(1, space / 3)).min(space) {
                b.delete(data_key(i)).unwrap();
                entries.remove(&data_key(i));
            }
        }
        6..=7 => {
            for _ in 0..20 {
                let k = data_key(rng.below(space));
                if rng.chance(0.5) {
                    b.put(&k, b"v").unwrap();
                    entries.insert(k);
                } else {
                    b.delete(&k).unwrap();
                    entries.remove(&k);
                }
            }
        }
        8 if path.len() < 3 => {
            let name = format!("s{}", rng.below(4)).into_bytes();
            b.create_bucket_if_not_exists(&name).unwrap();
            if entries.insert(name.clone()) {
                let mut sub = path.clone();
                sub.push(name);
                tree.insert(sub, Default::default());
            }
        }
        _ => {
            let subs: Vec<Vec<u8>> = entries.iter().filter(|e| e[0] == b's').cloned().collect();
            if subs.is_empty() {
                return;
            }
            let name = subs[rng.index(subs.len())].clone();
            b.delete_bucket(&name).unwrap();
            entries.remove(&name);
            let mut sub = path.clone();
            sub.push(name);
            tree.retain(|p, _| !p.starts_with(&sub));
        }
    }
}

/// The counts a commit records for the branch pages it writes (and those `len` walks) stay
/// equal to a walk of the entries through random runs of puts and deletes, nested buckets,
/// commits, rollbacks, commits that fail with `MaxSizeReached` after spilling part of the tree
/// (their page ids are reused by the next commit), a shrink and reopens; checked in the
/// writer before commit, in a fresh reader after each transaction, and in a long-lived reader
/// whose pages the writer must not disturb. Seed from `RBOLT_LEN_SEED`, printed.
#[test]
fn recorded_counts_match_a_walk_through_commits_rollbacks_and_failed_commits() {
    let seed = len_seed("recorded counts");
    let mut rng = Rng::new(seed);
    let max = 4 << 20;
    let opts = || Options::new().page_size(1024).max_size(max).shrink(true);
    let mut db = TempDb::with_options(opts());
    let mut tree = Tree::new();
    for name in [b"t0".to_vec(), b"t1".to_vec()] {
        tree.insert(vec![name], Default::default());
    }
    db.update(|tx| {
        tx.create_bucket(b"t0")?;
        tx.create_bucket(b"t1")?;
        Ok(())
    })
    .unwrap();
    let (mut commits, mut failed) = (0, 0);
    let mut old = Some((db.begin_read().unwrap(), tree.clone()));
    for round in 0..150 {
        let ctx = format!("seed {seed} round {round}");
        let tx = db.begin_write().unwrap();
        let mut next = tree.clone();
        for _ in 0..rng.range(1, 6) {
            let paths: Vec<&Vec<Vec<u8>>> = next.keys().collect();
            let path = paths[rng.index(paths.len())].clone();
            let b = open_path!(tx, &path);
            random_change(&mut rng, &mut next, path, &b);
        }
        // Not walked: a write transaction's cursor gives up on long runs of emptied leaves.
        // Buckets not counted stay unknown to the writer, so counts it records can also come
        // from leaf headers only, or be missing (to be walked later).
        let check = rng.below(3);
        assert_tree!(tx, &next, format!("{ctx}: in the writer"), false, || check
            == 0);
        match rng.below(10) {
            0..=6 => {
                tx.commit().unwrap();
                tree = next;
                commits += 1;
            }
            7 => drop(tx),
            _ => {
                // Past max_size: the commit fails after spilling (and counting) the other buckets,
                // which come first in key order.
                let big = tx.create_bucket_if_not_exists(b"zz").unwrap();
                for i in 0u32..(max as u32 / 4096 + 64) {
                    big.put(i.to_be_bytes(), [1; 4096]).unwrap();
                }
                assert!(matches!(tx.commit(), Err(Error::MaxSizeReached)), "{ctx}");
                failed += 1;
            }
        }
        db.view(|tx| {
            assert_tree!(tx, &tree, format!("{ctx}: after"), true, || rng.chance(0.6));
            Ok(())
        })
        .unwrap();
        if let Some((tx, t)) = &old {
            assert_tree!(tx, t, format!("{ctx}: an older snapshot"), true, || true);
        }
        match rng.below(20) {
            0..=3 => old = Some((db.begin_read().unwrap(), tree.clone())),
            4..=6 => old = None,
            7 => {
                old = None;
                db.shrink().unwrap();
            }
            8..=9 => {
                old = None;
                db.reopen_with(opts());
            }
            _ => {}
        }
    }
    // Every count is checked once more at the end.
    db.view(|tx| {
        assert_tree!(tx, &tree, format!("seed {seed}: at the end"), true, || true);
        Ok(())
    })
    .unwrap();
    assert!(
        commits > 40 && failed > 5,
        "{commits} commits, {failed} failed"
    );
    let deep = tree.keys().filter(|p| p.len() == 3).count();
    let big = tree.values().map(|e| e.len()).max().unwrap_or(0);
    eprintln!(
        "recorded counts: {} buckets ({deep} three deep), largest {big}",
        tree.len()
    );
}

/// A commit that cannot count a branch page it writes (children never counted since the
/// database was opened) must still not leave an older count behind for that page id: here
/// the ids come from a bucket of long keys (mostly branch pages), counted and then deleted,
/// and are reused for the root of a bucket no one has counted. Seed from `RBOLT_LEN_SEED`.
#[test]
fn uncountable_pages_on_reused_ids_are_not_miscounted() {
    let seed = len_seed("reused ids");
    let mut rng = Rng::new(seed);
    let opts = || Options::new().page_size(1024);
    let mut db = TempDb::with_options(opts());
    let mut model = std::collections::BTreeSet::new();
    db.update(|tx| {
        let b = tx.create_bucket(b"t0")?;
        for i in 0u32..3000 {
            b.put(i.to_be_bytes(), [1; 20])?;
            model.insert(i);
        }
        Ok(())
    })
    .unwrap();
    for round in 0..12 {
        db.update(|tx| {
            let b = tx.create_bucket(b"t1")?;
            for i in 0u32..400 {
                let mut k = vec![0; 300];
                k[..4].copy_from_slice(&i.to_be_bytes());
                b.put(k, b"v")?;
            }
            Ok(())
        })
        .unwrap();
        db.reopen_with(opts());
        let n = db.view(|tx| tx.bucket(b"t1")?.unwrap().len()).unwrap();
        assert_eq!(n, 400);
        db.update(|tx| tx.delete_bucket(b"t1")).unwrap();
        db.update(|_| Ok(())).unwrap(); // releases t1's pages
        db.update(|tx| {
            let b = tx.bucket(b"t0")?.unwrap();
            for _ in 0..rng.range(1, 6) {
                let i = rng.below(4000) as u32;
                if rng.chance(0.5) {
                    b.put(i.to_be_bytes(), [2; 20])?;
                    model.insert(i);
                } else {
                    b.delete(i.to_be_bytes())?;
                    model.remove(&i);
                }
            }
            Ok(())
        })
        .unwrap();
        let n = db.view(|tx| tx.bucket(b"t0")?.unwrap().len()).unwrap();
        assert_eq!(n, model.len() as u64, "seed {seed} round {round}");
    }
}

/// A large append at fill 1.0 (the leaves spill as they stand, without the per-node copy a
/// branch needs) packs its leaves full, and what it wrote reads back: values, the sub-buckets
/// whose entries sit in those leaves, a put into an early leaf in the same transaction, and
/// the counts commit recorded for `len` (before and after a reopen).
#[test]
fn appended_leaves_spill_full_and_read_back() {
    let mut db = TempDb::new();
    let val = |i: u64| vec![(i % 251) as u8; 100 + (i % 7) as usize];
    let key = |i: u64| {
        let mut k = vec![0xFF; 24];
        k.extend_from_slice(&i.to_be_bytes());
        k
    };
    let n = 20_000u64;
    db.update(|tx| {
        let b = tx.create_bucket("t")?;
        b.set_fill_percent(1.0)?;
        for i in 0..n {
            b.put(key(i), val(i))?;
            if i % 5_000 == 0 {
                b.create_bucket(format!("sub{i}"))?.put("k", "v")?;
            }
        }
        // Into a leaf the appends left behind long ago.
        b.put(key(17), b"changed")?;
        assert_eq!(b.len()?, n + 4);
        Ok(())
    })
    .unwrap();
    for reopen in [false, true] {
        if reopen {
            db.reopen();
        }
        db.view(|tx| {
            let b = tx.bucket("t")?.unwrap();
            assert_eq!(b.len()?, n + 4);
            for i in (0..n).step_by(97) {
                let want = if i == 17 { b"changed".to_vec() } else { val(i) };
                assert_eq!(b.get(key(i))?, Some(&want[..]), "key {i}");
            }
            assert_eq!(b.get(key(17))?, Some(&b"changed"[..]));
            for i in (0..n).step_by(5_000) {
                let sub = b.bucket(format!("sub{i}"))?.unwrap();
                assert_eq!(sub.get("k")?, Some(&b"v"[..]));
            }
            let s = b.stats()?;
            assert!(
                s.leaf_inuse * 100 >= s.leaf_alloc * 90,
                "leaves {} of {} bytes in use",
                s.leaf_inuse,
                s.leaf_alloc
            );
            Ok(())
        })
        .unwrap();
    }
    db.must_check();
}

/// A read transaction answers `len` from the latest counts it was handed at begin; an entry
/// for a page the writer reuses must leave before the page is rewritten. A bucket here flips
/// between a single leaf and a branch over two or three leaves, so its root keeps landing on
/// page ids that were counted branch roots a few commits before. (Without the recent counts
/// forgetting reused pages, a leaf root at such an id reported the old branch's count.) Seed
/// from `RBOLT_LEN_SEED`, printed.
#[test]
fn recent_counts_forget_a_branch_root_reused_as_a_leaf() {
    let seed = len_seed("recent counts");
    let mut rng = Rng::new(seed);
    let db = TempDb::with_options(Options::new().page_size(1024));
    let mut model: BTreeMap<u8, ()> = BTreeMap::new();
    for round in 0..1500 {
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists(b"b")?;
            for _ in 0..rng.range(1, 30) {
                let k = rng.below(34) as u8;
                if rng.chance(0.5) {
                    b.put([k], [7; 40])?;
                    model.insert(k, ());
                } else {
                    b.delete([k])?;
                    model.remove(&k);
                }
            }
            Ok(())
        })
        .unwrap();
        let n = db.view(|tx| tx.bucket(b"b")?.unwrap().len()).unwrap();
        assert_eq!(n, model.len() as u64, "seed {seed} round {round}");
    }
}
