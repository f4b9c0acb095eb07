//! The `BTreeMap` model of a database that op scripts produce: replays scripts with bbolt
//! 1.3.6's semantics and errors and renders the exact `dump` format.

use crate::script::{hex, parse_path, unhex};
use std::collections::BTreeMap;
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

    pub(super) fn has_sub_buckets(&self) -> bool {
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

    pub(super) fn existing_mut(
        &mut self,
        path: &[Vec<u8>],
    ) -> Result<&mut BucketModel, ModelError> {
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
    pub(super) fn ensure(&mut self, path: &[Vec<u8>]) -> Result<&mut BucketModel, ModelError> {
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

pub(super) fn dump_bucket(out: &mut String, path: &str, b: &BucketModel) {
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
