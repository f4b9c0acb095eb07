//! The writer's in-memory B+tree nodes (bbolt's `node.go`): pages materialised on the path of
//! a change, edited in place, rebalanced and spilled back to new pages at commit.
//!
//! Nodes live in one arena per transaction and refer to each other by index. Materialised
//! nodes always form a subtree hanging from the bucket's root: a branch node's child is either
//! a page id (untouched) or a node. A node that grows past [`EAGER_SPLIT_PAGES`] pages is split
//! at once rather than at commit, which keeps a huge transaction's inserts O(log n) instead of
//! bbolt's O(n) per insert into one ever-growing node.

use crate::error::{Error, Result};
use crate::tx::{Loc, MAX_DEPTH, Slot, Tx, check_nesting, too_deep};
use rbolt_format::{BUCKET_LEAF_FLAG, BucketHeader, LEAF_ELEM_SIZE, PAGE_HEADER_SIZE, key_prefix};
use std::collections::BTreeMap;

pub(crate) type NodeId = u32;
pub(crate) type BucketId = usize;

/// A node is split during the transaction once its page image would exceed this many pages.
const EAGER_SPLIT_PAGES: usize = 1;
/// ... or once it holds this many elements, whatever their size.
const EAGER_SPLIT_ELEMS: usize = 4096;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Val {
    /// A leaf value (or bucket header), wherever its bytes live.
    Data(Slot),
    /// A branch's child that is still only a page.
    Child(u64),
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

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) leaf: bool,
    /// Entries in key order. Changed only through the methods below, which keep `prefixes`
    /// and `size` in step.
    pub(crate) inodes: Vec<Inode>,
    /// `key_prefix` of every entry's key, densely packed: a binary search probes these eight
    /// bytes apiece instead of striding through whole inodes, so one node's search touches a
    /// few cache lines and one memory page (the put path of a large transaction is bound by
    /// exactly those misses).
    prefixes: Vec<u64>,
    pub(crate) parent: Option<NodeId>,
    /// Page the node was read from (0: new, or an inline bucket's page); freed at spill.
    pub(crate) pgid: u64,
    pub(crate) overflow: u32,
    pub(crate) unbalanced: bool,
    pub(crate) dead: bool,
    pub(crate) bucket: BucketId,
    /// Serialised size: page header plus every inode's `page_size`.
    pub(crate) size: usize,
    /// False while the node holds exactly the entries of page `pgid` (children may have been
    /// materialised): commit can then copy that page and patch child ids instead of encoding.
    pub(crate) restructured: bool,
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
            inodes: Vec::new(),
            prefixes: Vec::new(),
            parent,
            pgid: 0,
            overflow: 0,
            unbalanced: false,
            dead: false,
            bucket,
            size: 0,
            restructured: true,
        };
        node.set_all(inodes, prefixes);
        node
    }

    pub(crate) fn insert(&mut self, i: usize, ino: Inode, prefix: u64) {
        self.restructured = true;
        self.size += ino.page_size();
        self.inodes.insert(i, ino);
        self.prefixes.insert(i, prefix);
    }

    pub(crate) fn remove(&mut self, i: usize) -> Inode {
        self.restructured = true;
        let ino = self.inodes.remove(i);
        self.prefixes.remove(i);
        self.size -= ino.page_size();
        ino
    }

    /// Replaces entry `i` with one for the same key.
    pub(crate) fn replace(&mut self, i: usize, ino: Inode) {
        self.restructured = true;
        self.size -= self.inodes[i].page_size();
        self.size += ino.page_size();
        self.inodes[i] = ino;
    }

    fn set_all(&mut self, inodes: Vec<Inode>, prefixes: Vec<u64>) {
        self.restructured = true;
        debug_assert_eq!(inodes.len(), prefixes.len());
        self.inodes = inodes;
        self.prefixes = prefixes;
        self.size = PAGE_HEADER_SIZE + self.inodes.iter().map(Inode::page_size).sum::<usize>();
    }

    fn take_all(&mut self) -> (Vec<Inode>, Vec<u64>) {
        self.restructured = true;
        self.size = PAGE_HEADER_SIZE;
        (
            std::mem::take(&mut self.inodes),
            std::mem::take(&mut self.prefixes),
        )
    }

    fn append(&mut self, (inodes, prefixes): (Vec<Inode>, Vec<u64>)) {
        self.restructured = true;
        self.size += inodes.iter().map(Inode::page_size).sum::<usize>();
        self.inodes.extend(inodes);
        self.prefixes.extend(prefixes);
    }

    fn split_off(&mut self, at: usize) -> (Vec<Inode>, Vec<u64>) {
        self.restructured = true;
        let right = (self.inodes.split_off(at), self.prefixes.split_off(at));
        self.size -= right.0.iter().map(Inode::page_size).sum::<usize>();
        right
    }

    /// Binary search for `key`: `Ok(i)` if entry `i` has it, else `Err(i)` where it would go.
    /// Full keys are compared only when prefixes tie.
    pub(crate) fn search(&self, tx: &Tx, key: &[u8]) -> std::result::Result<usize, usize> {
        let kp = key_prefix(key);
        let (mut lo, mut hi) = (0, self.prefixes.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ord = match self.prefixes[mid].cmp(&kp) {
                std::cmp::Ordering::Equal => tx.bytes(self.inodes[mid].key).cmp(key),
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

    fn child_index(&self, child: NodeId) -> Option<usize> {
        self.inodes
            .iter()
            .position(|i| matches!(i.val, Val::Node(c) if c == child))
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
            fill_percent: crate::DEFAULT_FILL_PERCENT,
            deleted: false,
            depth,
        }
    }
}

/// Where the last descent ended: a leaf and the bound its keys stay below, so the next key in
/// the same range — every key of an ascending load or an append — skips the descent.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Finger {
    bucket: BucketId,
    leaf: NodeId,
    /// First key (and its prefix) of the leaf's right neighbour subtree; `None` for the
    /// bucket's last leaf.
    upper: Option<(Slot, u64)>,
}

#[derive(Debug, Default)]
pub(crate) struct WState {
    /// Dropped whenever separators move (split, rebalance, bucket freed).
    pub(crate) finger: Option<Finger>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) buckets: Vec<BucketState>,
    /// Page spans (first id, overflow) this transaction stopped using.
    pub(crate) freed: Vec<(u64, u64)>,
    pub(crate) unbalanced: Vec<NodeId>,
    /// Bumped on every change, so cursors know to re-seek.
    pub(crate) generation: u64,
}

impl WState {
    fn push_node(&mut self, node: Node) -> NodeId {
        let id =
            NodeId::try_from(self.nodes.len()).expect("invariant: fewer than 2^32 nodes per tx");
        self.nodes.push(node);
        id
    }

    pub(crate) fn free_node_page(&mut self, n: NodeId) {
        let node = &self.nodes[n as usize];
        if node.pgid != 0 {
            self.freed.push((node.pgid, u64::from(node.overflow)));
        }
    }
}

impl Tx {
    /// Reads the page (or inline page) at `slot` into a new node.
    fn materialize(
        &self,
        slot: Slot,
        pgid: u64,
        parent: Option<NodeId>,
        bucket: BucketId,
    ) -> Result<NodeId> {
        let (leaf, count) = self.level(Loc::Page(slot))?;
        let mut inodes = Vec::with_capacity(count);
        // Prefixes straight from the page bytes at hand, not through each key's slot again.
        let mut prefixes = Vec::with_capacity(count);
        let overflow = if leaf {
            let p = self.leaf_page(slot)?;
            for i in 0..count {
                let e = p.elem(i).map_err(|e| Error::corrupted(pgid, e))?;
                prefixes.push(key_prefix(&p.bytes()[e.key.clone()]));
                inodes.push(Inode::new(
                    slot.sub(e.key.start, e.key.len()),
                    e.flags,
                    Val::Data(slot.sub(e.value.start, e.value.len())),
                ));
            }
            rbolt_format::PageHeader::decode(p.bytes())
                .map(|h| h.overflow)
                .unwrap_or(0)
        } else {
            let p = self.branch_page(slot)?;
            if count == 0 {
                return Err(Error::corrupted(pgid, "branch page with no elements"));
            }
            let bytes = self.bytes(slot);
            for i in 0..count {
                let e = p.elem(i).map_err(|e| Error::corrupted(pgid, e))?;
                prefixes.push(key_prefix(&bytes[e.key.clone()]));
                inodes.push(Inode::new(
                    slot.sub(e.key.start, e.key.len()),
                    0,
                    Val::Child(e.pgid),
                ));
            }
            rbolt_format::PageHeader::decode(bytes)
                .map(|h| h.overflow)
                .unwrap_or(0)
        };
        let mut node = Node::new(leaf, (inodes, prefixes), parent, bucket);
        node.restructured = false;
        node.pgid = pgid;
        node.overflow = if pgid == 0 { 0 } else { overflow };
        Ok(self.wstate_mut().push_node(node))
    }

    /// The bucket's root node, materialising it if needed.
    pub(crate) fn ensure_root_node(&self, b: BucketId) -> Result<NodeId> {
        let (root_node, inline, root) = {
            let st = self.wstate();
            let bs = &st.buckets[b];
            (bs.root_node, bs.inline, bs.header.root)
        };
        if let Some(n) = root_node {
            return Ok(n);
        }
        let n = match inline {
            Some(slot) => {
                let n = self.materialize(slot, 0, None, b)?;
                if !self.wstate().nodes[n as usize].leaf {
                    return Err(Error::corrupted(None, "inline bucket page is not a leaf"));
                }
                n
            }
            None => self.materialize(self.page_slot(root)?, root, None, b)?,
        };
        self.wstate_mut().buckets[b].root_node = Some(n);
        Ok(n)
    }

    /// Materialises the path to the leaf where `key` belongs. Returns the leaf, the index of
    /// the first key ≥ `key`, and whether it is equal.
    pub(crate) fn leaf_for(&self, b: BucketId, key: &[u8]) -> Result<(NodeId, usize, bool)> {
        if let Some(hit) = self.finger_lookup(b, key) {
            return Ok(hit);
        }
        let mut n = self.ensure_root_node(b)?;
        let mut upper = None;
        for _ in 0..MAX_DEPTH {
            let (i, pgid) = {
                let mut st = self.wstate_mut();
                let node = &st.nodes[n as usize];
                let found = node.search(self, key);
                if node.leaf {
                    st.finger = Some(Finger {
                        bucket: b,
                        leaf: n,
                        upper,
                    });
                    return Ok(match found {
                        Ok(i) => (n, i, true),
                        Err(i) => (n, i, false),
                    });
                }
                if node.inodes.is_empty() {
                    return Err(Error::corrupted(node.pgid, "branch node with no elements"));
                }
                // The last child whose first key is ≤ `key`, else the first.
                let i = found.unwrap_or_else(|i| i.saturating_sub(1));
                if let Some(next) = node.inodes.get(i + 1) {
                    upper = Some((next.key, node.prefixes[i + 1]));
                }
                match node.inodes[i].val {
                    Val::Node(c) => {
                        n = c;
                        continue;
                    }
                    Val::Child(pgid) => (i, pgid),
                    Val::Data(_) => unreachable!("invariant: branch inodes hold children"),
                }
            };
            let c = self.materialize(self.page_slot(pgid)?, pgid, Some(n), b)?;
            self.wstate_mut().nodes[n as usize].inodes[i].val = Val::Node(c);
            n = c;
        }
        Err(Error::corrupted(
            None,
            format!("tree deeper than {MAX_DEPTH} levels"),
        ))
    }

    /// `leaf_for` through the finger, if `key` falls in the last leaf's range: at or after
    /// its first key (so after its separator) and below `upper`.
    fn finger_lookup(&self, b: BucketId, key: &[u8]) -> Option<(NodeId, usize, bool)> {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let st = self.wstate();
        let f = st.finger.filter(|f| f.bucket == b)?;
        let node = &st.nodes[f.leaf as usize];
        if node.dead || !node.leaf || node.inodes.is_empty() {
            return None;
        }
        // Prefixes first: on a miss (most random keys) no key bytes are touched.
        let kp = key_prefix(key);
        let stored_vs_key = |p: u64, s: Slot| p.cmp(&kp).then_with(|| self.bytes(s).cmp(key));
        if let Some((u, up)) = f.upper
            && stored_vs_key(up, u) != Greater
        {
            return None;
        }
        let last = node.inodes.len() - 1;
        match stored_vs_key(node.prefixes[last], node.inodes[last].key) {
            Less => return Some((f.leaf, last + 1, false)),
            Equal => return Some((f.leaf, last, true)),
            Greater => {}
        }
        if stored_vs_key(node.prefixes[0], node.inodes[0].key) == Greater {
            return None;
        }
        Some(match node.search(self, key) {
            Ok(i) => (f.leaf, i, true),
            Err(i) => (f.leaf, i, false),
        })
    }

    /// Inserts or replaces the entry for `key` (whose bytes are at `key_slot`). Replacing a
    /// bucket with a value or the reverse is [`Error::IncompatibleValue`].
    pub(crate) fn put_entry(
        &self,
        b: BucketId,
        key_slot: Slot,
        flags: u32,
        value: Slot,
    ) -> Result<()> {
        let key = self.bytes(key_slot);
        let (n, i, exact) = self.leaf_for(b, key)?;
        let mut st = self.wstate_mut();
        let node = &mut st.nodes[n as usize];
        let ino = Inode::new(key_slot, flags, Val::Data(value));
        if exact {
            if (node.inodes[i].flags & BUCKET_LEAF_FLAG) != (flags & BUCKET_LEAF_FLAG) {
                return Err(Error::IncompatibleValue);
            }
            node.replace(i, ino);
        } else {
            node.insert(i, ino, key_prefix(key));
        }
        st.generation += 1;
        self.split_eagerly(&mut st, n);
        Ok(())
    }

    /// Removes `key` from its leaf. The caller checked that it exists and is of the right kind.
    pub(crate) fn delete_entry(&self, b: BucketId, key: &[u8]) -> Result<()> {
        let (n, i, exact) = self.leaf_for(b, key)?;
        if !exact {
            return Ok(());
        }
        let mut st = self.wstate_mut();
        let node = &mut st.nodes[n as usize];
        node.remove(i);
        node.unbalanced = true;
        st.unbalanced.push(n);
        st.generation += 1;
        Ok(())
    }

    /// Splits `n` (and then its ancestors) while it is larger than a few pages.
    fn split_eagerly(&self, st: &mut WState, mut n: NodeId) {
        let limit = EAGER_SPLIT_PAGES * self.page_size;
        loop {
            let node = &st.nodes[n as usize];
            let len = node.inodes.len();
            if (node.size <= limit && len <= EAGER_SPLIT_ELEMS) || len < 4 {
                return;
            }
            // Split where commit's packing would end the first page (bbolt's rule: fill
            // threshold, at least two entries a page). The left node is then exactly the page
            // commit would write, so fill 1.0 keeps full pages (as appends and compaction
            // expect) and the default 0.5 leaves two half pages that later inserts fill.
            let fill = st.buckets[node.bucket].fill_percent.clamp(0.1, 1.0);
            let threshold = (self.page_size as f64 * fill) as usize;
            let mut sz = PAGE_HEADER_SIZE;
            let mut mid = len / 2;
            for (i, ino) in node.inodes.iter().enumerate() {
                let el = ino.page_size();
                if i >= 2 && sz + el > threshold {
                    mid = i;
                    break;
                }
                sz += el;
            }
            let mid = mid.clamp(2, len - 2);
            self.ext.stats.bump(|s| s.split += 1);
            st.finger = None;
            let (leaf, parent, bucket) = (node.leaf, node.parent, node.bucket);
            let (right, right_prefixes) = st.nodes[n as usize].split_off(mid);
            let first_left = (
                st.nodes[n as usize].inodes[0].key,
                st.nodes[n as usize].prefixes[0],
            );
            let first_right = if crate::defects::active("split-off-by-one") {
                (right[1].key, right_prefixes[1])
            } else {
                (right[0].key, right_prefixes[0])
            };
            let m = Node::new(leaf, (right, right_prefixes), parent, bucket);
            let moved: Vec<NodeId> = m
                .inodes
                .iter()
                .filter_map(|i| {
                    if let Val::Node(c) = i.val {
                        Some(c)
                    } else {
                        None
                    }
                })
                .collect();
            let m = st.push_node(m);
            for c in moved {
                st.nodes[c as usize].parent = Some(m);
            }
            let sep = Inode::new(first_right.0, 0, Val::Node(m));
            match parent {
                Some(p) => {
                    let idx = st.nodes[p as usize]
                        .child_index(n)
                        .expect("invariant: a node's parent lists it");
                    st.nodes[p as usize].insert(idx + 1, sep, first_right.1);
                    n = p;
                }
                None => {
                    let root = Node::new(
                        false,
                        (
                            vec![Inode::new(first_left.0, 0, Val::Node(n)), sep],
                            vec![first_left.1, first_right.1],
                        ),
                        None,
                        bucket,
                    );
                    let r = st.push_node(root);
                    st.nodes[n as usize].parent = Some(r);
                    st.nodes[m as usize].parent = Some(r);
                    st.buckets[bucket].root_node = Some(r);
                    return;
                }
            }
        }
    }

    /// Materialises child `i` of branch node `p` if it is still a page.
    fn child_node(&self, p: NodeId, i: usize) -> Result<NodeId> {
        let (val, bucket) = {
            let st = self.wstate();
            let node = &st.nodes[p as usize];
            (node.inodes[i].val, node.bucket)
        };
        match val {
            Val::Node(c) => Ok(c),
            Val::Child(pgid) => {
                let c = self.materialize(self.page_slot(pgid)?, pgid, Some(p), bucket)?;
                self.wstate_mut().nodes[p as usize].inodes[i].val = Val::Node(c);
                Ok(c)
            }
            Val::Data(_) => unreachable!("invariant: branch inodes hold children"),
        }
    }

    /// Merges or removes every node that deletes left too small (bbolt's `node.rebalance`).
    pub(crate) fn rebalance_all(&self) -> Result<()> {
        self.wstate_mut().finger = None;
        let list = std::mem::take(&mut self.wstate_mut().unbalanced);
        for n in list {
            self.rebalance(n)?;
        }
        Ok(())
    }

    fn rebalance(&self, mut n: NodeId) -> Result<()> {
        for _ in 0..=MAX_DEPTH {
            let (parent, leaf, len) = {
                let mut st = self.wstate_mut();
                let ps = self.page_size as f64;
                let node = &st.nodes[n as usize];
                if node.dead || !node.unbalanced || st.buckets[node.bucket].deleted {
                    return Ok(());
                }
                // bbolt ≥ 1.4: the threshold scales with the bucket's fill percent.
                let threshold = ((ps * st.buckets[node.bucket].fill_percent) as usize) / 2;
                let min_keys = if node.leaf { 1 } else { 2 };
                let (size, len, leaf, parent) =
                    (node.size, node.inodes.len(), node.leaf, node.parent);
                st.nodes[n as usize].unbalanced = false;
                if size > threshold && len > min_keys {
                    return Ok(());
                }
                (parent, leaf, len)
            };
            let Some(p) = parent else {
                if !leaf && len == 1 {
                    self.collapse_root(n)?;
                } else if !leaf && len == 0 {
                    // Its last child went (a chain of one-element branches, as another
                    // writer may leave): the bucket is empty, and an empty tree is a leaf.
                    let r = &mut self.wstate_mut().nodes[n as usize];
                    r.leaf = true;
                    r.restructured = true;
                }
                return Ok(());
            };
            let mut st = self.wstate_mut();
            let idx = st.nodes[p as usize]
                .child_index(n)
                .expect("invariant: a node's parent lists it");
            if len == 0 {
                st.nodes[p as usize].remove(idx);
                st.free_node_page(n);
                st.nodes[n as usize].dead = true;
                st.nodes[p as usize].unbalanced = true;
                n = p;
                continue;
            }
            let siblings = st.nodes[p as usize].inodes.len();
            drop(st);
            if siblings < 2 {
                return Ok(());
            }
            // Merge with the right sibling if first, else into the left one.
            let (target, source, source_idx) = if idx == 0 {
                (n, self.child_node(p, 1)?, 1)
            } else {
                (self.child_node(p, idx - 1)?, n, idx)
            };
            let mut st = self.wstate_mut();
            let moved = st.nodes[source as usize].take_all();
            for ino in &moved.0 {
                if let Val::Node(c) = ino.val {
                    st.nodes[c as usize].parent = Some(target);
                }
            }
            st.nodes[target as usize].append(moved);
            st.nodes[p as usize].remove(source_idx);
            st.free_node_page(source);
            st.nodes[source as usize].dead = true;
            st.nodes[p as usize].unbalanced = true;
            n = p;
        }
        Err(Error::corrupted(
            None,
            format!("tree deeper than {MAX_DEPTH} levels"),
        ))
    }

    /// A root branch with one child takes over that child's contents.
    fn collapse_root(&self, root: NodeId) -> Result<()> {
        let child = self.child_node(root, 0)?;
        let mut st = self.wstate_mut();
        let (inodes, prefixes) = st.nodes[child as usize].take_all();
        for ino in &inodes {
            if let Val::Node(c) = ino.val {
                st.nodes[c as usize].parent = Some(root);
            }
        }
        let leaf = st.nodes[child as usize].leaf;
        let r = &mut st.nodes[root as usize];
        r.leaf = leaf;
        r.set_all(inodes, prefixes);
        st.free_node_page(child);
        st.nodes[child as usize].dead = true;
        Ok(())
    }

    /// Frees every page of bucket `b` and of its sub-buckets, and marks them deleted. The
    /// walk keeps its own stack, so deep trees and deeply nested buckets cost heap, not call
    /// stack.
    pub(crate) fn free_bucket(&self, b: BucketId) -> Result<()> {
        let mut stack = vec![self.start_freeing(b, 0)?];
        while let Some(w) = stack.pop() {
            check_nesting(w.nesting)?;
            if w.depth >= MAX_DEPTH {
                return Err(too_deep(None));
            }
            match w.loc {
                Loc::Node(n) => self.wstate_mut().free_node_page(n),
                Loc::Page(s) if w.real => {
                    let ps = self.page_size as u64;
                    self.wstate_mut()
                        .freed
                        .push((s.off / ps, u64::from(s.len) / ps - 1));
                }
                Loc::Page(_) => {}
            }
            let (leaf, count) = self.level(w.loc)?;
            for i in 0..count {
                if !leaf {
                    stack.push(FreeWork {
                        loc: self.child_at(w.loc, i)?,
                        real: true,
                        depth: w.depth + 1,
                        ..w
                    });
                    continue;
                }
                let e = self.leaf_entry(w.loc, i)?;
                if e.flags & BUCKET_LEAF_FLAG == 0 {
                    continue;
                }
                let cached = w
                    .cache
                    .and_then(|b| self.wstate().buckets[b].children.get(e.key).copied());
                match cached {
                    Some(c) => stack.push(self.start_freeing(c, w.nesting + 1)?),
                    None => {
                        let h = BucketHeader::decode(e.value)
                            .map_err(|err| Error::corrupted(None, err))?;
                        if h.root != 0 {
                            stack.push(FreeWork {
                                loc: Loc::Page(self.page_slot(h.root)?),
                                real: true,
                                cache: None,
                                depth: 0,
                                nesting: w.nesting + 1,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Marks bucket `b` deleted and returns the walk step for its root.
    fn start_freeing(&self, b: BucketId, nesting: usize) -> Result<FreeWork> {
        let (root_node, inline, root) = {
            let mut st = self.wstate_mut();
            st.finger = None;
            let bs = &mut st.buckets[b];
            bs.deleted = true;
            (bs.root_node, bs.inline, bs.header.root)
        };
        let loc = match (root_node, inline) {
            (Some(n), _) => Loc::Node(n),
            (None, Some(s)) => Loc::Page(s),
            (None, None) => Loc::Page(self.page_slot(root)?),
        };
        Ok(FreeWork {
            loc,
            real: inline.is_none(),
            cache: Some(b),
            depth: 0,
            nesting,
        })
    }
}

/// One step of [`Tx::free_bucket`]'s walk: the pages under `loc`. `real` says a `Loc::Page`
/// is a file page rather than an inline page; `cache` is the bucket whose opened children
/// apply at this level; `nesting` counts buckets below the one being deleted.
#[derive(Clone, Copy)]
struct FreeWork {
    loc: Loc,
    real: bool,
    cache: Option<BucketId>,
    depth: usize,
    nesting: usize,
}
