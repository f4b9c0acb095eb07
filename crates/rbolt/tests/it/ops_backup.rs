//! Hot backup: `Tx::write_to` / `Tx::copy_file` produce bbolt's image of the snapshot, even
//! while a writer keeps committing, and the copy opens in rbolt and in Go bbolt.

use crate::ops_common::{dump, dump_tx_string, go_agrees};
use rbolt::Options;
use rbolt_testkit::TempDb;
use rbolt_testkit::watchdog::{StopOnDrop, Watchdog};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

/// The meta checksum (FNV-1a 64 over the meta struct's first 56 bytes) is right.
fn meta_ok(page: &[u8]) -> bool {
    rbolt_format::fnv1a64(&page[16..72]) == u64_at(page, 72)
}

fn fill(db: &TempDb, n: u32) {
    db.update(|tx| {
        let b = tx.create_bucket_if_not_exists(b"data")?;
        for i in 0..n {
            b.put(&i.to_be_bytes(), format!("value-{i}").as_bytes())?;
        }
        tx.create_bucket_if_not_exists(b"n")?
            .create_bucket_if_not_exists(b"ested")?
            .set_sequence(42)
    })
    .unwrap();
}

#[test]
fn write_to_produces_bbolts_image() {
    let db = TempDb::with_options(Options::new().page_size(4096));
    fill(&db, 3000);
    db.update(|tx| tx.bucket(b"data")?.unwrap().delete(&5u32.to_be_bytes()))
        .unwrap();
    let tx = db.begin_read().unwrap();
    let mut image = Vec::new();
    let n = tx.write_to(&mut image).unwrap();
    assert_eq!(n, tx.size());
    assert_eq!(image.len() as u64, tx.size());
    let (m0, m1) = (&image[..4096], &image[4096..8192]);
    assert!(meta_ok(m0) && meta_ok(m1));
    assert_eq!(u64_at(m0, 0), 0, "page id 0");
    assert_eq!(u64_at(m1, 0), 1, "page id 1");
    assert_eq!(u64_at(m0, 64), tx.id().get(), "meta 0 has txid T");
    assert_eq!(u64_at(m1, 64), tx.id().get() - 1, "meta 1 has txid T-1");
    assert_eq!(m0[32..64], m1[32..64], "same root, freelist and pgid");
    let file = std::fs::read(db.path()).unwrap();
    assert_eq!(image[8192..], file[8192..tx.size() as usize], "raw pages");
    let snapshot = dump_tx_string(&tx);
    drop(tx);

    let copy = db.path().with_file_name("copy.db");
    db.view(|tx| tx.copy_file(&copy)).unwrap();
    let c = Options::new().read_only(true).open(&copy).unwrap();
    assert_eq!(dump(&c), snapshot);
    assert!(c.begin_read().unwrap().check().is_empty());
    drop(c);
    go_agrees(&copy, &snapshot);
}

/// A `Write` that, before its first write, waits until the writer has committed twice more
/// (up to a minute): the copy then provably overlaps commits, whatever the machine's load.
struct Overlapping<'a, W> {
    inner: W,
    commits: &'a AtomicU64,
    waited: bool,
}

impl<W: Write> Write for Overlapping<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.waited {
            self.waited = true;
            let start = self.commits.load(Ordering::Relaxed);
            let t0 = std::time::Instant::now();
            while self.commits.load(Ordering::Relaxed) < start + 2
                && t0.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn backup_while_a_writer_keeps_committing() {
    let _wd = Watchdog::new(
        "backup_while_a_writer_keeps_committing",
        Duration::from_secs(120),
    );
    let db = TempDb::with_options(Options::new().no_sync(true).page_size(4096));
    fill(&db, 20_000);
    let stop = AtomicBool::new(false);
    let commits = AtomicU64::new(0);
    let dir = db.path().parent().unwrap().to_path_buf();
    std::thread::scope(|s| {
        // Stops the writer however this scope ends (a failed assertion must not hang it).
        let _stop = StopOnDrop(&stop);
        // The writer rewrites, deletes and adds, so freed pages are reused (overwritten) and
        // the file grows, all while backups read it.
        s.spawn(|| {
            let mut round = 0u32;
            while !stop.load(Ordering::Relaxed) {
                db.update(|tx| {
                    let b = tx.bucket(b"data")?.unwrap();
                    for i in (round % 7..20_000).step_by(7) {
                        b.put(&i.to_be_bytes(), format!("r{round}-{i}").as_bytes())?;
                    }
                    for i in 0..50 {
                        b.delete(&(round * 50 + i).to_be_bytes())?;
                    }
                    tx.create_bucket_if_not_exists(b"grow")?
                        .put(&round.to_be_bytes(), &[1; 3000])
                })
                .unwrap();
                commits.fetch_add(1, Ordering::Relaxed);
                round += 1;
            }
        });
        for k in 0..3 {
            let tx = db.begin_read().unwrap();
            let snapshot = dump_tx_string(&tx);
            let at = commits.load(Ordering::Relaxed);
            let copy = dir.join(format!("backup-{k}.db"));
            let f = std::fs::File::create(&copy).unwrap();
            let out = Overlapping {
                inner: std::io::BufWriter::new(f),
                commits: &commits,
                waited: false,
            };
            let n = tx.write_to(out).unwrap();
            assert_eq!(n, tx.size());
            let during = commits.load(Ordering::Relaxed) - at;
            drop(tx);
            let c = Options::new().read_only(true).open(&copy).unwrap();
            assert_eq!(dump(&c), snapshot, "backup {k} equals its snapshot");
            let problems = c.begin_read().unwrap().check();
            assert!(problems.is_empty(), "{problems:?}");
            drop(c);
            go_agrees(&copy, &snapshot);
            assert!(during >= 2, "the writer committed during backup {k}");
        }
    });
}

#[test]
fn a_write_transaction_copies_the_state_it_started_from() {
    let db = TempDb::new();
    fill(&db, 100);
    let before = dump(&db);
    let copy = db.path().with_file_name("w.db");
    let tx = db.begin_write().unwrap();
    tx.bucket(b"data")
        .unwrap()
        .unwrap()
        .put(b"x", b"y")
        .unwrap();
    tx.copy_file(&copy).unwrap();
    let txid = tx.id().get();
    tx.commit().unwrap();
    let c = Options::new().read_only(true).open(&copy).unwrap();
    assert_eq!(dump(&c), before);
    assert_eq!(c.begin_read().unwrap().id().get(), txid);
}
