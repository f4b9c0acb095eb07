//! `Bucket::len` and `Bucket::is_empty` against a model, in read and write transactions, with
//! inline and paged sub-buckets, and on files whose tree is shared or cyclic.

use rbolt::{Bucket, Error, Options};
use rbolt_testkit::TempDb;
use rbolt_testkit::rng::Rng;
use std::collections::BTreeMap;

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
    let seed = std::env::var("RBOLT_LEN_SEED")
        .ok()
        .map_or_else(rbolt_testkit::rng::fresh_seed, |s| {
            s.parse().expect("RBOLT_LEN_SEED must be a u64")
        });
    eprintln!("remembered counts: seed {seed}; replay with RBOLT_LEN_SEED={seed}");
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
