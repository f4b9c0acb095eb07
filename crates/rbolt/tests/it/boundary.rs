//! Boundary sizes and every page size: the largest key, empty values, values spanning many
//! pages, one huge transaction; reopening after every kind of operation.

use rbolt::Options;
use rbolt_testkit::TempDb;
use rbolt_testkit::rng::Rng;
use rbolt_testkit::script::dump_tx;

fn dump(db: &rbolt::Db) -> String {
    let tx = db.begin_read().unwrap();
    let mut out = Vec::new();
    dump_tx(&tx, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

type Step<'a> = Box<dyn Fn(&rbolt::Tx<rbolt::ReadWrite>) -> rbolt::Result<()> + 'a>;

fn exercise(page_size: usize) {
    let mut db = TempDb::with_options(Options::new().page_size(page_size).no_sync(true));
    assert_eq!(db.page_size(), page_size);
    let max_key = vec![0xEE; rbolt::MAX_KEY_SIZE];
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    // Each step is followed by a reopen and a dump comparison.
    let steps: Vec<Step<'_>> = vec![
        Box::new(|tx| tx.create_bucket(b"b").map(|_| ())),
        Box::new(|tx| tx.bucket(b"b")?.unwrap().put(&max_key, b"max key")),
        Box::new(|tx| tx.bucket(b"b")?.unwrap().put(b"empty", b"")),
        Box::new(|tx| tx.bucket(b"b")?.unwrap().put(b"big", &big)),
        Box::new(|tx| {
            let b = tx.bucket(b"b")?.unwrap();
            for i in 0..3000u32 {
                b.put(i.to_be_bytes(), vec![i as u8; (i % 300) as usize])?;
            }
            Ok(())
        }),
        Box::new(|tx| {
            tx.bucket(b"b")?
                .unwrap()
                .create_bucket(b"nested")?
                .put(b"x", b"y")
        }),
        Box::new(|tx| tx.bucket(b"b")?.unwrap().set_sequence(42)),
        Box::new(|tx| {
            let b = tx.bucket(b"b")?.unwrap();
            for i in (0..3000u32).step_by(2) {
                b.delete(i.to_be_bytes())?;
            }
            Ok(())
        }),
        Box::new(|tx| tx.bucket(b"b")?.unwrap().put(b"big", b"small now")),
        Box::new(|tx| tx.bucket(b"b")?.unwrap().delete_bucket(b"nested")),
        Box::new(|tx| tx.delete_bucket(b"b")),
    ];
    for (i, step) in steps.iter().enumerate() {
        db.update(|tx| step(tx))
            .unwrap_or_else(|e| panic!("page size {page_size}, step {i}: {e}"));
        let before = dump(&db);
        db.reopen();
        assert_eq!(
            dump(&db),
            before,
            "page size {page_size}: reopen after step {i}"
        );
        db.must_check();
        if i == 4 {
            let r = db.begin_read().unwrap();
            let b = r.bucket(b"b").unwrap().unwrap();
            assert_eq!(b.get(&max_key).unwrap(), Some(&b"max key"[..]));
            assert_eq!(b.get(b"empty").unwrap(), Some(&b""[..]));
            assert_eq!(b.get(b"big").unwrap(), Some(&big[..]));
        }
    }
    assert!(db.begin_read().unwrap().bucket(b"b").unwrap().is_none());
}

#[test]
fn page_size_1024() {
    exercise(1024);
}

#[test]
fn page_size_4096() {
    exercise(4096);
}

#[test]
fn page_size_16384() {
    exercise(16384);
}

#[test]
fn page_size_65536() {
    exercise(65536);
}

#[test]
fn rejects_bad_page_sizes() {
    let dir = tempfile::tempdir().unwrap();
    for ps in [512, 3000, 32 << 20] {
        let r = Options::new()
            .page_size(ps)
            .open(dir.path().join(format!("{ps}.db")));
        assert!(r.is_err(), "page size {ps} accepted");
    }
}

#[test]
fn value_spanning_many_pages_round_trips() {
    let mut db = TempDb::with_options(Options::new().page_size(4096).no_sync(true));
    let v: Vec<u8> = (0..40 * 1024 * 1024)
        .map(|i: u32| (i * 7 % 256) as u8)
        .collect();
    db.update(|tx| tx.create_bucket(b"b")?.put(b"v", &v))
        .unwrap();
    db.reopen();
    assert_eq!(
        db.begin_read()
            .unwrap()
            .bucket(b"b")
            .unwrap()
            .unwrap()
            .get(b"v")
            .unwrap(),
        Some(&v[..])
    );
}

/// One transaction with many random puts: eager splitting keeps this fast (bbolt's
/// split-at-commit is quadratic here), and the result must be exactly the input.
#[test]
fn huge_single_transaction_of_random_keys() {
    let n = 200_000;
    let mut rng = Rng::new(0xB01D);
    let mut model = std::collections::BTreeMap::new();
    let mut db = TempDb::with_options(Options::new().no_sync(true));
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for _ in 0..n {
            let k: [u8; 24] = rng.random();
            let v: [u8; 150] = [rng.random(); 150];
            b.put(k, v)?;
            model.insert(k.to_vec(), v.to_vec());
        }
        Ok(())
    })
    .unwrap();
    db.reopen();
    let r = db.begin_read().unwrap();
    let b = r.bucket(b"b").unwrap().unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = b
        .iter()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.unwrap().to_vec())))
        .collect::<rbolt::Result<_>>()
        .unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "contents differ from the model");
}
