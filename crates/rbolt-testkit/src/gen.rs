//! Seeded generator of op scripts (the `rbolt-script` / `bbolt-interop` format) together with a
//! model of the database they produce, for the interop tests.
//!
//! - [`Model`] is a `BTreeMap` picture of a database: top-level buckets, nested buckets,
//!   values, sequences. It replays op scripts with bbolt 1.3.6's semantics and errors
//!   ([`Model::apply_script`]) and renders itself in the exact `dump` format
//!   ([`Model::dump`]), so a test can compare what Go and rbolt print with an oracle that is
//!   neither of them.
//! - [`Generator`] writes scripts one op at a time from a seeded RNG, applying each op to its
//!   model as it goes (an op the model rejects is a generator bug and panics). Its *episodes*
//!   each aim at one feature of the format: many top-level buckets, deep nesting, inline
//!   buckets crossing `pageSize/4` both ways, bucket deletion, overwrites, deletes that empty
//!   pages and force merges, values from 0 bytes to several MiB, 32768-byte keys, sequences,
//!   many small transactions and huge ones.
//! - [`Script::generate`] is one complete, standalone script: page size, `--no-freelist-sync`,
//!   ops, expected dump and what it covered ([`Coverage`]). Script `index` of a run always
//!   includes episode `index % EPISODES`, so any run of ≥ 12 scripts covers every feature.
//!
//! Everything is a pure function of `(master seed, index)`, so a failure reproduces from the
//! two numbers the tests print.

use crate::script::{hex, parse_path, unhex};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

/// bbolt's `MaxKeySize`: the longest key `Put` accepts.
pub const BBOLT_MAX_KEY_SIZE: usize = 32768;

/// A bucket path: names from the top-level bucket down.
pub type Path = Vec<Vec<u8>>;

// ------------------------------------------------------------------------------------------
// Model
// ------------------------------------------------------------------------------------------

/// One bucket of the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketModel {
    /// The bucket's sequence (`Bucket.Sequence`).
    pub seq: u64,
    /// Keys in byte order, each a value or a sub-bucket.
    pub entries: BTreeMap<Vec<u8>, Entry>,
}

/// What a key of a bucket holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A plain value (possibly empty).
    Value(Vec<u8>),
    /// A nested bucket.
    Bucket(BucketModel),
}

impl BucketModel {
    /// bbolt's inline size of this bucket (`Bucket.inlineable`): page header plus a leaf element,
    /// key and value per entry; `None` if it has sub-buckets (never inline).
    pub fn inline_size(&self) -> Option<usize> {
        let mut size = 16;
        for (k, e) in &self.entries {
            match e {
                Entry::Bucket(_) => return None,
                Entry::Value(v) => size += 16 + k.len() + v.len(),
            }
        }
        Some(size)
    }

    /// Whether bbolt stores this bucket inline in its parent in a database of `page_size`.
    pub fn is_inline(&self, page_size: usize) -> bool {
        self.inline_size().is_some_and(|s| s <= page_size / 4)
    }

    fn has_sub_buckets(&self) -> bool {
        self.entries.values().any(|e| matches!(e, Entry::Bucket(_)))
    }

    /// Number of values in this bucket and all below it.
    pub fn deep_len(&self) -> usize {
        self.entries
            .values()
            .map(|e| match e {
                Entry::Value(_) => 1,
                Entry::Bucket(b) => b.deep_len(),
            })
            .sum()
    }
}

/// Why the model refused an op; the messages are bbolt's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelError {
    /// "bucket not found"
    BucketNotFound,
    /// "incompatible value": a value where a bucket is needed, or the reverse.
    IncompatibleValue,
    /// "key required"
    KeyRequired,
    /// "key too large"
    KeyTooLarge,
    /// A line that is not a valid op.
    Parse(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BucketNotFound => f.write_str("bucket not found"),
            Self::IncompatibleValue => f.write_str("incompatible value"),
            Self::KeyRequired => f.write_str("key required"),
            Self::KeyTooLarge => f.write_str("key too large"),
            Self::Parse(s) => write!(f, "parse: {s}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// The whole database: top-level buckets by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// Top-level buckets.
    pub buckets: BTreeMap<Vec<u8>, BucketModel>,
}

impl Model {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bucket at `path`, if every level exists and is a bucket.
    pub fn bucket(&self, path: &[Vec<u8>]) -> Option<&BucketModel> {
        let (first, rest) = path.split_first()?;
        let mut b = self.buckets.get(first)?;
        for name in rest {
            b = match b.entries.get(name)? {
                Entry::Bucket(c) => c,
                Entry::Value(_) => return None,
            };
        }
        Some(b)
    }

    fn existing_mut(&mut self, path: &[Vec<u8>]) -> Result<&mut BucketModel, ModelError> {
        let (first, rest) = path.split_first().ok_or(ModelError::BucketNotFound)?;
        let mut b = self
            .buckets
            .get_mut(first)
            .ok_or(ModelError::BucketNotFound)?;
        for name in rest {
            b = match b.entries.get_mut(name) {
                Some(Entry::Bucket(c)) => c,
                _ => return Err(ModelError::BucketNotFound),
            };
        }
        Ok(b)
    }

    /// `CreateBucketIfNotExists` down the whole path.
    fn ensure(&mut self, path: &[Vec<u8>]) -> Result<&mut BucketModel, ModelError> {
        let (first, rest) = path.split_first().ok_or(ModelError::BucketNotFound)?;
        let mut b = self.buckets.entry(first.clone()).or_default();
        for name in rest {
            use std::collections::btree_map::Entry as E;
            b = match b.entries.entry(name.clone()) {
                E::Occupied(o) => match o.into_mut() {
                    Entry::Bucket(c) => c,
                    Entry::Value(_) => return Err(ModelError::IncompatibleValue),
                },
                E::Vacant(v) => match v.insert(Entry::Bucket(BucketModel::default())) {
                    Entry::Bucket(c) => c,
                    Entry::Value(_) => unreachable!("just inserted a bucket"),
                },
            };
        }
        Ok(b)
    }

    /// `cb PATH`.
    pub fn create_path(&mut self, path: &[Vec<u8>]) -> Result<(), ModelError> {
        self.ensure(path).map(drop)
    }

    /// `db PATH`: deletes the last bucket of the path.
    pub fn delete_bucket(&mut self, path: &[Vec<u8>]) -> Result<(), ModelError> {
        let (last, parents) = path.split_last().ok_or(ModelError::BucketNotFound)?;
        if parents.is_empty() {
            return self
                .buckets
                .remove(last)
                .map(drop)
                .ok_or(ModelError::BucketNotFound);
        }
        let parent = self.existing_mut(parents)?;
        match parent.entries.get(last) {
            None => Err(ModelError::BucketNotFound),
            Some(Entry::Value(_)) => Err(ModelError::IncompatibleValue),
            Some(Entry::Bucket(_)) => {
                parent.entries.remove(last);
                Ok(())
            }
        }
    }

    /// `put PATH KEY VAL` (creates the path).
    pub fn put(&mut self, path: &[Vec<u8>], key: &[u8], val: &[u8]) -> Result<(), ModelError> {
        let b = self.ensure(path)?;
        if key.is_empty() {
            return Err(ModelError::KeyRequired);
        }
        if key.len() > BBOLT_MAX_KEY_SIZE {
            return Err(ModelError::KeyTooLarge);
        }
        if let Some(Entry::Bucket(_)) = b.entries.get(key) {
            return Err(ModelError::IncompatibleValue);
        }
        b.entries.insert(key.to_vec(), Entry::Value(val.to_vec()));
        Ok(())
    }

    /// `del PATH KEY` (a missing key is not an error, as in bbolt).
    pub fn delete(&mut self, path: &[Vec<u8>], key: &[u8]) -> Result<(), ModelError> {
        let b = self.existing_mut(path)?;
        if let Some(Entry::Bucket(_)) = b.entries.get(key) {
            return Err(ModelError::IncompatibleValue);
        }
        b.entries.remove(key);
        Ok(())
    }

    /// `seq PATH N` (creates the path).
    pub fn set_sequence(&mut self, path: &[Vec<u8>], n: u64) -> Result<(), ModelError> {
        self.ensure(path)?.seq = n;
        Ok(())
    }

    /// Applies one op line (anything but `commit`).
    pub fn apply_op(&mut self, line: &str) -> Result<(), ModelError> {
        let parse = |e: anyhow::Error| ModelError::Parse(format!("{e:#}"));
        let f: Vec<&str> = line.split(' ').collect();
        let (op, a) = (f[0], &f[1..]);
        let want = |min: usize, max: usize| {
            if a.len() < min || a.len() > max {
                Err(ModelError::Parse(format!("{op}: wrong number of fields")))
            } else {
                Ok(())
            }
        };
        match op {
            "cb" => {
                want(1, 1)?;
                self.create_path(&parse_path(a[0]).map_err(parse)?)
            }
            "db" => {
                want(1, 1)?;
                self.delete_bucket(&parse_path(a[0]).map_err(parse)?)
            }
            "put" => {
                want(2, 3)?;
                let path = parse_path(a[0]).map_err(parse)?;
                let key = unhex(a[1]).map_err(parse)?;
                let val = match a.get(2) {
                    Some(v) => unhex(v).map_err(parse)?,
                    None => Vec::new(),
                };
                self.put(&path, &key, &val)
            }
            "del" => {
                want(2, 2)?;
                let path = parse_path(a[0]).map_err(parse)?;
                self.delete(&path, &unhex(a[1]).map_err(parse)?)
            }
            "seq" => {
                want(2, 2)?;
                let path = parse_path(a[0]).map_err(parse)?;
                let n = a[1]
                    .parse()
                    .map_err(|e| ModelError::Parse(format!("bad sequence {:?}: {e}", a[1])))?;
                self.set_sequence(&path, n)
            }
            _ => Err(ModelError::Parse(format!("unknown op {op:?}"))),
        }
    }

    /// Replays a whole op script. Transactions do not matter to the final state of a script
    /// that applies cleanly, so `commit` lines are skipped. After an error the model is left
    /// part-way (the real tools roll back the open transaction); callers treat an error as
    /// fatal. The error names the 1-based line.
    pub fn apply_script(&mut self, ops: &str) -> Result<(), String> {
        for (n, raw) in ops.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.is_empty() || line == "commit" {
                continue;
            }
            self.apply_op(line).map_err(|e| {
                let shown: String = line.chars().take(200).collect();
                format!("line {}: {shown}: {e}", n + 1)
            })?;
        }
        Ok(())
    }

    /// Rebuilds a model from a dump (the inverse of [`Model::dump`]), e.g. of a committed
    /// test file, so a test can keep writing to it and still know what to expect.
    pub fn from_dump(dump: &str) -> Result<Model, String> {
        let mut m = Model::new();
        for (n, line) in dump.lines().enumerate() {
            let bad = |e: &dyn fmt::Display| format!("dump line {}: {e}", n + 1);
            let f: Vec<&str> = line.splitn(4, ' ').collect();
            match f.as_slice() {
                ["B", path, seq] => {
                    let path = parse_path(path).map_err(|e| bad(&e))?;
                    let seq = seq
                        .strip_prefix("seq=")
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| bad(&"bad seq field"))?;
                    m.set_sequence(&path, seq).map_err(|e| bad(&e))?;
                }
                ["K", path, key, val] => {
                    let path = parse_path(path).map_err(|e| bad(&e))?;
                    let key = unhex(key).map_err(|e| bad(&e))?;
                    let val = unhex(val).map_err(|e| bad(&e))?;
                    m.put(&path, &key, &val).map_err(|e| bad(&e))?;
                }
                _ => return Err(bad(&"not a dump line")),
            }
        }
        Ok(m)
    }

    /// The dump, exactly as `rbolt-script dump` and `bbolt-interop dump` print it.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for (name, b) in &self.buckets {
            let path = hex(name);
            dump_bucket(&mut out, &path, b);
        }
        out
    }

    /// Every bucket path, parents before children, in dump order.
    pub fn bucket_paths(&self) -> Vec<Path> {
        fn walk(b: &BucketModel, path: &mut Path, out: &mut Vec<Path>) {
            for (k, e) in &b.entries {
                if let Entry::Bucket(c) = e {
                    path.push(k.clone());
                    out.push(path.clone());
                    walk(c, path, out);
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        for (name, b) in &self.buckets {
            let mut path = vec![name.clone()];
            out.push(path.clone());
            walk(b, &mut path, &mut out);
        }
        out
    }
}

fn dump_bucket(out: &mut String, path: &str, b: &BucketModel) {
    out.push_str("B ");
    out.push_str(path);
    out.push_str(" seq=");
    out.push_str(&b.seq.to_string());
    out.push('\n');
    for (k, e) in &b.entries {
        match e {
            Entry::Bucket(c) => dump_bucket(out, &format!("{path}/{}", hex(k)), c),
            Entry::Value(v) => {
                out.push_str("K ");
                out.push_str(path);
                out.push(' ');
                out.push_str(&hex(k));
                out.push(' ');
                out.push_str(&hex(v));
                out.push('\n');
            }
        }
    }
}

/// Renders a path the way op scripts and dumps do (`hex/hex/...`).
pub fn path_hex(path: &[Vec<u8>]) -> String {
    path.iter().map(|p| hex(p)).collect::<Vec<_>>().join("/")
}

// ------------------------------------------------------------------------------------------
// Coverage
// ------------------------------------------------------------------------------------------

/// What a set of scripts exercised, so a test can prove it was not vacuous.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Scripts counted.
    pub scripts: usize,
    /// Committed transactions (including the implicit final one).
    pub txs: usize,
    /// Ops (not counting `commit`).
    pub ops: usize,
    /// Explicit commits of an empty transaction.
    pub empty_commits: usize,
    /// Transactions with 1–4 ops.
    pub small_txs: usize,
    /// Transactions with ≥ 3000 ops.
    pub huge_txs: usize,
    /// Most ops in one transaction.
    pub max_ops_in_tx: usize,
    /// Deepest bucket path created.
    pub max_depth: usize,
    /// Most top-level buckets at a commit.
    pub max_top_level: usize,
    /// Buckets deleted (`db`).
    pub bucket_deletes: usize,
    /// Deleted buckets that had sub-buckets.
    pub nested_bucket_deletes: usize,
    /// Buckets that were inline at one commit and on their own pages at a later one.
    pub inline_to_page: usize,
    /// Buckets that went from their own pages back to inline.
    pub page_to_inline: usize,
    /// Puts that replaced an existing value.
    pub overwrites: usize,
    /// `del` ops.
    pub deletes: usize,
    /// `del` of a key that did not exist.
    pub deletes_missing: usize,
    /// Transactions that deleted ≥ half of a bucket spanning ≥ 3 pages (pages emptied, merges).
    pub merge_deletes: usize,
    /// Puts of an empty value.
    pub empty_values: usize,
    /// Puts of a value longer than the page size (overflow pages).
    pub overflow_values: usize,
    /// Longest value put.
    pub max_value: usize,
    /// Puts with a key of exactly [`BBOLT_MAX_KEY_SIZE`] bytes.
    pub max_key_puts: usize,
    /// Buckets created with a name of [`BBOLT_MAX_KEY_SIZE`] bytes.
    pub max_key_bucket_names: usize,
    /// `seq` ops.
    pub seqs: usize,
    /// `seq` ops setting `u64::MAX`.
    pub seq_u64_max: usize,
    /// Page sizes of the scripts.
    pub page_sizes: BTreeSet<usize>,
    /// Scripts run with `--no-freelist-sync`.
    pub no_freelist_sync: usize,
}

impl Coverage {
    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &Coverage) {
        self.scripts += o.scripts;
        self.txs += o.txs;
        self.ops += o.ops;
        self.empty_commits += o.empty_commits;
        self.small_txs += o.small_txs;
        self.huge_txs += o.huge_txs;
        self.max_ops_in_tx = self.max_ops_in_tx.max(o.max_ops_in_tx);
        self.max_depth = self.max_depth.max(o.max_depth);
        self.max_top_level = self.max_top_level.max(o.max_top_level);
        self.bucket_deletes += o.bucket_deletes;
        self.nested_bucket_deletes += o.nested_bucket_deletes;
        self.inline_to_page += o.inline_to_page;
        self.page_to_inline += o.page_to_inline;
        self.overwrites += o.overwrites;
        self.deletes += o.deletes;
        self.deletes_missing += o.deletes_missing;
        self.merge_deletes += o.merge_deletes;
        self.empty_values += o.empty_values;
        self.overflow_values += o.overflow_values;
        self.max_value = self.max_value.max(o.max_value);
        self.max_key_puts += o.max_key_puts;
        self.max_key_bucket_names += o.max_key_bucket_names;
        self.seqs += o.seqs;
        self.seq_u64_max += o.seq_u64_max;
        self.page_sizes.extend(&o.page_sizes);
        self.no_freelist_sync += o.no_freelist_sync;
    }

    /// The features issue 3 asks for that these scripts did *not* exercise (empty = all).
    pub fn missing(&self) -> Vec<&'static str> {
        let checks: [(bool, &'static str); 20] = [
            (self.max_top_level >= 20, "many top-level buckets (>= 20)"),
            (self.max_depth >= 5, "nesting depth >= 5"),
            (
                self.inline_to_page > 0,
                "inline bucket growing out of inline",
            ),
            (self.page_to_inline > 0, "bucket shrinking back to inline"),
            (self.bucket_deletes > 0, "bucket deletion"),
            (
                self.nested_bucket_deletes > 0,
                "deletion of a bucket with sub-buckets",
            ),
            (self.overwrites > 0, "overwrites"),
            (self.merge_deletes > 0, "deletes emptying pages (merges)"),
            (self.deletes_missing > 0, "deletes of missing keys"),
            (self.empty_values > 0, "empty values"),
            (self.overflow_values > 0, "overflow values"),
            (self.max_value >= 2 << 20, "a value of several MiB"),
            (self.max_key_puts > 0, "32768-byte keys"),
            (self.max_key_bucket_names > 0, "32768-byte bucket names"),
            (
                self.seq_u64_max > 0 && self.seqs > 0,
                "sequences incl. u64::MAX",
            ),
            (self.small_txs >= 30, "many small transactions"),
            (self.huge_txs > 0, "huge transactions (>= 3000 ops)"),
            (self.empty_commits > 0, "empty commits"),
            (
                self.page_sizes.contains(&4096) && self.page_sizes.contains(&16384),
                "page sizes 4096 and 16384",
            ),
            (self.no_freelist_sync > 0, "no-freelist-sync files"),
        ];
        checks
            .iter()
            .filter(|(ok, _)| !ok)
            .map(|&(_, what)| what)
            .collect()
    }
}

// ------------------------------------------------------------------------------------------
// Generator
// ------------------------------------------------------------------------------------------

/// Bytes of "big" values (> 64 KiB) one script may put; keeps 100+ scripts fast.
const BIG_BUDGET: usize = 6 << 20;

/// The episodes, each aiming at one feature. `Script::generate` forces episode
/// `index % EPISODES` into script `index`.
pub const EPISODES: usize = 12;

/// Writes op scripts from a seeded RNG and keeps the model of what they produce.
#[derive(Debug)]
pub struct Generator {
    rng: StdRng,
    model: Model,
    page_size: usize,
    lines: Vec<String>,
    ops_in_tx: usize,
    touched: HashSet<Path>,
    inline_state: HashMap<Path, bool>,
    paths_cache: Option<Vec<Path>>,
    big_budget: usize,
    cov: Coverage,
    uniq: u64,
    protected: BTreeSet<Vec<u8>>,
}

impl Generator {
    /// A generator for a database with `page_size`, starting from an empty database.
    pub fn new(seed: u64, page_size: usize) -> Self {
        Self::with_model(seed, page_size, Model::new())
    }

    /// A generator that continues from `model` (the current content of the file).
    pub fn with_model(seed: u64, page_size: usize, model: Model) -> Self {
        let mut g = Self {
            rng: StdRng::seed_from_u64(seed),
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
    pub fn rng(&mut self) -> &mut StdRng {
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

    fn touch(&mut self, path: &[Vec<u8>]) {
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

    fn op(&mut self, line: String) {
        self.lines.push(line);
        self.ops_in_tx += 1;
        self.cov.ops += 1;
    }

    /// Bookkeeping at a commit: transaction sizes and inline transitions of touched buckets.
    fn end_tx(&mut self) {
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
    fn maybe_commit(&mut self) {
        if self.rng.random_bool(0.8) {
            self.commit();
        }
    }

    // ---------------------------------------------------------------- random material

    fn bytes(&mut self, len: usize) -> Vec<u8> {
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
    fn name(&mut self, prefix: &str) -> Vec<u8> {
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
    fn value_len(&mut self) -> usize {
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

    fn value(&mut self) -> Vec<u8> {
        let n = self.value_len();
        self.bytes(n)
    }

    fn small_value(&mut self) -> Vec<u8> {
        let n = self.rng.random_range(0..=40);
        self.bytes(n)
    }

    /// Every bucket path (cached until buckets are created or deleted).
    fn paths(&mut self) -> &[Path] {
        if self.paths_cache.is_none() {
            let mut paths = self.model.bucket_paths();
            paths.retain(|p| !self.protected.contains(&p[0]));
            self.paths_cache = Some(paths);
        }
        self.paths_cache.as_deref().unwrap_or(&[])
    }

    fn pick_bucket(&mut self) -> Option<Path> {
        let n = self.paths().len();
        if n == 0 {
            return None;
        }
        let i = self.rng.random_range(0..n);
        Some(self.paths()[i].clone())
    }

    /// A fresh child name under `parent` (or at the top level for an empty parent) that does
    /// not hold a value, so `cb` of it cannot fail.
    fn child_name(&mut self, parent: &[Vec<u8>]) -> Vec<u8> {
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
    fn some_bucket(&mut self) -> Path {
        if self.rng.random_bool(0.75)
            && let Some(p) = self.pick_bucket()
        {
            return p;
        }
        self.new_bucket_path()
    }

    /// A path that does not exist yet (its parent may), creatable without error.
    fn new_bucket_path(&mut self) -> Path {
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
    fn value_key(&mut self, path: &[Vec<u8>]) -> Vec<u8> {
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
    fn existing_value_key(&mut self, path: &[Vec<u8>]) -> Option<Vec<u8>> {
        let probe = self.name("k");
        let b = self.model.bucket(path)?;
        b.entries
            .range(probe.clone()..)
            .chain(b.entries.range(..probe))
            .find(|(_, e)| matches!(e, Entry::Value(_)))
            .map(|(k, _)| k.clone())
    }

    fn random_seq(&mut self) -> u64 {
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

    // ---------------------------------------------------------------- episodes

    /// Runs episode `kind % EPISODES`.
    pub fn episode(&mut self, kind: usize) {
        match kind % EPISODES {
            0 => self.many_top_level(),
            1 => self.deep_nest(),
            2 => self.inline_cycle(),
            3 => self.bucket_delete(),
            4 => self.overwrites(),
            5 => self.fill_and_merge(),
            6 => self.big_values(),
            7 => self.max_keys(),
            8 => self.sequences(),
            9 => self.many_small_txs(),
            10 => self.huge_tx(),
            _ => self.edge_cases(),
        }
    }

    /// A random episode, weighted towards the cheap ones.
    pub fn random_episode(&mut self) {
        const WEIGHTS: [u32; EPISODES] = [6, 8, 8, 8, 8, 6, 5, 3, 6, 5, 2, 8];
        let total: u32 = WEIGHTS.iter().sum();
        let mut x = self.rng.random_range(0..total);
        for (kind, w) in WEIGHTS.iter().enumerate() {
            if x < *w {
                return self.episode(kind);
            }
            x -= w;
        }
    }

    /// 20–120 top-level buckets, a few keys each, in 1–3 transactions.
    pub fn many_top_level(&mut self) {
        let n = self.rng.random_range(20..=120);
        let txs = self.rng.random_range(1..=3);
        for i in 0..n {
            let path = vec![self.child_name(&[])];
            self.cb(&path);
            for _ in 0..self.rng.random_range(0..=3) {
                let k = self.value_key(&path);
                let v = self.small_value();
                self.put(&path, &k, &v);
            }
            if self.rng.random_bool(0.2) {
                let s = self.random_seq();
                self.seq(&path, s);
            }
            if (i + 1) % (n / txs + 1) == 0 {
                self.commit();
            }
        }
        self.maybe_commit();
    }

    /// A path of depth 5–9 with keys and sequences at several levels and siblings; sometimes a
    /// middle level is deleted in a later transaction.
    pub fn deep_nest(&mut self) {
        let depth = self.rng.random_range(5..=9);
        let mut path: Path = Vec::new();
        for _ in 0..depth {
            let n = self.child_name(&path);
            path.push(n);
        }
        self.cb(&path);
        for level in 1..=depth {
            let p = path[..level].to_vec();
            for _ in 0..self.rng.random_range(0..=4) {
                let k = self.value_key(&p);
                let v = self.value();
                self.put(&p, &k, &v);
            }
            if self.rng.random_bool(0.3) {
                let s = self.random_seq();
                self.seq(&p, s);
            }
            if self.rng.random_bool(0.3) {
                let mut sib = p.clone();
                let n = self.child_name(&p);
                sib.push(n);
                let k = self.value_key(&sib);
                let v = self.small_value();
                self.put(&sib, &k, &v);
            }
        }
        self.commit();
        match self.rng.random_range(0..3) {
            0 => {
                let level = self.rng.random_range(2..=depth);
                self.db(&path[..level]);
            }
            1 => {
                for _ in 0..self.rng.random_range(1..=20) {
                    let k = self.value_key(&path);
                    let v = self.value();
                    self.put(&path, &k, &v);
                }
            }
            _ => {}
        }
        self.maybe_commit();
    }

    /// A bucket crosses `pageSize/4` upwards and back down over several commits: by values
    /// (small ones, or one big one) or by gaining and losing a sub-bucket.
    pub fn inline_cycle(&mut self) {
        let ps = self.page_size;
        let limit = ps / 4;
        let path = self.new_bucket_path();
        self.cb(&path);
        for _ in 0..self.rng.random_range(0..=3) {
            let k = self.value_key(&path);
            let v = self.small_value();
            self.put(&path, &k, &v);
        }
        self.commit();
        for _ in 0..self.rng.random_range(1..=3) {
            match self.rng.random_range(0..4) {
                0 => {
                    // A sub-bucket makes it non-inline; deleting it makes it inline again.
                    let mut sub = path.clone();
                    let n = self.child_name(&path);
                    sub.push(n);
                    self.cb(&sub);
                    if self.rng.random_bool(0.5) {
                        let k = self.value_key(&sub);
                        let v = self.small_value();
                        self.put(&sub, &k, &v);
                    }
                    self.commit();
                    self.db(&sub);
                    self.commit();
                }
                1 => {
                    // One value bigger than the inline limit, then deleted.
                    let k = self.value_key(&path);
                    let len = self.rng.random_range(limit..=2 * ps);
                    let v = self.bytes(len);
                    self.put(&path, &k, &v);
                    self.commit();
                    self.del(&path, &k);
                    self.commit();
                }
                _ => {
                    // Many small values past the limit (sometimes far past: several pages),
                    // then deletes down below it.
                    let over = match self.rng.random_range(0..3) {
                        0 => self.rng.random_range(1..=64),
                        1 => self.rng.random_range(1..=limit),
                        _ => self.rng.random_range(ps..=3 * ps),
                    };
                    let target = limit + over;
                    let vmax = (ps / 32).max(8);
                    while self
                        .model
                        .bucket(&path)
                        .and_then(BucketModel::inline_size)
                        .is_some_and(|s| s <= target)
                    {
                        let k = self.value_key(&path);
                        let len = self.rng.random_range(0..=vmax);
                        let v = self.bytes(len);
                        self.put(&path, &k, &v);
                    }
                    self.commit();
                    let down = self.rng.random_range(0..=limit * 9 / 10);
                    while self
                        .model
                        .bucket(&path)
                        .and_then(BucketModel::inline_size)
                        .is_some_and(|s| s > down && s > 16)
                    {
                        match self.existing_value_key(&path) {
                            Some(k) => self.del(&path, &k),
                            None => break,
                        }
                    }
                    self.commit();
                }
            }
        }
    }

    /// Deletes a bucket (often one with sub-buckets), sometimes recreating it in the same
    /// transaction, sometimes deleting one created in the same transaction.
    pub fn bucket_delete(&mut self) {
        match self.rng.random_range(0..4) {
            0 => {
                // Create a subtree with content, commit, delete it.
                let path = self.new_bucket_path();
                let mut sub = path.clone();
                let n = self.child_name(&path);
                sub.push(n);
                for _ in 0..self.rng.random_range(1..=30) {
                    let p = if self.rng.random_bool(0.5) {
                        &path
                    } else {
                        &sub
                    }
                    .clone();
                    let k = self.value_key(&p);
                    let v = self.value();
                    self.put(&p, &k, &v);
                }
                self.commit();
                self.db(&path);
            }
            1 => {
                // Created and deleted in one transaction.
                let path = self.new_bucket_path();
                for _ in 0..self.rng.random_range(0..=10) {
                    let k = self.value_key(&path);
                    let v = self.value();
                    self.put(&path, &k, &v);
                }
                self.cb(&path);
                self.db(&path);
            }
            _ => {
                // An existing bucket, sometimes recreated at once.
                let Some(path) = self.pick_bucket() else {
                    return self.deep_nest();
                };
                self.db(&path);
                if self.rng.random_bool(0.4) {
                    self.cb(&path);
                    for _ in 0..self.rng.random_range(0..=5) {
                        let k = self.value_key(&path);
                        let v = self.small_value();
                        self.put(&path, &k, &v);
                    }
                }
            }
        }
        self.maybe_commit();
    }

    /// Overwrites existing values with values of other sizes (crossing the overflow boundary
    /// both ways, down to empty).
    pub fn overwrites(&mut self) {
        let n = self.rng.random_range(5..=40);
        for _ in 0..n {
            let path = self.some_bucket();
            let k = match self.existing_value_key(&path) {
                Some(k) => k,
                None => self.value_key(&path),
            };
            let v = match self.rng.random_range(0..5) {
                0 => Vec::new(),
                1 => {
                    let n = self.rng.random_range(self.page_size..=3 * self.page_size);
                    self.bytes(n)
                }
                _ => self.value(),
            };
            self.put(&path, &k, &v);
            if self.rng.random_bool(0.2) {
                self.commit();
            }
        }
        self.maybe_commit();
    }

    /// Fills a bucket with 400–1500 keys, then deletes a contiguous run (whole pages emptied)
    /// and scattered keys (underfull pages merged), sometimes almost everything.
    pub fn fill_and_merge(&mut self) {
        let path = self.new_bucket_path();
        let n = self.rng.random_range(400..=1500usize);
        let vmax = self.rng.random_range(30..=200);
        let step = self.rng.random_range(1..=7);
        let key = |i: usize| format!("m{:07}", i * step).into_bytes();
        for i in 0..n {
            let len = self.rng.random_range(0..=vmax);
            let v = self.bytes(len);
            self.put(&path, &key(i), &v);
        }
        self.commit();
        let content = |g: &Self| {
            g.model
                .bucket(&path)
                .and_then(BucketModel::inline_size)
                .unwrap_or(0)
        };
        let before = content(self);
        let lo = self.rng.random_range(0..n / 2);
        let hi = lo + self.rng.random_range(n / 4..=n / 2);
        for i in lo..hi.min(n) {
            self.del(&path, &key(i));
        }
        for i in 0..n {
            if self.rng.random_bool(0.33) {
                self.del(&path, &key(i));
            }
        }
        if before >= 3 * self.page_size && content(self) * 2 <= before {
            self.cov.merge_deletes += 1;
        }
        self.commit();
        if self.rng.random_bool(0.5) {
            let keep = self.rng.random_range(0..=3);
            let before = content(self);
            let keys: Vec<Vec<u8>> = self
                .model
                .bucket(&path)
                .map(|b| b.entries.keys().skip(keep).cloned().collect())
                .unwrap_or_default();
            for k in keys {
                self.del(&path, &k);
            }
            if before >= 3 * self.page_size {
                self.cov.merge_deletes += 1;
            }
            self.commit();
        }
    }

    /// Values at the interesting sizes: exactly filling a page, one byte past it, several
    /// pages, and (within the per-script budget) one to five MiB; then overwrites and
    /// deletes of them.
    pub fn big_values(&mut self) {
        let ps = self.page_size;
        let path = self.some_bucket();
        let mut keys = Vec::new();
        for _ in 0..self.rng.random_range(2..=6) {
            let k = self.value_key(&path);
            // A leaf page with one element: 16 header + 16 element + key + value.
            let fill = ps.saturating_sub(32 + k.len());
            let len = match self.rng.random_range(0..7) {
                0 => fill,
                1 => fill + 1,
                2 => fill.saturating_sub(1),
                3 => ps * self.rng.random_range(2..=8) + self.rng.random_range(0..3),
                4 => self.rng.random_range(64 << 10..=256 << 10),
                _ => self.rng.random_range(ps..=ps * 3),
            };
            let len = if len > 64 << 10 && len > self.big_budget {
                ps * 2
            } else {
                len
            };
            if len > 64 << 10 {
                self.big_budget -= len;
            }
            let v = self.bytes(len);
            self.put(&path, &k, &v);
            keys.push(k);
        }
        if self.big_budget >= 1 << 20 && self.rng.random_bool(0.5) {
            let len = self
                .rng
                .random_range(1 << 20..=self.big_budget.min(5 << 20));
            self.big_budget -= len;
            let k = self.value_key(&path);
            let v = self.bytes(len);
            self.put(&path, &k, &v);
            keys.push(k);
        }
        self.commit();
        for k in keys {
            match self.rng.random_range(0..4) {
                0 => self.del(&path, &k),
                1 => self.put(&path, &k, &[]),
                2 => {
                    let v = self.small_value();
                    self.put(&path, &k, &v);
                }
                _ => {}
            }
        }
        self.maybe_commit();
    }

    /// Several multi-MiB values; used by a few scripts so that "several MiB" is always covered.
    pub fn huge_values(&mut self) {
        let path = self.some_bucket();
        let len = self
            .rng
            .random_range(2 << 20..=self.big_budget.clamp(2 << 20, 4 << 20));
        self.big_budget = self.big_budget.saturating_sub(len);
        let k = self.value_key(&path);
        let v = self.bytes(len);
        self.put(&path, &k, &v);
        self.commit();
        if self.rng.random_bool(0.5) {
            let v = self.small_value();
            self.put(&path, &k, &v);
            self.maybe_commit();
        }
    }

    /// Keys of exactly 32768 bytes (and 32767), sometimes a bucket named with one; later one
    /// is deleted and one overwritten.
    pub fn max_keys(&mut self) {
        let mut path = self.some_bucket();
        if self.rng.random_bool(0.3) {
            let mut name = self.bytes(BBOLT_MAX_KEY_SIZE);
            name[0] = b'N';
            path.push(name);
            if self.model.bucket(&path).is_none() {
                self.cb(&path);
            } else {
                path.pop();
            }
        }
        let mut keys = Vec::new();
        for i in 0..self.rng.random_range(1..=6) {
            let len = if i == 0 {
                BBOLT_MAX_KEY_SIZE
            } else {
                *[BBOLT_MAX_KEY_SIZE, BBOLT_MAX_KEY_SIZE - 1, 1000]
                    .get(self.rng.random_range(0..3))
                    .unwrap_or(&BBOLT_MAX_KEY_SIZE)
            };
            let k = self.bytes(len);
            if matches!(
                self.model.bucket(&path).and_then(|b| b.entries.get(&k)),
                Some(Entry::Bucket(_))
            ) {
                continue;
            }
            let v = self.small_value();
            self.put(&path, &k, &v);
            keys.push(k);
        }
        self.commit();
        if let Some(k) = keys.first() {
            self.del(&path, k);
        }
        if let Some(k) = keys.last() {
            let v = self.value();
            self.put(&path, k, &v);
        }
        self.maybe_commit();
    }

    /// Sequences on existing and new buckets, including 0 and `u64::MAX`.
    pub fn sequences(&mut self) {
        for _ in 0..self.rng.random_range(3..=10) {
            let path = self.some_bucket();
            let n = self.random_seq();
            self.seq(&path, n);
        }
        let path = self.some_bucket();
        self.seq(&path, u64::MAX);
        self.maybe_commit();
    }

    /// 30–150 transactions of 1–4 ops each, and a few empty commits.
    pub fn many_small_txs(&mut self) {
        self.commit_pending();
        for _ in 0..self.rng.random_range(30..=150) {
            if self.rng.random_bool(0.03) {
                self.commit();
                continue;
            }
            for _ in 0..self.rng.random_range(1..=4) {
                self.random_op();
            }
            self.commit();
        }
    }

    /// One transaction with 3000–15000 puts (and some deletes) over 1–4 buckets.
    pub fn huge_tx(&mut self) {
        self.commit_pending();
        let buckets: Vec<Path> = (0..self.rng.random_range(1..=4))
            .map(|_| self.some_bucket())
            .collect();
        let n = self.rng.random_range(3000..=15000);
        let mut recent: Vec<(usize, Vec<u8>)> = Vec::new();
        for _ in 0..n {
            let b = self.rng.random_range(0..buckets.len());
            let path = &buckets[b].clone();
            if !recent.is_empty() && self.rng.random_bool(0.1) {
                let i = self.rng.random_range(0..recent.len());
                let (rb, k) = recent.swap_remove(i);
                let p = buckets[rb].clone();
                if self.rng.random_bool(0.5) {
                    self.del(&p, &k);
                } else {
                    let v = self.small_value();
                    self.put(&p, &k, &v);
                }
                continue;
            }
            let klen = self.rng.random_range(4..=24);
            let k = self.bytes(klen);
            if matches!(
                self.model.bucket(path).and_then(|bm| bm.entries.get(&k)),
                Some(Entry::Bucket(_))
            ) {
                continue;
            }
            let vlen = self.rng.random_range(0..=100);
            let v = self.bytes(vlen);
            self.put(path, &k, &v);
            if recent.len() < 1000 {
                recent.push((b, k));
            }
        }
        self.commit();
    }

    /// Corner cases of the op semantics, a few per call.
    pub fn edge_cases(&mut self) {
        for _ in 0..self.rng.random_range(2..=5) {
            let path = self.some_bucket();
            if self.model.bucket(&path).is_none() {
                self.cb(&path);
            }
            match self.rng.random_range(0..8) {
                0 => {
                    let k = self.value_key(&path);
                    self.put(&path, &k, &[]);
                }
                1 => {
                    // Delete a key that is not there (bbolt: no error).
                    let k = self.value_key(&path);
                    if self
                        .model
                        .bucket(&path)
                        .is_some_and(|b| b.entries.contains_key(&k))
                    {
                        self.del(&path, &k);
                    }
                    self.del(&path, &k);
                }
                2 => {
                    // Delete then put the same key in one transaction.
                    let k = match self.existing_value_key(&path) {
                        Some(k) => k,
                        None => self.value_key(&path),
                    };
                    self.del(&path, &k);
                    let v = self.value();
                    self.put(&path, &k, &v);
                }
                3 => {
                    // Keys that are prefixes of each other, and the extreme bytes.
                    for k in [
                        &b"a"[..],
                        b"aa",
                        b"aaa",
                        b"\x00",
                        b"\xff",
                        b"\xff\xff",
                        b"\x00\x00",
                    ] {
                        if !matches!(
                            self.model.bucket(&path).and_then(|b| b.entries.get(k)),
                            Some(Entry::Bucket(_))
                        ) {
                            let v = self.small_value();
                            self.put(&path, k, &v);
                        }
                    }
                }
                4 => {
                    // Put deep inside, then delete the parent in the same transaction.
                    let mut sub = path.clone();
                    let n = self.child_name(&path);
                    sub.push(n);
                    let k = self.value_key(&sub);
                    let v = self.value();
                    self.put(&sub, &k, &v);
                    self.db(&sub);
                }
                5 => {
                    // cb of an existing bucket is a no-op; seq creates a missing path.
                    self.cb(&path);
                    let np = self.new_bucket_path();
                    let s = self.random_seq();
                    self.seq(&np, s);
                }
                6 => {
                    // Same key as a bucket name elsewhere, and a value equal to a key.
                    if let Some(name) = path.last().cloned()
                        && let Some(other) = self.pick_bucket()
                        && !matches!(
                            self.model.bucket(&other).and_then(|b| b.entries.get(&name)),
                            Some(Entry::Bucket(_))
                        )
                    {
                        self.put(&other, &name, &name);
                    }
                }
                _ => {
                    // An explicit empty commit in the middle.
                    self.commit();
                    self.commit();
                }
            }
        }
        self.maybe_commit();
    }

    fn commit_pending(&mut self) {
        if self.ops_in_tx > 0 {
            self.commit();
        }
    }

    /// One random cheap op (for many-small-transaction stretches).
    pub fn random_op(&mut self) {
        match self.rng.random_range(0..10) {
            0..=4 => {
                let path = self.some_bucket();
                let k = self.value_key(&path);
                let v = self.value();
                self.put(&path, &k, &v);
            }
            5..=6 => {
                let path = self.some_bucket();
                match self.existing_value_key(&path) {
                    Some(k) => self.del(&path, &k),
                    None => self.cb(&path),
                }
            }
            7 => {
                let path = self.some_bucket();
                let s = self.random_seq();
                self.seq(&path, s);
            }
            8 => {
                let path = self.new_bucket_path();
                self.cb(&path);
            }
            _ => {
                let path = self.some_bucket();
                if let Some(k) = self.existing_value_key(&path) {
                    let v = self.value();
                    self.put(&path, &k, &v);
                } else {
                    self.cb(&path);
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Standalone scripts
// ------------------------------------------------------------------------------------------

/// SplitMix64: derives well-spread seeds from `(master, index)`.
pub fn derive_seed(master: u64, index: u64) -> u64 {
    let mut z = master
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One standalone script: how to create the file, the ops, and the expected dump.
#[derive(Clone, Debug)]
pub struct Script {
    /// Position in the run (decides the forced episode, page size and flags).
    pub index: u64,
    /// The seed the script's RNG started from.
    pub seed: u64,
    /// `--page-size` for the new file.
    pub page_size: usize,
    /// Whether to apply with `--no-freelist-sync`.
    pub no_freelist_sync: bool,
    /// The op file.
    pub ops: String,
    /// The model's dump of the result.
    pub expected: String,
    /// What the script exercised.
    pub coverage: Coverage,
}

impl Script {
    /// Script `index` of the run with `master` seed.
    ///
    /// Page size: 4096 for `index % 4` in {0, 1}, 16384 for 2, and for 3 one of 1024, 4096,
    /// 8192, 16384, 65536. `--no-freelist-sync` for `index % 3 == 1`. Episode `index % 12` is
    /// always included (and `index % 24 == 6` adds a multi-MiB value), plus 2–6 random ones.
    pub fn generate(master: u64, index: u64) -> Self {
        let seed = derive_seed(master, index);
        let mut pick = StdRng::seed_from_u64(seed ^ 0x5eed);
        let page_size = match index % 4 {
            0 | 1 => 4096,
            2 => 16384,
            _ => *[1024, 4096, 8192, 16384, 65536]
                .get(pick.random_range(0..5))
                .unwrap_or(&4096),
        };
        let no_freelist_sync = index % 3 == 1;
        let mut g = Generator::new(seed, page_size);
        let forced = (index % EPISODES as u64) as usize;
        let extra = g.rng.random_range(2..=6);
        let at = g.rng.random_range(0..=extra);
        for i in 0..=extra {
            if i == at {
                g.episode(forced);
                if index % 24 == 6 {
                    g.huge_values();
                }
            } else {
                g.random_episode();
            }
        }
        let ops = g.take_script();
        let mut coverage = g.cov.clone();
        coverage.scripts = 1;
        coverage.page_sizes.insert(page_size);
        coverage.no_freelist_sync = usize::from(no_freelist_sync);
        Self {
            index,
            seed,
            page_size,
            no_freelist_sync,
            expected: g.model.dump(),
            ops,
            coverage,
        }
    }

    /// The flags for `apply` (`--page-size N` and maybe `--no-freelist-sync`).
    pub fn apply_flags(&self) -> Vec<String> {
        let mut f = vec!["--page-size".to_string(), self.page_size.to_string()];
        if self.no_freelist_sync {
            f.push("--no-freelist-sync".to_string());
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic() {
        let a = Script::generate(42, 7);
        let b = Script::generate(42, 7);
        assert_eq!(a.ops, b.ops);
        assert_eq!(a.expected, b.expected);
        assert_ne!(a.ops, Script::generate(43, 7).ops);
    }

    #[test]
    fn replaying_the_ops_gives_the_generators_model() {
        let mut all = Coverage::default();
        for i in 0..EPISODES as u64 * 2 {
            let s = Script::generate(1, i);
            let mut m = Model::new();
            m.apply_script(&s.ops).expect("generated script applies");
            assert_eq!(m.dump(), s.expected, "script {i}");
            all.merge(&s.coverage);
        }
        assert_eq!(all.missing(), Vec::<&str>::new());
    }

    #[test]
    fn from_dump_inverts_dump() {
        for i in 0..6 {
            let s = Script::generate(9, i);
            let m = Model::from_dump(&s.expected).expect("parse dump");
            assert_eq!(m.dump(), s.expected);
        }
    }

    #[test]
    fn model_errors_match_bbolt() {
        let mut m = Model::new();
        m.apply_script("put 61 6b 76\ncb 61/62").expect("ok");
        let err = |m: &mut Model, l: &str| m.apply_op(l).unwrap_err().to_string();
        assert_eq!(err(&mut m, "cb 61/6b"), "incompatible value");
        assert_eq!(err(&mut m, "put 61 62 00"), "incompatible value");
        assert_eq!(err(&mut m, "del 61 62"), "incompatible value");
        assert_eq!(err(&mut m, "db 61/6b"), "incompatible value");
        assert_eq!(err(&mut m, "db 61/63"), "bucket not found");
        assert_eq!(err(&mut m, "db 63"), "bucket not found");
        assert_eq!(err(&mut m, "del 63 6b"), "bucket not found");
        m.apply_op("del 61 7a").expect("missing key deletes fine");
        m.apply_op("put 61 65").expect("missing value is empty");
        m.apply_op("put 61 66 ").expect("empty last field is empty");
        m.apply_op("seq 61 18446744073709551615").expect("u64::MAX");
        assert_eq!(
            m.dump(),
            "B 61 seq=18446744073709551615\nB 61/62 seq=0\nK 61 65 \nK 61 66 \nK 61 6b 76\n"
        );
    }
}
