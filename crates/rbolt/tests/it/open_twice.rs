//! Opening a file this process already has open: refused at once with
//! `Error::DatabaseAlreadyOpen` (the file lock would make the second open wait for the first
//! forever), except read-only beside read-only, which shares the lock as two processes would.

use rbolt::{Db, Error, Options};
use rbolt_testkit::TempDb;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// Opens `path` with `opts` on a thread of its own; a hang fails the test instead of the suite.
fn open_bounded(opts: Options, path: PathBuf) -> rbolt::Result<Db> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(opts.open(&path));
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("a second open of the same file returns instead of waiting for the lock")
}

/// Regression: a second read-write open of a file this process already had open waited on its
/// own `flock` forever (the lock belongs to the first descriptor, which nobody would close).
#[test]
fn opening_an_open_file_again_blocked_forever() {
    let db = TempDb::new();
    let r = open_bounded(Options::new(), db.path().to_path_buf());
    assert!(matches!(r, Err(Error::DatabaseAlreadyOpen)), "{r:?}");
    // Also read-only beside a writer, and by another name for the same file.
    let r = open_bounded(Options::new().read_only(true), db.path().to_path_buf());
    assert!(matches!(r, Err(Error::DatabaseAlreadyOpen)), "{r:?}");
    let link = db.path().with_file_name("link.db");
    std::fs::hard_link(db.path(), &link).unwrap();
    let r = open_bounded(Options::new(), link.clone());
    assert!(matches!(r, Err(Error::DatabaseAlreadyOpen)), "{r:?}");
    let msg = Error::DatabaseAlreadyOpen.to_string();
    assert!(msg.contains("already open"), "{msg}");
    // The first handle is untouched by the refused opens.
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))
        .unwrap();
    std::fs::remove_file(link).unwrap();
}

#[test]
fn a_read_only_open_shares_the_file_with_read_only_opens_only() {
    let mut db = TempDb::new();
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))
        .unwrap();
    db.reopen_with(Options::new().read_only(true));
    let second = open_bounded(Options::new().read_only(true), db.path().to_path_buf()).unwrap();
    let get = |d: &Db| {
        d.view(|tx| Ok(tx.bucket(b"b")?.unwrap().get(b"k")?.map(<[u8]>::to_vec)))
            .unwrap()
    };
    assert_eq!(get(&second).as_deref(), Some(&b"v"[..]));
    assert_eq!(get(&db).as_deref(), Some(&b"v"[..]));
    // A writer is refused while either read-only handle is open...
    let r = open_bounded(Options::new(), db.path().to_path_buf());
    assert!(matches!(r, Err(Error::DatabaseAlreadyOpen)), "{r:?}");
    drop(second);
    let r = open_bounded(Options::new(), db.path().to_path_buf());
    assert!(matches!(r, Err(Error::DatabaseAlreadyOpen)), "{r:?}");
    // ...and welcome once both are closed.
    db.close();
    let writer = open_bounded(Options::new(), db.path().to_path_buf()).unwrap();
    writer
        .update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"w"))
        .unwrap();
}

/// The registration ends with the file: after the `Db` and every transaction that outlived it
/// are dropped, the file opens again; a failed open registers nothing.
#[test]
fn the_file_opens_again_once_the_db_and_its_transactions_are_gone() {
    let mut db = TempDb::new();
    db.update(|tx| tx.create_bucket(b"b").map(drop)).unwrap();
    let path = db.path().to_path_buf();
    db.close();
    let first = Options::new().open(&path).unwrap();
    let tx = first.begin_read().unwrap();
    drop(first);
    // The transaction keeps the file (and its lock) open.
    let r = open_bounded(Options::new(), path.clone());
    assert!(matches!(r, Err(Error::DatabaseAlreadyOpen)), "{r:?}");
    assert!(tx.bucket(b"b").unwrap().is_some());
    drop(tx);
    let again = open_bounded(Options::new(), path.clone()).unwrap();
    drop(again);
    // An open that fails after registering (a bad page size for a new file) leaves no entry.
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    assert!(Options::new().page_size(3000).open(&fresh).is_err());
    Options::new().open(&fresh).unwrap();
    db.reopen();
}
