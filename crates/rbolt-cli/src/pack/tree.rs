//! One destination bucket's B+tree during one transaction of the copy, as element sizes: the
//! nodes the writer holds in memory (the path to the last leaf, read back from the pages the
//! last commit wrote, and every node appends split off since), the writer's split rules, and
//! the commit's cutting of nodes into pages. Only sizes and key lengths are kept; a node is a
//! page or, for the leaf that appends grow, up to [`TAIL_SPLIT_PAGES`] pages.

use super::pages::{Pages, Span};
use rbolt_format::{BRANCH_ELEM_SIZE, LEAF_ELEM_SIZE, PAGE_HEADER_SIZE};
use std::ops::Range;

pub(super) const HEADER: u64 = PAGE_HEADER_SIZE as u64;
// The engine's split limits (its `limits.rs`, not public): where the copy's pages end
// depends on each of them, so they must change with the engine's.
/// A node is split during a transaction once it passes this many pages...
const EAGER_SPLIT_PAGES: u64 = 1;
/// ... or holds more elements than this...
const EAGER_SPLIT_ELEMS: usize = 4096;
/// ... except a bucket's last leaf that puts append to, which grows to this many pages.
const TAIL_SPLIT_PAGES: u64 = 64;
/// The fill percents a bucket accepts.
const MIN_FILL: f64 = 0.1;
const MAX_FILL: f64 = 1.0;

/// An element of a page: its bytes there (element header, key, leaf value), its key length,
/// and what it links to.
#[derive(Clone, Copy, Debug)]
pub(super) struct Elem {
    pub(super) size: u64,
    pub(super) key: u32,
    /// In a leaf, 1 for a sub-bucket; in a branch, the child node's index + 1 when the child
    /// is in memory, else 0.
    pub(super) link: u32,
    /// Leaf elements: the order in which the copy appended them (increasing along a
    /// bucket), which finds a sub-bucket's element again when its header changes.
    pub(super) seq: u64,
}

impl Elem {
    /// A leaf element: a value, or a sub-bucket with its header as value.
    pub(super) fn leaf(key: usize, value: u64, sub: bool, seq: u64) -> Self {
        Elem {
            size: (LEAF_ELEM_SIZE + key) as u64 + value,
            key: u32::try_from(key).unwrap_or(u32::MAX),
            link: u32::from(sub),
            seq,
        }
    }

    fn branch(key: u32, child: Option<u32>) -> Self {
        Elem {
            size: BRANCH_ELEM_SIZE as u64 + u64::from(key),
            key,
            link: child.map_or(0, |c| c + 1),
            seq: 0,
        }
    }
}

/// A page as the last commit wrote it: where, and its elements.
#[derive(Clone, Debug)]
pub(super) struct Page {
    /// `None` for an inline bucket's page (or a bucket not written yet).
    pub(super) span: Option<Span>,
    pub(super) elems: Vec<Elem>,
}

#[derive(Debug)]
struct Node {
    leaf: bool,
    elems: Vec<Elem>,
    /// Page header plus every element.
    size: u64,
    parent: Option<u32>,
    /// 0 for leaves.
    level: usize,
    /// The page the node was read from: the commit frees it.
    page: Option<Span>,
    /// The node holds exactly whole pages (the left part of a grown leaf's split): the
    /// commit cuts it without folding its last two runs together.
    ends_on_page: bool,
}

impl Node {
    fn new(leaf: bool, elems: Vec<Elem>, parent: Option<u32>, level: usize) -> Self {
        let size = HEADER + elems.iter().map(|e| e.size).sum::<u64>();
        Node {
            leaf,
            elems,
            size,
            parent,
            level,
            page: None,
            ends_on_page: false,
        }
    }
}

/// Where a split cuts the node it starts from.
#[derive(Clone, Copy, Debug)]
enum SplitAt {
    /// Where the commit's cutting would end the first page.
    FirstPage,
    /// Here: where the last page of a leaf that appends grew starts.
    Appending(usize),
}

/// A bucket's nodes in memory during a transaction.
#[derive(Debug)]
pub(super) struct Tree {
    ps: u64,
    nodes: Vec<Node>,
    root: u32,
    /// Leaves in key order.
    leaves: Vec<u32>,
    /// The commit's pages per level (0: leaves), the last written of each: the path to the
    /// last leaf that the next transaction reads back.
    last: Vec<Option<Page>>,
}

/// Pages of `size` bytes.
fn span_of(size: u64, ps: u64) -> u64 {
    size.div_ceil(ps).max(1)
}

impl Tree {
    /// The path the writer reads when it first changes the bucket: `spine` holds the last
    /// page of each level, root first (an empty spine is a new bucket's empty leaf).
    pub(super) fn read(spine: &[Page], ps: u64) -> Self {
        let mut t = Tree {
            ps,
            nodes: Vec::with_capacity(spine.len().max(1)),
            root: 0,
            leaves: Vec::new(),
            last: Vec::new(),
        };
        let height = spine.len().max(1);
        for i in 0..height {
            let id = i as u32;
            let parent = id.checked_sub(1);
            let (elems, span) = spine
                .get(i)
                .map_or((Vec::new(), None), |p| (p.elems.clone(), p.span));
            let mut node = Node::new(i + 1 == height, elems, parent, height - 1 - i);
            node.page = span;
            t.nodes.push(node);
            if let Some(up) = parent
                && let Some(e) = t.nodes[up as usize].elems.last_mut()
            {
                e.link = id + 1;
            }
        }
        t.leaves.push(height as u32 - 1);
        t
    }

    /// The root, when it is a leaf: its bytes and whether it holds a sub-bucket (what decides
    /// whether the bucket is stored inline).
    pub(super) fn root_leaf(&self) -> Option<(u64, bool)> {
        let n = &self.nodes[self.root as usize];
        n.leaf
            .then(|| (n.size, n.elems.iter().any(|e| e.link != 0)))
    }

    /// The root leaf's elements and the page it was read from (an inline bucket's page).
    pub(super) fn into_root_leaf(mut self) -> (Vec<Elem>, Option<Span>) {
        let n = &mut self.nodes[self.root as usize];
        (std::mem::take(&mut n.elems), n.page)
    }

    /// Appends an element past the bucket's last key, then splits as the writer does.
    pub(super) fn append(&mut self, e: Elem, fill: f64) {
        let n = *self.leaves.last().expect("invariant: a tree has a leaf");
        let node = &mut self.nodes[n as usize];
        node.elems.push(e);
        node.size += e.size;
        // Keys small next to a page grow the last leaf instead of splitting it page by page.
        let tail = u64::from(e.key) <= self.ps / 16;
        self.split_eagerly(n, tail, fill);
    }

    /// Gives the leaf element appended as `seq` a value of `value` bytes (a sub-bucket's new
    /// header), then splits as the writer's put does.
    pub(super) fn set_value(&mut self, seq: u64, value: u64, fill: f64) {
        // Sequence numbers increase along the bucket: the last leaf starting at or before
        // `seq` holds it.
        let Some(n) = self.leaves.iter().rev().copied().find(|&l| {
            self.nodes[l as usize]
                .elems
                .first()
                .is_some_and(|e| e.seq <= seq)
        }) else {
            return;
        };
        let node = &mut self.nodes[n as usize];
        let Ok(i) = node.elems.binary_search_by_key(&seq, |e| e.seq) else {
            return;
        };
        let size = LEAF_ELEM_SIZE as u64 + u64::from(node.elems[i].key) + value;
        node.size = node.size - node.elems[i].size + size;
        node.elems[i].size = size;
        self.split_eagerly(n, false, fill);
    }

    fn stays_whole(&self, n: u32) -> bool {
        let node = &self.nodes[n as usize];
        let len = node.elems.len();
        (node.size <= EAGER_SPLIT_PAGES * self.ps && len <= EAGER_SPLIT_ELEMS) || len < 4
    }

    fn split_eagerly(&mut self, n: u32, tail: bool, fill: f64) {
        let node = &self.nodes[n as usize];
        let tail_stays =
            node.size <= TAIL_SPLIT_PAGES * self.ps && node.elems.len() <= EAGER_SPLIT_ELEMS;
        if self.stays_whole(n) || (tail && tail_stays) {
            return;
        }
        let at = tail
            .then(|| {
                // Where the last of the node's pages starts, if there are two or more: every
                // whole page stays on the left.
                let mut runs = Vec::new();
                split_runs(&node.elems, self.ps, fill, false, &mut runs);
                let last = runs.last()?;
                (runs.len() >= 2 && last.start >= 2).then_some(last.start)
            })
            .flatten()
            .map_or(SplitAt::FirstPage, SplitAt::Appending);
        self.split_up(n, at, fill);
    }

    /// Splits `n` where `at` says, then each ancestor the new separator makes too large.
    fn split_up(&mut self, mut n: u32, at: SplitAt, fill: f64) {
        let mut first = true;
        loop {
            if self.stays_whole(n) {
                return;
            }
            let node = &self.nodes[n as usize];
            let len = node.elems.len();
            let tail_mid = match at {
                SplitAt::Appending(i) if first => Some(i),
                _ => None,
            };
            first = false;
            // The first page's end at the fill threshold, two elements at least each side.
            let threshold = (self.ps as f64 * fill.clamp(MIN_FILL, MAX_FILL)) as u64;
            let mut sz = HEADER;
            let mut mid = len / 2;
            for (i, e) in node.elems.iter().enumerate() {
                if i >= 2 && sz + e.size > threshold {
                    mid = i;
                    break;
                }
                sz += e.size;
            }
            let mid = tail_mid.unwrap_or_else(|| mid.clamp(2, len - 2));
            let (leaf, parent, level) = (node.leaf, node.parent, node.level);
            let node = &mut self.nodes[n as usize];
            let right = node.elems.split_off(mid);
            node.size = HEADER + node.elems.iter().map(|e| e.size).sum::<u64>();
            if tail_mid.is_some() {
                node.ends_on_page = true;
            }
            let left_key = node.elems[0].key;
            let right_key = right[0].key;
            let m = self.nodes.len() as u32;
            for e in right.iter().filter(|e| !leaf && e.link != 0) {
                self.nodes[e.link as usize - 1].parent = Some(m);
            }
            self.nodes.push(Node::new(leaf, right, parent, level));
            if leaf && let Some(at) = self.leaves.iter().position(|&l| l == n) {
                self.leaves.insert(at + 1, m);
            }
            let sep = Elem::branch(right_key, Some(m));
            match parent {
                Some(p) => {
                    let up = &mut self.nodes[p as usize];
                    let at = up
                        .elems
                        .iter()
                        .rposition(|e| e.link == n + 1)
                        .map_or(up.elems.len(), |i| i + 1);
                    up.elems.insert(at, sep);
                    up.size += sep.size;
                    n = p;
                }
                None => {
                    let r = self.nodes.len() as u32;
                    let elems = vec![Elem::branch(left_key, Some(n)), sep];
                    self.nodes.push(Node::new(false, elems, None, level + 1));
                    self.nodes[n as usize].parent = Some(r);
                    self.nodes[m as usize].parent = Some(r);
                    self.root = r;
                    return;
                }
            }
        }
    }

    /// The commit: every node cut into pages and written, children before their parent,
    /// each page it was read from freed; then new root levels while the root took more than
    /// a page. Returns the path to the last leaf as written, root first.
    pub(super) fn write(mut self, fill: f64, pages: &mut Pages) -> Vec<Page> {
        let mut runs = Vec::new();
        let mut entries = self.write_node(self.root, true, fill, pages, &mut runs);
        let mut level = self.nodes[self.root as usize].level;
        while entries.len() > 1 {
            level += 1;
            let elems: Vec<Elem> = entries.iter().map(|&k| Elem::branch(k, None)).collect();
            entries = self.write_pages(level, &elems, fill, true, pages, &mut runs);
        }
        self.last.into_iter().rev().flatten().collect()
    }

    /// Writes node `n` and its children in memory; returns the first key of each page.
    fn write_node(
        &mut self,
        n: u32,
        is_root: bool,
        fill: f64,
        pages: &mut Pages,
        runs: &mut Vec<Range<usize>>,
    ) -> Vec<u32> {
        let node = &mut self.nodes[n as usize];
        let mut elems = std::mem::take(&mut node.elems);
        let (leaf, level, page, fold) = (node.leaf, node.level, node.page, !node.ends_on_page);
        if !leaf {
            let mut flat = Vec::with_capacity(elems.len());
            for e in elems {
                match e.link.checked_sub(1) {
                    Some(c) => {
                        let keys = self.write_node(c, false, fill, pages, runs);
                        flat.extend(keys.into_iter().map(|k| Elem::branch(k, None)));
                    }
                    None => flat.push(e),
                }
            }
            elems = flat;
        }
        if let Some(s) = page {
            pages.free(s);
        }
        if elems.is_empty() && !is_root {
            return Vec::new();
        }
        self.write_pages(level, &elems, fill, fold, pages, runs)
    }

    fn write_pages(
        &mut self,
        level: usize,
        elems: &[Elem],
        fill: f64,
        fold: bool,
        pages: &mut Pages,
        runs: &mut Vec<Range<usize>>,
    ) -> Vec<u32> {
        split_runs(elems, self.ps, fill, fold, runs);
        let mut keys = Vec::with_capacity(runs.len());
        for r in runs.iter() {
            let chunk = &elems[r.clone()];
            let size = HEADER + chunk.iter().map(|e| e.size).sum::<u64>();
            let span = pages.allocate(span_of(size, self.ps));
            keys.push(chunk.first().map_or(0, |e| e.key));
            if self.last.len() <= level {
                self.last.resize(level + 1, None);
            }
            self.last[level] = Some(Page {
                span: Some(span),
                elems: chunk.to_vec(),
            });
        }
        keys
    }
}

/// The writer's rule for cutting a node into pages ([`rbolt_format::split_runs`]).
pub(super) fn split_runs(
    elems: &[Elem],
    ps: u64,
    fill: f64,
    fold: bool,
    runs: &mut Vec<Range<usize>>,
) {
    let threshold = (ps as f64 * fill.clamp(MIN_FILL, MAX_FILL)) as usize;
    rbolt_format::split_runs(
        elems.len(),
        |i| elems[i].size as usize,
        ps as usize,
        threshold,
        fold,
        runs,
    );
}
