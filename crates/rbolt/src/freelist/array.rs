//! The "array" free set (bbolt's `array.go` semantics): [`ArrayFree::allocate`] returns the
//! **lowest** run of `n` free pages, first-fit by page id, so data packs towards the start of
//! the file (which also lets [shrink](super::Freelist::trim_tail) cut the end).
//!
//! bbolt finds that run with a linear scan over every free id, O(#free) per allocation
//! (boltdb/bolt#640). Here the free runs live in a treap keyed by first page id, where every
//! node also stores the longest run in its subtree. The lowest fitting run is then one descent:
//! go left while the left subtree has a run long enough, else take this node if it fits, else
//! go right. Insert, remove, neighbour lookups and that descent are O(log runs) expected.
//!
//! Node priorities come from a fixed-seed SplitMix64 sequence, independent of the keys, so the
//! shape is random whatever order pages are freed in.

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    start: u64,
    len: u64,
    /// Longest `len` in this node's subtree.
    max: u64,
    prio: u64,
    left: u32,
    right: u32,
}

/// Free runs `[start, start + len)`, disjoint and never adjacent (adjacent runs are merged).
#[derive(Debug)]
pub(crate) struct ArrayFree {
    nodes: Vec<Node>,
    spare: Vec<u32>,
    root: u32,
    count: u64,
    runs: usize,
    rng: u64,
}

impl Default for ArrayFree {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            spare: Vec::new(),
            root: NIL,
            count: 0,
            runs: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl ArrayFree {
    /// Free pages.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Number of runs.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        self.runs
    }

    fn n(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    fn nm(&mut self, i: u32) -> &mut Node {
        &mut self.nodes[i as usize]
    }

    fn max_of(&self, i: u32) -> u64 {
        if i == NIL { 0 } else { self.n(i).max }
    }

    fn pull(&mut self, i: u32) {
        let (l, r) = (self.n(i).left, self.n(i).right);
        let m = self.n(i).len.max(self.max_of(l)).max(self.max_of(r));
        self.nm(i).max = m;
    }

    fn next_prio(&mut self) -> u64 {
        // SplitMix64.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn new_node(&mut self, start: u64, len: u64) -> u32 {
        let node = Node {
            start,
            len,
            max: len,
            prio: self.next_prio(),
            left: NIL,
            right: NIL,
        };
        match self.spare.pop() {
            Some(i) => {
                *self.nm(i) = node;
                i
            }
            None => {
                let i = u32::try_from(self.nodes.len()).expect("invariant: < 2^32 free runs");
                self.nodes.push(node);
                i
            }
        }
    }

    /// Splits `t` into (starts < key, starts ≥ key).
    fn split(&mut self, t: u32, key: u64) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.n(t).start < key {
            let (l, r) = self.split(self.n(t).right, key);
            self.nm(t).right = l;
            self.pull(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.n(t).left, key);
            self.nm(t).left = r;
            self.pull(t);
            (l, t)
        }
    }

    /// Joins two treaps where every start in `a` is below every start in `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.n(a).prio > self.n(b).prio {
            let r = self.merge(self.n(a).right, b);
            self.nm(a).right = r;
            self.pull(a);
            a
        } else {
            let l = self.merge(a, self.n(b).left);
            self.nm(b).left = l;
            self.pull(b);
            b
        }
    }

    fn insert_node(&mut self, start: u64, len: u64) {
        let n = self.new_node(start, len);
        self.root = self.insert_at(self.root, n);
        self.runs += 1;
    }

    /// Puts node `n` into subtree `t`: down by key to where its priority belongs, and only
    /// the subtree found there is split around it. Most nodes land near the leaves, so this
    /// is one descent plus a short split instead of a split and two merges of the whole tree.
    fn insert_at(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        let start = self.n(n).start;
        if self.n(n).prio > self.n(t).prio {
            let (l, r) = self.split(t, start);
            let node = self.nm(n);
            node.left = l;
            node.right = r;
            self.pull(n);
            return n;
        }
        if start < self.n(t).start {
            let l = self.insert_at(self.n(t).left, n);
            self.nm(t).left = l;
        } else {
            let r = self.insert_at(self.n(t).right, n);
            self.nm(t).right = r;
        }
        self.pull(t);
        t
    }

    /// Removes the run starting exactly at `start`; returns its length.
    fn remove_node(&mut self, start: u64) -> Option<u64> {
        let (root, m) = self.remove_at(self.root, start);
        self.root = root;
        let m = m?;
        self.spare.push(m);
        self.runs -= 1;
        Some(self.n(m).len)
    }

    /// Unlinks the node starting at `start` from subtree `t` by merging its two children in
    /// its place. Returns the new subtree root and the unlinked node.
    fn remove_at(&mut self, t: u32, start: u64) -> (u32, Option<u32>) {
        if t == NIL {
            return (NIL, None);
        }
        let s = self.n(t).start;
        if start == s {
            let (l, r) = (self.n(t).left, self.n(t).right);
            return (self.merge(l, r), Some(t));
        }
        let found = if start < s {
            let (l, found) = self.remove_at(self.n(t).left, start);
            self.nm(t).left = l;
            found
        } else {
            let (r, found) = self.remove_at(self.n(t).right, start);
            self.nm(t).right = r;
            found
        };
        if found.is_some() {
            self.pull(t);
        }
        (t, found)
    }

    /// Replaces the run at `key` by `[start, start + len)`; the new run must keep its place in
    /// the order (it may not cross a neighbour), which holds for growing or trimming in place.
    fn update(&mut self, t: u32, key: u64, start: u64, len: u64) {
        assert!(t != NIL, "invariant: updated run exists");
        let s = self.n(t).start;
        if key < s {
            self.update(self.n(t).left, key, start, len);
        } else if key > s {
            self.update(self.n(t).right, key, start, len);
        } else {
            let n = self.nm(t);
            n.start = start;
            n.len = len;
        }
        self.pull(t);
    }

    /// The run with the largest start ≤ `x`.
    fn pred(&self, x: u64) -> Option<(u64, u64)> {
        let mut t = self.root;
        let mut best = None;
        while t != NIL {
            let n = self.n(t);
            if n.start <= x {
                best = Some((n.start, n.len));
                t = n.right;
            } else {
                t = n.left;
            }
        }
        best
    }

    /// For a span `[start, end)` clear of every run: the run ending exactly at `start` and the
    /// length of the run starting exactly at `end`, if any. One descent: with `start` itself
    /// absent, its predecessor and successor both lie on the path that searches for it.
    fn neighbours(&self, start: u64, end: u64) -> (Option<(u64, u64)>, Option<u64>) {
        let mut t = self.root;
        let (mut pred, mut succ) = (None, None);
        while t != NIL {
            let n = self.n(t);
            if n.start <= start {
                pred = Some((n.start, n.len));
                t = n.right;
            } else {
                succ = Some((n.start, n.len));
                t = n.left;
            }
        }
        (
            pred.filter(|&(s, l)| s + l == start),
            succ.filter(|&(s, _)| s == end).map(|(_, l)| l),
        )
    }

    /// True if page `id` is free.
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.pred(id).is_some_and(|(s, l)| id < s + l)
    }

    /// Adds the free span `[start, start + len)`, merging it with adjacent runs. The span must
    /// not overlap a free page.
    pub(crate) fn insert(&mut self, start: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.count += len;
        let (left, right) = self.neighbours(start, start + len);
        match (left, right) {
            (Some((ls, ll)), Some(rl)) => {
                self.remove_node(start + len);
                self.update(self.root, ls, ls, ll + len + rl);
            }
            (Some((ls, ll)), None) => self.update(self.root, ls, ls, ll + len),
            (None, Some(rl)) => self.update(self.root, start + len, start, len + rl),
            (None, None) => self.insert_node(start, len),
        }
    }

    /// Takes the lowest run of `n` pages (the front of the lowest run at least `n` long).
    pub(crate) fn allocate(&mut self, n: u64) -> Option<u64> {
        if n == 0 || self.max_of(self.root) < n {
            return None;
        }
        let (root, start) = self.take(self.root, n);
        self.root = root;
        self.count -= n;
        Some(start)
    }

    /// One descent: in subtree `t` (whose longest run is at least `n`), cuts `n` pages off
    /// the front of the lowest run that holds them. Returns the new subtree root and the start.
    fn take(&mut self, t: u32, n: u64) -> (u32, u64) {
        let (l, r) = (self.n(t).left, self.n(t).right);
        if self.max_of(l) >= n {
            let (l, s) = self.take(l, n);
            self.nm(t).left = l;
            self.pull(t);
            (t, s)
        } else if self.n(t).len >= n {
            let s = self.n(t).start;
            if self.n(t).len == n {
                self.spare.push(t);
                self.runs -= 1;
                (self.merge(l, r), s)
            } else {
                let node = self.nm(t);
                node.start += n;
                node.len -= n;
                self.pull(t);
                (t, s)
            }
        } else {
            let (r, s) = self.take(r, n);
            self.nm(t).right = r;
            self.pull(t);
            (t, s)
        }
    }

    /// Removes exactly the run starting at `start` (used to cut the tail of the file).
    pub(crate) fn remove_run(&mut self, start: u64) -> Option<u64> {
        let len = self.remove_node(start)?;
        self.count -= len;
        Some(len)
    }

    /// The run with the highest start.
    pub(crate) fn last(&self) -> Option<(u64, u64)> {
        let mut t = self.root;
        let mut best = None;
        while t != NIL {
            let n = self.n(t);
            best = Some((n.start, n.len));
            t = n.right;
        }
        best
    }

    /// Calls `f(start, len)` for every run in ascending order.
    pub(crate) fn for_each_run(&self, mut f: impl FnMut(u64, u64)) {
        let mut stack = Vec::new();
        let mut t = self.root;
        while t != NIL || !stack.is_empty() {
            while t != NIL {
                stack.push(t);
                t = self.n(t).left;
            }
            let i = stack.pop().expect("invariant: loop condition");
            let n = self.n(i);
            f(n.start, n.len);
            t = n.right;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn runs(a: &ArrayFree) -> Vec<(u64, u64)> {
        let mut v = Vec::new();
        a.for_each_run(|s, l| v.push((s, l)));
        v
    }

    /// Checks the treap under `t`: keys ordered within `(lo, hi)`, priorities a heap, every
    /// `max` the longest run below. Returns the number of nodes.
    fn assert_shape(a: &ArrayFree, t: u32, lo: u64, hi: u64) -> usize {
        if t == NIL {
            return 0;
        }
        let n = a.n(t);
        assert!(lo <= n.start && n.start < hi, "key order at {}", n.start);
        for c in [n.left, n.right] {
            if c != NIL {
                assert!(a.n(c).prio <= n.prio, "heap order under {}", n.start);
            }
        }
        assert_eq!(
            n.max,
            n.len.max(a.max_of(n.left)).max(a.max_of(n.right)),
            "max at {}",
            n.start
        );
        1 + assert_shape(a, n.left, lo, n.start) + assert_shape(a, n.right, n.start + 1, hi)
    }

    #[test]
    fn merges_neighbours_and_allocates_lowest() {
        let mut a = ArrayFree::default();
        for id in [3, 5, 6, 7, 9, 10] {
            a.insert(id, 1);
        }
        assert_eq!(runs(&a), vec![(3, 1), (5, 3), (9, 2)]);
        assert_eq!(a.allocate(2), Some(5));
        assert_eq!(a.allocate(1), Some(3));
        assert_eq!(a.allocate(3), None);
        assert_eq!(a.allocate(2), Some(9));
        assert_eq!(runs(&a), vec![(7, 1)]);
        a.insert(8, 1);
        a.insert(6, 1);
        assert_eq!(runs(&a), vec![(6, 3)]);
        assert_eq!(a.count(), 3);
        assert_eq!(a.last(), Some((6, 3)));
        assert_eq!(a.remove_run(6), Some(3));
        assert_eq!((a.count(), a.runs()), (0, 0));
    }

    /// Random inserts and allocations against a set of ids, checking lowest-fit exactly.
    #[test]
    fn matches_a_naive_first_fit_model() {
        let mut rng = rbolt_testkit::rng::Rng::new(12345);
        let mut next = |m: u64| rng.below(m);
        let mut a = ArrayFree::default();
        let mut model = BTreeSet::new();
        for step in 0..20_000 {
            if next(3) > 0 {
                let (s, l) = (next(2000) + 2, next(4) + 1);
                if (s..s + l).all(|i| !model.contains(&i)) {
                    a.insert(s, l);
                    model.extend(s..s + l);
                }
            } else if next(8) == 0 {
                if let Some((s, l)) = a.last() {
                    assert_eq!(a.remove_run(s), Some(l), "step {step}");
                    for i in s..s + l {
                        assert!(model.remove(&i), "step {step}: {i} was not free");
                    }
                }
            } else {
                let n = next(6) + 1;
                let ids: Vec<u64> = model.iter().copied().collect();
                let want = ids
                    .iter()
                    .position(|&s| (s..s + n).all(|i| model.contains(&i)));
                let want = want.map(|p| ids[p]);
                assert_eq!(a.allocate(n), want, "step {step}, n {n}");
                if let Some(s) = want {
                    for i in s..s + n {
                        model.remove(&i);
                    }
                }
            }
            assert_eq!(a.count(), model.len() as u64);
            if step % 500 == 0 {
                assert_eq!(assert_shape(&a, a.root, 0, u64::MAX), a.runs());
            }
        }
        let flat: Vec<u64> = runs(&a).into_iter().flat_map(|(s, l)| s..s + l).collect();
        assert_eq!(flat, model.iter().copied().collect::<Vec<_>>());
        for id in 0..2100 {
            assert_eq!(a.contains(id), model.contains(&id));
        }
    }
}
