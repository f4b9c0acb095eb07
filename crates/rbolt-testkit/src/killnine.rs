//! The numbered-transaction workload of the kill -9 test: commit `n` puts key `n` (8 bytes,
//! big-endian) with a value whose size and bytes depend on `n`, deletes key `n - 3` when
//! `n % 5 == 0`, and records `n` under `last`. So the whole state after commit `n` is a
//! function of `n` ([`expected`]) and a recovered file can be compared exactly.
#![expect(
    clippy::big_endian_bytes,
    reason = "numbered keys are big-endian so that key order is numeric order"
)]

use anyhow::{Result, bail};
use rbolt::{Db, ReadWrite, Tx};
use std::collections::BTreeMap;

/// The bucket holding the numbered keys.
pub const BUCKET: &[u8] = b"numbered";
/// The key (in the root of [`BUCKET`]'s sibling `meta`) holding the last committed number.
pub const LAST: &[u8] = b"last";

/// The value written by commit `n`.
pub fn value(n: u64) -> Vec<u8> {
    let len = match n % 13 {
        0 => 5000 + (n % 3000) as usize, // overflow pages
        _ => (n.wrapping_mul(7919) % 700) as usize,
    };
    (0..len).map(|i| (n as usize + i * 31) as u8).collect()
}

/// Applies commit `n` in `tx`.
pub fn apply(tx: &Tx<ReadWrite>, n: u64) -> rbolt::Result<()> {
    let b = tx.create_bucket_if_not_exists(BUCKET)?;
    b.put(n.to_be_bytes(), value(n))?;
    if n.is_multiple_of(5) && n > 3 {
        b.delete((n - 3).to_be_bytes())?;
    }
    tx.create_bucket_if_not_exists(b"meta")?
        .put(LAST, n.to_be_bytes())
}

/// The number of the last commit in `db` (0 for a new file).
pub fn last(db: &Db) -> Result<u64> {
    let tx = db.begin_read()?;
    let Some(m) = tx.bucket(b"meta")? else {
        return Ok(0);
    };
    match m.get(LAST)? {
        Some(v) if v.len() == 8 => Ok(u64::from_be_bytes(v.try_into()?)),
        Some(v) => bail!("bad last value {v:?}"),
        None => Ok(0),
    }
}

/// The contents of [`BUCKET`] after commit `n`.
pub fn expected(n: u64) -> BTreeMap<u64, Vec<u8>> {
    let mut m = BTreeMap::new();
    for i in 1..=n {
        m.insert(i, value(i));
        if i.is_multiple_of(5) && i > 3 {
            m.remove(&(i - 3));
        }
    }
    m
}

/// Checks that `db` holds exactly the state after commit `n`, and that `check` is clean.
pub fn verify(db: &Db, n: u64) -> Result<()> {
    let tx = db.begin_read()?;
    let problems = tx.check();
    if let Some(p) = problems.first() {
        bail!("check: {p} ({} problems)", problems.len());
    }
    let want = expected(n);
    let mut got = BTreeMap::new();
    if let Some(b) = tx.bucket(BUCKET)? {
        for item in b.iter() {
            let (k, v) = item?;
            let Some(v) = v else {
                bail!("unexpected sub-bucket")
            };
            got.insert(u64::from_be_bytes(k.try_into()?), v.to_vec());
        }
    }
    if got != want {
        let missing: Vec<u64> = want
            .keys()
            .filter(|k| !got.contains_key(k))
            .copied()
            .collect();
        let extra: Vec<u64> = got
            .keys()
            .filter(|k| !want.contains_key(k))
            .copied()
            .collect();
        bail!(
            "state after commit {n} differs: {} keys, want {}; missing {:?}; extra {:?}",
            got.len(),
            want.len(),
            &missing[..missing.len().min(10)],
            &extra[..extra.len().min(10)]
        );
    }
    Ok(())
}
