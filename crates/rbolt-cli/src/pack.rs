//! How many pages a bucket takes once `rbolt compact` has rewritten it: its pairs, in key
//! order, appended the way the writer appends them. A node that grows past one page (and has
//! four elements) is split where a page at the fill threshold would end, keeping two
//! elements on the right; the split hands a key to the level above, which splits the same
//! way; at the end each level's last node is cut into page runs as the commit does. Streams:
//! one node per tree level, a page or so each.

use rbolt_format::{BRANCH_ELEM_SIZE, LEAF_ELEM_SIZE, PAGE_HEADER_SIZE};
use std::collections::VecDeque;

const HEADER: u64 = PAGE_HEADER_SIZE as u64;
/// The writer splits a node with more elements than this even if it fits a page.
const SPLIT_ELEMS: usize = 4096;

/// One level of a tree being packed: the node being appended to, and the pages written.
#[derive(Clone, Debug, Default)]
struct Level {
    /// Element sizes and key lengths of the open node.
    node: VecDeque<(u64, u64)>,
    size: u64,
    pages: u64,
    /// Nodes split off and written.
    closed: u64,
}

/// A bucket being packed.
#[derive(Clone, Debug)]
pub(crate) struct Packer {
    ps: u64,
    threshold: u64,
    levels: Vec<Level>,
    /// Leaf elements' bytes, header included, and whether any is a sub-bucket: decides
    /// whether the bucket stays inline in its parent.
    leaf_bytes: u64,
    has_sub: bool,
    /// The root bucket, which has pages even when empty.
    root: bool,
}

/// Pages of a node of `size` bytes.
fn span(size: u64, ps: u64) -> u64 {
    size.max(HEADER).div_ceil(ps)
}

impl Packer {
    /// A bucket on pages of `ps` bytes, split at `fill` (1.0 for what compact writes).
    pub(crate) fn new(ps: u64, fill: f64, root: bool) -> Self {
        Self {
            root,
            ps,
            threshold: (ps as f64 * fill.clamp(0.1, 1.0)) as u64,
            levels: vec![Level::default()],
            leaf_bytes: HEADER,
            has_sub: false,
        }
    }

    /// The next pair of the bucket, in key order.
    pub(crate) fn pair(&mut self, key: usize, value: usize, sub_bucket: bool) {
        let el = (LEAF_ELEM_SIZE + key + value) as u64;
        self.leaf_bytes += el;
        self.has_sub |= sub_bucket;
        self.push(0, el, key as u64);
    }

    fn push(&mut self, level: usize, el: u64, key: u64) {
        if self.levels.len() <= level {
            self.levels.push(Level::default());
        }
        let l = &mut self.levels[level];
        l.node.push_back((el, key));
        l.size += el;
        let len = l.node.len();
        if len < 4 || (HEADER + l.size <= self.ps && len <= SPLIT_ELEMS) {
            return;
        }
        // Where a page at the threshold would end, at least two elements each side.
        let mut sz = HEADER;
        let mut mid = len / 2;
        for (i, &(e, _)) in l.node.iter().enumerate() {
            if i >= 2 && sz + e > self.threshold {
                mid = i;
                break;
            }
            sz += e;
        }
        let mid = mid.clamp(2, len - 2);
        let left_key = l.node.front().map_or(0, |&(_, k)| k);
        let left: u64 = l.node.drain(..mid).map(|(e, _)| e).sum();
        l.size -= left;
        l.pages += span(HEADER + left, self.ps);
        l.closed += 1;
        // Every node is one element of the level above.
        self.push(level + 1, BRANCH_ELEM_SIZE as u64 + left_key, left_key);
    }

    /// Pages the node being appended to would take if written now (what a commit that
    /// stops here writes, and the next one rewrites).
    pub(crate) fn open_span(&self) -> u64 {
        span(HEADER + self.levels[0].size, self.ps)
    }

    /// Whether the packed bucket would be stored inline in its parent's leaf (no sub-buckets,
    /// at most a quarter page).
    pub(crate) fn inline(&self) -> bool {
        !self.root && !self.has_sub && self.leaf_bytes <= self.ps / 4
    }

    /// Pages the bucket takes (0 when inline).
    pub(crate) fn finish(mut self) -> u64 {
        if self.inline() {
            return 0;
        }
        let mut level = 0;
        while level < self.levels.len() {
            // The commit cuts the open node into page runs (the writer's `split_runs`).
            let node: Vec<(u64, u64)> = self.levels[level].node.drain(..).collect();
            self.levels[level].size = 0;
            let runs = self.runs(&node);
            let root = self.levels[level].closed == 0 && runs.len() == 1;
            for &(size, key) in &runs {
                self.levels[level].pages += span(size, self.ps);
                if !root {
                    self.push(level + 1, BRANCH_ELEM_SIZE as u64 + key, key);
                }
            }
            if root {
                break;
            }
            level += 1;
        }
        self.levels.iter().map(|l| l.pages).sum()
    }

    /// The writer's page runs of a node: (bytes with header, first key length) each.
    fn runs(&self, node: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut rest: u64 = HEADER + node.iter().map(|e| e.0).sum::<u64>();
        loop {
            let r = &node[start..];
            if r.len() <= 4 || rest <= self.ps {
                out.push((rest, r.first().map_or(0, |e| e.1)));
                return out;
            }
            let mut sz = HEADER;
            let mut idx = 0;
            for (i, &(e, _)) in r.iter().enumerate().take(r.len() - 2) {
                idx = i;
                if i >= 2 && sz + e > self.threshold {
                    break;
                }
                sz += e;
            }
            out.push((sz, r[0].1));
            rest -= sz - HEADER;
            start += idx;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buckets_stay_inline_and_big_ones_split_into_full_pages() {
        let mut p = Packer::new(4096, 1.0, false);
        p.pair(3, 10, false);
        assert!(p.inline());
        assert_eq!(p.finish(), 0);
        // 1000 pairs of 16 + 8 + 100 bytes: 31 a page (a growing node splits as soon as it
        // passes a page, keeping two on the right), 33 leaves, 1 branch.
        let mut p = Packer::new(4096, 1.0, false);
        for _ in 0..1000 {
            p.pair(8, 100, false);
        }
        assert_eq!(p.finish(), 33 + 1);
        // One value of three pages: a leaf with two overflow pages.
        let mut p = Packer::new(4096, 1.0, false);
        p.pair(4, 10_000, false);
        assert_eq!(p.finish(), 3);
        // A sub-bucket keeps the bucket out of line however small.
        let mut p = Packer::new(4096, 1.0, false);
        p.pair(4, 16, true);
        assert_eq!(p.finish(), 1);
    }
}
