//! Concurrent readers: `Db` clones handed to threads, each reading its own consistent
//! snapshot while a writer keeps committing. A reader never sees half a transaction. Then one
//! snapshot shared by several threads: a read transaction is `Sync`.
//!
//! `cargo run -p rbolt --example readers`

use rbolt::Db;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() -> rbolt::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path().join("readers.db"))?;
    // Two accounts whose sum the writer keeps at 1000.
    db.update(|tx| {
        let b = tx.create_bucket("accounts")?;
        b.put("a", 1000u64.to_le_bytes())?;
        b.put("b", 0u64.to_le_bytes())
    })?;

    let stop = AtomicBool::new(false);
    let checks: Vec<u64> = std::thread::scope(|s| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (db, stop) = (db.clone(), &stop);
                s.spawn(move || -> rbolt::Result<u64> {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) || n == 0 {
                        let tx = db.begin_read()?;
                        let b = tx.open_bucket("accounts")?;
                        let get = |k| -> rbolt::Result<u64> {
                            let v = b.get(k)?.expect("account");
                            Ok(u64::from_le_bytes(v.try_into().expect("8 bytes")))
                        };
                        assert_eq!(get("a")? + get("b")?, 1000, "snapshot is consistent");
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        for i in 1..=200u64 {
            db.update(|tx| {
                let b = tx.open_bucket("accounts")?;
                b.put("a", (1000 - i).to_le_bytes())?;
                b.put("b", i.to_le_bytes())
            })
            .expect("transfer");
        }
        stop.store(true, Ordering::Relaxed);
        readers
            .into_iter()
            .map(|h| h.join().expect("reader").expect("read"))
            .collect()
    });
    println!(
        "4 readers checked {} snapshots; every one summed to 1000",
        checks.iter().sum::<u64>()
    );
    assert!(checks.iter().all(|&n| n > 0));

    // One snapshot, one bucket handle, read from two threads at once.
    let tx = db.begin_read()?;
    let accounts = tx.open_bucket("accounts")?;
    let balances: Vec<u64> = std::thread::scope(|s| {
        let workers: Vec<_> = ["a", "b"]
            .map(|k| {
                s.spawn(move || -> rbolt::Result<u64> {
                    let v = accounts.get(k)?.expect("account");
                    Ok(u64::from_le_bytes(v.try_into().expect("8 bytes")))
                })
            })
            .into();
        workers
            .into_iter()
            .map(|w| w.join().expect("reader"))
            .collect::<rbolt::Result<_>>()
    })?;
    println!("one snapshot read from two threads: {balances:?}");
    assert_eq!(balances, [800, 200]);
    drop(tx);
    assert!(db.begin_read()?.check().is_empty());
    Ok(())
}
