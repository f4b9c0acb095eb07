//! The op-script writer: a seeded RNG, the model it keeps in step, and the primitive ops
//! and choices the episodes are built from.

use super::*;
use crate::rng::Rng;
use crate::script::hex;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Bytes of "big" values (> 64 KiB) one script may put; keeps 100+ scripts fast.
const BIG_BUDGET: usize = 6 << 20;

/// The episodes, each aiming at one feature. `Script::generate` forces episode
/// `index % EPISODES` into script `index`.
pub const EPISODES: usize = 12;

/// Writes op scripts from a seeded RNG and keeps the model of what they produce.
#[derive(Debug)]
pub struct Generator {
    pub(super) rng: Rng,
    pub(super) model: Model,
    pub(super) page_size: usize,
    pub(super) lines: Vec<String>,
    pub(super) ops_in_tx: usize,
    pub(super) touched: HashSet<Path>,
    pub(super) inline_state: HashMap<Path, bool>,
    pub(super) paths_cache: Option<Vec<Path>>,
    pub(super) big_budget: usize,
    pub(super) cov: Coverage,
    pub(super) uniq: u64,
    pub(super) protected: BTreeSet<Vec<u8>>,
}

impl Generator {
    /// A generator for a database with `page_size`, starting from an empty database.
    pub fn new(seed: u64, page_size: usize) -> Self {
        Self::with_model(seed, page_size, Model::new())
    }

    /// A generator that continues from `model` (the current content of the file).
    pub fn with_model(seed: u64, page_size: usize, model: Model) -> Self {
        let mut g = Self {
            rng: Rng::new(seed),
            model,
            page_size,
            lines: Vec::new(),
            ops_in_tx: 0,
            touched: HashSet::new(),
            inline_state: HashMap::new(),
            paths_cache: None,
            big_budget: BIG_BUDGET,
            cov: Coverage::default(),
            uniq: 0,
            protected: BTreeSet::new(),
        };
        for p in g.model.bucket_paths() {
            let inline = g.model.bucket(&p).is_some_and(|b| b.is_inline(page_size));
            g.inline_state.insert(p, inline);
        }
        g
    }

    /// The model of the database after every op generated so far.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// What the ops generated so far covered.
    pub fn coverage(&self) -> &Coverage {
        &self.cov
    }

    /// Keeps the random episodes away from the top-level bucket `name` (and everything in
    /// it), so the caller can run its own ops there.
    pub fn protect(&mut self, name: &[u8]) {
        self.protected.insert(name.to_vec());
        self.paths_cache = None;
    }

    /// Resets the per-script budget for big values (for generators reused across scripts).
    pub fn reset_big_budget(&mut self) {
        self.big_budget = BIG_BUDGET;
    }

    /// The RNG, for callers that add their own ops.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Returns the ops generated since the last call, ending the open transaction: with an
    /// explicit `commit` or (at random) leaving it to the implicit final commit.
    pub fn take_script(&mut self) -> String {
        if self.ops_in_tx > 0 {
            if self.rng.random_bool(0.5) {
                self.commit();
            } else {
                self.end_tx();
            }
        }
        let mut s = self.lines.join("\n");
        s.push('\n');
        self.lines.clear();
        s
    }

    // ---------------------------------------------------------------- emitting ops

    pub(super) fn touch(&mut self, path: &[Vec<u8>]) {
        for i in 1..=path.len() {
            self.touched.insert(path[..i].to_vec());
        }
        self.cov.max_depth = self.cov.max_depth.max(path.len());
    }

    /// Emits `cb PATH`.
    pub fn cb(&mut self, path: &[Vec<u8>]) {
        if self.model.bucket(path).is_none() {
            self.paths_cache = None;
        }
        self.model
            .create_path(path)
            .unwrap_or_else(|e| panic!("generator bug: cb {}: {e}", path_hex(path)));
        if path.last().is_some_and(|n| n.len() == BBOLT_MAX_KEY_SIZE) {
            self.cov.max_key_bucket_names += 1;
        }
        self.touch(path);
        self.op(format!("cb {}", path_hex(path)));
    }

    /// Emits `db PATH`.
    pub fn db(&mut self, path: &[Vec<u8>]) {
        let nested = self
            .model
            .bucket(path)
            .is_some_and(BucketModel::has_sub_buckets);
        self.model
            .delete_bucket(path)
            .unwrap_or_else(|e| panic!("generator bug: db {}: {e}", path_hex(path)));
        self.paths_cache = None;
        self.inline_state.retain(|p, _| !p.starts_with(path));
        self.touched.retain(|p| !p.starts_with(path));
        self.cov.bucket_deletes += 1;
        if nested {
            self.cov.nested_bucket_deletes += 1;
        }
        self.touch(&path[..path.len() - 1]);
        self.op(format!("db {}", path_hex(path)));
    }

    /// Emits `put PATH KEY VAL`.
    pub fn put(&mut self, path: &[Vec<u8>], key: &[u8], val: &[u8]) {
        let existed = self.model.bucket(path).map(|b| b.entries.contains_key(key));
        if existed.is_none() {
            self.paths_cache = None;
        }
        self.model
            .put(path, key, val)
            .unwrap_or_else(|e| panic!("generator bug: put {} {}: {e}", path_hex(path), hex(key)));
        if existed == Some(true) {
            self.cov.overwrites += 1;
        }
        if val.is_empty() {
            self.cov.empty_values += 1;
        }
        if val.len() > self.page_size {
            self.cov.overflow_values += 1;
        }
        self.cov.max_value = self.cov.max_value.max(val.len());
        if key.len() == BBOLT_MAX_KEY_SIZE {
            self.cov.max_key_puts += 1;
        }
        self.touch(path);
        // An empty value may be written as a missing field or an empty last field.
        let line = if val.is_empty() && self.rng.random_bool(0.5) {
            format!("put {} {}", path_hex(path), hex(key))
        } else {
            format!("put {} {} {}", path_hex(path), hex(key), hex(val))
        };
        self.op(line);
    }

    /// Emits `del PATH KEY`.
    pub fn del(&mut self, path: &[Vec<u8>], key: &[u8]) {
        let existed = self
            .model
            .bucket(path)
            .is_some_and(|b| b.entries.contains_key(key));
        self.model
            .delete(path, key)
            .unwrap_or_else(|e| panic!("generator bug: del {} {}: {e}", path_hex(path), hex(key)));
        self.cov.deletes += 1;
        if !existed {
            self.cov.deletes_missing += 1;
        }
        self.touch(path);
        self.op(format!("del {} {}", path_hex(path), hex(key)));
    }

    /// Emits `seq PATH N`.
    pub fn seq(&mut self, path: &[Vec<u8>], n: u64) {
        if self.model.bucket(path).is_none() {
            self.paths_cache = None;
        }
        self.model
            .set_sequence(path, n)
            .unwrap_or_else(|e| panic!("generator bug: seq {}: {e}", path_hex(path)));
        self.cov.seqs += 1;
        if n == u64::MAX {
            self.cov.seq_u64_max += 1;
        }
        self.touch(path);
        self.op(format!("seq {} {n}", path_hex(path)));
    }

    /// Emits `commit` (an empty transaction too, if no op is pending).
    pub fn commit(&mut self) {
        if self.ops_in_tx == 0 {
            self.cov.empty_commits += 1;
        }
        self.lines.push("commit".to_string());
        self.end_tx();
    }

    pub(super) fn op(&mut self, line: String) {
        self.lines.push(line);
        self.ops_in_tx += 1;
        self.cov.ops += 1;
    }

    /// Bookkeeping at a commit: transaction sizes and inline transitions of touched buckets.
    pub(super) fn end_tx(&mut self) {
        let n = self.ops_in_tx;
        self.cov.txs += 1;
        self.cov.max_ops_in_tx = self.cov.max_ops_in_tx.max(n);
        if (1..=4).contains(&n) {
            self.cov.small_txs += 1;
        }
        if n >= 3000 {
            self.cov.huge_txs += 1;
        }
        self.cov.max_top_level = self.cov.max_top_level.max(self.model.buckets.len());
        for p in std::mem::take(&mut self.touched) {
            let Some(b) = self.model.bucket(&p) else {
                self.inline_state.remove(&p);
                continue;
            };
            let now = b.is_inline(self.page_size);
            match self.inline_state.insert(p, now) {
                Some(true) if !now => self.cov.inline_to_page += 1,
                Some(false) if now => self.cov.page_to_inline += 1,
                _ => {}
            }
        }
        self.ops_in_tx = 0;
    }

    /// Transactions end with `commit` most of the time; the rest run on into the next episode.
    pub(super) fn maybe_commit(&mut self) {
        if self.rng.random_bool(0.8) {
            self.commit();
        }
    }

    // ---------------------------------------------------------------- random material

    pub(super) fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        if self.rng.random_bool(0.7) {
            self.rng.fill_bytes(&mut v);
        } else {
            // Compressible data with a random period: cheap to produce, and what real values
            // often look like.
            let period = self.rng.random_range(1..=64usize);
            let pat: Vec<u8> = (0..period).map(|_| self.rng.random()).collect();
            for (i, b) in v.iter_mut().enumerate() {
                *b = pat[i % period];
            }
        }
        v
    }

    /// A random name for a bucket or key: mostly short and readable, sometimes binary,
    /// sometimes long.
    pub(super) fn name(&mut self, prefix: &str) -> Vec<u8> {
        match self.rng.random_range(0..20) {
            0..=10 => format!("{prefix}{:05}", self.rng.random_range(0..100_000)).into_bytes(),
            11..=14 => {
                let n = self.rng.random_range(1..=16);
                self.bytes(n)
            }
            15 => vec![self.rng.random()],
            16 => vec![if self.rng.random_bool(0.5) { 0 } else { 0xff }],
            17 => {
                // Shares a prefix with many others.
                let mut v = b"shared-prefix-".to_vec();
                v.extend(self.rng.random_range(0..50u8).to_string().bytes());
                v
            }
            _ => {
                let n = self.rng.random_range(17..=300);
                self.bytes(n)
            }
        }
    }

    /// A value length: mostly small, sometimes around or past the page size.
    pub(super) fn value_len(&mut self) -> usize {
        let ps = self.page_size;
        match self.rng.random_range(0..100) {
            0..=7 => 0,
            8..=49 => self.rng.random_range(1..=32),
            50..=79 => self.rng.random_range(33..=400),
            80..=91 => self.rng.random_range(400..=ps),
            92..=97 => self.rng.random_range(ps..=4 * ps),
            _ => self.rng.random_range(4 * ps..=16 * ps).min(64 << 10),
        }
    }

    pub(super) fn value(&mut self) -> Vec<u8> {
        let n = self.value_len();
        self.bytes(n)
    }

    pub(super) fn small_value(&mut self) -> Vec<u8> {
        let n = self.rng.random_range(0..=40);
        self.bytes(n)
    }

    /// Every bucket path (cached until buckets are created or deleted).
    pub(super) fn paths(&mut self) -> &[Path] {
        if self.paths_cache.is_none() {
            let mut paths = self.model.bucket_paths();
            paths.retain(|p| !self.protected.contains(&p[0]));
            self.paths_cache = Some(paths);
        }
        self.paths_cache.as_deref().unwrap_or(&[])
    }

    pub(super) fn pick_bucket(&mut self) -> Option<Path> {
        let n = self.paths().len();
        if n == 0 {
            return None;
        }
        let i = self.rng.random_range(0..n);
        Some(self.paths()[i].clone())
    }

    /// A fresh child name under `parent` (or at the top level for an empty parent) that does
    /// not hold a value, so `cb` of it cannot fail.
    pub(super) fn child_name(&mut self, parent: &[Vec<u8>]) -> Vec<u8> {
        loop {
            self.uniq += 1;
            let mut n = self.name("b");
            if self.rng.random_bool(0.3) {
                n.extend(format!("~{}", self.uniq).bytes());
            }
            let taken = if parent.is_empty() {
                self.protected.contains(&n)
            } else {
                matches!(
                    self.model.bucket(parent).and_then(|b| b.entries.get(&n)),
                    Some(Entry::Value(_))
                )
            };
            if !taken {
                return n;
            }
        }
    }

    /// A bucket to work in: usually an existing one, sometimes a new one (top-level or nested).
    pub(super) fn some_bucket(&mut self) -> Path {
        if self.rng.random_bool(0.75)
            && let Some(p) = self.pick_bucket()
        {
            return p;
        }
        self.new_bucket_path()
    }

    /// A path that does not exist yet (its parent may), creatable without error.
    pub(super) fn new_bucket_path(&mut self) -> Path {
        let mut path = match self.rng.random_bool(0.5) {
            true => self.pick_bucket().unwrap_or_default(),
            false => Vec::new(),
        };
        loop {
            let n = self.child_name(&path);
            let mut p = path.clone();
            p.push(n);
            if self.model.bucket(&p).is_none() {
                return p;
            }
            path = p;
        }
    }

    /// A key in `path` that does not hold a sub-bucket, so `put` cannot fail.
    pub(super) fn value_key(&mut self, path: &[Vec<u8>]) -> Vec<u8> {
        loop {
            let k = self.name("k");
            let is_bucket = matches!(
                self.model.bucket(path).and_then(|b| b.entries.get(&k)),
                Some(Entry::Bucket(_))
            );
            if !is_bucket {
                return k;
            }
        }
    }

    /// A random existing value key of the bucket at `path`.
    pub(super) fn existing_value_key(&mut self, path: &[Vec<u8>]) -> Option<Vec<u8>> {
        let probe = self.name("k");
        let b = self.model.bucket(path)?;
        b.entries
            .range(probe.clone()..)
            .chain(b.entries.range(..probe))
            .find(|(_, e)| matches!(e, Entry::Value(_)))
            .map(|(k, _)| k.clone())
    }

    pub(super) fn random_seq(&mut self) -> u64 {
        match self.rng.random_range(0..8) {
            0 => 0,
            1 => u64::MAX,
            2 => u64::MAX - 1,
            3 => 1,
            4 => u64::from(u32::MAX) + 1,
            5 => self.rng.random_range(0..1000),
            _ => self.rng.random(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: deleting a freshly built subtree chose the parent's value keys before its
    /// sub-bucket existed, so a key could take the sub-bucket's name and the next put into the
    /// sub-bucket panicked as "incompatible value".
    #[test]
    fn bucket_delete_never_gives_a_value_its_sub_buckets_name() {
        for seed in 0..4 {
            let mut g = Generator::new(seed, 4096);
            for _ in 0..4000 {
                g.bucket_delete();
                g.commit();
            }
            assert!(g.cov.bucket_deletes >= 2000, "seed {seed}");
            let mut replayed = Model::new();
            replayed
                .apply_script(&g.take_script())
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(replayed.dump(), g.model.dump(), "seed {seed}");
        }
    }
}
