//! The public API's semantics and errors, matched against bbolt's: buckets, keys, cursors,
//! transactions, locking, read-only mode, freelist reuse, poisoning and bad files.

use rbolt::{Error, Options};
use rbolt_testkit::TempDb;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn keys<'a>(it: impl Iterator<Item = rbolt::Result<rbolt::Item<'a>>>) -> Vec<Vec<u8>> {
    it.map(|e| e.unwrap().0.to_vec()).collect()
}

#[test]
fn fresh_file_is_four_pages_like_bbolt() {
    let db = TempDb::with_options(Options::new().page_size(4096));
    let bytes = std::fs::read(db.path()).unwrap();
    assert_eq!(bytes.len(), 16384);
    // bbolt.md §3.8 golden checksums at page offset 72.
    assert_eq!(&bytes[72..80], &0x0751_6E11_4689_FDEEu64.to_le_bytes());
    assert_eq!(
        &bytes[4096 + 72..4096 + 80],
        &0x264C_351A_5179_480Fu64.to_le_bytes()
    );
    let tx = db.begin_read().unwrap();
    assert_eq!((tx.id().get(), tx.size()), (1, 16384));
}

#[test]
fn key_and_bucket_errors_match_bbolt() {
    let db = TempDb::new();
    let tx = db.begin_write().unwrap();
    assert!(matches!(
        tx.create_bucket(b""),
        Err(Error::BucketNameRequired)
    ));
    assert!(matches!(
        tx.create_bucket(vec![1; 32769]),
        Err(Error::KeyTooLarge)
    ));
    let b = tx.create_bucket(b"b").unwrap();
    assert!(matches!(tx.create_bucket(b"b"), Err(Error::BucketExists)));
    assert!(matches!(b.put(b"", b"v"), Err(Error::KeyRequired)));
    assert!(matches!(
        b.put(vec![1; 32769], b"v"),
        Err(Error::KeyTooLarge)
    ));
    let huge = vec![0u8; rbolt::MAX_VALUE_SIZE + 1];
    assert!(matches!(b.put(b"k", &huge), Err(Error::ValueTooLarge)));
    b.put(b"v", b"1").unwrap();
    b.create_bucket(b"sub").unwrap();
    assert!(matches!(
        b.create_bucket(b"v"),
        Err(Error::IncompatibleValue)
    ));
    assert!(matches!(b.put(b"sub", b"x"), Err(Error::IncompatibleValue)));
    assert!(matches!(b.delete(b"sub"), Err(Error::IncompatibleValue)));
    assert!(matches!(
        b.delete_bucket(b"v"),
        Err(Error::IncompatibleValue)
    ));
    assert!(matches!(
        b.delete_bucket(b"nope"),
        Err(Error::BucketNotFound)
    ));
    assert!(matches!(
        tx.delete_bucket(b"nope"),
        Err(Error::BucketNotFound)
    ));
    // get on a bucket name is None; a missing key too; delete of a missing key is fine.
    assert_eq!(b.get(b"sub").unwrap(), None);
    assert_eq!(b.get(b"missing").unwrap(), None);
    b.delete(b"missing").unwrap();
    assert!(b.bucket(b"v").unwrap().is_none(), "a value is not a bucket");
    tx.commit().unwrap();
}

#[test]
fn empty_values_and_buckets_are_distinguishable() {
    let db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        b.put(b"empty", b"")?;
        b.create_bucket(b"sub")?;
        // Inside the writing tx too (bbolt returns nil here; we return the empty value).
        assert_eq!(b.get(b"empty")?, Some(&b""[..]));
        Ok(())
    })
    .unwrap();
    let r = db.begin_read().unwrap();
    let b = r.bucket(b"b").unwrap().unwrap();
    assert_eq!(b.get(b"empty").unwrap(), Some(&b""[..]));
    let items: Vec<_> = b.iter().map(Result::unwrap).collect();
    assert_eq!(
        items,
        vec![(&b"empty"[..], Some(&b""[..])), (&b"sub"[..], None)]
    );
    let mut names = Vec::new();
    b.for_each_bucket(|k| {
        names.push(k.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(names, vec![b"sub".to_vec()]);
}

#[test]
fn values_stay_valid_across_later_writes_in_the_same_tx() {
    let db = TempDb::new();
    let tx = db.begin_write().unwrap();
    let b = tx.create_bucket(b"b").unwrap();
    b.put(b"k", b"first").unwrap();
    let v1 = b.get(b"k").unwrap().unwrap();
    for i in 0..2000u32 {
        b.put(i.to_be_bytes(), [1; 64]).unwrap();
    }
    b.put(b"k", b"second").unwrap();
    b.delete(b"k").unwrap();
    assert_eq!(v1, b"first");
    tx.commit().unwrap();
}

#[test]
fn nested_buckets_to_depth_ten_and_recursive_delete_frees_pages() {
    let mut db = TempDb::new();
    db.update(|tx| {
        let mut b = tx.create_bucket(b"l0")?;
        for d in 1..10u8 {
            for i in 0..300u32 {
                b.put(i.to_be_bytes(), [d; 50])?;
            }
            b = b.create_bucket([b'l', b'0' + d])?;
        }
        b.put(b"deepest", b"yes")
    })
    .unwrap();
    let size_full = db.begin_read().unwrap().size();
    db.reopen();
    db.view(|tx| {
        let mut b = tx.bucket(b"l0")?.unwrap();
        for d in 1..10u8 {
            b = b.bucket([b'l', b'0' + d])?.unwrap();
        }
        assert_eq!(b.get(b"deepest")?, Some(&b"yes"[..]));
        Ok(())
    })
    .unwrap();
    db.update(|tx| tx.delete_bucket(b"l0")).unwrap();
    // Refill: freed pages are reused, so the file does not grow again.
    db.update(|tx| {
        let b = tx.create_bucket(b"again")?;
        for i in 0..2000u32 {
            b.put(i.to_be_bytes(), [9; 50])?;
        }
        Ok(())
    })
    .unwrap();
    assert!(db.begin_read().unwrap().size() <= size_full + 4 * 4096);
    db.reopen();
    assert!(db.begin_read().unwrap().bucket(b"l0").unwrap().is_none());
}

/// Root page of top-level bucket `name` in the latest snapshot (0 when inline).
fn root_of(db: &rbolt::Db, name: &[u8]) -> u64 {
    db.begin_read()
        .unwrap()
        .bucket(name)
        .unwrap()
        .unwrap()
        .root()
        .get()
}

#[test]
fn buckets_move_between_inline_and_paged_form() {
    let mut db = TempDb::with_options(Options::new().page_size(4096));
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))
        .unwrap();
    assert_eq!(root_of(&db, b"b"), 0, "small: inline");
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        for i in 0..40u32 {
            b.put(i.to_be_bytes(), [1; 30])?; // 40 × 50 bytes > 1024
        }
        Ok(())
    })
    .unwrap();
    assert_ne!(root_of(&db, b"b"), 0, "grew: paged");
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        for i in 0..40u32 {
            b.delete(i.to_be_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    db.reopen();
    let r = db.begin_read().unwrap();
    let b = r.bucket(b"b").unwrap().unwrap();
    assert_eq!(b.root().get(), 0, "shrank: inline again");
    assert_eq!(b.get(b"k").unwrap(), Some(&b"v"[..]));
}

#[test]
fn sequences_persist() {
    let mut db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        assert_eq!(b.next_sequence()?, 1);
        assert_eq!(b.next_sequence()?, 2);
        tx.create_bucket(b"c")?.set_sequence(u64::MAX)
    })
    .unwrap();
    db.reopen();
    db.update(|tx| {
        assert_eq!(tx.bucket(b"c")?.unwrap().sequence(), u64::MAX);
        assert_eq!(tx.bucket(b"b")?.unwrap().next_sequence()?, 3);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        db.begin_read()
            .unwrap()
            .bucket(b"b")
            .unwrap()
            .unwrap()
            .sequence(),
        3
    );
}

#[test]
fn cursor_follows_bbolt_1_4_semantics() {
    let db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for k in [b"a", b"b", b"c"] {
            b.put(k, b"")?;
        }
        Ok(())
    })
    .unwrap();
    let r = db.begin_read().unwrap();
    let b = r.bucket(b"b").unwrap().unwrap();
    let mut c = b.cursor();
    let k = |i: Option<rbolt::Item<'_>>| i.map(|(k, _)| k.to_vec());
    assert_eq!(k(c.last().unwrap()), Some(b"c".to_vec()));
    assert_eq!(k(c.next().unwrap()), None);
    // After running off the end the cursor stays on the last entry.
    assert_eq!(k(c.prev().unwrap()), Some(b"b".to_vec()));
    assert_eq!(k(c.first().unwrap()), Some(b"a".to_vec()));
    assert_eq!(k(c.prev().unwrap()), None);
    assert_eq!(k(c.next().unwrap()), Some(b"b".to_vec()));
    assert_eq!(k(c.seek(b"bb").unwrap()), Some(b"c".to_vec()));
    assert_eq!(k(c.seek(b"d").unwrap()), None);
    assert_eq!(k(c.seek(b"").unwrap()), Some(b"a".to_vec()));
    let empty = db.begin_write().unwrap();
    let e = empty.create_bucket(b"e").unwrap();
    assert_eq!(e.cursor().first().unwrap(), None);
    assert_eq!(e.cursor().last().unwrap(), None);
    assert_eq!(e.iter().next().transpose().unwrap(), None);
}

#[test]
fn deleting_while_iterating_skips_nothing() {
    let db = TempDb::with_options(Options::new().page_size(1024));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0..3000u32 {
            b.put(i.to_be_bytes(), [1; 20])?;
        }
        Ok(())
    })
    .unwrap();
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        let mut c = b.cursor();
        let mut item = c.first()?;
        let mut seen = 0u32;
        while let Some((k, _)) = item {
            assert_eq!(k, seen.to_be_bytes());
            if !seen.is_multiple_of(3) {
                c.delete()?;
            } else {
                b.put([k, b"x"].concat(), b"inserted behind the cursor")?;
                // The inserted key sorts right after k: the cursor must return it next.
                let (nk, _) = c.next()?.unwrap();
                assert_eq!(nk, [k, b"x"].concat());
            }
            seen += 1;
            item = c.next()?;
        }
        assert_eq!(seen, 3000);
        Ok(())
    })
    .unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(r.bucket(b"b").unwrap().unwrap().iter().count(), 2000);
}

#[test]
fn ranges_and_double_ended_iteration() {
    let db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0..500u32 {
            b.put(format!("k{i:04}").as_bytes(), b"v")?;
        }
        Ok(())
    })
    .unwrap();
    let r = db.begin_read().unwrap();
    let b = r.bucket(b"b").unwrap().unwrap();
    let want = |lo: u32, hi: u32| -> Vec<Vec<u8>> {
        (lo..hi).map(|i| format!("k{i:04}").into_bytes()).collect()
    };
    assert_eq!(keys(b.range(&b"k0100"[..]..&b"k0200"[..])), want(100, 200));
    assert_eq!(keys(b.range(&b"k0100"[..]..=&b"k0200"[..])), want(100, 201));
    assert_eq!(keys(b.range(&b"k04995"[..]..)), Vec::<Vec<u8>>::new());
    assert_eq!(keys(b.range(..&b"k0003"[..])), want(0, 3));
    let mut rev = keys(b.range(&b"k0100"[..]..&b"k0200"[..]).rev());
    rev.reverse();
    assert_eq!(rev, want(100, 200));
    // Front and back meet without overlap.
    let mut it = b.iter();
    let mut got = Vec::new();
    loop {
        match (it.next(), it.next_back()) {
            (Some(a), Some(z)) => {
                got.push(a.unwrap().0.to_vec());
                got.push(z.unwrap().0.to_vec());
            }
            (Some(a), None) => got.push(a.unwrap().0.to_vec()),
            (None, _) => break,
        }
    }
    got.sort();
    assert_eq!(got, want(0, 500));
    use std::ops::Bound;
    let excl = (
        Bound::Excluded(&b"k0010"[..]),
        Bound::Excluded(&b"k0013"[..]),
    );
    assert_eq!(keys(b.range(excl)), want(11, 13));
    assert_eq!(
        keys(b.range(excl).rev()),
        vec![want(12, 13)[0].clone(), want(11, 12)[0].clone()]
    );
}

#[test]
fn rollback_drop_and_closure_errors_discard_changes() {
    let db = TempDb::new();
    let tx = db.begin_write().unwrap();
    tx.create_bucket(b"a").unwrap();
    tx.rollback();
    drop({
        let tx = db.begin_write().unwrap();
        tx.create_bucket(b"b").unwrap();
        tx
    });
    let r: rbolt::Result<()> = db.update(|tx| {
        tx.create_bucket(b"c")?;
        Err(Error::BucketNotFound)
    });
    assert!(matches!(r, Err(Error::BucketNotFound)));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        db.update(|tx| -> rbolt::Result<()> {
            tx.create_bucket(b"d")?;
            panic!("boom")
        })
    }));
    assert!(r.is_err());
    let tx = db.begin_read().unwrap();
    for n in [&b"a"[..], b"b", b"c", b"d"] {
        assert!(tx.bucket(n).unwrap().is_none());
    }
    assert_eq!(tx.id().get(), 1, "nothing was committed");
}

#[test]
fn steady_overwrites_stop_growing_the_file() {
    let db = TempDb::with_options(Options::new().no_sync(true));
    let mut sizes = Vec::new();
    for round in 0..200u32 {
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists(b"b")?;
            for i in 0..200u32 {
                b.put(i.to_be_bytes(), [round as u8; 200])?;
            }
            Ok(())
        })
        .unwrap();
        sizes.push(db.begin_read().unwrap().size());
    }
    assert_eq!(
        sizes[100], sizes[199],
        "high-water mark kept rising: {sizes:?}"
    );
}

#[test]
fn delete_most_keys_merges_pages_and_reuses_them() {
    let mut db = TempDb::with_options(Options::new().page_size(1024));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0..20_000u32 {
            b.put(i.to_be_bytes(), [3; 40])?;
        }
        Ok(())
    })
    .unwrap();
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        for i in 0..20_000u32 {
            if i % 1000 != 0 {
                b.delete(i.to_be_bytes())?;
            }
        }
        Ok(())
    })
    .unwrap();
    db.reopen();
    let r = db.begin_read().unwrap();
    let b = r.bucket(b"b").unwrap().unwrap();
    assert_eq!(
        keys(b.iter()),
        (0..20)
            .map(|i| (i * 1000u32).to_be_bytes().to_vec())
            .collect::<Vec<_>>()
    );
    let full = r.size();
    drop(r);
    // The emptied pages went back to the freelist: refilling does not grow the file.
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        for i in 0..20_000u32 {
            b.put(i.to_be_bytes(), [4; 40])?;
        }
        Ok(())
    })
    .unwrap();
    assert!(
        db.begin_read().unwrap().size() <= full,
        "refill grew the file"
    );
}

#[test]
fn read_only_mode_never_writes_and_refuses_write_txs() {
    let mut db = TempDb::new();
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))
        .unwrap();
    db.close();
    let before = std::fs::read(db.path()).unwrap();
    db.reopen_with(Options::new().read_only(true));
    assert!(db.is_read_only());
    assert!(matches!(db.begin_write(), Err(Error::DatabaseReadOnly)));
    assert_eq!(
        db.begin_read()
            .unwrap()
            .bucket(b"b")
            .unwrap()
            .unwrap()
            .get(b"k")
            .unwrap(),
        Some(&b"v"[..])
    );
    db.close();
    assert_eq!(std::fs::read(db.path()).unwrap(), before);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    assert!(Options::new().read_only(true).open(&missing).is_err());
    assert!(!missing.exists(), "read-only open must not create the file");
}

#[test]
fn file_lock_excludes_writers_and_times_out() {
    let mut db = TempDb::new();
    db.close();
    // The lock held through a descriptor rbolt does not know, as another process would hold
    // it (a second open from this process is refused before it gets to the lock).
    let holder = std::fs::File::open(db.path()).unwrap();
    holder.lock().unwrap();
    let t0 = Instant::now();
    let r = Options::new()
        .timeout(Duration::from_millis(200))
        .open(db.path());
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(t0.elapsed() >= Duration::from_millis(100));
    let r = Options::new()
        .read_only(true)
        .timeout(Duration::from_millis(100))
        .open(db.path());
    assert!(
        matches!(r, Err(Error::Timeout)),
        "shared lock must wait for the writer"
    );
    drop(holder);
    db.reopen();
}

#[test]
fn two_read_only_opens_coexist() {
    let mut db = TempDb::new();
    db.reopen_with(Options::new().read_only(true));
    let other = Options::new()
        .read_only(true)
        .timeout(Duration::from_millis(200))
        .open(db.path());
    assert!(other.is_ok());
}

#[test]
fn bad_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.db");
    std::fs::write(&p, vec![0xAB; 20_000]).unwrap();
    assert!(matches!(Options::new().open(&p), Err(Error::Invalid)));

    let db = TempDb::with_options(Options::new().page_size(4096));
    let good = std::fs::read(db.path()).unwrap();
    drop(db);
    let mut both = good.clone();
    both[70] ^= 1;
    both[4096 + 70] ^= 1;
    std::fs::write(&p, &both).unwrap();
    assert!(matches!(Options::new().open(&p), Err(Error::Checksum)));
    let mut v3 = good.clone();
    v3[20] = 3;
    v3[4096 + 20] = 3;
    std::fs::write(&p, &v3).unwrap();
    assert!(matches!(
        Options::new().open(&p),
        Err(Error::VersionMismatch)
    ));
    let mut one = good.clone();
    one[4096 + 70] ^= 1; // meta 1 (the newer, txid 1) broken: opens on meta 0
    std::fs::write(&p, &one).unwrap();
    let db = Options::new().read_only(true).open(&p).unwrap();
    assert_eq!(db.begin_read().unwrap().id().get(), 0);
}

#[test]
fn corrupt_page_is_an_error_not_a_panic() {
    let mut db = TempDb::with_options(Options::new().page_size(4096));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0..2000u32 {
            b.put(i.to_be_bytes(), [5; 40])?;
        }
        Ok(())
    })
    .unwrap();
    let root = db
        .begin_read()
        .unwrap()
        .bucket(b"b")
        .unwrap()
        .unwrap()
        .root()
        .get();
    db.close();
    let mut bytes = std::fs::read(db.path()).unwrap();
    let saved = bytes.clone();
    // Point the branch's first child far past the end of the file.
    let off = root as usize * 4096 + 16 + 8;
    bytes[off..off + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(db.path(), &bytes).unwrap();
    db.reopen_with(Options::new().read_only(true));
    let tx = db.begin_read().unwrap();
    let b = tx.bucket(b"b").unwrap().unwrap();
    assert!(matches!(
        b.get(0u32.to_be_bytes()),
        Err(Error::Corrupted { .. })
    ));
    assert!(b.iter().any(|e| e.is_err()));
    assert!(!tx.check().is_empty());
    drop(tx);
    db.close();
    std::fs::write(db.path(), &saved).unwrap();
}

#[test]
fn failed_sync_poisons_the_db_until_reopen() {
    let (mut db, probe) = crate::ops_common::probed(Options::new());
    let armed = &probe.fail_syncs;
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"1"))
        .unwrap();
    armed.store(true, Ordering::SeqCst);
    let r = db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"2"));
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
    assert!(matches!(db.begin_write(), Err(Error::Poisoned)));
    // Readers still work on the last state this process knows.
    assert_eq!(
        db.begin_read()
            .unwrap()
            .bucket(b"b")
            .unwrap()
            .unwrap()
            .get(b"k")
            .unwrap(),
        Some(&b"1"[..])
    );
    armed.store(false, Ordering::SeqCst);
    db.reopen_with(Options::new());
    db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"3"))
        .unwrap();
}

/// Regression: the depth guard against cyclic pages also counted bucket nesting, so a
/// legitimate chain of more than 64 nested buckets failed `check` and could not be deleted.
#[test]
fn nesting_buckets_deeper_than_the_tree_depth_guard() {
    let mut db = TempDb::new();
    db.update(|tx| {
        let mut b = tx.create_bucket(b"n0")?;
        for d in 1..200u32 {
            b.put(b"v", d.to_be_bytes())?;
            b = b.create_bucket(format!("n{d}").as_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    db.reopen();
    db.must_check();
    db.update(|tx| tx.delete_bucket(b"n0")).unwrap();
    assert!(db.begin_read().unwrap().bucket(b"n0").unwrap().is_none());
}

/// Regression (found by the interop suite): `check` reported every free page of a file
/// written without a freelist as "unreachable unfreed"; such files' free set is by
/// definition the unreachable pages.
#[test]
fn check_accepts_no_freelist_sync_files() {
    let mut db = TempDb::with_options(Options::new().no_freelist_sync(true));
    db.update(|tx| tx.create_bucket(b"a")?.put(b"k", b"v"))
        .unwrap();
    db.update(|tx| tx.bucket(b"a")?.unwrap().put(b"k", b"w"))
        .unwrap();
    db.must_check();
    db.reopen_with(Options::new().no_freelist_sync(true).read_only(true));
    assert!(db.begin_read().unwrap().check().is_empty());
}

/// `Db::set_no_sync` turns commits' fdatasyncs off and on while open, from the next write
/// transaction on; a transaction already running keeps the setting it began with.
#[test]
fn set_no_sync_switches_commit_syncs_while_open() {
    let (mut db, probe) = crate::ops_common::probed(Options::new());
    let count = || probe.syncs.load(Ordering::SeqCst);
    let put = |db: &TempDb, i: u32| {
        db.update(|tx| {
            tx.create_bucket_if_not_exists(b"b")?
                .put(i.to_be_bytes(), b"v")
        })
        .unwrap();
    };
    assert!(!db.no_sync());
    let before = count();
    put(&db, 0);
    assert!(
        count() >= before + 2,
        "a durable commit syncs data and meta"
    );

    db.set_no_sync(true);
    assert!(db.no_sync());
    let before = count();
    for i in 1..20 {
        put(&db, i);
    }
    assert_eq!(count(), before, "no-sync commits do not sync");

    let tx = db.begin_write().unwrap();
    tx.bucket(b"b")
        .unwrap()
        .unwrap()
        .put(b"running", b"v")
        .unwrap();
    db.set_no_sync(false);
    tx.commit().unwrap();
    assert_eq!(count(), before, "the running transaction kept its setting");

    put(&db, 20);
    assert!(count() >= before + 2, "durable again");
    db.reopen();
    let n = db.view(|tx| tx.bucket(b"b")?.unwrap().len()).unwrap();
    assert_eq!(n, 22);

    let opened = TempDb::with_options(Options::new().no_sync(true));
    assert!(opened.no_sync(), "Options::no_sync is the initial setting");
}

/// Regression: a cursor bounded the empty leaves it may skip by the snapshot's page count, so
/// in a write transaction on a young file, iterating after deleting a long run of keys (many
/// staged leaves, now empty) failed with `Corrupted("empty leaves loop")`.
#[test]
fn iterating_after_deleting_a_long_run_in_a_young_file_was_called_a_loop() {
    let db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket("b")?;
        for i in 0..20_000u32 {
            b.put(i.to_be_bytes(), [1u8; 16])?;
        }
        for i in 100..19_900u32 {
            b.delete(i.to_be_bytes())?;
        }
        assert_eq!(b.iter().count(), 200);
        assert_eq!(b.iter().rev().count(), 200);
        let mut kept = b.iter().map(|r| r.map(|(k, _)| k.to_vec()));
        assert_eq!(
            kept.nth(100).transpose()?,
            Some(19_900u32.to_be_bytes().to_vec())
        );
        Ok(())
    })
    .unwrap();
    assert_eq!(
        db.view(|tx| Ok(tx.open_bucket("b")?.iter().count()))
            .unwrap(),
        200
    );
}

/// Deleting keys that are not there, or a sub-bucket's name (an error), changes nothing, so
/// it must not turn the pages on its path into nodes: the commit then rewrites no tree page,
/// only what an empty commit writes.
#[test]
fn deleting_absent_keys_rewrites_no_tree_pages() {
    let mut db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0u32..3000 {
            b.put((i * 2).to_be_bytes(), [7u8; 100])?;
        }
        b.create_bucket(1001u32.to_be_bytes())?.put(b"k", b"v")?;
        Ok(())
    })
    .unwrap();
    db.reopen();
    let pages_of = |db: &TempDb, f: &dyn Fn(&rbolt::Bucket<'_, rbolt::ReadWrite>)| {
        let before = db.stats();
        db.update(|tx| {
            f(&tx.bucket(b"b")?.expect("bucket b"));
            Ok(())
        })
        .unwrap();
        db.stats().sub(&before).tx_stats.page_count
    };
    let empty = pages_of(&db, &|_| {});
    let deletes = pages_of(&db, &|b| {
        for i in (0u32..3000).step_by(7) {
            b.delete((i * 2 + 1).to_be_bytes()).unwrap();
        }
        assert!(matches!(
            b.delete(1001u32.to_be_bytes()),
            Err(Error::IncompatibleValue)
        ));
    });
    assert_eq!(
        deletes, empty,
        "pages written: absent deletes vs an empty commit"
    );
    let present = pages_of(&db, &|b| b.delete(4u32.to_be_bytes()).unwrap());
    assert!(present > empty, "a real delete rewrites its path");
    db.view(|tx| {
        let b = tx.bucket(b"b")?.expect("bucket b");
        assert_eq!(b.len()?, 3000);
        assert_eq!(b.get(4u32.to_be_bytes())?, None);
        assert!(b.bucket(1001u32.to_be_bytes())?.is_some());
        Ok(())
    })
    .unwrap();
}

/// A commit grows the file once, ahead of writing, by an estimate that counts every changed
/// node as a page; thousands of new inline buckets (written into their parent's leaf, no page
/// of their own) made it grow by tens of MiB it never used, and with shrinking off (bbolt's
/// behaviour) the file kept them.
#[test]
fn many_new_inline_buckets_left_the_file_grown_by_pages_never_written() {
    let db = TempDb::with_options(Options::new().shrink(false));
    db.update(|tx| {
        let top = tx.create_bucket(b"top")?;
        for i in 0u32..20_000 {
            top.create_bucket(i.to_be_bytes())?.put(b"k", b"v")?;
        }
        Ok(())
    })
    .unwrap();
    let used = db.view(|tx| Ok(tx.size())).unwrap();
    let len = std::fs::metadata(db.path()).unwrap().len();
    assert!(used < 4 << 20, "the buckets need {used} bytes");
    assert!(
        len <= (used * 2).max(32 << 10),
        "file {len} bytes for {used} bytes of pages"
    );
}
