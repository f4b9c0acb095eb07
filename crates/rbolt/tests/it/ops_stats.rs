//! Statistics against hand-computed trees and bbolt's golden shape, plus the introspection
//! calls (`Tx::page`, `Db::info`, `inspect`, check options) and commit hooks.

use rbolt::{BucketStats, CheckOptions, Options, PageType};
use rbolt_testkit::TempDb;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn db4k() -> TempDb {
    TempDb::with_options(Options::new().page_size(4096))
}

/// bbolt's `TestBucket_Stats` (bbolt.md §3.19): 500 small puts, one per transaction, then a
/// 10,000-byte value. Our split rule is bbolt's, so the shape must come out identical.
#[test]
fn bucket_stats_match_bbolt_golden_shape() {
    let db = db4k();
    for i in 0..500 {
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists(b"woojits")?;
            b.put(format!("{i:03}").as_bytes(), i.to_string().as_bytes())
        })
        .unwrap();
    }
    let big_key = b"really-big-value";
    db.update(|tx| tx.bucket(b"woojits")?.unwrap().put(big_key, [b'*'; 10_000]))
        .unwrap();
    let s = db
        .view(|tx| tx.bucket(b"woojits")?.unwrap().stats())
        .unwrap();
    let leaf_inuse = 7 * 16 // leaf page headers
        + 501 * 16 // leaf elements
        + 500 * 3 + big_key.len() as u64 // keys
        + 10 + 2 * 90 + 3 * 400 + 10_000; // values
    let mut want = BucketStats::default();
    want.branch_page_n = 1;
    want.leaf_page_n = 7;
    want.leaf_overflow_n = 2;
    want.key_n = 501;
    want.depth = 2;
    want.branch_alloc = 4096;
    want.branch_inuse = 16 + 7 * 16 + 7 * 3;
    want.leaf_alloc = 36_864;
    want.leaf_inuse = leaf_inuse;
    want.bucket_n = 1;
    assert_eq!(s, want);
}

/// Regression: an ascending load at fill percent 1.0 left every leaf one entry short of full.
/// The split during the transaction kept two entries on its right side, so each page gave
/// its last entry to the next (22 entries of 174 bytes where 23 fit a 4 KiB page: 910 leaves
/// where 870 hold 20,000). Commit packs 23 a page, and so must the appends.
#[test]
fn appends_at_fill_one_left_every_leaf_one_entry_short() {
    let db = db4k();
    let n: u64 = 20_000;
    for fill in [1.0, 0.5] {
        let name = format!("fill {fill}");
        db.update(|tx| {
            let b = tx.create_bucket(name.as_bytes())?;
            b.set_fill_percent(fill)?;
            for i in 0..n {
                b.put(i.to_be_bytes(), [7u8; 150])?;
            }
            Ok(())
        })
        .unwrap();
        let s = db
            .view(|tx| tx.open_bucket(name.as_bytes())?.stats())
            .unwrap();
        // 16 + 8 + 150 bytes an entry, 4,080 bytes a page past its header: 23 entries. At
        // fill 0.5 a page closes before the entry that would pass 2,048 bytes (11 entries),
        // and the last 13 fit one page, as bbolt's commit packs them.
        let want = if fill == 1.0 {
            n.div_ceil(23)
        } else {
            assert_eq!(1_817 * 11 + 13, n);
            1_818
        };
        assert_eq!(s.key_n, n, "{name}");
        assert_eq!(s.leaf_page_n, want, "{name}: {s:?}");
    }
    db.must_check();
}

/// Regression: removing an entry from a leaf that appends had grown (to up to 64 pages)
/// shifted the whole leaf, once per removal, so a queue kept in one transaction (appends at
/// the end, removals at the front) cost a leaf's worth of copying a step. The leaf is cut
/// into its pages before the first removal.
#[test]
fn removal_from_an_appended_leaf_shifted_all_of_it() {
    let db = db4k();
    let tx = db.begin_write().unwrap();
    let b = tx.create_bucket(b"q").unwrap();
    // 1,000 entries of 174 bytes: one node of 43 pages; 91 runs of 11 at fill 0.5.
    for i in 0..1_000u64 {
        b.put(i.to_be_bytes(), [7u8; 150]).unwrap();
    }
    let before = tx.stats().split;
    b.delete(0u64.to_be_bytes()).unwrap();
    // Cut from the last page back; the first two pages (22 entries) fit one page's bytes, so
    // they stay one node, as any node that fits a page does: 89 splits.
    assert_eq!(tx.stats().split - before, 89, "cut into its pages");
    for i in 1_000..3_000u64 {
        b.put(i.to_be_bytes(), [7u8; 150]).unwrap();
        b.delete((i - 999).to_be_bytes()).unwrap();
    }
    let want: Vec<u64> = (2_001..3_000).collect();
    let got: Vec<u64> = b
        .keys()
        .map(|k| u64::from_be_bytes(k.unwrap().try_into().unwrap()))
        .collect();
    assert_eq!(got, want);
    tx.commit().unwrap();
    let got: Vec<u64> = db
        .view(|tx| {
            tx.open_bucket(b"q")?
                .keys()
                .map(|k| k.map(|k| u64::from_be_bytes(k.try_into().unwrap())))
                .collect()
        })
        .unwrap();
    assert_eq!(got, want);
    db.must_check();
}

/// An inline bucket counts only as inline bytes; nesting adds depth and sums counts.
#[test]
fn nested_and_inline_bucket_stats_by_hand() {
    let db = db4k();
    db.update(|tx| {
        let top = tx.create_bucket(b"top")?;
        top.put(b"a", b"12345")?; // 16 + 1 + 5
        let inl = top.create_bucket(b"in")?;
        inl.put(b"k1", b"v1")?; // 16 + 2 + 2
        inl.put(b"k2", b"")?; // 16 + 2 + 0
        // A paged sub-bucket: 40 entries of 16 + 2 + 100 bytes, far over the inline limit.
        let paged = top.create_bucket(b"pg")?;
        for i in 0..40u8 {
            paged.put([b'k', i], [i; 100])?;
        }
        Ok(())
    })
    .unwrap();
    db.view(|tx| {
        let top = tx.bucket(b"top")?.unwrap();
        let inl = top.bucket(b"in")?.unwrap().stats()?;
        let mut want = BucketStats::default();
        want.key_n = 2;
        want.depth = 1;
        want.bucket_n = 1;
        want.inline_bucket_n = 1;
        want.inline_bucket_inuse = 16 + (16 + 4) * 2 - 2;
        assert_eq!(inl, want);
        let pg = top.bucket(b"pg")?.unwrap().stats()?;
        // One leaf would be 16 + 40 × 118 = 4736 bytes > 4096, so bbolt's rule splits it: the
        // first leaf closes before the entry that passes 4096 × 0.5 (16 + 17 × 118 = 2022),
        // and the remaining 23 entries (2730 bytes) fit one page.
        assert_eq!((pg.leaf_page_n, pg.branch_page_n, pg.depth), (2, 1, 2));
        assert_eq!(pg.key_n, 40);
        assert_eq!(pg.leaf_inuse, 2 * 16 + 40 * 118);
        assert_eq!(pg.branch_inuse, 16 + 2 * (16 + 2));
        assert_eq!((pg.leaf_alloc, pg.branch_alloc), (2 * 4096, 4096));

        let all = top.stats()?;
        // top itself: one leaf with "a", "in" (header + inline page) and "pg" (header).
        let inl_value = 16 + inl.inline_bucket_inuse;
        let top_leaf = 16 + (16 + 1 + 5) + (16 + 2 + inl_value) + (16 + 2 + 16);
        assert_eq!(all.bucket_n, 3);
        assert_eq!(all.inline_bucket_n, 1);
        assert_eq!(all.key_n, 3 + 2 + 40);
        assert_eq!(all.leaf_page_n, 1 + 2);
        assert_eq!(all.leaf_inuse, top_leaf + pg.leaf_inuse);
        assert_eq!(
            all.depth,
            1 + 2,
            "top's depth plus the deepest sub-bucket's"
        );
        assert_eq!(all.inline_bucket_inuse, inl.inline_bucket_inuse);
        Ok(())
    })
    .unwrap();
}

#[test]
fn tx_and_db_stats_count_what_happened() {
    let db = db4k();
    let s0 = db.stats();
    let reader = db.begin_read().unwrap();
    assert_eq!(db.stats().open_tx_n, s0.open_tx_n + 1);
    let tx = db.begin_write().unwrap();
    let b = tx.create_bucket(b"b").unwrap();
    // Out of order (appends would grow the last leaf and split it only past 64 pages).
    for i in 0u32..3000 {
        b.put(((i * 7919) % 3000).to_be_bytes(), [7; 60]).unwrap();
    }
    let _c1 = b.cursor();
    let _c2 = tx.cursor();
    let ts = tx.stats();
    assert_eq!(ts.cursor_count, 2);
    assert!(ts.node_count > 0 && ts.split > 0, "{ts:?}");
    assert_eq!(ts.page_count, 0, "nothing allocated before commit");
    drop((_c1, _c2));
    tx.commit().unwrap();
    let s1 = db.stats().sub(&s0);
    // 3000 × 80-byte entries at fill 0.5: 25 to 51 per leaf (the last page of a node may
    // fill up), so 60 to 120 leaves, plus a branch root, a freelist and the root leaf.
    assert!((60..130).contains(&s1.tx_stats.page_count), "{s1:?}");
    assert!(s1.tx_stats.spill >= s1.tx_stats.page_count - 1);
    assert!(s1.tx_stats.write > s1.tx_stats.page_count, "pages + meta");
    assert_eq!(s1.tx_stats.page_alloc, s1.tx_stats.page_count * 4096);
    assert_eq!(s1.tx_stats.cursor_count, 2);

    // Deletes mark nodes for rebalancing; a reader pins the freed pages as pending.
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        for i in 0u32..3000 {
            b.delete(i.to_be_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    let s2 = db.stats();
    assert!(s2.tx_stats.rebalance > s1.tx_stats.rebalance);
    // At least every leaf the 3000 entries of 80 bytes took.
    assert!(s2.pending_page_n >= 3000 * 80 / 4096, "{s2:?}");
    assert_eq!(s2.free_alloc, (s2.free_page_n + s2.pending_page_n) * 4096);
    assert_eq!(
        s2.freelist_inuse,
        16 + 8 * (s2.free_page_n + s2.pending_page_n)
    );
    drop(reader);
    db.update(|_| Ok(())).unwrap();
    let s3 = db.stats();
    assert_eq!(
        s3.pending_page_n, 1,
        "only the last freelist page is pending"
    );
    assert_eq!(s3.open_tx_n, s0.open_tx_n);
    let before = db.stats();
    db.view(|_| Ok(())).unwrap();
    db.view(|tx| {
        let b = tx.open_bucket(b"b")?;
        let _cursors = (b.cursor(), tx.cursor(), b.iter());
        Ok(())
    })
    .unwrap();
    let after = db.stats().sub(&before);
    assert_eq!(after.tx_n, 2);
    assert_eq!(
        after.tx_stats.cursor_count, 3,
        "a reader's cursors count when it ends"
    );
}

#[test]
fn pages_info_and_inspect() {
    let db = db4k();
    db.view(|tx| {
        let kinds: Vec<String> = (0..4)
            .map(|i| {
                tx.page(rbolt::Pgid(i))
                    .unwrap()
                    .unwrap()
                    .page_type
                    .to_string()
            })
            .collect();
        assert_eq!(kinds, ["meta", "meta", "freelist", "leaf"]);
        assert_eq!(tx.page(rbolt::Pgid(4))?, None);
        Ok(())
    })
    .unwrap();
    db.update(|tx| {
        let a = tx.create_bucket(b"a")?;
        for i in 0u16..300 {
            a.put(i.to_be_bytes(), [1; 40])?;
        }
        a.create_bucket(b"x")?
            .create_bucket(b"y")?
            .put(b"k", b"v")?;
        tx.create_bucket(b"b")?;
        Ok(())
    })
    .unwrap();
    let info = db.info();
    assert_eq!(info.page_size, 4096);
    assert!(info.map_len >= info.hwm.get() * 4096);
    db.view(|tx| {
        assert_eq!(tx.id().get(), info.txid.get());
        assert_eq!(tx.size(), info.hwm.get() * 4096);
        // The first commit freed the initial freelist (2) and root leaf (3).
        assert_eq!(tx.page(rbolt::Pgid(2))?.unwrap().page_type, PageType::Free);
        assert_eq!(tx.page(rbolt::Pgid(3))?.unwrap().page_type, PageType::Free);
        let mut counts = std::collections::BTreeMap::new();
        for id in 0..info.hwm.get() {
            let p = tx.page(rbolt::Pgid(id))?.unwrap();
            assert_eq!(p.id.get(), id);
            *counts.entry(p.page_type.to_string()).or_insert(0) += 1;
        }
        assert_eq!(counts["meta"], 2);
        assert_eq!(counts["freelist"], 1);
        assert!(counts["branch"] >= 1 && counts["leaf"] >= 2, "{counts:?}");
        let tree = tx.inspect()?;
        assert_eq!(tree.name, b"root");
        assert_eq!(tree.key_n, 0);
        let names: Vec<&[u8]> = tree.children.iter().map(|c| &c.name[..]).collect();
        assert_eq!(names, [&b"a"[..], b"b"]);
        let a = &tree.children[0];
        assert_eq!(a.key_n, 300);
        assert_eq!(a.children[0].name, b"x");
        assert_eq!(a.children[0].children[0].key_n, 1);
        Ok(())
    })
    .unwrap();
}

#[test]
fn check_options_page_id_and_key_formatter() {
    let mut db = db4k();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0u32..500 {
            b.put(format!("key{i:05}").as_bytes(), [0; 50])?;
        }
        Ok(())
    })
    .unwrap();
    let (root, hwm) = db
        .view(|tx| Ok((tx.bucket(b"b")?.unwrap().root().get(), tx.size() / 4096)))
        .unwrap();
    db.view(|tx| {
        assert!(
            tx.check_with(&CheckOptions::new().page_id(rbolt::Pgid(root)))
                .is_empty()
        );
        let e = tx.check_with(&CheckOptions::new().page_id(rbolt::Pgid(hwm)));
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].to_string(),
            format!("page ID ({hwm}) out of range [2, {hwm})")
        );
        assert_eq!(
            tx.check_with(&CheckOptions::new().page_id(rbolt::Pgid(1)))
                .len(),
            1
        );
        Ok(())
    })
    .unwrap();
    // Swap the first two keys' bytes of a leaf behind the database's back: the check reports
    // the order violation, with keys printed by our formatter.
    let leaf = db
        .view(|tx| {
            (2..hwm)
                .find(|&id| {
                    let p = tx.page(rbolt::Pgid(id)).unwrap().unwrap();
                    p.page_type == PageType::Leaf && p.count > 2
                })
                .ok_or(rbolt::Error::BucketNotFound)
        })
        .unwrap();
    db.close();
    let bytes = std::fs::read(db.path()).unwrap();
    let page = &bytes[leaf as usize * 4096..][..4096];
    let k0 = page.windows(8).position(|w| w.starts_with(b"key")).unwrap();
    let mut bytes = bytes.clone();
    let off = leaf as usize * 4096 + k0;
    bytes[off + 7] = b'9'; // key0xxx9 > key0xxx(n+1) for the first key
    bytes[off + 6] = b'9';
    std::fs::write(db.path(), &bytes).unwrap();
    let ro = Options::new().read_only(true).open(db.path()).unwrap();
    let errs = ro.begin_read().unwrap().check_with(
        &CheckOptions::new().key_formatter(|k| format!("<{}>", String::from_utf8_lossy(k))),
    );
    assert!(
        errs.iter().any(|e| e.to_string().contains("<key")),
        "{errs:?}"
    );
    // Put the file back so the final check passes.
    drop(ro);
    bytes[off + 6] = page[k0 + 6];
    bytes[off + 7] = page[k0 + 7];
    std::fs::write(db.path(), &bytes).unwrap();
    db.reopen();
}

#[test]
fn on_commit_hooks_run_after_commit_only() {
    let db = TempDb::new();
    let hits = Arc::new(AtomicUsize::new(0));
    let tx = db.begin_write().unwrap();
    let (h1, h2) = (hits.clone(), hits.clone());
    tx.on_commit(move || {
        h1.fetch_add(1, Ordering::SeqCst);
    });
    tx.on_commit(move || {
        h2.fetch_add(10, Ordering::SeqCst);
    });
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    tx.create_bucket(b"b").unwrap();
    tx.commit().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 11);
    // Rolled back: never run.
    let tx = db.begin_write().unwrap();
    let h = hits.clone();
    tx.on_commit(move || {
        h.fetch_add(100, Ordering::SeqCst);
    });
    drop(tx);
    assert_eq!(hits.load(Ordering::SeqCst), 11);
    // Hooks run once the writer is released: one may begin a new write transaction.
    let db = Arc::new(db);
    let tx = db.begin_write().unwrap();
    let (d, h) = (db.clone(), hits.clone());
    tx.on_commit(move || {
        d.update(|tx| tx.create_bucket(b"from-hook").map(|_| ()))
            .unwrap();
        h.fetch_add(1000, Ordering::SeqCst);
    });
    tx.commit().unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1011);
    assert!(
        db.view(|tx| Ok(tx.bucket(b"from-hook")?.is_some()))
            .unwrap()
    );
    db.sync().unwrap();
}

/// In a write transaction, changed buckets are counted as their nodes stand.
#[test]
fn bucket_stats_in_a_write_transaction_see_uncommitted_changes() {
    let db = db4k();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0u16..3 {
            b.put(i.to_be_bytes(), b"v")?;
        }
        let s = b.stats()?;
        assert_eq!(
            (s.key_n, s.inline_bucket_n),
            (3, 1),
            "new buckets start inline"
        );
        assert_eq!(s.inline_bucket_inuse, 16 + 3 * (16 + 2 + 1));
        for i in 3u16..400 {
            b.put(i.to_be_bytes(), [1; 40])?;
        }
        assert_eq!(b.stats()?.key_n, 400);
        Ok(())
    })
    .unwrap();
    let s = db.view(|tx| tx.bucket(b"b")?.unwrap().stats()).unwrap();
    assert_eq!((s.key_n, s.inline_bucket_n), (400, 0));
    assert!(s.leaf_page_n > 1 && s.branch_page_n == 1);
}
