//! Typed buckets: integer keys in numeric order (negative ones first) and string values,
//! without hand-written byte conversions. The file is an ordinary bbolt file.
//!
//! `cargo run -p rbolt --example typed`

use rbolt::Db;

fn main() -> rbolt::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path().join("typed.db"))?;

    db.update(|tx| {
        let temps = tx.create_bucket("temps")?.typed::<i32, str>();
        for t in [12, -5, 0, 100, -40, 7] {
            temps.put(&t, if t < 0 { "freezing" } else { "fine" })?;
        }
        let counters = tx.create_bucket("counters")?.typed::<str, u64>();
        counters.put("visits", &41)?;
        let v = counters.get("visits")?.unwrap_or(0);
        counters.put("visits", &(v + 1))
    })?;

    let (sorted, below_ten, visits) = db.view(|tx| {
        let temps = tx.open_bucket("temps")?.typed::<i32, str>();
        let sorted: Vec<i32> = temps.keys().collect::<rbolt::Result<_>>()?;
        let below_ten: Vec<(i32, &str)> = temps.range(..10).collect::<rbolt::Result<_>>()?;
        let counters = tx.open_bucket("counters")?.typed::<str, u64>();
        Ok((sorted, below_ten.len(), counters.get("visits")?))
    })?;
    println!("temperatures in order: {sorted:?}");
    println!("{below_ten} readings below 10, visits = {visits:?}");
    assert_eq!(sorted, [-40, -5, 0, 7, 12, 100]);
    assert_eq!((below_ten, visits), (4, Some(42)));
    assert!(db.begin_read()?.check().is_empty());
    Ok(())
}
