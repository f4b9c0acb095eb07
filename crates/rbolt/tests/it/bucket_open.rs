//! Opening top-level buckets in a fresh read transaction after each commit. A snapshot carries
//! the top-level buckets the latest commits wrote (their roots, sequences and root spans), so
//! these tests change a bucket's entry in the root bucket in every way a transaction can —
//! delete, recreate inline, grow, sequence only, move away and back, many at once, rollback,
//! reopen — and read every bucket back after each commit.

use rbolt::Options;
use rbolt_testkit::TempDb;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    seq: u64,
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

const NAMES: [&[u8]; 8] = [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"];

/// Every top-level bucket as a new read transaction sees it, opened first thing (nothing
/// else read before it) and again after the others.
fn read_all(db: &TempDb) -> BTreeMap<Vec<u8>, Model> {
    let mut out = BTreeMap::new();
    for name in NAMES {
        let got = db
            .view(|tx| {
                let Some(b) = tx.bucket(name)? else {
                    return Ok(None);
                };
                let mut m = Model {
                    seq: b.sequence(),
                    ..Model::default()
                };
                for item in b.iter() {
                    let (k, v) = item?;
                    m.entries.insert(k.to_vec(), v.unwrap_or_default().to_vec());
                }
                assert_eq!(b.len()?, m.entries.len() as u64, "len of {name:?}");
                Ok(Some(m))
            })
            .unwrap();
        if let Some(m) = got {
            out.insert(name.to_vec(), m);
        }
    }
    out
}

fn fill(m: &mut Model, b: &rbolt::Bucket<'_, rbolt::ReadWrite>, tag: u8, n: u32) {
    for i in 0..n {
        let (k, v) = (i.to_be_bytes().to_vec(), vec![tag; 60]);
        b.put(&k, &v).unwrap();
        m.entries.insert(k, v);
    }
}

fn step(db: &TempDb, model: &BTreeMap<Vec<u8>, Model>, what: &str) {
    // Names, sequences and sizes in the message: the entries themselves are too many to read.
    let brief = |m: &BTreeMap<Vec<u8>, Model>| -> Vec<(String, u64, usize)> {
        m.iter()
            .map(|(k, b)| (String::from_utf8_lossy(k).into(), b.seq, b.entries.len()))
            .collect()
    };
    let got = read_all(db);
    assert!(
        &got == model,
        "after: {what}: read {:?}, expected {:?}",
        brief(&got),
        brief(model)
    );
}

#[test]
fn a_fresh_reader_sees_every_change_to_a_top_level_bucket() {
    let mut db = TempDb::with_options(Options::new().no_sync(true));
    let mut model: BTreeMap<Vec<u8>, Model> = BTreeMap::new();

    // Two paged buckets.
    db.update(|tx| {
        for (name, tag) in [(b"a", 1), (b"b", 2)] {
            let m = model.entry(name.to_vec()).or_default();
            fill(m, &tx.create_bucket(name)?, tag, 500);
        }
        Ok(())
    })
    .unwrap();
    step(&db, &model, "two paged buckets");

    // Deleted in a commit that writes another.
    db.update(|tx| {
        tx.delete_bucket(b"a")?;
        let b = tx.bucket(b"b")?.unwrap();
        fill(model.get_mut(&b"b"[..]).unwrap(), &b, 3, 10);
        Ok(())
    })
    .unwrap();
    model.remove(&b"a"[..]);
    step(&db, &model, "a deleted");

    // Recreated small: an inline bucket, which has no root page.
    db.update(|tx| {
        let a = tx.create_bucket(b"a")?;
        fill(model.entry(b"a".to_vec()).or_default(), &a, 4, 1);
        Ok(())
    })
    .unwrap();
    step(&db, &model, "a recreated inline");

    // Grown back to pages.
    db.update(|tx| {
        let a = tx.bucket(b"a")?.unwrap();
        fill(model.get_mut(&b"a"[..]).unwrap(), &a, 5, 400);
        Ok(())
    })
    .unwrap();
    step(&db, &model, "a grown to pages");

    // Only the sequence changes.
    db.update(|tx| tx.bucket(b"a")?.unwrap().set_sequence(77))
        .unwrap();
    model.get_mut(&b"a"[..]).unwrap().seq = 77;
    step(&db, &model, "a's sequence set");

    // A commit that leaves the root bucket alone, and one that writes only the other bucket.
    db.update(|_| Ok(())).unwrap();
    step(&db, &model, "an empty commit");
    db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"zz", b"1"))
        .unwrap();
    let mb = model.get_mut(&b"b"[..]).unwrap();
    mb.entries.insert(b"zz".to_vec(), b"1".to_vec());
    step(&db, &model, "only b written");

    // Moved under b and back: the top-level entry goes away and comes back with the same
    // root page.
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        tx.move_bucket(b"a", None, Some(&b))
    })
    .unwrap();
    let moved = model.remove(&b"a"[..]).unwrap();
    let in_b = db
        .view(|tx| tx.bucket(b"b")?.unwrap().bucket(b"a")?.unwrap().len())
        .unwrap();
    assert_eq!(in_b, moved.entries.len() as u64);
    // `b` now holds a sub-bucket: a key with no value.
    let mb = model.get_mut(&b"b"[..]).unwrap();
    mb.entries.insert(b"a".to_vec(), Vec::new());
    step(&db, &model, "a moved into b");
    db.update(|tx| {
        let b = tx.bucket(b"b")?.unwrap();
        tx.move_bucket(b"a", Some(&b), None)
    })
    .unwrap();
    model.get_mut(&b"b"[..]).unwrap().entries.remove(&b"a"[..]);
    model.insert(b"a".to_vec(), moved);
    step(&db, &model, "a moved back");

    // Shrunk to one small entry: inline again.
    db.update(|tx| {
        let a = tx.bucket(b"a")?.unwrap();
        let m = model.get_mut(&b"a"[..]).unwrap();
        let keys: Vec<Vec<u8>> = m.entries.keys().skip(1).cloned().collect();
        for k in keys {
            a.delete(&k)?;
            m.entries.remove(&k);
        }
        Ok(())
    })
    .unwrap();
    step(&db, &model, "a shrunk inline");

    // More buckets written at once than a snapshot carries.
    db.update(|tx| {
        for (i, name) in NAMES.iter().enumerate() {
            let b = tx.create_bucket_if_not_exists(name)?;
            let m = model.entry(name.to_vec()).or_default();
            fill(m, &b, 10 + i as u8, 300);
            b.set_sequence(i as u64)?;
            m.seq = i as u64;
        }
        Ok(())
    })
    .unwrap();
    step(&db, &model, "eight buckets written");

    // Deleted and recreated in one transaction, paged, with another sequence.
    db.update(|tx| {
        tx.delete_bucket(b"c")?;
        let c = tx.create_bucket(b"c")?;
        c.set_sequence(5)?;
        let mut m = Model {
            seq: 5,
            ..Model::default()
        };
        fill(&mut m, &c, 20, 200);
        model.insert(b"c".to_vec(), m);
        Ok(())
    })
    .unwrap();
    step(&db, &model, "c recreated in one transaction");

    // A rolled-back transaction publishes nothing.
    let tx = db.begin_write().unwrap();
    tx.delete_bucket(b"d").unwrap();
    tx.bucket(b"e").unwrap().unwrap().put(b"x", b"y").unwrap();
    tx.rollback();
    step(&db, &model, "a rollback");

    db.reopen();
    step(&db, &model, "a reopen");
    db.update(|tx| tx.bucket(b"h")?.unwrap().delete(0u32.to_be_bytes()))
        .unwrap();
    model
        .get_mut(&b"h"[..])
        .unwrap()
        .entries
        .remove(&0u32.to_be_bytes()[..]);
    step(&db, &model, "a write after the reopen");
}

#[test]
fn a_reader_keeps_its_snapshot_of_a_bucket_a_later_commit_rewrote() {
    let db = TempDb::new();
    db.update(|tx| {
        let t = tx.create_bucket(b"t")?;
        for i in 0u32..1000 {
            t.put(i.to_be_bytes(), [1; 50])?;
        }
        Ok(())
    })
    .unwrap();
    let old = db.begin_read().unwrap();
    db.update(|tx| {
        tx.delete_bucket(b"t")?;
        tx.create_bucket(b"t")?.put(b"only", b"one")
    })
    .unwrap();
    let new = db.begin_read().unwrap();
    assert_eq!(old.bucket(b"t").unwrap().unwrap().len().unwrap(), 1000);
    assert_eq!(new.bucket(b"t").unwrap().unwrap().len().unwrap(), 1);
    assert_eq!(
        new.bucket(b"t").unwrap().unwrap().get(b"only").unwrap(),
        Some(&b"one"[..])
    );
}

#[test]
fn a_root_bucket_of_many_pages_carries_what_each_commit_wrote() {
    let db = TempDb::new();
    let name = |i: u32| format!("bucket-with-a-long-name-{i:05}").into_bytes();
    db.update(|tx| {
        for i in 0..400 {
            tx.create_bucket(name(i))?.put(b"k", b"v")?;
        }
        Ok(())
    })
    .unwrap();
    for round in 0..3u32 {
        let i = round * 7;
        db.update(|tx| {
            let b = tx.bucket(name(i))?.unwrap();
            for j in 0u32..300 {
                b.put(j.to_be_bytes(), [round as u8; 40])?;
            }
            tx.delete_bucket(name(i + 1))
        })
        .unwrap();
        db.view(|tx| {
            let b = tx.bucket(name(i))?.unwrap();
            assert_eq!(b.len()?, 301);
            assert_eq!(b.get(5u32.to_be_bytes())?, Some(&[round as u8; 40][..]));
            assert!(tx.bucket(name(i + 1))?.is_none());
            assert_eq!(tx.bucket(name(i + 2))?.unwrap().len()?, 1);
            Ok(())
        })
        .unwrap();
    }
}
