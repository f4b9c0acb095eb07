//! Closures with the caller's own error type, argument validation at the point of use,
//! `Options::create(false)` and `Db` handles shared by cloning.

use rbolt::{Db, Error, Options};
use rbolt_testkit::TempDb;

#[derive(Debug)]
enum AppError {
    Db(Error),
    NotFound(String),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Db(e)
    }
}

#[test]
fn closures_return_the_callers_error_and_roll_back() {
    let db = TempDb::new();
    db.update(|tx| tx.create_bucket("users")?.put("alice", "1"))
        .unwrap();
    let r: Result<(), AppError> = db.try_update(|tx| {
        let users = tx.open_bucket("users")?;
        users.put("bob", "2")?;
        if users.get("carol")?.is_none() {
            return Err(AppError::NotFound("carol".into()));
        }
        Ok(())
    });
    assert!(matches!(r, Err(AppError::NotFound(ref n)) if n == "carol"));
    // rbolt's own errors arrive through `From`, and roll back too.
    let r = db.try_update(|tx| -> Result<(), AppError> {
        tx.open_bucket("users")?.put("dave", "4")?;
        tx.create_bucket("users")?;
        Ok(())
    });
    assert!(matches!(r, Err(AppError::Db(Error::BucketExists))));
    let got = db
        .try_view(|tx| -> Result<Vec<Vec<u8>>, AppError> {
            let users = tx.open_bucket("users")?;
            Ok(users
                .keys()
                .map(|k| k.map(<[u8]>::to_vec))
                .collect::<rbolt::Result<_>>()?)
        })
        .unwrap();
    assert_eq!(got, [b"alice".to_vec()], "bob and dave were rolled back");
    let v = db.try_update(|tx| -> Result<u64, AppError> {
        Ok(tx.open_bucket("users")?.next_sequence()?)
    });
    assert_eq!(v.unwrap(), 1);
    // The plain spelling with only rbolt errors still infers.
    db.update(|tx| {
        tx.create_bucket_if_not_exists(b"x")?.put(b"k", b"v")?;
        Ok(())
    })
    .unwrap();
}

#[test]
fn batch_hands_each_caller_its_own_error() {
    let db = TempDb::new();
    db.update(|tx| tx.create_bucket("b").map(|_| ())).unwrap();
    let results: Vec<Result<(), AppError>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8u8)
            .map(|i| {
                let db = &*db;
                s.spawn(move || {
                    db.try_batch(|tx| {
                        tx.open_bucket("b")?.put([i], "v")?;
                        if i % 3 == 0 {
                            return Err(AppError::NotFound(format!("{i}")));
                        }
                        Ok(())
                    })
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, r) in results.iter().enumerate() {
        match r {
            Err(AppError::NotFound(n)) => assert!(i % 3 == 0 && *n == i.to_string()),
            Ok(()) => assert!(i % 3 != 0),
            Err(e) => panic!("{i}: {e:?}"),
        }
    }
    let keys = db
        .view(|tx| Ok(tx.open_bucket("b")?.keys().count()))
        .unwrap();
    assert_eq!(keys, 5, "only the callers that succeeded wrote");
}

#[test]
fn arguments_are_checked_where_they_are_given() {
    let db = TempDb::new();
    db.update(|tx| {
        let b = tx.create_bucket("b")?;
        for bad in [0.0, 0.09, 1.01, f64::NAN] {
            let e = b.set_fill_percent(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad}: {e}");
            assert!(e.to_string().contains("fill percent"), "{e}");
        }
        b.set_fill_percent(0.1)?;
        b.set_fill_percent(1.0)?;
        assert_eq!(b.fill_percent(), 1.0);
        Ok(())
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = Options::new()
        .page_size(3000)
        .open(dir.path().join("p.db"))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}

#[test]
fn create_false_refuses_a_missing_file_and_opens_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let e = Options::new().create(false).open(&path).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    assert!(e.to_string().contains("missing.db"), "{e}");
    assert!(!path.exists(), "nothing was created");
    drop(Db::open(&path).unwrap());
    let db = Options::new().create(false).open(&path).unwrap();
    assert!(db.begin_read().unwrap().check().is_empty());
}

#[test]
fn clones_share_one_open_file_until_the_last_goes() {
    fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    assert_clone_send_sync::<Db>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let db = Db::open(&path).unwrap();
    let clones: Vec<Db> = (0..4).map(|_| db.clone()).collect();
    std::thread::scope(|s| {
        for (i, c) in clones.iter().enumerate() {
            s.spawn(move || c.batch(|tx| tx.create_bucket_if_not_exists("b")?.put([i as u8], "x")));
        }
    });
    let tx = clones[0].begin_read().unwrap();
    db.close();
    assert!(matches!(Db::open(&path), Err(Error::DatabaseAlreadyOpen)));
    drop(clones);
    assert!(
        matches!(Db::open(&path), Err(Error::DatabaseAlreadyOpen)),
        "tx holds the file"
    );
    assert_eq!(tx.open_bucket("b").unwrap().keys().count(), 4);
    assert!(tx.check().is_empty());
    drop(tx);
    let db = Db::open(&path).unwrap();
    assert!(db.begin_read().unwrap().check().is_empty());
}
