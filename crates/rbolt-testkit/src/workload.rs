//! Random but reproducible workloads for the reliability harness, and the reference snapshots
//! they produce.
//!
//! A workload is a list of transactions, each a list of op-script lines (`script::apply_op`),
//! generated from a seed by a generator that tracks which buckets and keys exist so every op is
//! valid. A committed state is identified by the hash of its canonical dump
//! (`script::dump_tx`): two states are equal exactly when their dumps are, which covers bucket
//! nesting, sequences, keys and values.

use crate::rng::Rng;
use crate::script::{self, hex};
use rbolt::{Db, Mode, Options, Tx};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hasher};

/// The knobs of one generated workload.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Seed of the generator; print it to reproduce a failure.
    pub seed: u64,
    /// Number of transactions.
    pub txs: usize,
    /// Page size of the new file.
    pub page_size: usize,
    /// Open with `no_freelist_sync`.
    pub no_freelist_sync: bool,
    /// Largest ordinary value; a few values are up to 3 pages (overflow pages).
    pub max_value: usize,
}

impl Spec {
    /// A spec whose other knobs are derived from `seed`, so a seed alone names a workload.
    pub fn from_seed(seed: u64, txs: usize) -> Self {
        let mut r = Rng::new(seed.wrapping_mul(31).wrapping_add(7));
        Spec {
            seed,
            txs,
            page_size: *r.pick(&[1024, 4096, 4096, 4096]),
            no_freelist_sync: r.chance(0.25),
            max_value: *r.pick(&[16, 100, 500]),
        }
    }

    /// Options to open (and reopen) the workload's file with; `RBOLT_TEST_FREELIST` picks the
    /// freelist type, so CI's two passes cover both.
    pub fn options(&self) -> Options {
        crate::freelist_from_env(
            Options::new()
                .page_size(self.page_size)
                .no_freelist_sync(self.no_freelist_sync),
        )
    }
}

/// One transaction: its op lines, and whether it is rolled back instead of committed.
#[derive(Clone, Debug)]
pub struct TxOps {
    /// `script::apply_op` lines.
    pub ops: Vec<String>,
    /// Roll back instead of committing.
    pub rollback: bool,
    /// After committing, call `Db::shrink` (its own rounds of commits that move pages down
    /// and truncate the file; the contents do not change).
    pub shrink: bool,
}

#[derive(Default)]
struct Shadow {
    /// bucket path (names) → keys holding plain values.
    buckets: BTreeMap<Vec<Vec<u8>>, BTreeSet<Vec<u8>>>,
}

fn path_str(p: &[Vec<u8>]) -> String {
    p.iter().map(|n| hex(n)).collect::<Vec<_>>().join("/")
}

impl Shadow {
    /// Removes a bucket and everything nested under it.
    fn remove_tree(&mut self, p: &[Vec<u8>]) {
        self.buckets.retain(|k, _| !k.starts_with(p));
    }

    fn ensure(&mut self, p: &[Vec<u8>]) {
        for i in 1..=p.len() {
            self.buckets.entry(p[..i].to_vec()).or_default();
        }
    }
}

fn key(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        0 => {
            let n = r.range(1, 64) as usize;
            r.bytes(n)
        }
        1 => {
            let mut k = format!("long-{:04}-", r.below(50)).into_bytes();
            k.resize(200 + r.index(300), b'x');
            k
        }
        _ => format!("k{:05}", r.below(400)).into_bytes(),
    }
}

fn value(r: &mut Rng, spec: &Spec) -> Vec<u8> {
    let n = match r.below(40) {
        0 => spec.page_size * 2 + r.index(spec.page_size),
        1 => 0,
        _ => r.index(spec.max_value + 1),
    };
    let mut v = vec![0u8; n];
    // Compressible but position-dependent, so a misplaced page shows up in the dump.
    let tag = r.next_u64();
    for (i, b) in v.iter_mut().enumerate() {
        *b = (tag.wrapping_add(i as u64 / 7) % 251) as u8;
    }
    v
}

const TOP: [&[u8]; 3] = [b"alpha", b"beta", b"gamma"];
const SUB: [&[u8]; 3] = [b"sub1", b"sub2", b"nested"];

/// Generates the transactions of `spec`.
pub fn generate(spec: &Spec) -> Vec<TxOps> {
    let mut r = Rng::new(spec.seed);
    let mut sh = Shadow::default();
    let mut out = Vec::with_capacity(spec.txs);
    for t in 0..spec.txs {
        let mut tx_sh = Shadow {
            buckets: sh.buckets.clone(),
        };
        let rollback = t > 0 && r.chance(0.08);
        let n = match r.below(10) {
            0 => r.range(100, 400), // big: splits, growth
            1 => 0,                 // empty commit
            _ => r.range(1, 25),
        };
        let mut ops = Vec::new();
        for _ in 0..n {
            let op = gen_op(&mut r, spec, &mut tx_sh);
            ops.push(op);
        }
        // Now and then wipe most keys of a bucket: merges and frees.
        if r.chance(0.07)
            && let Some(p) = tx_sh
                .buckets
                .keys()
                .nth(r.index(tx_sh.buckets.len().max(1)))
                .cloned()
        {
            let keys: Vec<Vec<u8>> = tx_sh.buckets[&p].iter().cloned().collect();
            for k in keys {
                if !r.chance(0.1) {
                    ops.push(format!("del {} {}", path_str(&p), hex(&k)));
                    tx_sh.buckets.get_mut(&p).map(|s| s.remove(&k));
                }
            }
        }
        if !rollback {
            sh = tx_sh;
        }
        let shrink = !rollback && r.chance(0.06);
        out.push(TxOps {
            ops,
            rollback,
            shrink,
        });
    }
    out
}

fn gen_op(r: &mut Rng, spec: &Spec, sh: &mut Shadow) -> String {
    let existing: Vec<Vec<Vec<u8>>> = sh.buckets.keys().cloned().collect();
    let path: Vec<Vec<u8>> = if existing.is_empty() || r.chance(0.1) {
        let mut p = vec![r.pick(&TOP).to_vec()];
        if r.chance(0.4) {
            p.push(r.pick(&SUB).to_vec());
            if r.chance(0.3) {
                p.push(r.pick(&SUB).to_vec());
            }
        }
        p
    } else {
        r.pick(&existing).clone()
    };
    // A name can't be both a value key and a bucket: keep value keys out of the bucket names.
    let roll = r.below(100);
    if roll < 3 && sh.buckets.contains_key(&path) {
        sh.remove_tree(&path);
        return format!("db {}", path_str(&path));
    }
    if roll < 8 {
        sh.ensure(&path);
        return format!("seq {} {}", path_str(&path), r.below(1 << 40));
    }
    if roll < 30 && sh.buckets.get(&path).is_some_and(|s| !s.is_empty()) {
        let keys: Vec<Vec<u8>> = sh.buckets[&path].iter().cloned().collect();
        let k = r.pick(&keys).clone();
        sh.buckets.get_mut(&path).map(|s| s.remove(&k));
        return format!("del {} {}", path_str(&path), hex(&k));
    }
    sh.ensure(&path);
    let mut k = key(r);
    if SUB.contains(&k.as_slice()) || TOP.contains(&k.as_slice()) {
        k.push(b'!');
    }
    let v = value(r, spec);
    sh.buckets.get_mut(&path).map(|s| s.insert(k.clone()));
    format!("put {} {} {}", path_str(&path), hex(&k), hex(&v))
}

/// Hash of the canonical dump of what `tx` sees.
pub fn state_hash(tx: &Tx<impl Mode>) -> anyhow::Result<u64> {
    let mut out = Vec::new();
    script::dump_tx(tx, &mut out)?;
    let mut h = DefaultHasher::new();
    h.write(&out);
    Ok(h.finish())
}

/// Hash of the latest committed state of `db`, with its txid.
pub fn db_state(db: &Db) -> anyhow::Result<(u64, u64)> {
    let tx = db.begin_read()?;
    Ok((tx.id().get(), state_hash(&tx)?))
}

/// Applies one transaction; commits unless it is a rollback, then shrinks if asked. Returns
/// whether anything was committed.
pub fn run_tx(db: &Db, t: &TxOps) -> anyhow::Result<bool> {
    let tx = db.begin_write()?;
    for op in &t.ops {
        script::apply_op(&tx, op).map_err(|e| anyhow::anyhow!("{op:.60}: {e}"))?;
    }
    if t.rollback {
        tx.rollback();
        return Ok(false);
    }
    tx.commit()?;
    if t.shrink {
        db.shrink()?;
    }
    Ok(true)
}

/// [`run_tx`], then records the state hash under every txid committed since `last` (a
/// shrink commits several times without changing the contents). Returns the new last txid.
pub fn run_tx_recorded(
    db: &Db,
    t: &TxOps,
    last: u64,
    snaps: &mut std::collections::BTreeMap<u64, u64>,
) -> anyhow::Result<u64> {
    if !run_tx(db, t)? {
        return Ok(last);
    }
    let (now, h) = db_state(db)?;
    for id in last + 1..=now {
        snaps.insert(id, h);
    }
    Ok(now)
}
