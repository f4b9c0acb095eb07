//! Commit (bbolt's `Tx.Commit`, `Bucket.spill`, `node.spill`): rebalance, write every changed
//! node to newly allocated pages, write the freelist, then make it durable in the only order
//! that is crash-safe — data pages, fdatasync, the meta page at `txid % 2`, fdatasync.
//!
//! Pages are written as they are spilled (coalesced into sorted runs by [`PageWriter`]) rather
//! than all held until the end, so a bulk load needs little memory beyond its data. That is
//! safe because every page written is either new or was released by the freelist: no meta and
//! no open reader can reach it.
//!
//! The spill also counts the entries under every branch page it writes (a leaf's count is its
//! element count, a branch's the sum of its children's), so that `Bucket::len` after a commit
//! finds every rewritten branch already counted (`read::counts`). The counts are published
//! only once the meta is durable: a commit that fails leaves none behind.

use super::page_writer::PageWriter;
use super::{ShrinkMode, WriteCtx, WriterData};
use crate::counters::TxStats;
use crate::defects;
use crate::error::{Error, Result};
use crate::mmap::Mapping;
use crate::read::counts::SubtreeCounts;
use crate::read::recent_buckets::{RecentBucket, RecentBuckets};
use crate::read::walk::{CheckOptions, check_snapshot};
use crate::state::{BucketId, Inode, MAP, NodeId, Slot, Val, split_runs_into};
use rbolt_format::{
    BRANCH_PAGE, BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, BucketHeader, LEAF_ELEM_SIZE, LEAF_PAGE,
    PAGE_HEADER_SIZE, PGID_NO_FREELIST, PageHeader, Pgid, Txid,
};
use std::ops::Range;
use std::time::Instant;

struct Spill<'a> {
    w: &'a mut WriterData,
    pw: PageWriter,
    txid: Txid,
    /// High-water mark: grows when no free run fits.
    hwm: Pgid,
    /// Allocation, split and spill counts for `TxStats`.
    stats: TxStats,
    /// The counts remembered so far (the writer's handle on them, for untouched children).
    memo: std::sync::Arc<SubtreeCounts>,
    /// Entries under each branch page written, where known; published with the commit.
    counted: Vec<(Pgid, u64)>,
    /// The runs of adjacent bytes a leaf's data area is copied from (reused per leaf).
    runs: Vec<Slot>,
    /// The page-sized runs of entries a node is cut into (reused per node).
    ranges: Vec<Range<usize>>,
    /// The top-level buckets this commit wrote a root page for.
    wrote: RecentBuckets,
    /// What the snapshots after this commit carry, once the root bucket is final.
    carried: Option<RecentBuckets>,
}

/// A page a spill wrote: its first key, its id, its length in pages, and the entries under
/// it if known.
#[derive(Clone, Copy, Debug)]
struct Spilled {
    key: Slot,
    pgid: Pgid,
    pages: u32,
    count: Option<u64>,
}

impl Spill<'_> {
    fn allocate(&mut self, pages: u64) -> Result<Pgid> {
        self.stats.page_count += 1;
        self.stats.page_alloc += pages * self.w.page_size as u64;
        if let Some(id) = self.w.freelist.allocate(self.txid, pages) {
            self.w.counts.forget(id, pages);
            return Ok(id);
        }
        let id = self.hwm;
        self.hwm += pages;
        if let Some(max) = self.w.max_size
            && self.hwm.get() * self.w.page_size as u64 > max
        {
            return Err(Error::MaxSizeReached);
        }
        self.w.freelist.note_alloc(self.txid, id);
        // Ids past the high-water mark may have been counted before the file was cut.
        self.w.counts.forget(id, pages);
        Ok(id)
    }

    /// Grows the file once, before anything is written, to what the spill is likely to need:
    /// every changed node written as one page (or as many as it spans), less the pages the
    /// freelist can give. Growing syncs the file (unless `no_grow_sync`), and a sync in the
    /// middle of the spill would also wait for every page written so far; on a clean file it
    /// is a metadata commit. A short estimate only means a second, ordinary growth.
    fn grow_ahead(&mut self, tx: &WriteCtx<'_>) -> Result<()> {
        let ps = self.w.page_size;
        let nodes: u64 = tx
            .wstate()
            .nodes
            .iter()
            .filter(|n| !n.dead)
            .map(|n| n.size.div_ceil(ps).max(1) as u64)
            .sum();
        let fresh = nodes.saturating_sub(self.w.freelist.free_count());
        let mut need = (self.hwm.get() + fresh).saturating_mul(ps as u64);
        if let Some(max) = self.w.max_size {
            need = need.min(max);
        }
        self.w.grow(need)
    }

    /// Appends a zeroed image of `pages` pages to the page writer; returns where it starts.
    fn zeroed_image(&mut self, pages: usize) -> Result<usize> {
        let len = pages * self.w.page_size;
        let start = self.pw.start(self.w, len)?;
        self.pw.buf.resize(start + len, 0);
        Ok(start)
    }
}

impl WriteCtx<'_> {
    /// Writes `inodes` as one or more pages, split with [`split_runs_into`]; returns each page's
    /// first key and id. `counts` gives the entries under each run (called once per run of a
    /// branch; a leaf run's count is its length).
    fn write_pages(
        &self,
        sp: &mut Spill<'_>,
        leaf: bool,
        inodes: &[Inode],
        (fill, fold_tail): (f64, bool),
        mut counts: impl FnMut(Range<usize>, usize) -> Option<u64>,
    ) -> Result<Vec<Spilled>> {
        let ps = self.snap.page_size;
        let mut runs = std::mem::take(&mut sp.ranges);
        split_runs_into(inodes, ps, fill, fold_tail, &mut runs);
        let nruns = runs.len();
        sp.stats.split += nruns as u64 - 1;
        sp.stats.spill += nruns as u64;
        let mut out = Vec::with_capacity(nruns);
        for r in runs.iter().cloned() {
            let count = if leaf {
                Some(r.len() as u64)
            } else {
                counts(r.clone(), nruns)
            };
            let chunk = &inodes[r];
            let size = PAGE_HEADER_SIZE + chunk.iter().map(Inode::page_size).sum::<usize>();
            let pages = size.div_ceil(ps).max(1);
            let pgid = sp.allocate(pages as u64)?;
            let start = sp.pw.start(sp.w, pages * ps)?;
            let buf = &mut sp.pw.buf;
            let overflow = u32::try_from(pages - 1).map_err(|_| Error::ValueTooLarge)?;
            // Written once, in order, with only the unused tail zeroed: the file never
            // carries stale bytes (bbolt zeroes its buffers too), and nothing is cleared
            // that is then overwritten.
            if leaf {
                let data = |i: &Inode| match i.val {
                    Val::Data(v) => v,
                    _ => unreachable!("invariant: leaf inodes hold data"),
                };
                let heads = chunk
                    .iter()
                    .map(|i| (i.flags, i.key.len as usize, data(i).len as usize));
                // The data area is every key and value back to back; entries put one after
                // another sit back to back in the arena too (a put stores key and value
                // together), so copy maximal runs of adjacent bytes, not two pieces an entry.
                let runs = &mut sp.runs;
                runs.clear();
                let mut run = Slot {
                    off: 0,
                    len: 0,
                    src: MAP,
                };
                for i in chunk {
                    for s in [i.key, data(i)] {
                        let joined = (run.src == s.src && run.off + u64::from(run.len) == s.off)
                            .then(|| run.len.checked_add(s.len))
                            .flatten();
                        match joined {
                            Some(len) => run.len = len,
                            None => {
                                runs.push(run);
                                run = s;
                            }
                        }
                    }
                }
                runs.push(run);
                let items = runs.iter().map(|&r| self.bytes(r));
                rbolt_format::encode_leaf_into(buf, pages * ps, pgid, overflow, heads, items);
            } else {
                let items = chunk.iter().map(|i| match i.val {
                    Val::Child(c) => (self.bytes(i.key), c),
                    _ => unreachable!("invariant: children are spilled before their parent"),
                });
                rbolt_format::encode_branch_into(buf, pages * ps, pgid, overflow, items);
            }
            sp.pw.push(pgid, start);
            if let (false, Some(n)) = (leaf, count) {
                sp.counted.push((pgid, n));
            }
            let key = chunk.first().map_or(
                Slot {
                    off: 0,
                    len: 0,
                    src: MAP,
                },
                |i| i.key,
            );
            out.push(Spilled {
                key,
                pgid,
                pages: overflow + 1,
                count,
            });
        }
        sp.ranges = runs;
        Ok(out)
    }

    /// The entries under committed page `pgid`, if cheap to know: a leaf's element count
    /// (checked as `Bucket::len` checks it), or a branch's remembered count. `None` for
    /// anything else, including a page that fails its checks (`len` will walk it and report).
    fn committed_count(&self, memo: &SubtreeCounts, pgid: Pgid) -> Option<u64> {
        let slot = self.page_slot(pgid).ok()?;
        let h = PageHeader::decode(self.bytes(slot)).ok()?;
        match h.flags {
            LEAF_PAGE => (PAGE_HEADER_SIZE + usize::from(h.count) * LEAF_ELEM_SIZE
                <= slot.len as usize)
                .then_some(u64::from(h.count)),
            BRANCH_PAGE => memo.get(pgid),
            _ => None,
        }
    }

    /// Spills node `n` and its materialised descendants; returns the pages that replace it.
    fn spill_node(&self, sp: &mut Spill<'_>, n: NodeId, is_root: bool) -> Result<Vec<Spilled>> {
        let (leaf, bucket, pristine, countable) = {
            let st = self.wstate();
            let node = &st.nodes[n as usize];
            let from_page = !node.leaf && node.pgid != Pgid(0);
            let pristine = (from_page && !node.restructured).then_some(node.pgid);
            let countable = (from_page && !node.reshaped).then_some(node.pgid);
            (node.leaf, node.bucket, pristine, countable)
        };
        let lazy = self.wstate().nodes[n as usize]
            .lazy
            .as_ref()
            .map(|lz| lz.children.clone());
        if let Some(children) = lazy {
            // Only the children descended into changed: spill them, then the page copied
            // with their new ids if it can be; else decode the entries after all.
            let mut spilled = Vec::with_capacity(children.len());
            for (i, c) in children {
                let old = self.wstate().nodes[c as usize].pgid;
                spilled.push((i, old, self.spill_node(sp, c, false)?));
            }
            self.wstate_mut().free_node_page(n);
            let src = pristine.expect("invariant: a lazy branch is an unchanged page");
            let total = self.kept_count(sp, src, &spilled);
            if let Some(pages) = self.patch_branch(sp, src, &spilled, total)? {
                return Ok(pages);
            }
            self.expand(&mut self.wstate_mut(), n)?;
            let inodes = std::mem::take(&mut self.wstate_mut().nodes[n as usize].inodes);
            return self.spill_branch(sp, bucket, inodes, spilled, total, is_root);
        }
        // Spilled once, as the transaction ends: the entries move out rather than being
        // copied (the node is not read again; its `size` and `prefixes` go stale with it).
        let inodes = std::mem::take(&mut self.wstate_mut().nodes[n as usize].inodes);
        if leaf {
            // No children to spill or count: the entries are the pages' contents as they
            // stand, with no per-node copy or count bookkeeping (a large append spills
            // thousands of leaves).
            let fill = {
                let mut st = self.wstate_mut();
                st.free_node_page(n);
                let fold_tail = !st.nodes[n as usize].ends_on_page;
                (st.buckets[bucket].fill_percent, fold_tail)
            };
            if inodes.is_empty() && !is_root {
                return Ok(Vec::new());
            }
            return self.write_pages(sp, true, &inodes, fill, |_, _| None);
        }
        // Each spilled child: its position, the page it was read from, and its new pages.
        let mut spilled = Vec::new();
        for (i, ino) in inodes.iter().enumerate() {
            if let Val::Node(c) = ino.val {
                let old = self.wstate().nodes[c as usize].pgid;
                spilled.push((i, old, self.spill_node(sp, c, false)?));
            }
        }
        self.wstate_mut().free_node_page(n);
        // A branch that kept its old page's entries has the old count, corrected by what its
        // spilled children changed: no look at untouched children.
        let total = countable.and_then(|src| self.kept_count(sp, src, &spilled));
        if let Some(src) = pristine
            && let Some(pages) = self.patch_branch(sp, src, &spilled, total)?
        {
            return Ok(pages);
        }
        self.spill_branch(sp, bucket, inodes, spilled, total, is_root)
    }

    /// Writes the entries of a branch node of bucket `bucket`, `inodes`, with each child in
    /// `spilled` (already spilled, in index order) replaced by the pages it became. `total`
    /// is the count under the node when already known.
    fn spill_branch(
        &self,
        sp: &mut Spill<'_>,
        bucket: BucketId,
        inodes: Vec<Inode>,
        spilled: Vec<(usize, Pgid, Vec<Spilled>)>,
        total: Option<u64>,
        is_root: bool,
    ) -> Result<Vec<Spilled>> {
        let fill = self.wstate().buckets[bucket].fill_percent;
        let leaf = false;
        let mut flat = Vec::with_capacity(inodes.len());
        // Counts of the pages spilled children became, by page id, for the runs below.
        let mut fresh = Vec::new();
        let mut spilled = spilled.into_iter().peekable();
        for (i, ino) in inodes.into_iter().enumerate() {
            match spilled.next_if(|(j, _, _)| *j == i) {
                Some((_, _, pages)) => {
                    for p in pages {
                        flat.push(Inode::new(p.key, 0, Val::Child(p.pgid)));
                        fresh.push((p.pgid, p.count));
                    }
                }
                None => flat.push(ino),
            }
        }
        if flat.is_empty() && !is_root {
            return Ok(Vec::new());
        }
        fresh.sort_unstable_by_key(|f| f.0);
        let memo = sp.memo.clone();
        self.write_pages(sp, leaf, &flat, (fill, true), |r, runs| match total {
            Some(t) if runs == 1 => Some(t),
            _ => flat[r].iter().try_fold(0u64, |acc, ino| {
                let Val::Child(pgid) = ino.val else {
                    return None;
                };
                let n = match fresh.binary_search_by_key(&pgid, |f| f.0) {
                    Ok(j) => fresh[j].1?,
                    Err(_) => self.committed_count(&memo, pgid)?,
                };
                acc.checked_add(n)
            }),
        })
    }

    /// The count under a branch node read from page `src` that kept all of that page's
    /// entries (`Node::reshaped` is false), after its children in `spilled` were rewritten:
    /// the page's remembered count, less those children's old counts (none for nodes split
    /// off them), plus their new ones. `None` when any of these is unknown.
    fn kept_count(
        &self,
        sp: &Spill<'_>,
        src: Pgid,
        spilled: &[(usize, Pgid, Vec<Spilled>)],
    ) -> Option<u64> {
        let mut n = sp.memo.get(src)?;
        for (_, old, pages) in spilled {
            if *old != Pgid(0) {
                n = n.checked_sub(self.committed_count(&sp.memo, *old)?)?;
            }
            for p in pages {
                n = n.checked_add(p.count?)?;
            }
        }
        Some(n)
    }

    /// The cheap way to write an unrestructured branch: when every spilled child became one
    /// page whose first key is the key this branch already holds for it, the new page is the
    /// old one with those child ids replaced (byte for byte what encoding would give). Returns
    /// `None` when that does not hold.
    /// `total` is the count under the page when already known.
    fn patch_branch(
        &self,
        sp: &mut Spill<'_>,
        src_pgid: Pgid,
        spilled: &[(usize, Pgid, Vec<Spilled>)],
        total: Option<u64>,
    ) -> Result<Option<Vec<Spilled>>> {
        // The node holds exactly its page's entries (it is unchanged), so keys and untouched
        // children are read from the page, whether the node was decoded or stayed lazy.
        let src = self.page_slot(src_pgid)?;
        let page = self.branch_page(src)?;
        let key = |i: usize| -> Result<Slot> {
            let e = page.elem(i).map_err(|e| Error::corrupted(src_pgid, e))?;
            Ok(src.sub(e.key.start, e.key.len()))
        };
        let mut children = Vec::with_capacity(spilled.len());
        for (i, _, pages) in spilled {
            match pages.as_slice() {
                [p] if self.bytes(p.key) == self.bytes(key(*i)?) => {
                    children.push((*i, p.pgid));
                }
                _ => return Ok(None),
            }
        }
        if src.len as usize != self.snap.page_size {
            return Ok(None);
        }
        let count = total.or_else(|| {
            let mut spilled = spilled.iter().peekable();
            (0..page.len()).try_fold(0u64, |acc, i| {
                let n = match spilled.next_if(|(j, _, _)| *j == i) {
                    Some((_, _, pages)) => pages[0].count?,
                    None => self.committed_count(&sp.memo, page.child(i).ok()?)?,
                };
                acc.checked_add(n)
            })
        });
        let first = key(0)?;
        let pgid = sp.allocate(1)?;
        sp.stats.spill += 1;
        // Copied, not zeroed and then copied: the image is the whole old page.
        let start = sp.pw.start(sp.w, self.snap.page_size)?;
        sp.pw.buf.extend_from_slice(self.bytes(src));
        rbolt_format::patch_branch(&mut sp.pw.buf[start..], pgid, &children)
            .map_err(|e| Error::corrupted(src_pgid, e))?;
        sp.pw.push(pgid, start);
        if let Some(n) = count {
            sp.counted.push((pgid, n));
        }
        Ok(Some(vec![Spilled {
            key: first,
            pgid,
            pages: 1,
            count,
        }]))
    }

    /// Whether bucket `b` should be stored inline in its parent's leaf (bbolt's `inlineable`).
    fn inlineable(&self, b: BucketId) -> bool {
        let st = self.wstate();
        let Some(n) = st.buckets[b].root_node else {
            return false;
        };
        let node = &st.nodes[n as usize];
        node.leaf
            && node.inodes.iter().all(|i| i.flags & BUCKET_LEAF_FLAG == 0)
            && node.size <= self.snap.page_size / 4
    }

    /// The value of an inline bucket: header with root 0, then its leaf as a page image.
    fn inline_value(&self, b: BucketId) -> Vec<u8> {
        let st = self.wstate();
        let bs = &st.buckets[b];
        let node = &st.nodes[bs
            .root_node
            .expect("invariant: inlineable buckets have a root node")
            as usize];
        let mut v = vec![0u8; BUCKET_HEADER_SIZE + node.size];
        BucketHeader {
            root: Pgid(0),
            sequence: bs.header.sequence,
        }
        .encode(&mut v);
        let items = node.inodes.iter().map(|i| match i.val {
            Val::Data(d) => (i.flags, self.bytes(i.key), self.bytes(d)),
            _ => unreachable!("invariant: leaf inodes hold data"),
        });
        rbolt_format::encode_leaf(&mut v[BUCKET_HEADER_SIZE..], Pgid(0), 0, items);
        v
    }

    /// Spills bucket `b`: each opened sub-bucket first (its new value rewritten into its
    /// parent), then the bucket's own nodes. Returns `b`'s root page id. Sub-buckets are
    /// visited with an explicit stack, so nesting depth costs heap, not call stack.
    fn spill_bucket(&self, sp: &mut Spill<'_>, b: BucketId) -> Result<Pgid> {
        struct Frame {
            bucket: BucketId,
            name: Vec<u8>,
            children: std::vec::IntoIter<(Vec<u8>, BucketId)>,
        }
        let frame = |bucket: BucketId, name: Vec<u8>| {
            let children: Vec<(Vec<u8>, BucketId)> = self.wstate().buckets[bucket]
                .children
                .iter()
                .map(|(k, &v)| (k.clone(), v))
                .collect();
            Frame {
                bucket,
                name,
                children: children.into_iter(),
            }
        };
        let mut stack = vec![frame(b, Vec::new())];
        loop {
            let top = stack
                .last_mut()
                .expect("invariant: the stack ends with `b`'s frame");
            if let Some((name, c)) = top.children.next() {
                if self.wstate().buckets[c].deleted {
                    continue;
                }
                if !self.inlineable(c) {
                    stack.push(frame(c, name));
                    continue;
                }
                let parent = top.bucket;
                let value = {
                    let mut st = self.wstate_mut();
                    let root = st.buckets[c]
                        .root_node
                        .expect("invariant: checked by inlineable");
                    st.free_node_page(root);
                    st.nodes[root as usize].pgid = Pgid(0);
                    drop(st);
                    self.inline_value(c)
                };
                self.put_bucket_value(parent, &name, &value)?;
                continue;
            }
            let done = stack
                .pop()
                .expect("invariant: the loop stops at the last frame");
            if done.bucket == 0 && self.wstate().buckets[0].root_node.is_some() {
                // Every top-level header is in place and the entries are not spilled yet.
                sp.carried = Some(self.carried_buckets(sp.wrote));
            }
            let (root, pages) = self.spill_own_nodes(sp, done.bucket)?;
            let Some(parent) = stack.last() else {
                return Ok(root);
            };
            let st = self.wstate();
            if st.buckets[done.bucket].root_node.is_none() {
                continue; // untouched: its value in the parent is still right
            }
            let header = BucketHeader {
                root,
                sequence: st.buckets[done.bucket].header.sequence,
            };
            drop(st);
            let mut v = vec![0u8; BUCKET_HEADER_SIZE];
            header.encode(&mut v);
            self.put_bucket_value(parent.bucket, &done.name, &v)?;
            if parent.bucket == 0
                && let Some(pages) = pages.and_then(|p| u16::try_from(p).ok())
            {
                let bucket = RecentBucket {
                    root,
                    sequence: header.sequence,
                    pages,
                };
                sp.wrote.push(&done.name, bucket);
            }
        }
    }

    /// Stores `value` as sub-bucket `name`'s entry in bucket `b`.
    fn put_bucket_value(&self, b: BucketId, name: &[u8], value: &[u8]) -> Result<()> {
        let slot = self.store(&[name, value]);
        let key = slot.sub(0, name.len());
        let val = slot.sub(name.len(), value.len());
        self.put_entry(b, key, BUCKET_LEAF_FLAG, val)
    }

    /// The top-level buckets the snapshots after this commit carry: those it wrote, then
    /// the ones the last snapshot carried whose entries the root bucket still holds as they
    /// were. Called once the root bucket's entries are final and before they are spilled.
    fn carried_buckets(&self, wrote: RecentBuckets) -> RecentBuckets {
        let mut out = wrote;
        // Most commits write the buckets the last ones wrote: nothing left to look up.
        if self
            .snap
            .buckets
            .iter()
            .all(|(name, _)| wrote.get(name).is_some())
        {
            return out;
        }
        let st = self.wstate();
        let Some(root) = st.buckets[0].root_node else {
            return self.snap.buckets;
        };
        let node = &st.nodes[root as usize];
        // Past one leaf of top-level buckets only what this commit wrote is carried.
        if !node.leaf {
            return out;
        }
        for (name, b) in self.snap.buckets.iter() {
            if out.get(name).is_some() {
                continue;
            }
            let Ok(i) = node.search(|s| self.bytes(s), name) else {
                continue;
            };
            let e = &node.inodes[i];
            if let Val::Data(v) = e.val
                && e.flags & BUCKET_LEAF_FLAG != 0
                && BucketHeader::decode(self.bytes(v)).is_ok_and(|h| {
                    h == BucketHeader {
                        root: b.root,
                        sequence: b.sequence,
                    }
                })
            {
                out.push(name, b);
            }
        }
        out
    }

    /// Writes bucket `b`'s changed nodes (its sub-buckets are already spilled) and returns
    /// its root page id, with the root page's length in pages if it was written here.
    fn spill_own_nodes(&self, sp: &mut Spill<'_>, b: BucketId) -> Result<(Pgid, Option<u32>)> {
        let Some(root) = self.wstate().buckets[b].root_node else {
            return Ok((self.wstate().buckets[b].header.root, None));
        };
        let mut entries = self.spill_node(sp, root, true)?;
        let fill = self.wstate().buckets[b].fill_percent;
        while entries.len() > 1 {
            let inodes: Vec<Inode> = entries
                .iter()
                .map(|p| Inode::new(p.key, 0, Val::Child(p.pgid)))
                .collect();
            let below = std::mem::take(&mut entries);
            entries = self.write_pages(sp, false, &inodes, (fill, true), |r, _| {
                below[r]
                    .iter()
                    .try_fold(0u64, |acc, p| acc.checked_add(p.count?))
            })?;
        }
        let Spilled { pgid, pages, .. } = entries[0];
        self.wstate_mut().buckets[b].header.root = pgid;
        Ok((pgid, Some(pages)))
    }
}

/// Rebalances, spills every changed node and the freelist, and writes the meta: the data
/// part of a commit. On success the new meta is durable but not yet published; it comes
/// with the top-level buckets the snapshots of that meta carry.
pub(crate) fn write_all(
    tx: &WriteCtx<'_>,
    w: &mut WriterData,
    mode: ShrinkMode,
) -> Result<(rbolt_format::Meta, RecentBuckets)> {
    let txid = tx.snap.meta.txid;
    let ps = tx.snap.page_size;
    let t = Instant::now();
    let rebalanced = tx.wstate().unbalanced.len() as u64;
    tx.rebalance_all()?;
    let rebalance_time = t.elapsed();
    let memo = w.counts.clone();
    let pw = PageWriter::new(w);
    let mut sp = Spill {
        w,
        pw,
        txid,
        hwm: tx.snap.meta.pgid,
        stats: TxStats::default(),
        memo,
        counted: Vec::new(),
        runs: Vec::new(),
        ranges: Vec::new(),
        wrote: RecentBuckets::default(),
        carried: None,
    };
    let t = Instant::now();
    let len_before = sp.w.file_len;
    sp.grow_ahead(tx)?;
    let root = tx.spill_bucket(&mut sp, 0)?;
    let carried = sp.carried.unwrap_or(tx.snap.buckets);
    let spill_time = t.elapsed();

    let mut meta = tx.snap.meta;
    meta.root = BucketHeader {
        root,
        sequence: tx.bucket_state(0).header.sequence,
    };
    let freed = std::mem::take(&mut tx.wstate_mut().freed);
    for (pgid, overflow) in freed {
        sp.w.freelist
            .free(txid, pgid, overflow)
            .map_err(|e| Error::corrupted(pgid, e))?;
    }
    if tx.snap.meta.freelist != PGID_NO_FREELIST {
        let s = tx.page_slot(tx.snap.meta.freelist)?;
        let h =
            PageHeader::decode(tx.bytes(s)).map_err(|e| Error::format(tx.snap.meta.freelist, e))?;
        sp.w.freelist
            .free(txid, tx.snap.meta.freelist, u64::from(h.overflow))
            .map_err(|e| Error::corrupted(h.id, e))?;
    }
    if mode != ShrinkMode::Off {
        // Free runs at the very end leave the file (shrink.rs); before the freelist is sized.
        sp.hwm = sp.w.freelist.trim_tail(sp.hwm);
    }
    if sp.w.no_freelist_sync {
        meta.freelist = PGID_NO_FREELIST;
    } else {
        let count = usize::try_from(sp.w.freelist.count()).unwrap_or(usize::MAX);
        let pages = rbolt_format::freelist_alloc_pages(count, ps);
        let pgid = sp.allocate(pages as u64)?;
        let overflow =
            u32::try_from(pages - 1).map_err(|_| Error::corrupted(pgid, "freelist too large"))?;
        let start = sp.zeroed_image(pages)?;
        // The span was sized before its own pages left the free set: it holds these ids.
        let ids = usize::try_from(sp.w.freelist.count()).unwrap_or(usize::MAX);
        let img = &mut sp.pw.buf[start..];
        let mut off = rbolt_format::encode_freelist_header(img, pgid, overflow, ids);
        let end = off + ids * 8;
        sp.w.freelist.for_each_sorted_id(|id| {
            img[off..off + 8].copy_from_slice(&id.get().to_le_bytes());
            off += 8;
        });
        debug_assert_eq!(off, end, "the freelist header counts every id written");
        sp.pw.push(pgid, start);
        meta.freelist = pgid;
    }
    meta.pgid = sp.hwm;
    sp.w.trim_growth(len_before, sp.hwm.get().saturating_mul(ps as u64));
    let slot = if defects::active("wrong-meta-parity") {
        (txid.get() + 1) % 2
    } else {
        txid.get() % 2
    };
    let mut page = std::mem::take(&mut sp.w.meta_page);
    page.resize(ps, 0);
    meta.encode_page(Pgid(slot), &mut page);
    meta.checksum = meta.sum();
    if defects::active("meta-before-data") {
        sp.w.storage.write_at(&page, slot * ps as u64)?;
    }
    sp.pw.flush_last(sp.w)?;
    // The meta must never be durable before the pages it points to.
    let w = sp.w;
    let t = Instant::now();
    if !w.no_sync && !defects::active("skip-data-sync") {
        w.storage.sync_data()?;
    }
    if w.strict_mode {
        strict_check(w, &meta)?;
    }
    if !defects::active("meta-before-data") {
        w.storage.write_at(&page, slot * ps as u64)?;
    }
    w.meta_page = page;
    if !w.no_sync {
        w.storage.sync_data()?;
    }
    // Durable: the pages counted are now the committed ones. (Should publishing the meta
    // still fail, the database is poisoned and no transaction reaches these pages.)
    w.counts.insert_all(&sp.counted);
    let (pw, mut stats) = (sp.pw, sp.stats);
    let (writes, write_time) = (pw.writes, pw.write_time);
    pw.finish(w);
    stats.rebalance = rebalanced;
    stats.rebalance_time = rebalance_time;
    stats.spill_time = spill_time;
    stats.write = writes + 1;
    stats.write_time = write_time + t.elapsed();
    tx.stats.bump(|s| s.add(&stats));
    Ok((meta, carried))
}

/// Strict mode: checks the tree `meta` describes as written to the file, before the meta is.
/// The file may have grown past the transaction's mapping, so it is mapped afresh.
fn strict_check(w: &WriterData, meta: &rbolt_format::Meta) -> Result<()> {
    let map = Mapping::new(&w.file, w.file_len, false)?;
    let free = (meta.freelist == rbolt_format::PGID_NO_FREELIST).then(|| w.freelist.sorted_ids());
    let errors = check_snapshot(
        map.bytes(),
        meta,
        w.page_size,
        &CheckOptions::default(),
        free.as_deref(),
    );
    if errors.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = errors.iter().take(10).map(ToString::to_string).collect();
    Err(Error::corrupted(
        None,
        format!(
            "strict mode: commit {} would leave {} problem(s): {}",
            meta.txid,
            errors.len(),
            shown.join("; ")
        ),
    ))
}
