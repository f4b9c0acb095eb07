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

/// Entry counts by branch page id, shared by every transaction of one open database.
#[derive(Debug, Default)]
pub(crate) struct SubtreeCounts(Mutex<HashMap<Pgid, u64, PgidBuild>>);

impl SubtreeCounts {
    /// The remembered count under branch page `pgid`.
    pub(crate) fn get(&self, pgid: Pgid) -> Option<u64> {
        lock(&self.0).get(&pgid).copied()
    }

    /// Remembers the count under branch page `pgid`, walked completely and without error.
    pub(crate) fn insert(&self, pgid: Pgid, n: u64) {
        let mut m = lock(&self.0);
        if m.len() < MAX_ENTRIES || m.contains_key(&pgid) {
            m.insert(pgid, n);
        }
    }

    /// Remembers the counts a commit computed for the branch pages it wrote, now committed.
    pub(crate) fn insert_all(&self, counted: &[(Pgid, u64)]) {
        if counted.is_empty() {
            return;
        }
        let mut m = lock(&self.0);
        for &(pgid, n) in counted {
            if m.len() < MAX_ENTRIES || m.contains_key(&pgid) {
                m.insert(pgid, n);
            }
        }
    }

    /// The writer is about to reuse pages `start .. start + n`: whatever was counted there is
    /// gone. Called before the pages are written.
    pub(crate) fn forget(&self, start: Pgid, n: u64) {
        let mut m = lock(&self.0);
        if m.is_empty() {
            return;
        }
        for id in start.get()..start.get().saturating_add(n) {
            m.remove(&Pgid(id));
        }
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
}
