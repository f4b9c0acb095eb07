//! Hot backup and compaction: copy a live database to a file while it stays open, then
//! compact a copy with many deleted keys into a smaller file with the same contents.
//!
//! `cargo run -p rbolt --example backup_compact`

use rbolt::Db;

fn main() -> rbolt::Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path().join("live.db"))?;
    db.update(|tx| {
        let b = tx.create_bucket("log")?;
        for i in 0..20_000u32 {
            b.put(format!("{i:08}"), [7u8; 100])?;
        }
        Ok(())
    })?;
    let deleted = db.update(|tx| tx.open_bucket("log")?.retain(|k, _| k.ends_with(b"0")))?;

    // A backup is a read transaction: writers go on while it copies.
    let backup = dir.path().join("backup.db");
    db.view(|tx| tx.copy_file(&backup))?;
    let src = Db::open(&backup)?;
    let dst = Db::open(dir.path().join("compact.db"))?;
    rbolt::compact(&dst, &src, 1 << 20)?;

    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let (before, after) = (size(&backup), size(&dir.path().join("compact.db")));
    let count = |d: &Db| d.view(|tx| Ok(tx.open_bucket("log")?.keys().count()));
    let (n_src, n_dst) = (count(&src)?, count(&dst)?);
    println!("deleted {deleted} keys; backup {before} bytes, compacted {after} bytes");
    println!("{n_src} keys in the backup, {n_dst} after compaction");
    assert_eq!((deleted, n_src, n_dst), (18_000, 2_000, 2_000));
    assert!(after < before);
    for d in [&db, &src, &dst] {
        assert!(d.begin_read()?.check().is_empty());
    }
    Ok(())
}
