//! Ranges, prefixes, entry views and bulk deletes: every range spelling compiles without
//! annotations, and `range`/`prefix`/`delete_range`/`retain` agree with a `BTreeMap` model
//! over random keys, with sub-buckets mixed in and enough entries to span many pages.

use rbolt::{Entry, Error};
use rbolt_testkit::TempDb;
use rbolt_testkit::rng::{Rng, env_count, fresh_seed};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Owned `(key, value-or-bucket)` pairs, as a walk yields them.
type Walk = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn keys<'a>(it: impl Iterator<Item = rbolt::Result<rbolt::Item<'a>>>) -> Vec<Vec<u8>> {
    it.map(|e| e.unwrap().0.to_vec()).collect()
}

fn strs(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn every_range_spelling_compiles_and_agrees() {
    let db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket("b")?;
        for k in ["a", "b", "c", "d"] {
            b.put(k, k)?;
        }
        let bc = strs(&["b", "c"]);
        assert_eq!(keys(b.range(b"b"..b"d")), bc);
        assert_eq!(keys(b.range(b"b"..=b"c")), bc);
        assert_eq!(keys(b.range("b".."d")), bc);
        assert_eq!(keys(b.range("b".to_string().."d".to_string())), bc);
        let (lo, hi) = (b"b".to_vec(), b"d".to_vec());
        assert_eq!(keys(b.range(&lo..&hi)), bc);
        assert_eq!(keys(b.range(lo.clone()..hi.clone())), bc);
        assert_eq!(keys(b.range(&b"b"[..]..&b"d"[..])), bc);
        assert_eq!(keys(b.range(&b"c"[..]..)), strs(&["c", "d"]));
        assert_eq!(keys(b.range(..b"b")), strs(&["a"]));
        assert_eq!(keys(b.range(..=b"b")), strs(&["a", "b"]));
        assert_eq!(keys(b.range(..)), strs(&["a", "b", "c", "d"]));
        assert_eq!(
            keys(b.range((Bound::Excluded(b"a"), Bound::Excluded(b"d")))),
            bc
        );
        assert_eq!(
            keys(b.range((Bound::Excluded(&b"c"[..]), Bound::Unbounded))),
            strs(&["d"])
        );
        let r = b"b"..b"d";
        assert_eq!(keys(b.range(&r)), bc);
        assert_eq!(keys(b.range(b"b"..b"d").rev()), strs(&["c", "b"]));
        assert_eq!(keys(b.prefix("c")), strs(&["c"]));
        assert_eq!(keys(b.prefix(b"")), strs(&["a", "b", "c", "d"]));
        assert_eq!(keys(b.prefix(vec![b'z'])), Vec::<Vec<u8>>::new());
        Ok(())
    })
    .unwrap();
}

#[test]
fn entries_and_views_tell_values_from_buckets() {
    let db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket("b")?;
        b.put("a", "1")?;
        b.create_bucket("m")?;
        b.put("z", "")?;
        let e: Vec<Entry<'_>> = b.entries().collect::<rbolt::Result<_>>()?;
        assert_eq!(
            e,
            [
                Entry::Value(b"a", b"1"),
                Entry::Bucket(b"m"),
                Entry::Value(b"z", b"")
            ]
        );
        assert!(e[1].is_bucket() && e[1].value().is_none() && e[1].key() == b"m");
        let pairs: Vec<_> = b.pairs().rev().collect::<rbolt::Result<_>>()?;
        assert_eq!(pairs, [(&b"z"[..], &b""[..]), (b"a", b"1")]);
        assert_eq!(b.keys().collect::<rbolt::Result<Vec<_>>>()?, [b"a", b"z"]);
        assert_eq!(b.buckets().collect::<rbolt::Result<Vec<_>>>()?, [b"m"]);
        assert_eq!(b.first()?, Some((&b"a"[..], Some(&b"1"[..]))));
        assert_eq!(b.last()?, Some((&b"z"[..], Some(&b""[..]))));
        assert!(b.contains_key("a")? && b.contains_key("z")?);
        assert!(!b.contains_key("m")? && !b.contains_key("q")?);
        assert!(b.open_bucket("m").is_ok());
        assert!(matches!(b.open_bucket("a"), Err(Error::BucketNotFound)));
        tx.create_bucket("c")?;
        Ok(())
    })
    .unwrap();
    db.view(|tx| {
        assert_eq!(
            tx.buckets().collect::<rbolt::Result<Vec<_>>>()?,
            [b"b", b"c"]
        );
        let empty = tx.open_bucket("c")?;
        assert_eq!((empty.first()?, empty.last()?), (None, None));
        assert!(matches!(tx.open_bucket("x"), Err(Error::BucketNotFound)));
        Ok(())
    })
    .unwrap();
}

/// A random key from a small alphabet, so prefixes and range ends hit real keys often.
fn key(rng: &mut Rng) -> Vec<u8> {
    let n = rng.range(1, 6) as usize;
    (0..n).map(|_| *rng.pick(b"ab\xfe\xff")).collect()
}

fn bound(rng: &mut Rng) -> Bound<Vec<u8>> {
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(key(rng)),
        _ => Bound::Excluded(key(rng)),
    }
}

/// What the model says a walk over `(start, end)` yields: values and bucket names in order.
fn model_range(
    m: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    r: &(Bound<Vec<u8>>, Bound<Vec<u8>>),
) -> Walk {
    let empty = match (&r.0, &r.1) {
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            s > e || (s == e && !matches!(r, (Bound::Included(_), Bound::Included(_))))
        }
        _ => false,
    };
    if empty {
        return Vec::new();
    }
    m.range::<Vec<u8>, _>(r.clone())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn owned<'a>(it: impl Iterator<Item = rbolt::Result<rbolt::Item<'a>>>) -> rbolt::Result<Walk> {
    it.map(|e| e.map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))))
        .collect()
}

#[test]
fn range_prefix_and_bulk_deletes_match_a_model() {
    let seed = fresh_seed();
    let rounds = env_count("RBOLT_RANGE_ROUNDS", 30);
    println!("range model: seed {seed} (RBOLT_SEED), {rounds} rounds");
    let mut rng = Rng::new(seed);
    let db = TempDb::new();
    let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    let mut most_leaves = 0;
    for round in 0..rounds {
        db.update(|tx| {
            let b = tx.create_bucket_if_not_exists("m")?;
            // Enough entries, with values big enough, for many leaf pages.
            for _ in 0..rng.range(50, 400) {
                let k = key(&mut rng);
                if model.get(&k) == Some(&None) {
                    continue;
                }
                if rng.chance(0.03) && !model.contains_key(&k) {
                    b.create_bucket(&k)?.put("x", "y")?;
                    model.insert(k, None);
                } else {
                    let n = rng.index(300);
                    let v = rng.bytes(n);
                    b.put(&k, &v)?;
                    model.insert(k, Some(v));
                }
            }
            for _ in 0..20 {
                let r = (bound(&mut rng), bound(&mut rng));
                let want = model_range(&model, &r);
                assert_eq!(
                    owned(b.range(r.clone()))?,
                    want,
                    "range {r:?} round {round}"
                );
                let mut rev = want.clone();
                rev.reverse();
                assert_eq!(owned(b.range(r.clone()).rev())?, rev, "rev {r:?}");
                let n = rng.range(0, 3) as usize;
                let p = key(&mut rng);
                let p = p[..n.min(p.len())].to_vec();
                let want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(owned(b.prefix(&p))?, want, "prefix {p:?}");
            }
            // A bulk delete every round (which is what a wrong bound shows up in), and now
            // and then a retain over the whole bucket.
            for step in 0..2 {
                if step == 1 && !rng.chance(0.3) {
                    continue;
                }
                match step {
                    0 => {
                        let r = (bound(&mut rng), bound(&mut rng));
                        let gone: Vec<_> = model_range(&model, &r)
                            .into_iter()
                            .filter(|(_, v)| v.is_some())
                            .map(|(k, _)| k)
                            .collect();
                        assert_eq!(b.delete_range(r.clone())?, gone.len() as u64, "{r:?}");
                        for k in gone {
                            model.remove(&k);
                        }
                    }
                    _ => {
                        let cut = rng.below(256) as u8;
                        let mut seen = Vec::new();
                        let n = b.retain(|k, v| {
                            seen.push(k.to_vec());
                            v.first().is_none_or(|&x| x < cut)
                        })?;
                        let want: Vec<_> = model
                            .iter()
                            .filter(|(_, v)| v.is_some())
                            .map(|(k, _)| k.clone())
                            .collect();
                        assert_eq!(seen, want, "retain visits each value once, in order");
                        let before = model.len();
                        model.retain(|_, v| {
                            v.as_ref()
                                .is_none_or(|v| v.first().is_none_or(|&x| x < cut))
                        });
                        assert_eq!(n, (before - model.len()) as u64);
                    }
                }
            }
            assert_eq!(
                owned(b.iter())?,
                model_range(&model, &(Bound::Unbounded, Bound::Unbounded))
            );
            for (k, v) in &model {
                if v.is_none() {
                    assert_eq!(b.open_bucket(k)?.get("x")?, Some(&b"y"[..]));
                }
            }
            Ok(())
        })
        .unwrap();
        db.must_check();
        let leaves = db
            .view(|tx| tx.open_bucket("m")?.stats())
            .unwrap()
            .leaf_page_n;
        most_leaves = most_leaves.max(leaves);
    }
    assert!(
        most_leaves >= 8,
        "walks crossed pages: at most {most_leaves} leaves"
    );
}
