//! `rbolt::compact`: the copy has exactly the source's dump (buckets, keys, values, sequences)
//! and a churned file comes out much smaller.

use crate::ops_common::{dump, file_len, go_agrees, probed};
use rbolt::{Bucket, Error, Options};
use rbolt_testkit::TempDb;
use rbolt_testkit::rng::Rng;
use std::sync::atomic::Ordering;

/// Random nested buckets with sequences, empty and large values, inline and paged buckets,
/// then churn: overwrites, deletes and bucket deletes over several commits.
fn churned_source(seed: u64) -> TempDb {
    let db = TempDb::with_options(Options::new().no_sync(true));
    let mut rng = Rng::new(seed);
    for round in 0..12 {
        db.update(|tx| {
            for t in 0..6u8 {
                let top = tx.create_bucket_if_not_exists([b'T', t])?;
                top.set_sequence(rng.random_range(0..1000))?;
                fill(&top, &mut rng, 2)?;
            }
            if round % 4 == 3 {
                let victim = [b'T', rng.random_range(0..6u8)];
                if tx.bucket(victim)?.is_some() {
                    tx.delete_bucket(victim)?;
                }
            }
            Ok(())
        })
        .unwrap();
    }
    db
}

fn fill(b: &Bucket<'_, rbolt::ReadWrite>, rng: &mut Rng, depth: u32) -> rbolt::Result<()> {
    for _ in 0..rng.random_range(20..400) {
        let k: Vec<u8> = (0..rng.random_range(1..12)).map(|_| rng.random()).collect();
        if b.bucket(&k)?.is_some() {
            continue;
        }
        match rng.random_range(0..20) {
            0 => b.put(&k, [])?,
            1 => b.put(&k, vec![rng.random(); rng.random_range(2000..9000)])?,
            2..=5 => b.delete(&k)?,
            _ => b.put(&k, vec![rng.random(); rng.random_range(1..200)])?,
        }
    }
    // Remove some existing keys too, so pages free up in the middle of the file.
    let keys: Vec<Vec<u8>> = b
        .iter()
        .filter_map(|e| e.ok())
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k.to_vec())
        .collect();
    for k in keys.iter().filter(|_| rng.random_range(0..3) == 0) {
        b.delete(k)?;
    }
    if depth > 0 {
        for c in 0..rng.random_range(0..3u8) {
            // 13 bytes: longer than any random key, so never taken by a value.
            let mut name = vec![b'C'; 12];
            name.push(c);
            let child = b.create_bucket_if_not_exists(&name)?;
            child.set_sequence(rng.random())?;
            fill(&child, rng, depth - 1)?;
        }
    }
    Ok(())
}

#[test]
fn compaction_preserves_the_dump_exactly() {
    for (seed, tx_max) in [(1, 0), (2, 4096), (3, 1 << 20)] {
        let src = churned_source(seed);
        let want = dump(&src);
        assert!(want.contains(" seq="), "has buckets");
        let mut dst = TempDb::new();
        let txid0 = dst.info().txid.get();
        rbolt::compact(&dst, &src, tx_max).unwrap();
        assert_eq!(dump(&dst), want, "seed {seed}, tx_max {tx_max}");
        let commits = dst.info().txid.get() - txid0;
        if tx_max == 0 {
            assert_eq!(commits, 1, "one transaction");
        } else if tx_max == 4096 {
            assert!(commits > 10, "{commits} commits for a small tx_max_size");
        }
        dst.close(); // Go takes the file lock
        go_agrees(dst.path(), &want);
    }
}

#[test]
fn compaction_shrinks_a_churned_file() {
    let src = TempDb::with_options(Options::new().no_sync(true).page_size(4096));
    src.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0u32..60_000 {
            b.put(i.to_be_bytes(), [1; 64])?;
        }
        Ok(())
    })
    .unwrap();
    // Keep every tenth key: most pages are freed but stay inside the file.
    src.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        for i in (0u32..60_000).filter(|i| i % 10 != 0) {
            b.delete(i.to_be_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    let want = dump(&src);
    let dst = TempDb::with_options(Options::new().page_size(4096));
    rbolt::compact(&dst, &src, 64 << 10).unwrap();
    assert_eq!(dump(&dst), want);
    let (s, d) = (src.info(), dst.info());
    let (s_stats, d_stats) = (
        src.view(|tx| tx.bucket(b"b")?.unwrap().stats()).unwrap(),
        dst.view(|tx| tx.bucket(b"b")?.unwrap().stats()).unwrap(),
    );
    assert!(
        d.hwm.get() * 4 < s.hwm.get(),
        "high-water mark {} → {} pages",
        s.hwm.get(),
        d.hwm.get()
    );
    assert!(file_len(dst.path()) * 4 < file_len(src.path()));
    // Fill percent 1.0: leaves come out nearly full.
    let fill = d_stats.leaf_inuse as f64 / d_stats.leaf_alloc as f64;
    assert!(fill > 0.9, "leaf fill {fill:.2} (source {:.2})", {
        s_stats.leaf_inuse as f64 / s_stats.leaf_alloc as f64
    });
}

fn source(keys: u32) -> TempDb {
    let src = TempDb::with_options(Options::new().no_sync(true));
    src.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        b.create_bucket(b"nested")?.put(b"k", b"v")?;
        for i in 0..keys {
            // 16 + 4 + 99 bytes: 34 a page, not quite filling it (bbolt's split rule cuts a
            // node of exactly one page in two).
            b.put(i.to_be_bytes(), [3; 99])?;
        }
        Ok(())
    })
    .unwrap();
    src
}

/// Into an empty destination only the last commit syncs, and it makes the whole copy
/// durable; write-back of the unsynced commits starts each time a MiB of them is waiting
/// (small as they are); afterwards the destination's commits sync again and small ones start
/// no write-back. The file ends at the high-water mark: no growth slack is left behind.
#[test]
fn compaction_into_an_empty_file_syncs_once_and_leaves_no_slack() {
    let src = source(40_000);
    let want = dump(&src);
    let (mut dst, probe) = probed(Options::new().page_size(4096));
    let syncs = &probe.syncs;
    let (txid0, syncs0) = (dst.info().txid.get(), syncs.load(Ordering::SeqCst));
    rbolt::compact(&dst, &src, 64 << 10).unwrap();
    let commits = dst.info().txid.get() - txid0;
    let during = syncs.load(Ordering::SeqCst) - syncs0;
    assert!(commits > 50, "{commits} commits");
    assert!(during <= 3, "{during} syncs for {commits} commits");
    let kicks = probe.writebacks.load(Ordering::SeqCst);
    assert!((3..=5).contains(&kicks), "{kicks} write-backs for ≈ 4.9 MB");
    assert_eq!(
        file_len(dst.path()),
        dst.info().hwm.get() * 4096,
        "no slack"
    );
    // 40,000 / 34 = 1,177 full leaves and a few branch pages: 4.9 MB.
    assert!(file_len(dst.path()) < 5 << 20, "{}", file_len(dst.path()));
    let before = syncs.load(Ordering::SeqCst);
    dst.update(|tx| tx.create_bucket(b"after")?.put(b"k", b"v"))
        .unwrap();
    assert!(syncs.load(Ordering::SeqCst) >= before + 2, "durable again");
    assert_eq!(
        probe.writebacks.load(Ordering::SeqCst),
        kicks,
        "a small commit starts none"
    );
    dst.update(|tx| tx.delete_bucket(b"after")).unwrap();
    assert_eq!(dump(&dst), want);
    dst.reopen();
    assert_eq!(dump(&dst), want);
    dst.close();
    go_agrees(dst.path(), &want);
}

/// A destination that already holds data keeps a durable commit each time.
#[test]
fn compaction_into_a_non_empty_file_syncs_every_commit() {
    let src = source(20_000);
    let (dst, probe) = probed(Options::new());
    let syncs = &probe.syncs;
    dst.update(|tx| tx.create_bucket(b"already")?.put(b"k", b"v"))
        .unwrap();
    let (txid0, syncs0) = (dst.info().txid.get(), syncs.load(Ordering::SeqCst));
    rbolt::compact(&dst, &src, 64 << 10).unwrap();
    let commits = dst.info().txid.get() - txid0;
    assert!(commits > 20, "{commits} commits");
    assert!(syncs.load(Ordering::SeqCst) - syncs0 >= 2 * commits);
    // Each commit syncs its own 64 KiB: nothing carries over to start early.
    assert_eq!(probe.writebacks.load(Ordering::SeqCst), 0);
}

/// A compaction that fails half-way (the destination's size limit) leaves the destination's
/// commits durable.
#[test]
fn failed_compaction_restores_durable_commits() {
    let src = source(40_000);
    let (dst, probe) = probed(Options::new().max_size(1 << 20));
    let syncs = &probe.syncs;
    let r = rbolt::compact(&dst, &src, 64 << 10);
    assert!(matches!(r, Err(Error::MaxSizeReached)), "{r:?}");
    let before = syncs.load(Ordering::SeqCst);
    dst.update(|tx| {
        tx.delete_bucket(b"b")?;
        tx.create_bucket(b"c")?.put(b"k", b"v")
    })
    .unwrap();
    assert!(syncs.load(Ordering::SeqCst) >= before + 2, "durable again");
}
