//! Remembered entry counts of committed subtrees, so that `Bucket::len` after a commit costs
//! only the pages the commit rewrote.
//!
//! A committed page never changes while any snapshot can reach it: copy-on-write gives every
//! change a new page, and a freed page is reused only after the last reader that could see it
//! has gone. So the count under a branch page, once walked, holds until the writer allocates
//! that page id again — and the writer forgets the id at exactly that point ([`forget`]), before
//! it writes anything there. Only pages of the mapping are remembered, never a writer's staged
//! nodes, and only subtrees that were walked without error.
//!
//! [`forget`]: SubtreeCounts::forget

use crate::sync::lock;
use rbolt_format::Pgid;
use std::collections::HashMap;
use std::sync::Mutex;

/// Branch pages are a few percent of a tree, so a full map stays small (a million keys on
/// 4 KiB pages: about a thousand entries); past this bound nothing new is remembered.
const MAX_ENTRIES: usize = 1 << 20;

/// Entry counts by branch page id, shared by every transaction of one open database.
#[derive(Debug, Default)]
pub(crate) struct SubtreeCounts(Mutex<HashMap<Pgid, u64>>);

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
