//! Files and data at the format's extremes, and files whose freelist or tree structure lies:
//! every walker stays within a small call stack, and no writer is ever handed a page that a
//! snapshot can reach.

use rbolt::{Db, Error, MAX_NESTING, Options};
use rbolt_format::{BUCKET_LEAF_FLAG, LeafPage, Meta};
use rbolt_testkit::TempDb;
use rbolt_testkit::hostile::{deep_file, free_a_live_page};
use std::path::Path;

/// Runs `f` on a thread with a small stack: a walker whose call stack grew with the file's
/// depth or nesting would overflow it and abort the test binary.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// The active meta of a file image.
fn meta_of(img: &[u8], ps: usize) -> Meta {
    [0, 1]
        .into_iter()
        .filter_map(|id| Meta::decode(&img[id * ps..(id + 1) * ps]).ok())
        .max_by_key(|m| m.txid)
        .unwrap()
}

fn open_rw(path: &Path) -> rbolt::Result<Db> {
    rbolt_testkit::freelist_from_env(Options::new()).open(path)
}

/// Walks down `n` buckets named `b` below the top level.
fn descend<M: rbolt::Mode>(tx: &rbolt::Tx<M>, n: usize) -> rbolt::Bucket<'_, M> {
    let mut b = tx.bucket(b"b").unwrap().unwrap();
    for _ in 1..n {
        b = b.bucket(b"b").unwrap().unwrap();
    }
    b
}

/// Regression: the tree walkers recursed once per tree level and per nested bucket, so a
/// valid file of 1000 nested buckets, each rooted in a chain of 32 branch pages, overflowed
/// the stack (an abort, not an error) in a read-write open and in `check`.
#[test]
fn deep_file_opens_walks_and_writes_on_a_small_stack() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.db");
    std::fs::write(&path, deep_file(1024, 1000, 32)).unwrap();
    let copy = dir.path().join("compacted.db");
    let (p, c) = (path.clone(), copy.clone());
    on_small_stack(move || {
        let db = open_rw(&p).unwrap();
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.check(), vec![], "the crafted file is valid");
        let top = tx.bucket(b"b").unwrap().unwrap();
        let stats = top.stats().unwrap();
        assert_eq!(stats.bucket_n, 1000);
        assert_eq!(stats.key_n, 1000, "999 sub-bucket names and one key");
        assert_eq!(
            stats.depth,
            1000 * 33,
            "every bucket adds its chain and its leaf"
        );
        let mut tree = tx.inspect().unwrap();
        for _ in 0..1000 {
            assert_eq!(tree.children.len(), 1);
            tree = tree.children.pop().unwrap();
        }
        assert_eq!(tree.key_n, 1);
        assert_eq!(descend(&tx, 1000).get(b"k").unwrap(), Some(&b"v"[..]));
        drop(tx);

        // A write at the bottom makes every bucket on the path dirty, so commit spills 1000
        // nested buckets.
        db.update(|tx| descend(tx, 1000).put(b"k2", b"v2")).unwrap();
        let dst = Options::new().no_sync(true).open(&c).unwrap();
        rbolt::compact(&dst, &db, 64 * 1024).unwrap();
        let tx = dst.begin_read().unwrap();
        assert_eq!(tx.check(), vec![]);
        assert_eq!(descend(&tx, 1000).get(b"k2").unwrap(), Some(&b"v2"[..]));
        drop(tx);

        // Deleting the top bucket frees all of it; shrink then gives the space back.
        db.update(|tx| tx.delete_bucket(b"b")).unwrap();
        let before = db.info().hwm.get();
        db.shrink().unwrap();
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.check(), vec![]);
        assert!(
            db.info().hwm.get() < before / 10,
            "{} vs {before}",
            db.info().hwm.get()
        );
    });
}

/// Regression: `Bucket::stats` compared bucket nesting with the tree-depth limit (64), so
/// 80 nested buckets made through the API were reported as corrupted.
#[test]
fn stats_of_80_nested_buckets_is_not_an_error() {
    let db = TempDb::new();
    db.update(|tx| {
        let mut b = tx.create_bucket(b"b")?;
        for _ in 1..80 {
            b = b.create_bucket(b"b")?;
        }
        b.put(b"k", b"v")
    })
    .unwrap();
    let s = db.view(|tx| tx.bucket(b"b")?.unwrap().stats()).unwrap();
    assert_eq!((s.bucket_n, s.key_n), (80, 80));
}

/// Regression: `create_bucket` had no nesting limit while the walkers had one, so data made
/// through the API could be reported as corrupt (and, recursing, overflow a small stack at
/// commit). Now the limit is one constant, enforced where buckets are made and moved.
#[test]
fn nesting_is_limited_where_buckets_are_made() {
    let db = TempDb::new();
    let db2 = std::sync::Arc::new(db);
    let d = db2.clone();
    on_small_stack(move || {
        d.update(|tx| {
            let mut b = tx.create_bucket(b"b")?;
            for _ in 1..MAX_NESTING {
                b = b.create_bucket(b"b")?;
            }
            b.put(b"k", b"v")?;
            assert!(matches!(
                b.create_bucket(b"deeper"),
                Err(Error::BucketNestingTooDeep)
            ));
            Ok(())
        })
        .unwrap();
        let tx = d.begin_read().unwrap();
        assert_eq!(tx.check(), vec![]);
        assert_eq!(
            descend(&tx, MAX_NESTING).get(b"k").unwrap(),
            Some(&b"v"[..])
        );
        let s = tx.bucket(b"b").unwrap().unwrap().stats().unwrap();
        assert_eq!(s.bucket_n, MAX_NESTING as u64);
    });
    // Moving a two-level bucket under the deepest one would pass the limit; one level
    // shallower fits exactly.
    db2.update(|tx| {
        let m = tx.create_bucket(b"m")?;
        m.create_bucket(b"x")?.create_bucket(b"y")?;
        let deepest = descend(tx, MAX_NESTING - 1);
        assert!(matches!(
            m.move_bucket(b"x", &deepest),
            Err(Error::BucketNestingTooDeep)
        ));
        let fits = descend(tx, MAX_NESTING - 2);
        m.move_bucket(b"x", &fits)?;
        let y = descend(tx, MAX_NESTING - 2)
            .bucket(b"x")?
            .unwrap()
            .bucket(b"y")?
            .unwrap();
        assert!(matches!(
            y.create_bucket(b"z"),
            Err(Error::BucketNestingTooDeep)
        ));
        Ok(())
    })
    .unwrap();
    db2.must_check();
}

/// A database with a bucket `a` big enough to have pages of its own, closed; returns the
/// file image, its page size and the page id of `a`'s root.
fn file_with_bucket(path: &Path) -> (Vec<u8>, usize, u64) {
    let db = Options::new().page_size(4096).open(path).unwrap();
    db.update(|tx| {
        let a = tx.create_bucket(b"a")?;
        for i in 0..200u32 {
            a.put(i.to_be_bytes(), [7u8; 40])?;
        }
        let b = tx.create_bucket(b"b")?;
        for i in 0..200u32 {
            b.put(i.to_be_bytes(), [9u8; 40])?;
        }
        Ok(())
    })
    .unwrap();
    let root = db
        .view(|tx| Ok(tx.bucket(b"a")?.unwrap().root().get()))
        .unwrap();
    assert_ne!(root, 0, "bucket a must have pages of its own");
    drop(db);
    (std::fs::read(path).unwrap(), 4096, root)
}

/// Regression: a freelist listing a page the tree still used was believed (the freelist has
/// no checksum), so the writer overwrote a live page: a value a reader had borrowed changed
/// under it. A writer must now refuse the file; readers still read it.
#[test]
fn freelist_listing_a_live_page_is_refused_by_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    let (mut img, ps, root) = file_with_bucket(&path);
    free_a_live_page(&mut img, ps, root).unwrap();
    std::fs::write(&path, &img).unwrap();

    match open_rw(&path) {
        Err(Error::Corrupted { pgid, what }) => {
            assert_eq!(pgid, Some(rbolt::Pgid(root)), "{what}");
            assert!(what.contains("reachable freed"), "{what}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(db) => {
            // What the refusal prevents: a value borrowed by a reader changes under it.
            let tx = db.begin_read().unwrap();
            let a = tx.bucket(b"a").unwrap().unwrap();
            let v = a.get(0u32.to_be_bytes()).unwrap().unwrap();
            for i in 0..20u32 {
                db.update(|tx| {
                    tx.create_bucket_if_not_exists(b"w")?
                        .put(i.to_be_bytes(), [1; 3000])
                })
                .unwrap();
            }
            panic!(
                "a writer opened a file whose freelist lists live page {root}; the reader's value \
                 is now {:02x?}",
                &v[..8]
            );
        }
    }
    let db = Options::new().read_only(true).open(&path).unwrap();
    let v = db
        .view(|tx| {
            Ok(tx
                .bucket(b"a")?
                .unwrap()
                .get(5u32.to_be_bytes())?
                .map(<[u8]>::to_vec))
        })
        .unwrap();
    assert_eq!(v, Some(vec![7u8; 40]));
    let problems = db.begin_read().unwrap().check();
    assert!(
        problems
            .iter()
            .any(|p| p.pgid() == Some(rbolt::Pgid(root)) && p.message() == "reachable freed"),
        "{problems:?}"
    );
}

/// A page reachable through two parents would be freed by copy-on-write through one while
/// the other still reaches it; a writer must refuse such a file too.
#[test]
fn page_reachable_twice_is_refused_by_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.db");
    let (mut img, ps, root) = file_with_bucket(&path);
    // Point bucket b's header at bucket a's root.
    let meta = meta_of(&img, ps);
    let o = meta.root.root.get() as usize * ps;
    let page = LeafPage::new(&img[o..o + ps]).unwrap();
    let e = (0..page.len())
        .map(|i| page.elem(i).unwrap())
        .find(|e| e.flags & BUCKET_LEAF_FLAG != 0 && &img[o + e.key.start..o + e.key.end] == b"b")
        .unwrap();
    let at = o + e.value.start;
    img[at..at + 8].copy_from_slice(&root.to_le_bytes());
    std::fs::write(&path, &img).unwrap();

    match open_rw(&path) {
        Err(Error::Corrupted { what, .. }) => {
            assert!(what.contains("multiple references"), "{what}")
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    let db = Options::new().read_only(true).open(&path).unwrap();
    let n = db.view(|tx| tx.bucket(b"b")?.unwrap().len()).unwrap();
    assert_eq!(n, 200, "readers still read the file");
}

/// Regression: deleting the last entry under a chain of one-element branch pages (valid, and
/// what other writers can leave) emptied every branch up to the root, which was then written
/// as a branch page with no elements — a file `check` rejects.
#[test]
fn deleting_the_last_entry_under_a_branch_chain_leaves_an_empty_leaf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chain.db");
    std::fs::write(&path, deep_file(1024, 1, 3)).unwrap();
    let db = open_rw(&path).unwrap();
    db.update(|tx| tx.delete_bucket(b"b")).unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.check(), vec![]);
    assert_eq!(tx.cursor().first().unwrap(), None);
    drop(tx);
    db.update(|tx| tx.create_bucket(b"again")?.put(b"k", b"v"))
        .unwrap();
    assert_eq!(db.begin_read().unwrap().check(), vec![]);
}

/// A sub-bucket whose root is its parent's own tree contains itself: opening `b` inside `b`
/// never ended, so a walk that opened buckets as it met them (the browser's search) recursed
/// until its thread's stack overflowed and the process aborted.
#[test]
fn a_bucket_rooted_in_its_own_parent_nested_without_end() {
    let ps = 4096;
    // The root bucket's tree is branch page 2 over leaf page 3, which holds bucket `b` rooted
    // at page 4; point `b` at page 2 instead.
    let mut img = deep_file(ps, 1, 1);
    let elem = 3 * ps + 16;
    let word = |o: usize| u32::from_le_bytes(img[o..o + 4].try_into().unwrap()) as usize;
    let value = elem + word(elem + 4) + word(elem + 8);
    img[value..value + 8].copy_from_slice(&2u64.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cycle.db");
    std::fs::write(&path, &img).unwrap();
    // Read-only: a read-write open of a file without a freelist walks the tree first, and
    // that walk already refuses the page referenced twice.
    let db = Options::new().read_only(true).open(&path).unwrap();
    fn depth_reached<M: rbolt::Mode>(mut b: rbolt::Bucket<'_, M>) -> usize {
        let mut depth = 1;
        loop {
            match b.bucket(b"b") {
                Ok(Some(c)) => b = c,
                Ok(None) => panic!("bucket b vanished at depth {depth}"),
                Err(Error::Corrupted { .. }) => return depth,
                Err(e) => panic!("unexpected error at depth {depth}: {e}"),
            }
            depth += 1;
            assert!(depth <= MAX_NESTING + 1, "still nesting at depth {depth}");
        }
    }
    let read = db
        .view(|tx| Ok(depth_reached(tx.bucket(b"b")?.unwrap())))
        .unwrap();
    assert_eq!(read, MAX_NESTING);
    assert!(
        !db.view(|tx| Ok(tx.check())).unwrap().is_empty(),
        "check reports the cycle"
    );
}

/// Materialising a branch for a put reads every element of the page in one pass; an element
/// whose key lies past its page must stop the write as `Corrupted`, never panic or write. The
/// page is damaged after the open (which proves the tree), through the file the map shows.
#[test]
fn a_branch_element_past_its_page_stops_a_put() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("branch.db");
    let (img, ps, root) = file_with_bucket(&path);
    let o = root as usize * ps;
    let page = rbolt_format::BranchPage::new(&img[o..o + ps]).expect("a's root is a branch");
    let at = o + rbolt_format::PAGE_HEADER_SIZE + (page.len() - 1) * rbolt_format::BRANCH_ELEM_SIZE;

    let db = open_rw(&path).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_at(&(ps as u32).to_le_bytes(), at as u64)
        .unwrap(); // pos: past the page
    let mut damaged = img.clone();
    damaged[at..at + 4].copy_from_slice(&(ps as u32).to_le_bytes());

    let put = db.update(|tx| tx.bucket(b"a")?.unwrap().put(0u32.to_be_bytes(), b"x"));
    match put {
        Err(Error::Corrupted { pgid, what }) => {
            assert_eq!(pgid, Some(rbolt::Pgid(root)), "{what}");
            assert!(what.contains("outside the page"), "{what}");
        }
        other => panic!("expected Corrupted, got {:?}", other.map(|_| ())),
    }
    drop(db);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        damaged,
        "nothing was written"
    );
}

/// A database whose bucket `a` is three levels deep (root branch, branches, leaves), closed;
/// returns the file image, its page size and a branch page below `a`'s root with the key of
/// its first entry.
fn file_with_deep_bucket(path: &Path) -> (Vec<u8>, usize, u64, Vec<u8>) {
    let ps = 1024;
    let db = Options::new().page_size(ps).open(path).unwrap();
    db.update(|tx| {
        let a = tx.create_bucket(b"a")?;
        for i in 0..4000u32 {
            a.put(i.to_be_bytes(), [7u8; 20])?;
        }
        Ok(())
    })
    .unwrap();
    let root = db
        .view(|tx| Ok(tx.bucket(b"a")?.unwrap().root().get()))
        .unwrap();
    drop(db);
    let img = std::fs::read(path).unwrap();
    let page = |id: u64| &img[id as usize * ps..(id as usize + 1) * ps];
    let top = rbolt_format::BranchPage::new(page(root)).expect("a's root is a branch");
    let mid = top.child(1).unwrap();
    let branch = rbolt_format::BranchPage::new(page(mid.get())).expect("a has three levels");
    let first = branch.key(0).unwrap().to_vec();
    (img.clone(), ps, mid.get(), first)
}

/// A write's descent keeps the branches it passes as their pages, searching them as readers
/// do, and decodes their entries only to change them; each branch is still checked whole the
/// moment a write reaches it. So damage anywhere in a branch below the root stops a put or a
/// delete under it with the same error (page and first bad element) as a full decode, and
/// nothing is written, whether the damage is in the header, on the search path or off it.
#[test]
fn a_damaged_branch_below_the_root_stops_writes_reaching_it() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.db");
    let (img, ps, mid, first) = file_with_deep_bucket(&path);
    let o = mid as usize * ps;
    let count = rbolt_format::BranchPage::new(&img[o..o + ps])
        .unwrap()
        .len();
    let elem =
        move |i: usize| o + rbolt_format::PAGE_HEADER_SIZE + i * rbolt_format::BRANCH_ELEM_SIZE;
    let last_key = count - 1;
    type Damage = Box<dyn Fn(&mut [u8])>;
    let cases: Vec<(&str, Damage, String)> = vec![
        (
            "page type",
            Box::new(move |img: &mut [u8]| {
                img[o + 8..o + 10].copy_from_slice(&0x40u16.to_le_bytes())
            }),
            "invalid page type 0x40 in a tree".into(),
        ),
        (
            "count past the page",
            Box::new(move |img: &mut [u8]| {
                img[o + 10..o + 12].copy_from_slice(&0xFFFFu16.to_le_bytes())
            }),
            "elements".into(),
        ),
        (
            "every key empty",
            Box::new(move |img: &mut [u8]| {
                for i in 0..count {
                    img[elem(i) + 4..elem(i) + 8].copy_from_slice(&0u32.to_le_bytes());
                }
            }),
            // A put decodes the branch (element 0 first); a delete first searches the pages
            // read-only, as a reader does (meeting the element its search probes).
            "zero-length key".into(),
        ),
        (
            "the last key (off a search for the first) past the page",
            Box::new(move |img: &mut [u8]| {
                let at = elem(last_key);
                img[at..at + 4].copy_from_slice(&(ps as u32).to_le_bytes());
            }),
            format!("element {last_key}: key or value outside the page"),
        ),
    ];
    let key = first.clone();
    for (name, damage, want) in cases {
        let mut damaged = img.clone();
        damage(&mut damaged);
        std::fs::write(&path, &img).unwrap();
        let db = open_rw(&path).unwrap();
        // Damaged after the open (which proves the tree), through the file the map shows.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_at(&damaged[o..o + ps], o as u64).unwrap();
        for op in ["put", "delete"] {
            let r = db.update(|tx| {
                let a = tx.bucket(b"a")?.unwrap();
                match op {
                    "put" => a.put(&key, b"x"),
                    _ => a.delete(&key),
                }
            });
            match r {
                Err(Error::Corrupted { pgid, what }) => {
                    assert_eq!(pgid, Some(rbolt::Pgid(mid)), "{name}, {op}: {what}");
                    assert!(what.contains(&want), "{name}, {op}: {what}");
                }
                other => panic!(
                    "{name}, {op}: expected Corrupted, got {:?}",
                    other.map(|_| ())
                ),
            }
        }
        drop(db);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            damaged,
            "{name}: nothing written"
        );
    }
}
