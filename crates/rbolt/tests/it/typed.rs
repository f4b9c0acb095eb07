//! Typed buckets: integer keys iterate in numeric order (signed ones with negatives first),
//! strings and bytes round-trip, bad bytes are `Error::Codec`, and with the `serde` feature
//! any serde value round-trips through postcard.

use rbolt::Error;
use rbolt::typed::Codec;
use rbolt_testkit::TempDb;
use rbolt_testkit::rng::{Rng, fresh_seed};

fn order_holds<K>(vals: Vec<K::Item>)
where
    K: Codec + ?Sized,
    K::Item: Sized + Ord + Clone + std::fmt::Debug,
    for<'a> K::Out<'a>: Into<K::Item>,
{
    let db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket("n")?.typed::<K, str>();
        for v in &vals {
            b.put(v, "")?;
        }
        let mut want = vals.clone();
        want.sort();
        want.dedup();
        let got: Vec<K::Item> = b
            .keys()
            .map(|k| k.map(Into::into))
            .collect::<rbolt::Result<_>>()?;
        assert_eq!(got, want);
        let mut back: Vec<K::Item> = b
            .iter()
            .rev()
            .map(|kv| kv.map(|(k, _)| k.into()))
            .collect::<rbolt::Result<_>>()?;
        back.reverse();
        assert_eq!(back, want);
        if want.len() > 2 {
            let (lo, hi) = (want[1].clone(), want[want.len() - 1].clone());
            let inside: Vec<K::Item> = b
                .range(lo..hi)
                .map(|kv| kv.map(|(k, _)| k.into()))
                .collect::<rbolt::Result<_>>()?;
            assert_eq!(inside, want[1..want.len() - 1]);
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn integer_keys_iterate_in_numeric_order() {
    let seed = fresh_seed();
    println!("typed integer order: seed {seed} (RBOLT_SEED)");
    let mut rng = Rng::new(seed);
    let mut edge_u = vec![0, 1, 255, 256, 65535, 65536, u64::MAX, u64::MAX - 1];
    edge_u.extend((0..500).map(|_| rng.next_u64() >> rng.below(64)));
    order_holds::<u64>(edge_u.clone());
    order_holds::<u32>(edge_u.iter().map(|&x| x as u32).collect());
    order_holds::<u8>(edge_u.iter().map(|&x| x as u8).collect());
    order_holds::<u128>(edge_u.iter().map(|&x| u128::from(x) << 60).collect());
    let mut edge_i = vec![0, 1, -1, i64::MIN, i64::MAX, -256, 256, i64::MIN + 1];
    edge_i.extend((0..500).map(|_| (rng.next_u64() as i64) >> rng.below(64)));
    order_holds::<i64>(edge_i.clone());
    order_holds::<i32>(edge_i.iter().map(|&x| x as i32).collect());
    order_holds::<i16>(edge_i.iter().map(|&x| x as i16).collect());
    order_holds::<i8>(edge_i.iter().map(|&x| x as i8).collect());
    order_holds::<i128>(edge_i.iter().map(|&x| i128::from(x) * 3).collect());
}

#[test]
fn strings_bytes_and_bad_bytes() {
    let db = TempDb::new();
    db.update(|tx| {
        let raw = tx.create_bucket("raw")?;
        raw.put("short", [1u8, 2])?;
        raw.put("utf8", [0xffu8])?;
        let ints = raw.typed::<str, u64>();
        assert!(matches!(ints.get("short"), Err(Error::Codec(_))));
        let text = raw.typed::<str, str>();
        let e = text.get("utf8").unwrap_err();
        assert!(
            matches!(e, Error::Codec(_)) && e.to_string().contains("UTF-8"),
            "{e}"
        );
        text.put("hello", "wörld")?;
        assert_eq!(text.get("hello")?, Some("wörld"));
        let owned = raw.typed::<String, Vec<u8>>();
        assert_eq!(owned.get("hello")?, Some("wörld".as_bytes().to_vec()));
        assert!(owned.contains_key("hello")? && !owned.contains_key("nope")?);
        owned.delete("hello")?;
        assert_eq!(owned.get("hello")?, None);
        // A sub-bucket is skipped by typed iteration.
        raw.create_bucket("sub")?;
        let keys: Vec<&str> = raw
            .typed::<str, [u8]>()
            .keys()
            .collect::<rbolt::Result<_>>()?;
        assert_eq!(keys, ["short", "utf8"]);
        let first = raw.typed::<str, [u8]>().first()?;
        assert_eq!(first, Some(("short", &[1u8, 2][..])));
        Ok(())
    })
    .unwrap();
}

#[cfg(feature = "serde")]
#[test]
fn serde_values_round_trip_through_postcard() {
    use rbolt::typed::Serde;
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct User {
        name: String,
        age: u32,
        tags: Vec<String>,
    }
    let db = TempDb::new();
    let alice = User {
        name: "alice".into(),
        age: 31,
        tags: vec!["admin".into()],
    };
    db.update(|tx| {
        let users = tx.create_bucket("users")?.typed::<u64, Serde<User>>();
        users.put(&7, &alice)?;
        Ok(())
    })
    .unwrap();
    db.view(|tx| {
        let users = tx.open_bucket("users")?.typed::<u64, Serde<User>>();
        assert_eq!(users.get(&7)?, Some(alice));
        Ok(())
    })
    .unwrap();
    db.update(|tx| {
        let users = tx.open_bucket("users")?.typed::<u64, Serde<User>>();
        users.bucket().put(8u64.to_be_bytes(), [0xff])?;
        assert!(matches!(users.get(&8), Err(Error::Codec(_))));
        Ok(())
    })
    .unwrap();
}
