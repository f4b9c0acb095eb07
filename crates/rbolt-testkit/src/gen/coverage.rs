//! What a set of generated scripts exercised, so a test can prove it was not vacuous.

use std::collections::BTreeSet;

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
    /// Puts with a key of exactly [`BBOLT_MAX_KEY_SIZE`](super::BBOLT_MAX_KEY_SIZE) bytes.
    pub max_key_puts: usize,
    /// Buckets created with a name of [`BBOLT_MAX_KEY_SIZE`](super::BBOLT_MAX_KEY_SIZE) bytes.
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

    /// The features the interop generator must cover that these scripts did *not* exercise
    /// (empty = all).
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
