//! Adapters: one per engine, each opened on an empty directory. Settings follow redb's
//! harness (redb's `benches/lmdb_benchmark.rs`): default durability (fsync on commit), 4 GiB
//! caches where the engine has one, LMDB's map large enough for every phase.

use crate::workload::{Engine, Reader, Writer, value_sum};
use anyhow::{Context, Result, anyhow, bail};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Cache size for engines that have a cache (redb's harness uses 4 GiB).
const CACHE_SIZE: usize = 4 << 30;
/// LMDB map size: virtual only, large enough for the large-value variant.
const LMDB_MAP_SIZE: usize = 32 << 30;

pub(crate) fn open(name: &str, dir: &Path) -> Result<Box<dyn Engine>> {
    std::fs::create_dir_all(dir)?;
    Ok(match name {
        "rbolt" => Box::new(Rbolt::open(dir, true)?),
        "lmdb" => Box::new(Lmdb::open(dir)?),
        "redb" => Box::new(Redb::open(dir)?),
        "sled" => Box::new(Sled::open(dir)?),
        "jammdb" => Box::new(Jammdb::open(dir)?),
        "sqlite" => Box::new(Sqlite::open(dir)?),
        _ => bail!("unknown engine {name:?}"),
    })
}

// ---------------------------------------------------------------------------------------------
// rbolt

struct Rbolt {
    path: PathBuf,
    db: Option<rbolt::Db>,
    fill_percent: Option<f64>,
}

impl Rbolt {
    fn open(dir: &Path, sync: bool) -> Result<Self> {
        let path = dir.join("data.db");
        let db = rbolt::Options::new().no_sync(!sync).open(&path)?;
        Ok(Rbolt {
            path,
            db: Some(db),
            fill_percent: None,
        })
    }

    fn db(&self) -> &rbolt::Db {
        self.db.as_ref().expect("rbolt db is open")
    }
}

struct RboltWriter<'a, 'tx>(&'a rbolt::Bucket<'tx, rbolt::ReadWrite>);

impl Writer for RboltWriter<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.0.put(key, value)?)
    }

    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        // `delete` does not say whether the key was there.
        self.0.delete(key)?;
        Ok(true)
    }
}

struct RboltReader<'a, 'tx>(&'a rbolt::Bucket<'tx>);

impl Reader for RboltReader<'_, '_> {
    fn get(&self, key: &[u8], sum: &mut u64) -> Result<bool> {
        Ok(match self.0.get(key)? {
            Some(v) => {
                *sum += value_sum(v);
                true
            }
            None => false,
        })
    }

    fn scan(&self, from: &[u8], count: usize, sum: &mut u64) -> Result<usize> {
        let mut n = 0;
        for item in self.0.range(from..).take(count) {
            let (_, v) = item?;
            *sum += value_sum(v.unwrap_or_default());
            n += 1;
        }
        Ok(n)
    }

    fn len(&self) -> Result<u64> {
        // The format stores no count: `len` sums leaf page headers' counts.
        Ok(self.0.len()?)
    }
}

impl Engine for Rbolt {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Writer) -> Result<()>) -> Result<()> {
        let tx = self.db().begin_write()?;
        {
            let b = tx.create_bucket_if_not_exists(b"t")?;
            if let Some(fp) = self.fill_percent {
                b.set_fill_percent(fp)?;
            }
            f(&mut RboltWriter(&b))?;
        }
        tx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        let tx = self.db().begin_read()?;
        let b = tx.bucket(b"t")?.context("bucket t missing")?;
        f(&RboltReader(&b))
    }

    fn set_sync(&mut self, on: bool) -> Result<bool> {
        // As the Go driver flips `db.NoSync`: no reopen, so the map stays warm.
        self.db().set_no_sync(!on);
        Ok(true)
    }

    fn compact(&mut self) -> Result<bool> {
        // As Go bbolt's driver: compact into a new file (64 KiB per transaction, bbolt
        // compact's default), close both, rename over, reopen.
        let tmp = self.path.with_file_name("data2.db");
        {
            let dst = rbolt::Options::new().open(&tmp)?;
            rbolt::compact(&dst, self.db(), 65536)?;
        }
        self.db = None;
        std::fs::rename(&tmp, &self.path)?;
        self.db = Some(rbolt::Options::new().open(&self.path)?);
        Ok(true)
    }

    fn prepare_sorted(&mut self) {
        // bbolt's documented append path: pack pages full.
        self.fill_percent = Some(1.0);
    }
}

// ---------------------------------------------------------------------------------------------
// LMDB through heed

type HeedDb = heed::Database<heed::types::Bytes, heed::types::Bytes>;

struct Lmdb {
    dir: PathBuf,
    env: Option<heed::Env>,
    db: HeedDb,
    append: bool,
}

impl Lmdb {
    fn open_env(dir: &Path) -> Result<(heed::Env, HeedDb)> {
        let mut opts = heed::EnvOpenOptions::new();
        opts.map_size(LMDB_MAP_SIZE);
        #[expect(unsafe_code, reason = "heed's open is unsafe by design")]
        // SAFETY: the directory is private to this process and opened once; nothing else maps
        // or truncates it while the Env lives.
        let env = unsafe { opts.open(dir)? };
        let mut wtxn = env.write_txn()?;
        let db: HeedDb = env.create_database(&mut wtxn, None)?;
        wtxn.commit()?;
        Ok((env, db))
    }

    fn open(dir: &Path) -> Result<Self> {
        let (env, db) = Self::open_env(dir)?;
        Ok(Lmdb {
            dir: dir.to_owned(),
            env: Some(env),
            db,
            append: false,
        })
    }

    fn env(&self) -> &heed::Env {
        self.env.as_ref().expect("lmdb env is open")
    }
}

struct LmdbWriter<'a, 'e> {
    txn: &'a mut heed::RwTxn<'e>,
    db: HeedDb,
    append: bool,
}

impl Writer for LmdbWriter<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.db.put(self.txn, key, value)?)
    }

    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.db.delete(self.txn, key)?)
    }

    fn insert_sorted(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if self.append {
            Ok(self
                .db
                .put_with_flags(self.txn, heed::PutFlags::APPEND, key, value)?)
        } else {
            self.insert(key, value)
        }
    }
}

struct LmdbReader<'a, 'e> {
    txn: &'a heed::RoTxn<'e>,
    db: HeedDb,
}

impl Reader for LmdbReader<'_, '_> {
    fn get(&self, key: &[u8], sum: &mut u64) -> Result<bool> {
        Ok(match self.db.get(self.txn, key)? {
            Some(v) => {
                *sum += value_sum(v);
                true
            }
            None => false,
        })
    }

    fn scan(&self, from: &[u8], count: usize, sum: &mut u64) -> Result<usize> {
        let mut n = 0;
        for item in self
            .db
            .range(self.txn, &(Bound::Included(from), Bound::Unbounded))?
            .take(count)
        {
            let (_, v) = item?;
            *sum += value_sum(v);
            n += 1;
        }
        Ok(n)
    }

    fn len(&self) -> Result<u64> {
        Ok(self.db.len(self.txn)?)
    }
}

impl Engine for Lmdb {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Writer) -> Result<()>) -> Result<()> {
        let mut txn = self.env().write_txn()?;
        f(&mut LmdbWriter {
            txn: &mut txn,
            db: self.db,
            append: self.append,
        })?;
        txn.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        let txn = self.env().read_txn()?;
        f(&LmdbReader {
            txn: &txn,
            db: self.db,
        })
    }

    fn make_durable(&self) -> Result<()> {
        // An LMDB commit with nothing dirty returns without syncing.
        self.env().force_sync()?;
        Ok(())
    }

    fn set_sync(&mut self, on: bool) -> Result<bool> {
        let mode = if on {
            heed::FlagSetMode::Disable
        } else {
            heed::FlagSetMode::Enable
        };
        #[expect(unsafe_code, reason = "heed's set_flags is unsafe")]
        // SAFETY: no transaction is open while the flag changes.
        unsafe {
            self.env().set_flags(heed::EnvFlags::NO_SYNC, mode)?;
        }
        Ok(true)
    }

    fn compact(&mut self) -> Result<bool> {
        // As redb's harness: compacting copy, fsync, close, rename over, reopen.
        let tmp = self.dir.join("data2.mdb");
        let file = self
            .env()
            .copy_to_path(&tmp, heed::CompactionOption::Enabled)?;
        file.sync_all()?;
        drop(file);
        let closing = self.env.take().expect("open").prepare_for_closing();
        closing.wait();
        std::fs::rename(&tmp, self.dir.join("data.mdb"))?;
        let (env, db) = Self::open_env(&self.dir)?;
        self.env = Some(env);
        self.db = db;
        Ok(true)
    }

    fn prepare_sorted(&mut self) {
        self.append = true;
    }
}

// ---------------------------------------------------------------------------------------------
// redb

const REDB_TABLE: redb::TableDefinition<'static, &[u8], &[u8]> = redb::TableDefinition::new("t");

struct Redb {
    db: redb::Database,
    sync: bool,
}

impl Redb {
    fn open(dir: &Path) -> Result<Self> {
        let db = redb::Database::builder()
            .set_cache_size(CACHE_SIZE)
            .create(dir.join("data.redb"))?;
        Ok(Redb { db, sync: true })
    }
}

struct RedbWriter<'a, 'txn>(&'a mut redb::Table<'txn, &'static [u8], &'static [u8]>);

impl Writer for RedbWriter<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.0.insert(key, value)?;
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.0.remove(key)?.is_some())
    }
}

struct RedbReader<'a>(&'a redb::ReadOnlyTable<&'static [u8], &'static [u8]>);

impl Reader for RedbReader<'_> {
    fn get(&self, key: &[u8], sum: &mut u64) -> Result<bool> {
        Ok(match self.0.get(key)? {
            Some(v) => {
                *sum += value_sum(v.value());
                true
            }
            None => false,
        })
    }

    fn scan(&self, from: &[u8], count: usize, sum: &mut u64) -> Result<usize> {
        let mut n = 0;
        for item in self.0.range::<&[u8]>(from..)?.take(count) {
            let (_, v) = item?;
            *sum += value_sum(v.value());
            n += 1;
        }
        Ok(n)
    }

    fn len(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        Ok(self.0.len()?)
    }
}

impl Engine for Redb {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Writer) -> Result<()>) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(if self.sync {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        })?;
        {
            let mut table = txn.open_table(REDB_TABLE)?;
            f(&mut RedbWriter(&mut table))?;
        }
        txn.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        use redb::ReadableDatabase;
        let txn = self.db.begin_read()?;
        let table = txn.open_table(REDB_TABLE)?;
        f(&RedbReader(&table))
    }

    fn set_sync(&mut self, on: bool) -> Result<bool> {
        self.sync = on;
        Ok(true)
    }

    fn compact(&mut self) -> Result<bool> {
        self.db.compact()?;
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// sled 0.34

struct Sled {
    dir: PathBuf,
    db: sled::Db,
    sync: bool,
}

impl Sled {
    fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir.join("sled"))
            .cache_capacity(CACHE_SIZE as u64)
            .open()?;
        Ok(Sled {
            dir: dir.to_owned(),
            db,
            sync: true,
        })
    }
}

/// fsync every file under `dir` (sled's own flush uses sync_file_range, which is not durable;
/// redb's harness does the same, sled#1351).
fn sync_dir(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            sync_dir(&e.path())?;
        } else {
            std::fs::File::open(e.path())?.sync_all()?;
        }
    }
    Ok(())
}

struct SledWriter<'a>(&'a sled::Db);

impl Writer for SledWriter<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.0.insert(key, value)?;
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        Ok(self.0.remove(key)?.is_some())
    }
}

struct SledReader<'a>(&'a sled::Db);

impl Reader for SledReader<'_> {
    fn get(&self, key: &[u8], sum: &mut u64) -> Result<bool> {
        Ok(match self.0.get(key)? {
            Some(v) => {
                *sum += value_sum(&v);
                true
            }
            None => false,
        })
    }

    fn scan(&self, from: &[u8], count: usize, sum: &mut u64) -> Result<usize> {
        let mut n = 0;
        for item in self.0.range(from..).take(count) {
            let (_, v) = item?;
            *sum += value_sum(&v);
            n += 1;
        }
        Ok(n)
    }

    fn len(&self) -> Result<u64> {
        Ok(self.0.len() as u64)
    }
}

impl Engine for Sled {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Writer) -> Result<()>) -> Result<()> {
        f(&mut SledWriter(&self.db))?;
        if self.sync {
            self.db.flush()?;
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        f(&SledReader(&self.db))
    }

    fn set_sync(&mut self, on: bool) -> Result<bool> {
        self.sync = on;
        Ok(true)
    }
}

// ---------------------------------------------------------------------------------------------
// jammdb

struct Jammdb {
    db: jammdb::DB,
}

impl Jammdb {
    fn open(dir: &Path) -> Result<Self> {
        let db = jammdb::DB::open(dir.join("data.jammdb"))?;
        Ok(Jammdb { db })
    }
}

struct JammdbWriter<'a, 'b, 'tx>(&'a jammdb::Bucket<'b, 'tx>);

impl Writer for JammdbWriter<'_, '_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        // jammdb borrows `&'tx [u8]` for the whole transaction; ours are short-lived buffers.
        self.0.put(key.to_vec(), value.to_vec())?;
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        match self.0.delete(key) {
            Ok(_) => Ok(true),
            Err(jammdb::Error::KeyValueMissing) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

struct JammdbReader<'a, 'b, 'tx>(&'a jammdb::Bucket<'b, 'tx>);

impl Reader for JammdbReader<'_, '_, '_> {
    fn get(&self, key: &[u8], sum: &mut u64) -> Result<bool> {
        Ok(match self.0.get_kv(key) {
            Some(kv) => {
                *sum += value_sum(kv.value());
                true
            }
            None => false,
        })
    }

    fn scan(&self, from: &[u8], count: usize, sum: &mut u64) -> Result<usize> {
        let mut c = self.0.cursor();
        c.seek(from);
        let mut n = 0;
        for d in c.take(count) {
            if let jammdb::Data::KeyValue(kv) = d {
                *sum += value_sum(kv.value());
            }
            n += 1;
        }
        Ok(n)
    }

    fn len(&self) -> Result<u64> {
        Ok(self.0.kv_pairs().count() as u64)
    }
}

impl Engine for Jammdb {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Writer) -> Result<()>) -> Result<()> {
        let tx = self.db.tx(true)?;
        {
            let b = tx.get_or_create_bucket("t")?;
            f(&mut JammdbWriter(&b))?;
        }
        tx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        let tx = self.db.tx(false)?;
        let b = tx.get_bucket("t")?;
        f(&JammdbReader(&b))
    }

    fn set_sync(&mut self, _on: bool) -> Result<bool> {
        Ok(false) // jammdb always syncs
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite through rusqlite (bundled), no PRAGMAs beyond synchronous, as redb's harness.

struct Sqlite {
    path: PathBuf,
    conn: Mutex<rusqlite::Connection>,
}

impl Sqlite {
    fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("data.sqlite");
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL)",
            [],
        )?;
        Ok(Sqlite {
            path,
            conn: Mutex::new(conn),
        })
    }
}

struct SqliteWriter<'a>(&'a rusqlite::Transaction<'a>);

impl Writer for SqliteWriter<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.0
            .prepare_cached("INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)")?
            .execute((key, value))?;
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<bool> {
        let n = self
            .0
            .prepare_cached("DELETE FROM kv WHERE key = ?1")?
            .execute((key,))?;
        Ok(n > 0)
    }
}

struct SqliteReader<'a>(&'a rusqlite::Connection);

impl Reader for SqliteReader<'_> {
    fn get(&self, key: &[u8], sum: &mut u64) -> Result<bool> {
        let mut st = self
            .0
            .prepare_cached("SELECT value FROM kv WHERE key = ?1")?;
        let mut rows = st.query((key,))?;
        Ok(match rows.next()? {
            Some(row) => {
                let v = row.get_ref(0)?.as_blob()?;
                *sum += value_sum(v);
                true
            }
            None => false,
        })
    }

    fn scan(&self, from: &[u8], count: usize, sum: &mut u64) -> Result<usize> {
        let mut st = self
            .0
            .prepare_cached("SELECT value FROM kv WHERE key >= ?1 ORDER BY key LIMIT ?2")?;
        let mut rows = st.query((from, count as i64))?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            *sum += value_sum(row.get_ref(0)?.as_blob()?);
            n += 1;
        }
        Ok(n)
    }

    fn len(&self) -> Result<u64> {
        let n: i64 = self
            .0
            .query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

fn sqlite_read(
    conn: &rusqlite::Connection,
    f: &mut dyn FnMut(&dyn Reader) -> Result<()>,
) -> Result<()> {
    // A read transaction, so every lookup sees one snapshot.
    conn.execute_batch("BEGIN")?;
    let out = f(&SqliteReader(conn));
    conn.execute_batch("COMMIT")?;
    out
}

impl Engine for Sqlite {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Writer) -> Result<()>) -> Result<()> {
        let mut conn = self.conn.lock().map_err(|_| anyhow!("poisoned"))?;
        let tx = conn.transaction()?;
        f(&mut SqliteWriter(&tx))?;
        tx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Result<()>) -> Result<()> {
        // A connection is not Sync: other threads open their own.
        match self.conn.try_lock() {
            Ok(conn) => sqlite_read(&conn, f),
            Err(_) => {
                let conn = rusqlite::Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )?;
                sqlite_read(&conn, f)
            }
        }
    }

    fn make_durable(&self) -> Result<()> {
        // An empty SQLite transaction writes nothing, so syncs nothing.
        std::fs::File::open(&self.path)?.sync_all()?;
        Ok(())
    }

    fn set_sync(&mut self, on: bool) -> Result<bool> {
        let conn = self.conn.lock().map_err(|_| anyhow!("poisoned"))?;
        conn.execute_batch(if on {
            "PRAGMA synchronous=FULL"
        } else {
            "PRAGMA synchronous=OFF"
        })?;
        Ok(true)
    }

    fn compact(&mut self) -> Result<bool> {
        let conn = self.conn.lock().map_err(|_| anyhow!("poisoned"))?;
        conn.execute_batch("VACUUM")?;
        Ok(true)
    }
}
