//! Freelist types and the options around the freelist and file size: no_freelist_sync
//! rebuilds, max_size, strict mode, alloc_size, initial_mmap_size, pre_load_freelist.

use crate::ops_common::{dump, file_len, go_agrees};
use rbolt::{Error, FreelistType, Options};
use rbolt_testkit::TempDb;
use std::os::unix::fs::FileExt;

/// Inserts, overwrites and deletes over several commits, leaving a fragmented free set.
fn churn(db: &TempDb, rounds: u32) {
    for r in 0..rounds {
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists(b"b")?;
            for i in 0u32..1500 {
                if (i + r) % 3 == 0 {
                    b.delete(&i.to_be_bytes())?;
                } else {
                    b.put(&i.to_be_bytes(), &vec![r as u8; 20 + (i % 7) as usize * 30])?;
                }
            }
            let c = tx.create_bucket_if_not_exists(&[b'c', (r % 4) as u8])?;
            c.put(&r.to_be_bytes(), &[1; 5000])?;
            if r % 4 == 3 {
                tx.delete_bucket(&[b'c', 1])?;
            }
            Ok(())
        })
        .unwrap();
    }
}

#[test]
fn no_freelist_sync_reopen_rebuilds_an_identical_free_set() {
    let opts = Options::new().no_freelist_sync(true);
    let mut db = TempDb::with_options(opts.clone());
    churn(&db, 10);
    let ids = db.freelist_ids().unwrap();
    assert!(ids.len() > 20, "a fragmented free set: {}", ids.len());
    let before = dump(&db);
    db.reopen();
    assert_eq!(db.freelist_ids().unwrap(), ids, "rebuilt from the tree");
    assert_eq!(dump(&db), before);
    // Opening without the option writes a freelist (as bbolt does): the same ids, less the
    // page(s) that now hold it, plus nothing else.
    db.reopen_with(Options::new());
    let written = db.freelist_ids().unwrap();
    let fl_page = db
        .view(|tx| {
            Ok((0..tx.size() / tx.page_size() as u64).find(|&p| {
                tx.page(rbolt::Pgid(p)).unwrap().unwrap().page_type == rbolt::PageType::Freelist
            }))
        })
        .unwrap()
        .expect("a freelist page");
    assert!(!written.contains(&rbolt::Pgid(fl_page)));
    assert!(written.iter().all(|id| ids.contains(id)));
    db.close();
    go_agrees(db.path(), &before);
}

#[test]
fn both_freelist_types_give_the_same_data_and_valid_files() {
    let mut dumps = Vec::new();
    for t in [FreelistType::Array, FreelistType::Hashmap] {
        let mut db = TempDb::with_options(Options::new().freelist_type(t));
        assert_eq!(db.info().freelist_type, t);
        churn(&db, 8);
        let d = dump(&db);
        db.close();
        go_agrees(db.path(), &d);
        dumps.push(d);
    }
    assert_eq!(dumps[0], dumps[1]);
    assert_eq!("hashmap".parse::<FreelistType>(), Ok(FreelistType::Hashmap));
    assert_eq!("".parse::<FreelistType>(), Ok(FreelistType::Array));
    assert!("list".parse::<FreelistType>().is_err());
}

#[test]
fn the_env_var_picks_the_type_for_every_temp_db() {
    let db = TempDb::new();
    let want = match std::env::var("RBOLT_TEST_FREELIST").as_deref() {
        Ok("hashmap") => FreelistType::Hashmap,
        _ => FreelistType::Array,
    };
    assert_eq!(db.info().freelist_type, want);
    // An explicit choice wins over the environment.
    let db = TempDb::with_options(Options::new().freelist_type(FreelistType::Hashmap));
    assert_eq!(db.info().freelist_type, FreelistType::Hashmap);
}

#[test]
fn max_size_hit_mid_transaction_changes_nothing() {
    let max = 256 << 10;
    let mut db = TempDb::with_options(Options::new().page_size(4096).max_size(max));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0u32..200 {
            b.put(&i.to_be_bytes(), &[3; 100])?;
        }
        Ok(())
    })
    .unwrap();
    let before = dump(&db);
    let txid = db.info().txid.get();
    let tx = db.begin_write().unwrap();
    let b = tx.bucket(b"b").unwrap().unwrap();
    for i in 0u32..400 {
        b.put(&(1000 + i).to_be_bytes(), &[4; 1000]).unwrap();
    }
    assert!(matches!(tx.commit(), Err(Error::MaxSizeReached)));
    assert_eq!(dump(&db), before);
    assert_eq!(db.info().txid.get(), txid);
    assert!(file_len(db.path()) <= max, "the file never passed max_size");
    // Still usable, and a transaction that fits commits.
    db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"small", b"ok"))
        .unwrap();
    db.reopen();
    assert!(dump(&db).contains(" 736d616c6c 6f6b"));
}

#[test]
fn strict_mode_fails_the_commit_instead_of_writing_a_corrupt_meta() {
    let mut db = TempDb::with_options(Options::new().page_size(4096).strict_mode(true));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0u32..500 {
            b.put(&i.to_be_bytes(), &[5; 50])?;
        }
        tx.create_bucket(b"other")?;
        Ok(())
    })
    .unwrap();
    // Damage a leaf of "b" behind the database's back; a commit that does not touch "b"
    // still checks the whole tree and refuses.
    let leaf = db
        .view(|tx| {
            let hwm = tx.size() / 4096;
            Ok((2..hwm)
                .find(|&p| {
                    let i = tx.page(rbolt::Pgid(p)).unwrap().unwrap();
                    i.page_type == rbolt::PageType::Leaf && i.count > 10
                })
                .unwrap())
        })
        .unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(db.path())
        .unwrap();
    let mut saved = [0u8; 8];
    f.read_exact_at(&mut saved, leaf * 4096).unwrap();
    f.write_all_at(&(leaf + 1).to_le_bytes(), leaf * 4096)
        .unwrap(); // wrong page id
    let txid = db.info().txid.get();
    let r = db.update(|tx| tx.bucket(b"other")?.unwrap().put(b"k", b"v"));
    match r {
        Err(Error::Corrupted { what, .. }) => assert!(what.starts_with("strict mode"), "{what}"),
        other => panic!("expected a strict-mode error, got {other:?}"),
    }
    assert_eq!(db.info().txid.get(), txid, "nothing committed");
    f.write_all_at(&saved, leaf * 4096).unwrap();
    db.update(|tx| tx.bucket(b"other")?.unwrap().put(b"k", b"v"))
        .unwrap();
    db.reopen();
}

#[test]
fn alloc_size_and_initial_mmap_size_shape_the_file() {
    // One 20 MiB value: the commit must grow a small file past 16 MiB in one step, to need
    // plus the allocation step.
    let big = |db: &TempDb| {
        db.update(|tx| tx.create_bucket(b"b")?.put(b"k", &vec![1; 20 << 20]))
            .unwrap();
        let need = db.info().hwm.get() * db.page_size() as u64;
        (file_len(db.path()), need)
    };
    let default = TempDb::with_options(Options::new().no_sync(true));
    let (d, need) = big(&default);
    assert!(
        d >= need + (15 << 20) && d <= need + (16 << 20) + 4096,
        "{d} vs {need}"
    );
    let small_step = TempDb::with_options(Options::new().no_sync(true).alloc_size(1 << 20));
    let (s, need) = big(&small_step);
    assert!(s >= need && s <= need + (1 << 20) + 4096, "{s} vs {need}");

    let mut pre = TempDb::with_options(Options::new().initial_mmap_size(8 << 20));
    assert_eq!(file_len(pre.path()), 8 << 20);
    pre.update(|tx| tx.create_bucket(b"x").map(|_| ())).unwrap();
    pre.shrink().unwrap();
    assert_eq!(
        file_len(pre.path()),
        8 << 20,
        "shrink keeps the initial size"
    );
    pre.reopen();
    assert_eq!(file_len(pre.path()), 8 << 20);
}

#[test]
fn pre_load_freelist_fills_read_only_stats() {
    let mut db = TempDb::new();
    churn(&db, 4);
    let free = db.stats().free_page_n + db.stats().pending_page_n;
    assert!(free > 0);
    db.close();
    let plain = Options::new().read_only(true).open(db.path()).unwrap();
    assert_eq!(plain.stats().free_page_n, 0, "not loaded");
    drop(plain);
    let pre = Options::new()
        .read_only(true)
        .pre_load_freelist(true)
        .open(db.path())
        .unwrap();
    assert_eq!(
        pre.stats().free_page_n,
        free,
        "everything on disk is free after reopen"
    );
}

/// Commit latency with 10^6 free pages in a fragmented file, per freelist type (run by hand,
/// in release mode, with the temp dir on tmpfs: it writes a 2 GiB file):
///
/// ```text
/// TMPDIR=/dev/shm cargo test -p rbolt --release --test it -- --ignored --nocapture \
///     bench_commits_with_a_million_free_pages
/// ```
///
/// 1 KiB pages; one transaction writes 2 × 10^6 leaves of two tiny entries each (fill percent
/// 0.1), the next deletes every other leaf's entries: 10^6 single free pages between used
/// ones. Then, per type: reopen (loads the freelist), and time commits that each put one
/// value needing `n` contiguous pages.
#[test]
#[ignore = "benchmark: run by hand in release mode on tmpfs"]
fn bench_commits_with_a_million_free_pages() {
    use std::time::Instant;
    const LEAVES: u32 = 2_000_000;
    let opts = Options::new().page_size(1024).no_sync(true);
    let mut db = TempDb::with_options(opts.clone());
    let t = Instant::now();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        b.set_fill_percent(0.1)?;
        for i in 0..LEAVES * 2 {
            b.put(&i.to_be_bytes(), &[0; 8])?;
        }
        Ok(())
    })
    .unwrap();
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        for leaf in (0..LEAVES).step_by(2) {
            b.delete(&(leaf * 2).to_be_bytes())?;
            b.delete(&(leaf * 2 + 1).to_be_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    db.update(|_| Ok(())).unwrap(); // release the deleted pages
    let s = db.stats();
    println!(
        "built in {:.1} s: {} free + {} pending pages, high-water mark {}, file {} MiB",
        t.elapsed().as_secs_f64(),
        s.free_page_n,
        s.pending_page_n,
        db.info().hwm.get(),
        file_len(db.path()) >> 20
    );
    println!("| freelist | reopen | commit, n=1 | commit, n=2 | commit, n=8 |");
    println!("|---|---|---|---|---|");
    for t in [FreelistType::Array, FreelistType::Hashmap] {
        let o = Instant::now();
        db.reopen_with(opts.clone().freelist_type(t).shrink(false));
        let reopen = o.elapsed();
        let mut row = format!("| {} | {:.0} ms |", t.as_str(), reopen.as_secs_f64() * 1e3);
        for (n, commits) in [(1usize, 50u32), (2, 50), (8, 50)] {
            let v = vec![1u8; n * 1024 - 100];
            let o = Instant::now();
            for c in 0..commits {
                // A bucket of its own: one leaf of exactly `n` pages.
                db.update(|tx| tx.create_bucket(&c.to_be_bytes())?.put(b"v", &v))
                    .unwrap();
            }
            row += &format!(
                " {:.2} ms |",
                o.elapsed().as_secs_f64() * 1e3 / f64::from(commits)
            );
            db.update(|tx| {
                for c in 0..commits {
                    tx.delete_bucket(&c.to_be_bytes())?;
                }
                Ok(())
            })
            .unwrap();
        }
        println!("{row}");
    }
}
