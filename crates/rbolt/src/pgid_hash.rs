//! The hash for tables keyed by page id (the writer's pending and allocation tables, the
//! remembered subtree counts).
//!
//! Every commit frees, allocates, releases and counts a few ids, each a lookup or two, and
//! SipHash was most of those lookups' cost. The keys are distinct page ids below the file's
//! page count (a hostile file can at worst make them collide, which costs time, never
//! correctness): a multiply and a fold spread them over the low bits a table indexes with and
//! the high bits it tags with.

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub(crate) struct PgidHasher(u64);

impl Hasher for PgidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64((self.0 << 8) | u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        let h = (n ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

/// `BuildHasher` for `HashMap<Pgid, _, PgidBuild>` and `HashSet<Pgid, PgidBuild>`.
pub(crate) type PgidBuild = BuildHasherDefault<PgidHasher>;
