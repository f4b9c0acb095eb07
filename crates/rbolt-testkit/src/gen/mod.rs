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

mod coverage;
mod episodes;
mod generator;
mod model;

pub use coverage::Coverage;
pub use generator::{EPISODES, Generator};
pub use model::*;

use crate::rng::Rng;

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
        let mut pick = Rng::new(seed ^ 0x5eed);
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
