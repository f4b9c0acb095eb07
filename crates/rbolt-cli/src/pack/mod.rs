//! How many pages `rbolt compact` writes, predicted by replaying its copy on element sizes:
//! the pairs in the order the copy reads them ([`CopyOrder`] makes that order from a walk's),
//! the commit it makes whenever the next pair would take a transaction past its byte limit,
//! and what each commit writes, frees and reuses. The copy's size is decided by more than
//! full pages: every commit rewrites the last page of each level of every bucket on the path
//! being copied, and the pages it frees are reused only by later commits, and only where
//! they fit, so a bucket's large values rewritten by several commits can leave many pages
//! free. So the engine's writer is followed step by step: its splits during a transaction,
//! its cutting of nodes into pages at commit, inline buckets, and its page allocation.
//!
//! Streams: memory holds the last page of each level of the buckets on the path, the nodes a
//! transaction changes (a transaction's worth of elements), and the free runs.

mod order;
mod pages;
mod tree;

pub(crate) use order::CopyOrder;

use pages::{Pages, Span};
use tree::{Elem, HEADER, Page, Tree};

/// Bytes of a bucket header (root page id and sequence).
const BUCKET_HEADER: u64 = rbolt_format::BUCKET_HEADER_SIZE as u64;
/// A new bucket's value: its header and an empty inline page.
const NEW_BUCKET_VALUE: u64 = BUCKET_HEADER + HEADER;
/// A new file: two meta pages, the freelist at page 2 and the root bucket's leaf at page 3.
const NEW_FILE_PAGES: u64 = 4;

/// A destination bucket the copy may still change.
#[derive(Debug)]
struct Bucket {
    /// The sequence number of the bucket's element in its parent.
    seq: u64,
    /// The last page of each level as the last commit wrote it, root first; an inline
    /// bucket's page has no span.
    spine: Vec<Page>,
    /// The nodes this transaction changed, once it changed any.
    tree: Option<Tree>,
    /// Whether this transaction put a value or created a sub-bucket in it: the copy then
    /// sets its fill percent to 1.0; otherwise the default 0.5 applies to its splits.
    filled: bool,
    /// Values of the sub-buckets this transaction wrote, for their elements here, in key
    /// order: (sequence number, value bytes).
    headers: Vec<(u64, u64)>,
}

impl Bucket {
    fn new(seq: u64, spine: Vec<Page>) -> Self {
        Bucket {
            seq,
            spine,
            tree: None,
            filled: false,
            headers: Vec::new(),
        }
    }

    fn fill(&self) -> f64 {
        if self.filled { 1.0 } else { 0.5 }
    }
}

/// The copy being replayed.
#[derive(Debug)]
pub(crate) struct CopySim {
    ps: u64,
    /// Bytes of keys and values per transaction (0: one transaction).
    tx_max: u64,
    /// Bytes counted toward the open transaction.
    size: u64,
    /// Leaf elements appended so far.
    seq: u64,
    pages: Pages,
    freelist: Span,
    /// The page counts of the last two commits' metas: the copy's file is as long as the
    /// larger (the last commit cuts the file no shorter than the meta before it needs).
    metas: [u64; 2],
    /// The root bucket, then the buckets down to the one being copied into.
    path: Vec<Bucket>,
}

impl CopySim {
    /// A copy into a new file of `ps`-byte pages that commits every `tx_max` bytes.
    pub(crate) fn new(ps: u64, tx_max: u64) -> Self {
        let root_leaf = Page {
            span: Some(Span { start: 3, len: 1 }),
            elems: Vec::new(),
        };
        CopySim {
            ps,
            tx_max,
            size: 0,
            seq: 0,
            pages: Pages::new(NEW_FILE_PAGES),
            freelist: Span { start: 2, len: 1 },
            metas: [NEW_FILE_PAGES; 2],
            path: vec![Bucket::new(0, vec![root_leaf])],
        }
    }

    /// Counts `sz` bytes toward the transaction, committing first if they would not fit (a
    /// transaction always takes its first pair, however large).
    fn make_room(&mut self, sz: u64) {
        if self.tx_max != 0 && self.size > 0 && self.size + sz > self.tx_max {
            self.commit();
        }
        self.size += sz;
    }

    /// A value of the bucket being copied into.
    pub(crate) fn value(&mut self, key: usize, value: usize) {
        if self.path.len() < 2 {
            // Only buckets live at the top level: compact refuses anything else.
            return;
        }
        self.make_room((key + value) as u64);
        self.seq += 1;
        self.append(Elem::leaf(key, value as u64, false, self.seq));
    }

    /// A sub-bucket of the bucket being copied into, which the copy goes into next.
    pub(crate) fn enter(&mut self, name: usize) {
        self.make_room(name as u64);
        self.seq += 1;
        self.append(Elem::leaf(name, NEW_BUCKET_VALUE, true, self.seq));
        let mut b = Bucket::new(self.seq, Vec::new());
        // Setting its sequence reads the new bucket's (empty) page into a node.
        b.tree = Some(Tree::read(&[], self.ps));
        self.path.push(b);
    }

    fn append(&mut self, e: Elem) {
        let top = self.path.len() - 1;
        let b = &mut self.path[top];
        // The root bucket keeps the default fill percent: compact sets it on no other.
        b.filled |= top > 0;
        let fill = b.fill();
        let ps = self.ps;
        b.tree
            .get_or_insert_with(|| Tree::read(&b.spine, ps))
            .append(e, fill);
    }

    /// The bucket being copied into is complete.
    pub(crate) fn leave(&mut self) {
        if self.path.len() < 2 {
            return;
        }
        let Some(mut b) = self.path.pop() else { return };
        let value = write_bucket(&mut b, false, self.ps, &mut self.pages);
        if let (Some(v), Some(parent)) = (value, self.path.last_mut()) {
            parent.headers.push((b.seq, v));
        }
    }

    /// A commit: the buckets on the path written deepest first (the others this transaction
    /// changed were written as they were completed, which is the commit's order too), then
    /// the freelist; what it freed becomes reusable for the next transaction.
    fn commit(&mut self) {
        for i in (0..self.path.len()).rev() {
            let value = write_bucket(&mut self.path[i], i == 0, self.ps, &mut self.pages);
            self.path[i].filled = false;
            if let Some(v) = value
                && i > 0
            {
                let seq = self.path[i].seq;
                self.path[i - 1].headers.push((seq, v));
            }
        }
        self.pages.free(self.freelist);
        self.pages.trim_tail();
        let ids = usize::try_from(self.pages.count()).unwrap_or(usize::MAX);
        let n = rbolt_format::freelist_alloc_pages(ids, self.ps as usize) as u64;
        self.freelist = self.pages.allocate(n);
        self.metas = [self.metas[1], self.pages.hwm];
        self.pages.release();
        self.size = 0;
    }

    /// The last commit; returns the copy's length in pages.
    pub(crate) fn finish(mut self) -> u64 {
        while self.path.len() > 1 {
            self.leave();
        }
        self.commit();
        self.metas[0].max(self.metas[1])
    }
}

/// Writes bucket `b` as a commit does, once its sub-buckets are written: their new values
/// go into its elements, then it is stored inline in its parent (a leaf of no sub-buckets
/// and at most a quarter page) or on pages of its own. Returns its new value in its parent,
/// `None` when the transaction did not change it.
fn write_bucket(b: &mut Bucket, root: bool, ps: u64, pages: &mut Pages) -> Option<u64> {
    if b.tree.is_none() && b.headers.is_empty() {
        return None;
    }
    let fill = b.fill();
    let mut tree = b.tree.take().unwrap_or_else(|| Tree::read(&b.spine, ps));
    for (seq, v) in b.headers.drain(..) {
        tree.set_value(seq, v, fill);
    }
    if !root
        && let Some((size, false)) = tree.root_leaf()
        && size <= ps / 4
    {
        let (elems, page) = tree.into_root_leaf();
        if let Some(s) = page {
            pages.free(s);
        }
        b.spine = vec![Page { span: None, elems }];
        return Some(BUCKET_HEADER + size);
    }
    b.spine = tree.write(fill, pages);
    Some(BUCKET_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_copy_is_a_new_file_with_its_freelist_rewritten() {
        assert_eq!(CopySim::new(4096, 65536).finish(), 5);
    }

    #[test]
    fn full_leaves_and_inline_buckets() {
        // 1000 pairs of 16 + 8 + 100 bytes in one transaction: the leaf appends grow is cut
        // into pages of 32 at commit, so 32 leaves and their branch; then the root bucket's
        // leaf, the freelist, the two metas, and the new file's root leaf and freelist pages
        // that the commit freed.
        let mut c = CopySim::new(4096, 0);
        c.enter(1);
        for _ in 0..1000 {
            c.value(8, 100);
        }
        assert_eq!(c.finish(), 32 + 1 + 1 + 1 + 2 + 2);
        // A small bucket lives inside its parent's leaf.
        let mut c = CopySim::new(4096, 0);
        c.enter(1);
        c.value(3, 10);
        assert_eq!(c.finish(), 2 + 1 + 1 + 2);
    }

    #[test]
    fn four_large_values_share_a_leaf() {
        // At most four elements are never cut: one leaf with an overflow page.
        let mut c = CopySim::new(4096, 0);
        c.enter(1);
        for _ in 0..4 {
            c.value(8, 1500);
        }
        assert_eq!(c.finish(), 2 + 1 + 1 + 2 + 2);
    }
}
