//! The copy's order from a walk's. `compact` copies a sub-bucket whole as soon as it meets its
//! key, before the keys after it; the walk reports every pair of a leaf page first and walks
//! the page's sub-buckets after. So the pairs that follow a sub-bucket key in its page wait
//! here until that sub-bucket (everything under it) has been replayed: at most one page's
//! worth of sizes per bucket on the path.

use super::CopySim;
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug)]
enum Item {
    /// Key and value lengths.
    Value(usize, usize),
    /// A sub-bucket's name length.
    Sub(usize),
}

/// A bucket of the walk on the copy's path.
#[derive(Debug)]
struct Frame {
    id: u32,
    /// Pairs the walk reported that the copy reaches only after the open sub-bucket.
    waiting: VecDeque<Item>,
    /// The copy went into a sub-bucket of this one and has not come back.
    child_open: bool,
}

/// Feeds a [`CopySim`] from a walk's buckets and pairs.
#[derive(Debug)]
pub(crate) struct CopyOrder {
    sim: CopySim,
    frames: Vec<Frame>,
}

impl CopyOrder {
    pub(crate) fn new(sim: CopySim) -> Self {
        CopyOrder {
            sim,
            frames: Vec::new(),
        }
    }

    /// The walk met bucket `id` (the root bucket has no parent), named `name` bytes.
    pub(crate) fn bucket(&mut self, id: u32, parent: Option<u32>, name: usize) {
        let Some(parent) = parent else {
            while !self.frames.is_empty() {
                self.close_top();
            }
            self.frames.push(Frame::new(id));
            return;
        };
        if !self.unwind_to(parent) {
            return;
        }
        let top = self.frames.len() - 1;
        if !self.frames[top].child_open {
            self.advance(top);
        }
        if !self.frames[top].child_open {
            // A sub-bucket whose key the walk did not report: copied where it is met.
            self.sim.enter(name);
            self.frames[top].child_open = true;
        }
        self.frames.push(Frame::new(id));
    }

    /// A pair of bucket `bucket`: a value, or a sub-bucket's key (`sub`).
    pub(crate) fn pair(&mut self, bucket: u32, sub: bool, key: usize, value: usize) {
        if !self.unwind_to(bucket) {
            return;
        }
        let item = if sub {
            Item::Sub(key)
        } else {
            Item::Value(key, value)
        };
        let top = self.frames.len() - 1;
        let f = &mut self.frames[top];
        if f.child_open || !f.waiting.is_empty() {
            f.waiting.push_back(item);
        } else {
            self.emit(top, item);
        }
    }

    /// The walk is over: the copy's length in pages.
    pub(crate) fn finish(mut self) -> u64 {
        while !self.frames.is_empty() {
            self.close_top();
        }
        self.sim.finish()
    }

    /// Completes the buckets above `id` on the path; false if `id` is not on it.
    fn unwind_to(&mut self, id: u32) -> bool {
        let Some(at) = self.frames.iter().rposition(|f| f.id == id) else {
            return false;
        };
        while self.frames.len() > at + 1 {
            self.close_top();
        }
        true
    }

    fn emit(&mut self, at: usize, item: Item) {
        match item {
            Item::Value(k, v) => self.sim.value(k, v),
            Item::Sub(n) => {
                self.sim.enter(n);
                self.frames[at].child_open = true;
            }
        }
    }

    /// Replays what waited in frame `at`, up to and into its next sub-bucket.
    fn advance(&mut self, at: usize) {
        while !self.frames[at].child_open {
            let Some(item) = self.frames[at].waiting.pop_front() else {
                return;
            };
            self.emit(at, item);
        }
    }

    /// The top bucket is complete: what waited in it is copied (sub-buckets the walk never
    /// reached as empty ones), then its parent goes on.
    fn close_top(&mut self) {
        let Some(f) = self.frames.pop() else { return };
        if f.child_open {
            self.sim.leave();
        }
        for item in f.waiting {
            match item {
                Item::Value(k, v) => self.sim.value(k, v),
                Item::Sub(n) => {
                    self.sim.enter(n);
                    self.sim.leave();
                }
            }
        }
        if let Some(top) = self.frames.len().checked_sub(1) {
            self.sim.leave();
            self.frames[top].child_open = false;
            self.advance(top);
        }
    }
}

impl Frame {
    fn new(id: u32) -> Self {
        Frame {
            id,
            waiting: VecDeque::new(),
            child_open: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bucket `a`: a value, sub-bucket `s` (three values of 3,000 bytes), two more values;
    /// and a small transaction limit, so that where the commits fall depends on the order.
    fn copy_order(sim: &mut CopySim) {
        sim.enter(1);
        sim.value(2, 3000);
        sim.enter(1);
        for _ in 0..3 {
            sim.value(2, 3000);
        }
        sim.leave();
        sim.value(3, 9000);
        sim.value(3, 9000);
        sim.leave();
    }

    #[test]
    fn sub_buckets_are_copied_where_their_key_is() {
        let mut want = CopySim::new(4096, 8000);
        copy_order(&mut want);
        // The walk: every pair of a page, then the page's sub-buckets.
        let mut walk = CopyOrder::new(CopySim::new(4096, 8000));
        walk.bucket(0, None, 0);
        walk.pair(0, true, 1, 32);
        walk.bucket(1, Some(0), 1);
        walk.pair(1, false, 2, 3000);
        walk.pair(1, true, 1, 16);
        walk.pair(1, false, 3, 9000);
        walk.pair(1, false, 3, 9000);
        walk.bucket(2, Some(1), 1);
        for _ in 0..3 {
            walk.pair(2, false, 2, 3000);
        }
        let got = walk.finish();
        assert_eq!(got, want.finish());
        assert_eq!(got, 19, "the pages `compact` makes of such a file");
        // The walk's own order would give another file.
        let mut naive = CopySim::new(4096, 8000);
        naive.enter(1);
        naive.value(2, 3000);
        naive.value(3, 9000);
        naive.value(3, 9000);
        naive.enter(1);
        for _ in 0..3 {
            naive.value(2, 3000);
        }
        assert_ne!(got, naive.finish());
    }
}
