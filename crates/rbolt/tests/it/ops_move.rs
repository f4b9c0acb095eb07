//! `move_bucket` (bbolt 1.4 semantics and errors) and `for_each`/`for_each_bucket`.

use crate::ops_common::{dump, go_agrees};
use rbolt::{Error, Options};
use rbolt_testkit::TempDb;

fn setup(db: &TempDb) {
    db.update(|tx| {
        let src = tx.create_bucket(b"src")?;
        // Inline child.
        let small = src.create_bucket(b"small")?;
        small.put(b"a", b"1")?;
        small.set_sequence(5)?;
        // Paged child with a nested bucket.
        let big = src.create_bucket(b"big")?;
        for i in 0u32..2000 {
            big.put(i.to_be_bytes(), [9; 40])?;
        }
        big.create_bucket(b"deep")?.put(b"x", b"y")?;
        src.put(b"plain", b"value")?;
        tx.create_bucket(b"dst")?.put(b"other", b"z")?;
        Ok(())
    })
    .unwrap();
}

#[test]
fn moves_inline_and_paged_buckets_without_copying() {
    let mut db = TempDb::new();
    setup(&db);
    let before = dump(&db);
    let big_root = db
        .view(|tx| Ok(tx.bucket(b"src")?.unwrap().bucket(b"big")?.unwrap().root()))
        .unwrap();
    db.update(|tx| {
        let (src, dst) = (tx.bucket(b"src")?.unwrap(), tx.bucket(b"dst")?.unwrap());
        src.move_bucket(b"small", &dst)?;
        src.move_bucket(b"big", &dst)?;
        assert!(src.bucket(b"small")?.is_none() && src.bucket(b"big")?.is_none());
        let moved = dst.bucket(b"big")?.unwrap();
        assert_eq!(moved.get(7u32.to_be_bytes())?, Some(&[9u8; 40][..]));
        assert_eq!(dst.bucket(b"small")?.unwrap().sequence(), 5);
        Ok(())
    })
    .unwrap();
    let after = dump(&db);
    // The same lines, only re-parented: src/{small,big} now live under dst.
    let src_hex = "737263";
    let dst_hex = "647374";
    let expect: Vec<String> = before
        .lines()
        .map(|l| {
            l.replace(
                &format!("{src_hex}/736d616c6c"),
                &format!("{dst_hex}/736d616c6c"),
            )
            .replace(&format!("{src_hex}/626967"), &format!("{dst_hex}/626967"))
        })
        .collect();
    let mut expect_sorted = expect.clone();
    expect_sorted.sort();
    let mut got: Vec<String> = after.lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got, expect_sorted);
    // No page of the moved tree was copied: same root page.
    let root_after = db
        .view(|tx| Ok(tx.bucket(b"dst")?.unwrap().bucket(b"big")?.unwrap().root()))
        .unwrap();
    assert_eq!(root_after, big_root);
    db.reopen();
    assert_eq!(dump(&db), after);
    db.close();
    go_agrees(db.path(), &after);
}

#[test]
fn uncommitted_changes_move_with_the_bucket() {
    let db = TempDb::new();
    setup(&db);
    db.update(|tx| {
        let src = tx.bucket(b"src")?.unwrap();
        let big = src.bucket(b"big")?.unwrap();
        big.put(b"new", b"fresh")?;
        big.delete(0u32.to_be_bytes())?;
        big.bucket(b"deep")?.unwrap().put(b"x2", b"y2")?;
        // Move to the top level.
        tx.move_bucket(b"big", Some(&src), None)?;
        assert_eq!(
            tx.bucket(b"big")?.unwrap().get(b"new")?,
            Some(&b"fresh"[..])
        );
        Ok(())
    })
    .unwrap();
    db.view(|tx| {
        let big = tx.bucket(b"big")?.unwrap();
        assert_eq!(big.get(b"new")?, Some(&b"fresh"[..]));
        assert_eq!(big.get(0u32.to_be_bytes())?, None);
        assert_eq!(big.get(1u32.to_be_bytes())?, Some(&[9u8; 40][..]));
        let deep = big.bucket(b"deep")?.unwrap();
        assert_eq!(deep.get(b"x2")?, Some(&b"y2"[..]));
        assert!(tx.bucket(b"src")?.unwrap().bucket(b"big")?.is_none());
        Ok(())
    })
    .unwrap();
    // And back from the top level into a nested bucket.
    db.update(|tx| {
        let dst = tx.bucket(b"dst")?.unwrap();
        tx.move_bucket(b"big", None, Some(&dst))
    })
    .unwrap();
    assert!(
        db.view(|tx| Ok(tx.bucket(b"dst")?.unwrap().bucket(b"big")?.is_some()))
            .unwrap()
    );
}

#[test]
fn errors_match_bbolt() {
    let db = TempDb::new();
    setup(&db);
    let other = TempDb::new();
    other
        .update(|tx| tx.create_bucket(b"o").map(|_| ()))
        .unwrap();
    let before = dump(&db);
    db.update(|tx| {
        let (src, dst) = (tx.bucket(b"src")?.unwrap(), tx.bucket(b"dst")?.unwrap());
        assert!(matches!(
            src.move_bucket(b"missing", &dst),
            Err(Error::BucketNotFound)
        ));
        assert!(matches!(
            src.move_bucket(b"plain", &dst),
            Err(Error::IncompatibleValue)
        ));
        assert!(matches!(
            src.move_bucket(b"small", &src),
            Err(Error::SameBuckets)
        ));
        dst.create_bucket(b"small")?;
        assert!(matches!(
            src.move_bucket(b"small", &dst),
            Err(Error::BucketExists)
        ));
        dst.put(b"big", b"a value")?;
        assert!(matches!(
            src.move_bucket(b"big", &dst),
            Err(Error::IncompatibleValue)
        ));
        // Into itself or below itself: refused (it would drop out of the tree).
        let big = src.bucket(b"big")?.unwrap();
        let deep = big.bucket(b"deep")?.unwrap();
        assert!(matches!(
            src.move_bucket(b"big", &deep),
            Err(Error::IncompatibleValue)
        ));
        assert!(matches!(
            src.move_bucket(b"big", &big),
            Err(Error::IncompatibleValue)
        ));
        // A bucket of another database's transaction.
        let otx = other.begin_write().unwrap();
        let o = otx.bucket(b"o")?.unwrap();
        assert!(matches!(
            src.move_bucket(b"small", &o),
            Err(Error::DifferentDb)
        ));
        // A deleted destination.
        tx.delete_bucket(b"dst")?;
        let again = tx.create_bucket(b"dst2")?;
        assert!(matches!(
            src.move_bucket(b"small", &dst),
            Err(Error::BucketNotFound)
        ));
        src.move_bucket(b"small", &again)?;
        Err::<(), _>(Error::TxClosed) // roll all of it back
    })
    .unwrap_err();
    assert_eq!(dump(&db), before, "rolled back");
}

#[test]
fn for_each_and_for_each_bucket() {
    let db = TempDb::with_options(Options::new());
    setup(&db);
    db.view(|tx| {
        let src = tx.bucket(b"src")?.unwrap();
        let mut all = Vec::new();
        src.for_each(|(k, v)| {
            all.push((k.to_vec(), v.is_some()));
            Ok(())
        })?;
        assert_eq!(
            all,
            [
                (b"big".to_vec(), false),
                (b"plain".to_vec(), true),
                (b"small".to_vec(), false)
            ]
        );
        let mut buckets = Vec::new();
        src.for_each_bucket(|k| {
            buckets.push(k.to_vec());
            Ok(())
        })?;
        assert_eq!(buckets, [b"big".to_vec(), b"small".to_vec()]);
        let mut top = Vec::new();
        tx.for_each_bucket(|k, b| {
            top.push((k.to_vec(), b.sequence()));
            Ok(())
        })?;
        assert_eq!(top, [(b"dst".to_vec(), 0), (b"src".to_vec(), 0)]);
        // An error stops the walk and comes back.
        let mut n = 0;
        let r = src.for_each(|_| {
            n += 1;
            Err(Error::KeyRequired)
        });
        assert!(matches!(r, Err(Error::KeyRequired)) && n == 1);
        Ok(())
    })
    .unwrap();
}
