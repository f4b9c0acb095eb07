//! Remembered entry counts of committed subtrees, so that `Bucket::len` costs O(1) after a
//! commit, and only the pages no one has counted yet on a database just opened.
//!
//! A committed page never changes while any snapshot can reach it: copy-on-write gives every
//! change a new page, and a freed page is reused only after the last reader that could see it
//! has gone. So the count under a branch page holds until the writer allocates that page id
//! again — and the writer forgets the id at exactly that point ([`forget`]), before it writes
//! anything there. Counts come from two places: a `len` walk that finished without error, and
//! the writer, which counts every branch page it writes from its children (their counts from
//! the same spill, from here, or from a leaf's header) and hands them over with
//! [`insert_all`] once the commit's meta is durable — so a failed commit, whose page ids go
//! back to the freelist, leaves nothing behind. Only pages of the mapping are remembered,
//! never a writer's staged nodes.
//!
//! The last few pages counted also travel, by value, in every snapshot published after them
//! ([`RecentCounts`]): a reader asking for the length of a bucket the latest commits wrote gets
//! it from its own transaction, without the shared table's lock or its cold cache lines.
//!
//! [`forget`]: SubtreeCounts::forget
//! [`insert_all`]: SubtreeCounts::insert_all

use crate::pgid_hash::PgidBuild;
use crate::sync::lock;
use rbolt_format::Pgid;
use std::collections::HashMap;
use std::sync::Mutex;

/// Branch pages are a few percent of a tree, so a full map stays small (a million keys on
/// 4 KiB pages: about a thousand entries); past this bound nothing new is remembered.
const MAX_ENTRIES: usize = 1 << 20;

/// How many of the latest counts each snapshot carries. A commit counts its branch pages
/// children first, so the last ones are the roots of the buckets it wrote.
const RECENT: usize = 4;

/// The counts remembered last, newest first; `Pgid(0)` (a meta page, never a branch) marks
/// an empty slot. Every entry holds for any snapshot published while it is here: an entry
/// leaves as soon as the writer is about to reuse its page, before that page is written.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecentCounts([(Pgid, u64); RECENT]);

impl RecentCounts {
    /// The count under branch page `pgid`, if it is one of the latest counted.
    pub(crate) fn get(&self, pgid: Pgid) -> Option<u64> {
        self.0
            .iter()
            .find(|&&(p, _)| p == pgid && p != Pgid(0))
            .map(|&(_, n)| n)
    }

    fn push(&mut self, pgid: Pgid, n: u64) {
        let at = self
            .0
            .iter()
            .position(|&(p, _)| p == pgid)
            .unwrap_or(RECENT - 1);
        self.0.copy_within(..at, 1);
        self.0[0] = (pgid, n);
    }

    fn forget(&mut self, start: Pgid, n: u64) {
        let end = start.get().saturating_add(n);
        for e in &mut self.0 {
            if (start.get()..end).contains(&e.0.get()) {
                *e = (Pgid(0), 0);
            }
        }
    }
}

/// Entry counts by branch page id, shared by every transaction of one open database.
#[derive(Debug, Default)]
pub(crate) struct SubtreeCounts(Mutex<Table>);

#[derive(Debug, Default)]
struct Table {
    by_page: HashMap<Pgid, u64, PgidBuild>,
    recent: RecentCounts,
}

impl Table {
    fn insert(&mut self, pgid: Pgid, n: u64) {
        if self.by_page.len() < MAX_ENTRIES || self.by_page.contains_key(&pgid) {
            self.by_page.insert(pgid, n);
        }
        self.recent.push(pgid, n);
    }
}

impl SubtreeCounts {
    /// The remembered count under branch page `pgid`.
    pub(crate) fn get(&self, pgid: Pgid) -> Option<u64> {
        lock(&self.0).by_page.get(&pgid).copied()
    }

    /// Remembers the count under branch page `pgid`, walked completely and without error.
    pub(crate) fn insert(&self, pgid: Pgid, n: u64) {
        lock(&self.0).insert(pgid, n);
    }

    /// Remembers the counts a commit computed for the branch pages it wrote, now committed.
    pub(crate) fn insert_all(&self, counted: &[(Pgid, u64)]) {
        if counted.is_empty() {
            return;
        }
        let mut t = lock(&self.0);
        for &(pgid, n) in counted {
            t.insert(pgid, n);
        }
    }

    /// The writer is about to reuse pages `start .. start + n`: whatever was counted there is
    /// gone. Called before the pages are written.
    pub(crate) fn forget(&self, start: Pgid, n: u64) {
        let mut t = lock(&self.0);
        t.recent.forget(start, n);
        if t.by_page.is_empty() {
            return;
        }
        for id in start.get()..start.get().saturating_add(n) {
            t.by_page.remove(&Pgid(id));
        }
    }

    /// The latest counts, for a snapshot about to be published.
    pub(crate) fn recent(&self) -> RecentCounts {
        lock(&self.0).recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forget_drops_exactly_the_reused_span() {
        let c = SubtreeCounts::default();
        for id in 10..20 {
            c.insert(Pgid(id), id * 100);
        }
        c.forget(Pgid(12), 3);
        assert_eq!(c.get(Pgid(11)), Some(1100));
        assert_eq!(c.get(Pgid(12)), None);
        assert_eq!(c.get(Pgid(14)), None);
        assert_eq!(c.get(Pgid(15)), Some(1500));
    }

    #[test]
    fn recent_counts_keep_the_newest_and_drop_reused_pages() {
        let c = SubtreeCounts::default();
        c.insert_all(&[(Pgid(3), 30), (Pgid(4), 40)]);
        c.insert_all(&[(Pgid(5), 50), (Pgid(6), 60), (Pgid(7), 70), (Pgid(4), 41)]);
        let r = c.recent();
        assert_eq!(
            r.get(Pgid(4)),
            Some(41),
            "a page counted again keeps its newest count"
        );
        assert_eq!(r.get(Pgid(3)), None, "only the last {RECENT} stay");
        assert_eq!(r.get(Pgid(5)), Some(50));
        assert_eq!(r.get(Pgid(0)), None, "empty slots match nothing");
        c.forget(Pgid(6), 2);
        let r = c.recent();
        assert_eq!((r.get(Pgid(6)), r.get(Pgid(7))), (None, None));
        assert_eq!(r.get(Pgid(5)), Some(50));
        assert_eq!(c.get(Pgid(6)), None);
    }
}
