//! rbolt from async code: transactions block (on fsync, on the writer slot), so run them on
//! tokio's blocking pool with `spawn_blocking`, each task holding a cheap `Db` clone. Copy what
//! you need out of the transaction; borrowed values cannot outlive it.
//!
//! `cargo run -p rbolt --example tokio`

use rbolt::Db;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> rbolt::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path().join("async.db"))?;

    let writes: Vec<_> = (0..16u32)
        .map(|i| {
            let db = db.clone();
            // batch: concurrent callers share commits, which is what many small async
            // writers want.
            tokio::task::spawn_blocking(move || {
                db.batch(|tx| {
                    tx.create_bucket_if_not_exists("events")?
                        .put(format!("{i:04}"), format!("event {i}"))
                })
            })
        })
        .collect();
    for w in writes {
        w.await.expect("task")?;
    }

    let db2 = db.clone();
    let (count, last) = tokio::task::spawn_blocking(move || {
        db2.view(|tx| {
            let events = tx.open_bucket("events")?;
            let last = events.last()?.and_then(|(_, v)| v).map(<[u8]>::to_vec);
            Ok((events.keys().count(), last))
        })
    })
    .await
    .expect("task")?;
    let last = String::from_utf8(last.unwrap_or_default()).unwrap_or_default();
    println!("{count} events written from async tasks; last is {last:?}");
    assert_eq!((count, last.as_str()), (16, "event 15"));
    assert!(db.begin_read()?.check().is_empty());
    Ok(())
}
