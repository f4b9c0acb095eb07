//! The in-memory shapes of a transaction: [`Slot`]s (where bytes live), [`Loc`]s (where a tree
//! level lives), and the writer's staged state — the nodes it materialised (bbolt's `node.go`
//! data), its bucket table and the arena its keys and values are copied into.
//!
//! Nodes live in one vector per transaction and refer to each other by index. Materialised
//! nodes always form a subtree hanging from the bucket's root: a branch node's child is either
//! a page id (untouched) or a node. A branch node may still be [lazy](LazyBranch): only its
//! page and the children descended into, until something needs its entries. Only data and
//! their invariants live here, with bbolt's rule for cutting a node's entries into pages
//! ([`split_runs_into`]), which the writer's splits and commit both follow; reading pages is
//! the read layer's and changing trees the write layer's.

use crate::limits::{DEFAULT_FILL_PERCENT, MAX_FILL_PERCENT, MIN_FILL_PERCENT};
use crate::mmap::ByteArena;
use rbolt_format::{BucketHeader, LEAF_ELEM_SIZE, PAGE_HEADER_SIZE, Pgid, key_prefix};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;

/// `Slot::src` value meaning "the mapping".
pub(crate) const MAP: u32 = u32::MAX;

/// A range of bytes the transaction can resolve for its whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) off: u64,
    /// u32 keeps inodes small; nothing in the format is longer (values < 2 GiB, and
    /// `page_slot` refuses larger page runs).
    pub(crate) len: u32,
    /// [`MAP`], or the index of an arena chunk.
    pub(crate) src: u32,
}

impl Slot {
    pub(crate) fn sub(self, start: usize, len: usize) -> Slot {
        Slot {
            off: self.off + start as u64,
            len: u32::try_from(len).expect("invariant: a sub-slot is no longer than its slot"),
            src: self.src,
        }
    }
}

/// Where a B+tree level lives: a page image (in the map, or inline in a bucket value) or a
/// node the writer materialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    Page(Slot),
    Node(NodeId),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BucketHandle {
    Read {
        root: Pgid,
        /// The root's span: an inline bucket's page, or the root page once its span was
        /// checked (when the handle was made), so lookups do not check it again. `None` for
        /// a root that failed the check: the first lookup reports it.
        span: Option<Slot>,
        seq: u64,
        /// Nesting depth: 0 for the root bucket, 1 for a top-level bucket.
        depth: usize,
    },
    Write(BucketId),
}

pub(crate) type NodeId = u32;
pub(crate) type BucketId = usize;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Val {
    /// A leaf value (or bucket header), wherever its bytes live.
    Data(Slot),
    /// A branch's child that is still only a page.
    Child(Pgid),
    /// A branch's child that was materialised.
    Node(NodeId),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Inode {
    pub(crate) key: Slot,
    pub(crate) flags: u32,
    pub(crate) val: Val,
}

impl Inode {
    pub(crate) fn new(key: Slot, flags: u32, val: Val) -> Self {
        Self { key, flags, val }
    }

    /// Bytes this entry takes in a page: element header, key and (leaf) value.
    pub(crate) fn page_size(&self) -> usize {
        let v = match self.val {
            Val::Data(s) => s.len as usize,
            _ => 0,
        };
        LEAF_ELEM_SIZE + self.key.len as usize + v
    }
}

/// Cuts `inodes` into page-sized runs with bbolt's rule ([`rbolt_format::split_runs`]), into
/// `runs` (cleared first, a vector a spill reuses from node to node).
pub(crate) fn split_runs_into(
    inodes: &[Inode],
    page_size: usize,
    fill: f64,
    fold_tail: bool,
    runs: &mut Vec<Range<usize>>,
) {
    let threshold = (page_size as f64 * fill.clamp(MIN_FILL_PERCENT, MAX_FILL_PERCENT)) as usize;
    rbolt_format::split_runs(
        inodes.len(),
        |i| inodes[i].page_size(),
        page_size,
        threshold,
        fold_tail,
        runs,
    );
}

/// A branch node that is still its page (checked when read): a small commit changes one child
/// per branch on its path, so decoding every entry of each is wasted unless the branch itself
/// changes. Descents search the page and record here the children they materialised; the
/// write layer's `expand` decodes the entries (with these children in place) the first time
/// anything needs them, and drops this. The read layer sees a lazy node as its page with these
/// children substituted.
#[derive(Debug)]
pub(crate) struct LazyBranch {
    pub(crate) slot: Slot,
    pub(crate) count: usize,
    /// Materialised children as (element index, node), in index order.
    pub(crate) children: SmallVec<[(usize, NodeId); 2]>,
    /// Descents that searched the page so far (see `write::tree::LAZY_VISITS`).
    pub(crate) visits: u32,
}

impl LazyBranch {
    pub(crate) fn child(&self, i: usize) -> Option<NodeId> {
        self.children.iter().find(|c| c.0 == i).map(|c| c.1)
    }

    pub(crate) fn set_child(&mut self, i: usize, c: NodeId) {
        let at = self.children.partition_point(|x| x.0 < i);
        debug_assert!(self.children.get(at).is_none_or(|x| x.0 != i));
        self.children.insert(at, (i, c));
    }
}

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) leaf: bool,
    /// `Some` while the node is a lazy branch: then `inodes`, `prefixes` and `size` are empty
    /// and must not be read (the methods below assert it in debug builds).
    pub(crate) lazy: Option<LazyBranch>,
    /// Entries in key order. Changed only through the methods below, which keep `prefixes`
    /// and `size` in step.
    pub(crate) inodes: Vec<Inode>,
    /// `key_prefix` of every entry's key, densely packed: a binary search probes these eight
    /// bytes apiece instead of striding through whole inodes, so one node's search touches a
    /// few cache lines and one memory page (the put path of a large transaction is bound by
    /// exactly those misses).
    pub(crate) prefixes: Vec<u64>,
    pub(crate) parent: Option<NodeId>,
    /// Page the node was read from (0: new, or an inline bucket's page); freed at spill.
    pub(crate) pgid: Pgid,
    pub(crate) overflow: u32,
    pub(crate) unbalanced: bool,
    pub(crate) dead: bool,
    pub(crate) bucket: BucketId,
    /// Serialised size: page header plus every inode's `page_size`.
    pub(crate) size: usize,
    /// False while the node holds exactly the entries of page `pgid` (children may have been
    /// materialised): commit can then copy that page and patch child ids instead of encoding.
    pub(crate) restructured: bool,
    /// False while every entry of page `pgid` is still here, and the only entries added are
    /// nodes split off its children: the subtree then holds what page `pgid`'s did, changed
    /// only below the children, so commit can count it from the page's remembered count.
    pub(crate) reshaped: bool,
    /// The entries end where a page does (the left part of an appended leaf's split): commit
    /// cuts them into pages without folding the last two runs into one, as it does for the
    /// end of a node that still grows.
    pub(crate) ends_on_page: bool,
}

impl Node {
    /// A node of `inodes`, whose keys' `key_prefix`es are `prefixes`.
    pub(crate) fn new(
        leaf: bool,
        (inodes, prefixes): (Vec<Inode>, Vec<u64>),
        parent: Option<NodeId>,
        bucket: BucketId,
    ) -> Self {
        let mut node = Node {
            leaf,
            lazy: None,
            inodes: Vec::new(),
            prefixes: Vec::new(),
            parent,
            pgid: Pgid(0),
            overflow: 0,
            unbalanced: false,
            dead: false,
            bucket,
            size: 0,
            restructured: true,
            reshaped: true,
            ends_on_page: false,
        };
        node.set_all(inodes, prefixes);
        node
    }

    pub(crate) fn insert(&mut self, i: usize, ino: Inode, prefix: u64) {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were used");
        self.restructured = true;
        self.size += ino.page_size();
        self.inodes.insert(i, ino);
        self.prefixes.insert(i, prefix);
    }

    pub(crate) fn remove(&mut self, i: usize) -> Inode {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were used");
        self.restructured = true;
        self.reshaped = true;
        let ino = self.inodes.remove(i);
        self.prefixes.remove(i);
        self.size -= ino.page_size();
        ino
    }

    /// Replaces entry `i` with one for the same key.
    pub(crate) fn replace(&mut self, i: usize, ino: Inode) {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were used");
        self.restructured = true;
        self.size -= self.inodes[i].page_size();
        self.size += ino.page_size();
        self.inodes[i] = ino;
    }

    pub(crate) fn set_all(&mut self, inodes: Vec<Inode>, prefixes: Vec<u64>) {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were replaced");
        self.restructured = true;
        self.reshaped = true;
        debug_assert_eq!(inodes.len(), prefixes.len());
        self.inodes = inodes;
        self.prefixes = prefixes;
        self.size = PAGE_HEADER_SIZE + self.inodes.iter().map(Inode::page_size).sum::<usize>();
    }

    pub(crate) fn take_all(&mut self) -> (Vec<Inode>, Vec<u64>) {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were used");
        self.restructured = true;
        self.reshaped = true;
        self.size = PAGE_HEADER_SIZE;
        (
            std::mem::take(&mut self.inodes),
            std::mem::take(&mut self.prefixes),
        )
    }

    pub(crate) fn append(&mut self, (inodes, prefixes): (Vec<Inode>, Vec<u64>)) {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were used");
        self.restructured = true;
        self.reshaped = true;
        self.size += inodes.iter().map(Inode::page_size).sum::<usize>();
        self.inodes.extend(inodes);
        self.prefixes.extend(prefixes);
    }

    /// Moves entries `at..` out, for a new right node. `room`: give it room to grow as a
    /// split near the end expects (below); else exactly what it holds.
    pub(crate) fn split_off(&mut self, at: usize, room: bool) -> (Vec<Inode>, Vec<u64>) {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were used");
        self.restructured = true;
        self.reshaped = true;
        // A split near the end is what appends make: the next puts all land in the small
        // right node, so give it the room the whole node had instead of doubling up from two
        // entries (five reallocations of both vectors per page otherwise) — allocated at
        // that size at once, not split off exactly and then grown.
        let n = self.inodes.len() - at;
        let cap = if room && n * 4 <= at { n + at } else { n };
        let mut right = (Vec::with_capacity(cap), Vec::with_capacity(cap));
        right.0.extend_from_slice(&self.inodes[at..]);
        right.1.extend_from_slice(&self.prefixes[at..]);
        self.inodes.truncate(at);
        self.prefixes.truncate(at);
        self.size -= right.0.iter().map(Inode::page_size).sum::<usize>();
        right
    }

    /// Binary search for `key`: `Ok(i)` if entry `i` has it, else `Err(i)` where it would go.
    /// Full keys are compared only when prefixes tie.
    pub(crate) fn search<'b>(
        &self,
        bytes: impl Fn(Slot) -> &'b [u8],
        key: &[u8],
    ) -> std::result::Result<usize, usize> {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were used");
        let kp = key_prefix(key);
        let (mut lo, mut hi) = (0, self.prefixes.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ord = match self.prefixes[mid].cmp(&kp) {
                std::cmp::Ordering::Equal => bytes(self.inodes[mid].key).cmp(key),
                o => o,
            };
            match ord {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub(crate) fn child_index(&self, child: NodeId) -> Option<usize> {
        debug_assert!(self.lazy.is_none(), "a lazy branch's entries were used");
        // From the end: appends split the last child, and other orders gain nothing either way.
        self.inodes
            .iter()
            .rposition(|i| matches!(i.val, Val::Node(c) if c == child))
    }
}

#[derive(Debug)]
pub(crate) struct BucketState {
    /// Header as read when the bucket was opened; `sequence` tracks changes.
    pub(crate) header: BucketHeader,
    /// The inline page (for `header.root == 0`).
    pub(crate) inline: Option<Slot>,
    pub(crate) root_node: Option<NodeId>,
    /// Sub-buckets opened in this transaction, by name.
    pub(crate) children: BTreeMap<Vec<u8>, BucketId>,
    pub(crate) fill_percent: f64,
    pub(crate) deleted: bool,
    /// Buckets on the path from the root to this one (the root bucket is 0, top-level 1).
    pub(crate) depth: usize,
}

impl BucketState {
    pub(crate) fn new(header: BucketHeader, inline: Option<Slot>, depth: usize) -> Self {
        Self {
            header,
            inline,
            root_node: None,
            children: BTreeMap::new(),
            fill_percent: DEFAULT_FILL_PERCENT,
            deleted: false,
            depth,
        }
    }
}

/// Where the last descent ended: a leaf and the bound its keys stay below, so the next key in
/// the same range — every key of an ascending load or an append — skips the descent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Finger {
    pub(crate) bucket: BucketId,
    pub(crate) leaf: NodeId,
    /// First key (and its prefix) of the leaf's right neighbour subtree; `None` for the
    /// bucket's last leaf.
    pub(crate) upper: Option<(Slot, u64)>,
}

#[derive(Debug, Default)]
pub(crate) struct WState {
    /// Dropped whenever separators move (split, rebalance, bucket freed).
    pub(crate) finger: Option<Finger>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) buckets: Vec<BucketState>,
    /// Page spans (first id, overflow) this transaction stopped using.
    pub(crate) freed: Vec<(Pgid, u64)>,
    pub(crate) unbalanced: Vec<NodeId>,
    /// Bumped on every change, so cursors know to re-seek.
    pub(crate) generation: u64,
}

impl WState {
    pub(crate) fn push_node(&mut self, node: Node) -> NodeId {
        let id =
            NodeId::try_from(self.nodes.len()).expect("invariant: fewer than 2^32 nodes per tx");
        self.nodes.push(node);
        id
    }

    pub(crate) fn free_node_page(&mut self, n: NodeId) {
        let node = &self.nodes[n as usize];
        if node.pgid != Pgid(0) {
            self.freed.push((node.pgid, u64::from(node.overflow)));
        }
    }
}

/// What a write transaction stages until commit: its nodes and bucket table, and the arena
/// holding copies of the keys and values passed to it.
///
/// Public only so the sealed [`Mode`](crate::Mode) trait can name it; not reachable from
/// outside the crate.
#[derive(Debug)]
pub struct Staged {
    pub(crate) st: RefCell<WState>,
    pub(crate) arena: ByteArena,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`split_runs_into`] with bbolt's folded tail, into a new vector.
    fn split_runs(inodes: &[Inode], page_size: usize, fill: f64) -> Vec<Range<usize>> {
        let mut runs = Vec::new();
        split_runs_into(inodes, page_size, fill, true, &mut runs);
        runs
    }

    fn inodes(sizes: &[usize]) -> Vec<Inode> {
        sizes
            .iter()
            .map(|&s| Inode {
                key: Slot {
                    off: 0,
                    len: 1,
                    src: MAP,
                },
                flags: 0,
                val: Val::Data(Slot {
                    off: 0,
                    len: (s - 17) as u32,
                    src: MAP,
                }),
            })
            .collect()
    }

    #[test]
    fn split_matches_bbolt_16_entries_of_124_bytes() {
        // bbolt.md §3.14: 124-byte entries on 4 KiB pages at fill 0.5 give 16 per leaf.
        let v = inodes(&[124; 100]);
        let runs = split_runs(&v, 4096, 0.5);
        assert!(
            runs[..runs.len() - 1].iter().all(|r| r.len() == 16),
            "{runs:?}"
        );
        assert_eq!(runs.iter().map(|r| r.len()).sum::<usize>(), 100);
    }

    #[test]
    fn small_or_few_nodes_are_not_split() {
        assert_eq!(split_runs(&inodes(&[100; 10]), 4096, 0.5), vec![0..10]);
        assert_eq!(split_runs(&inodes(&[5000; 4]), 4096, 0.5), vec![0..4]);
        // Five big entries: the tail keeps three (bbolt's n-3 rule when nothing breaks early).
        assert_eq!(
            split_runs(&inodes(&[20, 20, 20, 20, 9000]), 4096, 0.5),
            vec![0..2, 2..5]
        );
    }

    /// Regression: a node of exactly one page was cut into two pages (31 + 3 entries of 120
    /// bytes), bbolt's strict "less than a page" test; eager splits leave such nodes often.
    #[test]
    fn a_node_of_exactly_one_page_stays_one_page() {
        let v = inodes(&[120; 34]);
        assert_eq!(
            PAGE_HEADER_SIZE + v.iter().map(Inode::page_size).sum::<usize>(),
            4096
        );
        assert_eq!(split_runs(&v, 4096, 0.5), vec![0..34]);
        assert_eq!(split_runs(&inodes(&[120; 35]), 4096, 0.5).len(), 2);
    }

    /// Without folding, the runs of the entries up to any run boundary are those runs: what
    /// an appended leaf's split keeps on its left is written as the pages it was cut into.
    #[test]
    fn an_unfolded_tail_keeps_the_runs_of_a_longer_node() {
        let v = inodes(&[124; 100]);
        assert_eq!(
            split_runs(&v, 4096, 0.5).last(),
            Some(&(80..100)),
            "bbolt folds the last 20 into one page"
        );
        let mut unfolded = Vec::new();
        split_runs_into(&v, 4096, 0.5, false, &mut unfolded);
        let want: Vec<_> = (0..6)
            .map(|i| i * 16..i * 16 + 16)
            .chain(std::iter::once(96..100))
            .collect();
        assert_eq!(unfolded, want);
        let mut left = Vec::new();
        split_runs_into(&v[..96], 4096, 0.5, false, &mut left);
        assert_eq!(left, want[..6]);
        // At fill 1.0 folding changes nothing: the tail fits a page exactly when a run does.
        let mut full = Vec::new();
        split_runs_into(&v, 4096, 1.0, false, &mut full);
        assert_eq!(full, split_runs(&v, 4096, 1.0));
    }
}
