//! Changing trees (bbolt's `node.go` operations): pages materialised into nodes on the path of
//! a change, entries put and deleted in place, nodes split and rebalanced, whole buckets freed.
//!
//! A node that grows past [`EAGER_SPLIT_PAGES`] pages is split
//! at once rather than at commit, which keeps a huge transaction's inserts O(log n) instead of
//! bbolt's O(n) per insert into one ever-growing node. A bucket's last leaf that puts append
//! to grows to [`TAIL_SPLIT_PAGES`] instead: appends never shift entries.

use super::WriteCtx;
use crate::error::{Error, Result};
use crate::limits::{EAGER_SPLIT_ELEMS, EAGER_SPLIT_PAGES, MAX_FILL_PERCENT, MIN_FILL_PERCENT};
use crate::limits::{MAX_DEPTH, TAIL_SPLIT_PAGES, check_nesting, too_deep};
use crate::read::WHOLE_PAGE_LINES;
use crate::state::{
    BucketId, Finger, Inode, LazyBranch, Loc, Node, NodeId, Slot, Val, WState, split_runs_into,
};
use rbolt_format::{BUCKET_LEAF_FLAG, BucketHeader, PAGE_HEADER_SIZE, Pgid, key_prefix};
use smallvec::SmallVec;

/// A separator's key and its `key_prefix` (the finger's bound).
type Separator = (Slot, u64);

/// What a descent's step through a lazy branch found.
enum LazyStep {
    /// The child for the key, already materialised.
    Node(NodeId),
    /// The child for the key: its index and page.
    Page(usize, Pgid),
    /// The branch was decoded: search it as a node.
    Expanded,
}

/// Where [`WriteCtx::split_up`] cuts the node it starts from.
#[derive(Clone, Copy, Debug)]
enum SplitAt {
    /// Where commit's packing would end the first page.
    FirstPage,
    /// At this page boundary of a leaf that puts append to: the right node, where they go on,
    /// gets room for as many entries as the whole node had.
    Appending(usize),
    /// At this page boundary, the right node sized to what it holds.
    Page(usize),
}

/// Descents a lazy branch serves from its page before it is decoded. A page search costs more
/// than a node's (the header and element checks again, and probes striding through 16-byte
/// elements and their keys rather than a dense prefix array), so a branch that a large
/// transaction keeps passing through pays for its decoding within a few descents; a small
/// commit passes each branch once.
const LAZY_VISITS: u32 = 4;

impl WriteCtx<'_> {
    /// Reads the page (or inline page) at `slot` into a new node: a leaf's entries, or a lazy
    /// branch (its page, checked as a descent checks it; see [`LazyBranch`]).
    fn materialize(
        &self,
        slot: Slot,
        pgid: Pgid,
        parent: Option<NodeId>,
        bucket: BucketId,
    ) -> Result<NodeId> {
        let (leaf, count) = self.level(Loc::Page(slot))?;
        let overflow = rbolt_format::PageHeader::decode(self.bytes(slot))
            .map(|h| h.overflow)
            .unwrap_or(0);
        let mut node = if leaf {
            // A node is materialised to be changed, mostly by an insert (a put, or a split's
            // separator): room for one more saves reallocating both vectors right away.
            let mut inodes = Vec::with_capacity(count + 1);
            // Prefixes straight from the page bytes at hand, not through each key's slot again.
            let mut prefixes = Vec::with_capacity(count + 1);
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
            Node::new(true, (inodes, prefixes), parent, bucket)
        } else {
            if count == 0 {
                return Err(Error::corrupted(pgid, "branch page with no elements"));
            }
            // Every element checked now, as decoding them would: a damaged branch stops the
            // write that reaches it, whichever elements the descents then read, and commit
            // copies only a page whose elements all passed.
            self.branch_page(slot)?
                .check_elems()
                .map_err(|e| Error::corrupted(pgid, e))?;
            let mut node = Node::new(false, (Vec::new(), Vec::new()), parent, bucket);
            node.size = 0;
            node.lazy = Some(LazyBranch {
                slot,
                count,
                children: SmallVec::new(),
                visits: 0,
            });
            node
        };
        node.restructured = false;
        node.reshaped = false;
        node.pgid = pgid;
        node.overflow = if pgid == Pgid(0) { 0 } else { overflow };
        Ok(self.wstate_mut().push_node(node))
    }

    /// Decodes lazy branch `n`'s entries, its materialised children in place: after this it
    /// is the node a full read of its page would have made, still unchanged (commit may still
    /// copy its page). Nothing for a node that is not lazy.
    #[inline]
    pub(crate) fn expand(&self, st: &mut WState, n: NodeId) -> Result<()> {
        if st.nodes[n as usize].lazy.is_none() {
            return Ok(());
        }
        self.decode_lazy(st, n)
    }

    #[inline(never)]
    fn decode_lazy(&self, st: &mut WState, n: NodeId) -> Result<()> {
        let Some(lz) = st.nodes[n as usize].lazy.take() else {
            return Ok(());
        };
        let pgid = st.nodes[n as usize].pgid;
        let p = self.branch_page(lz.slot)?;
        let mut inodes = Vec::with_capacity(lz.count + 1);
        let mut prefixes = Vec::with_capacity(lz.count + 1);
        for e in p.elems() {
            let (range, key, child) = e.map_err(|e| Error::corrupted(pgid, e))?;
            prefixes.push(key_prefix(key));
            inodes.push(Inode::new(
                lz.slot.sub(range.start, range.len()),
                0,
                Val::Child(child),
            ));
        }
        for &(i, c) in &lz.children {
            inodes[i].val = Val::Node(c);
        }
        let node = &mut st.nodes[n as usize];
        node.set_all(inodes, prefixes);
        node.restructured = false;
        node.reshaped = false;
        Ok(())
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
                let n = self.materialize(slot, Pgid(0), None, b)?;
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
        Ok(self
            .descend(b, key, false)?
            .expect("invariant: a descent that does not probe always reaches a leaf"))
    }

    /// [`leaf_for`](Self::leaf_for), except that with `probe` the pages below the first page
    /// on the path are searched read-only before it becomes a node: `None` if `key` is not
    /// there, so a lookup that changes nothing materialises (and later writes) nothing.
    fn descend(
        &self,
        b: BucketId,
        key: &[u8],
        mut probe: bool,
    ) -> Result<Option<(NodeId, usize, bool)>> {
        if let Some(hit) = self.finger_lookup(b, key) {
            return Ok(Some(hit));
        }
        if probe {
            let (root_node, inline, root) = {
                let st = self.wstate();
                let bs = &st.buckets[b];
                (bs.root_node, bs.inline, bs.header.root)
            };
            if root_node.is_none() {
                let slot = match inline {
                    Some(slot) => slot,
                    None => self.page_slot(root)?,
                };
                if !self.holds_value(slot, key)? {
                    return Ok(None);
                }
                // Found below: the rest of the path holds it too.
                probe = false;
            }
        }
        let mut n = self.ensure_root_node(b)?;
        let mut upper = None;
        'descent: for _ in 0..MAX_DEPTH {
            let (i, pgid) = 'step: {
                let mut st = self.wstate_mut();
                if st.nodes[n as usize].lazy.is_some() {
                    match self.lazy_step(&mut st, n, key, &mut upper)? {
                        LazyStep::Node(c) => {
                            n = c;
                            continue 'descent;
                        }
                        LazyStep::Page(i, pgid) => break 'step (i, pgid),
                        LazyStep::Expanded => {}
                    }
                }
                let node = &st.nodes[n as usize];
                let found = node.search(|s| self.bytes(s), key);
                if node.leaf {
                    st.finger = Some(Finger {
                        bucket: b,
                        leaf: n,
                        upper,
                    });
                    return Ok(Some(match found {
                        Ok(i) => (n, i, true),
                        Err(i) => (n, i, false),
                    }));
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
                        continue 'descent;
                    }
                    Val::Child(pgid) => (i, pgid),
                    Val::Data(_) => unreachable!("invariant: branch inodes hold children"),
                }
            };
            self.prefetch_page::<WHOLE_PAGE_LINES>(pgid);
            let slot = self.page_slot(pgid)?;
            if probe {
                if !self.holds_value(slot, key)? {
                    return Ok(None);
                }
                probe = false;
            }
            let c = self.materialize(slot, pgid, Some(n), b)?;
            let parent = &mut self.wstate_mut().nodes[n as usize];
            match &mut parent.lazy {
                Some(lz) => lz.set_child(i, c),
                None => parent.inodes[i].val = Val::Node(c),
            }
            n = c;
        }
        Err(Error::corrupted(
            None,
            format!("tree deeper than {MAX_DEPTH} levels"),
        ))
    }

    /// A descent's step through lazy branch `n`, its page searched as the read path searches
    /// it: the materialised child for `key`, or its index and page id; `upper` becomes the next
    /// separator if there is one. A branch passed [`LAZY_VISITS`] times is decoded instead
    /// (`Expanded`: search the node). Out of line: the descent's loop over nodes stays as
    /// tight as without lazy branches.
    #[inline(never)]
    fn lazy_step(
        &self,
        st: &mut WState,
        n: NodeId,
        key: &[u8],
        upper: &mut Option<Separator>,
    ) -> Result<LazyStep> {
        let node = &mut st.nodes[n as usize];
        let (pgid, lz) = (
            node.pgid,
            node.lazy.as_mut().expect("invariant: checked lazy"),
        );
        lz.visits += 1;
        if lz.visits > LAZY_VISITS {
            self.expand(st, n)?;
            return Ok(LazyStep::Expanded);
        }
        let slot = lz.slot;
        let corrupt = |e| Error::corrupted(pgid, e);
        let p = self.branch_page(slot)?;
        let i = p
            .child_index(key)
            .map_err(corrupt)?
            .ok_or_else(|| Error::corrupted(pgid, "branch node with no elements"))?;
        match p.elem(i + 1) {
            Ok(e) => {
                *upper = Some((
                    slot.sub(e.key.start, e.key.len()),
                    key_prefix(&p.bytes()[e.key]),
                ));
            }
            Err(_) if i + 1 == p.len() => {}
            Err(e) => return Err(corrupt(e)),
        }
        Ok(match lz.child(i) {
            Some(c) => LazyStep::Node(c),
            None => LazyStep::Page(i, p.child(i).map_err(corrupt)?),
        })
    }

    /// Whether the tree of pages at `slot` holds a value under `key`; a sub-bucket there is
    /// [`Error::IncompatibleValue`].
    fn holds_value(&self, slot: Slot, key: &[u8]) -> Result<bool> {
        match self.page_lookup(slot, key)? {
            None => Ok(false),
            Some(e) if e.flags & BUCKET_LEAF_FLAG != 0 => Err(Error::IncompatibleValue),
            Some(_) => Ok(true),
        }
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
        Some(match node.search(|s| self.bytes(s), key) {
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
        let upper = st
            .finger
            .filter(|f| f.bucket == b && f.leaf == n)
            .map(|f| f.upper);
        // A new last key of the bucket's last leaf (the finger's leaf with nothing after it).
        // Only for keys small next to a page: the pages' first keys become the parent's
        // separators all at once at commit, and bbolt's rule writes up to four of them as one
        // page however large they are, where separators added one split at a time split
        // their branch as soon as it passes a page.
        let tail = !exact
            && matches!(upper, Some(None))
            && key.len() <= self.snap.page_size / 16
            && i + 1 == st.nodes[n as usize].inodes.len();
        if let Some(m) = self.split_eagerly(&mut st, n, tail)?
            && let Some(upper) = upper
        {
            // The leaf's right half ends where the leaf did: splits move separators, never
            // keys, so the key after it is still `upper`. Keeping the finger there saves
            // the next append a descent from the root after every full leaf.
            st.finger = Some(Finger {
                bucket: b,
                leaf: m,
                upper,
            });
        }
        Ok(())
    }

    /// Removes `key` from its leaf. The caller checked that it exists and is of the right kind.
    pub(crate) fn delete_entry(&self, b: BucketId, key: &[u8]) -> Result<()> {
        let (n, i, exact) = self.leaf_for(b, key)?;
        if exact {
            let (n, i) = self.cut_before_removal(n, i)?;
            self.remove_at(n, i);
        }
        Ok(())
    }

    /// Deletes the value under `key`, if there is one, in a single descent (see
    /// [`descend`](Self::descend)). A sub-bucket there is [`Error::IncompatibleValue`].
    pub(crate) fn delete_value(&self, b: BucketId, key: &[u8]) -> Result<()> {
        let Some((n, i, true)) = self.descend(b, key, true)? else {
            return Ok(());
        };
        if self.wstate().nodes[n as usize].inodes[i].flags & BUCKET_LEAF_FLAG != 0 {
            return Err(Error::IncompatibleValue);
        }
        let (n, i) = self.cut_before_removal(n, i)?;
        self.remove_at(n, i);
        Ok(())
    }

    /// A leaf grown by appends to more than two pages is cut into its pages before an entry
    /// is removed from it, else every removal would shift the rest of a node of up to
    /// [`TAIL_SPLIT_PAGES`] (a queue: appends at the end, removals at the front). Returns where
    /// entry `i` of `n` is then.
    fn cut_before_removal(&self, n: NodeId, i: usize) -> Result<(NodeId, usize)> {
        let mut st = self.wstate_mut();
        let node = &st.nodes[n as usize];
        if !node.leaf || node.size <= 2 * EAGER_SPLIT_PAGES * self.snap.page_size {
            return Ok((n, i));
        }
        let fill = st.buckets[node.bucket].fill_percent;
        let mut runs = Vec::new();
        split_runs_into(&node.inodes, self.snap.page_size, fill, false, &mut runs);
        let mut at = (n, i);
        // From the last page back, so that each split moves one page's entries.
        for r in runs.iter().skip(1).rev() {
            let Some(m) = self.split_up(&mut st, n, SplitAt::Page(r.start))? else {
                break;
            };
            if at.0 == n && i >= r.start {
                at = (m, i - r.start);
            }
        }
        Ok(at)
    }

    fn remove_at(&self, n: NodeId, i: usize) {
        let mut st = self.wstate_mut();
        let node = &mut st.nodes[n as usize];
        node.remove(i);
        node.unbalanced = true;
        st.unbalanced.push(n);
        st.generation += 1;
    }

    /// Splits `n` (and then its ancestors) while it is larger than a few pages. Returns the
    /// node split off `n` itself (its right half), if `n` was split. The test is inline, the
    /// split (one put in tens) out of line: every put pays for the test only.
    ///
    /// `tail`: the put appended past the bucket's last key. Then the leaf grows to
    /// [`TAIL_SPLIT_PAGES`] and is split where its last page would start, so that the left
    /// node holds exactly the whole pages commit will write and the appends go on in a small
    /// right node: a node, a separator and two vectors per that many pages instead of per page.
    #[inline(always)]
    fn split_eagerly(&self, st: &mut WState, n: NodeId, tail: bool) -> Result<Option<NodeId>> {
        let node = &st.nodes[n as usize];
        if self.stays_whole(node) || (tail && self.tail_stays_whole(node)) {
            return Ok(None);
        }
        let at = match tail.then(|| self.last_page_start(st, node)).flatten() {
            Some(i) => SplitAt::Appending(i),
            None => SplitAt::FirstPage,
        };
        self.split_up(st, n, at)
    }

    /// [`stays_whole`](Self::stays_whole) for a leaf that puts append to.
    #[inline(always)]
    fn tail_stays_whole(&self, node: &Node) -> bool {
        node.size <= TAIL_SPLIT_PAGES * self.snap.page_size
            && node.inodes.len() <= EAGER_SPLIT_ELEMS
    }

    /// Whether `node` is small enough (or has too few entries) to stay one node.
    #[inline(always)]
    fn stays_whole(&self, node: &Node) -> bool {
        let len = node.inodes.len();
        (node.size <= EAGER_SPLIT_PAGES * self.snap.page_size && len <= EAGER_SPLIT_ELEMS)
            || len < 4
    }

    /// Splits `n` in two where `at` says, then each ancestor the new separator makes too
    /// large. Returns the node split off `n`, if `n` was split.
    #[inline(never)]
    fn split_up(&self, st: &mut WState, mut n: NodeId, at: SplitAt) -> Result<Option<NodeId>> {
        let mut first = None;
        loop {
            let node = &st.nodes[n as usize];
            if self.stays_whole(node) {
                return Ok(first);
            }
            let len = node.inodes.len();
            let (tail_mid, room) = match at {
                _ if first.is_some() => (None, true),
                SplitAt::FirstPage => (None, true),
                SplitAt::Appending(i) => (Some(i), true),
                SplitAt::Page(i) => (Some(i), false),
            };
            // Split where commit's packing would end the first page (bbolt's rule: fill
            // threshold, at least two entries a page). The left node is then exactly the page
            // commit would write, so fill 1.0 keeps full pages (as appends and compaction
            // expect) and the default 0.5 leaves two half pages that later inserts fill.
            let fill = st.buckets[node.bucket]
                .fill_percent
                .clamp(MIN_FILL_PERCENT, MAX_FILL_PERCENT);
            let threshold = (self.snap.page_size as f64 * fill) as usize;
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
            let mid = tail_mid.unwrap_or_else(|| mid.clamp(2, len - 2));
            self.stats.bump(|s| s.split += 1);
            st.finger = None;
            let (leaf, parent, bucket) = (node.leaf, node.parent, node.bucket);
            let (right, right_prefixes) = st.nodes[n as usize].split_off(mid, room);
            if tail_mid.is_some() {
                st.nodes[n as usize].ends_on_page = true;
            }
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
            first.get_or_insert(m);
            for c in moved {
                st.nodes[c as usize].parent = Some(m);
            }
            let sep = Inode::new(first_right.0, 0, Val::Node(m));
            match parent {
                Some(p) => {
                    self.expand(st, p)?;
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
                    return Ok(first);
                }
            }
        }
    }

    /// Where the last of the pages commit would cut leaf `node` into starts, if it has at
    /// least two: the split that leaves every whole page on the left. The runs are those of
    /// an unfolded tail, so the left node's pages are the same however long the leaf grows.
    fn last_page_start(&self, st: &WState, node: &Node) -> Option<usize> {
        let fill = st.buckets[node.bucket].fill_percent;
        let mut runs = Vec::new();
        split_runs_into(&node.inodes, self.snap.page_size, fill, false, &mut runs);
        let last = runs.last()?;
        (runs.len() >= 2 && last.start >= 2).then_some(last.start)
    }

    /// Child `i` of branch node `p`, materialised if it is still a page, with its entries
    /// decoded (its callers move them).
    fn child_node(&self, p: NodeId, i: usize) -> Result<NodeId> {
        let (val, bucket) = {
            let mut st = self.wstate_mut();
            self.expand(&mut st, p)?;
            let node = &st.nodes[p as usize];
            (node.inodes[i].val, node.bucket)
        };
        let c = match val {
            Val::Node(c) => c,
            Val::Child(pgid) => {
                let c = self.materialize(self.page_slot(pgid)?, pgid, Some(p), bucket)?;
                self.wstate_mut().nodes[p as usize].inodes[i].val = Val::Node(c);
                c
            }
            Val::Data(_) => unreachable!("invariant: branch inodes hold children"),
        };
        self.expand(&mut self.wstate_mut(), c)?;
        Ok(c)
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
                self.expand(&mut st, n)?;
                let ps = self.snap.page_size as f64;
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
                    r.reshaped = true;
                }
                return Ok(());
            };
            let mut st = self.wstate_mut();
            self.expand(&mut st, p)?;
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
                    let ps = self.snap.page_size as u64;
                    self.wstate_mut()
                        .freed
                        .push((Pgid(s.off / ps), u64::from(s.len) / ps - 1));
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
                        if h.root != Pgid(0) {
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
