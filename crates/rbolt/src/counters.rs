//! Counters with bbolt's definitions (`Stats` and `TxStats` in bbolt's `db.go` and `tx.go`):
//! the per-transaction counters a transaction bumps in place, and the database totals.
//!
//! Database counters are atomics updated when transactions begin and end, so collecting them
//! never adds a lock to the read path (bbolt's stats mutex is a known contention point,
//! etcd-io/bbolt#967). A transaction's own counters are plain cells: a transaction is used by
//! one thread at a time.

use crate::freelist::Freelist;
use rbolt_format::PAGE_HEADER_SIZE;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// What one transaction did (bbolt's `TxStats`). Cumulative totals over closed transactions
/// are in [`Stats::tx_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxStats {
    /// Page allocations (one per node or freelist written, whatever its length).
    pub page_count: u64,
    /// Bytes allocated for those pages.
    pub page_alloc: u64,
    /// Cursors created (by `cursor`, iterators, `for_each` and the like).
    pub cursor_count: u64,
    /// Nodes materialised from pages or created by splits.
    pub node_count: u64,
    /// Nodes dereferenced before a remap. Always 0: rbolt never remaps under a transaction.
    pub node_deref: u64,
    /// Nodes checked for merging after deletes.
    pub rebalance: u64,
    /// Time spent rebalancing at commit.
    pub rebalance_time: Duration,
    /// Node splits, during the transaction (eager splits) and at commit.
    pub split: u64,
    /// Nodes written to pages at commit.
    pub spill: u64,
    /// Time spent spilling at commit (includes writing, which rbolt does while spilling).
    pub spill_time: Duration,
    /// Page writes: each data page or run, the freelist and the meta page.
    pub write: u64,
    /// Time spent writing and syncing.
    pub write_time: Duration,
}

const TX_FIELDS: usize = 12;

impl TxStats {
    fn to_array(self) -> [u64; TX_FIELDS] {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        [
            self.page_count,
            self.page_alloc,
            self.cursor_count,
            self.node_count,
            self.node_deref,
            self.rebalance,
            ns(self.rebalance_time),
            self.split,
            self.spill,
            ns(self.spill_time),
            self.write,
            ns(self.write_time),
        ]
    }

    fn from_array(a: [u64; TX_FIELDS]) -> Self {
        Self {
            page_count: a[0],
            page_alloc: a[1],
            cursor_count: a[2],
            node_count: a[3],
            node_deref: a[4],
            rebalance: a[5],
            rebalance_time: Duration::from_nanos(a[6]),
            split: a[7],
            spill: a[8],
            spill_time: Duration::from_nanos(a[9]),
            write: a[10],
            write_time: Duration::from_nanos(a[11]),
        }
    }

    /// Adds `other` to `self`, field by field.
    pub fn add(&mut self, other: &TxStats) {
        let (mut a, b) = (self.to_array(), other.to_array());
        for (x, y) in a.iter_mut().zip(b) {
            *x = x.saturating_add(y);
        }
        *self = Self::from_array(a);
    }

    /// `self − other`, field by field (saturating at 0): the activity between two snapshots.
    pub fn sub(&self, other: &TxStats) -> TxStats {
        let (mut a, b) = (self.to_array(), other.to_array());
        for (x, y) in a.iter_mut().zip(b) {
            *x = x.saturating_sub(y);
        }
        Self::from_array(a)
    }
}

/// Database statistics (bbolt's `Stats`), from [`Db::stats`](crate::Db::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Totals of every closed transaction's [`TxStats`].
    pub tx_stats: TxStats,
    /// Free pages ready for reuse, as of the last write transaction.
    pub free_page_n: u64,
    /// Pages freed by recent commits that an open reader may still see.
    pub pending_page_n: u64,
    /// Bytes in free and pending pages: `(free_page_n + pending_page_n) × page size`.
    pub free_alloc: u64,
    /// Bytes the freelist takes on disk (bbolt's estimate: header plus 8 bytes an id).
    pub freelist_inuse: u64,
    /// Read transactions started.
    pub tx_n: u64,
    /// Read transactions open now.
    pub open_tx_n: u64,
}

impl Stats {
    /// The activity between `other` (earlier) and `self`: transaction counters are
    /// subtracted, gauges (free pages, open transactions) are `self`'s (bbolt's `Stats.Sub`).
    pub fn sub(&self, other: &Stats) -> Stats {
        Stats {
            tx_stats: self.tx_stats.sub(&other.tx_stats),
            tx_n: self.tx_n.saturating_sub(other.tx_n),
            ..*self
        }
    }
}

/// Database-wide counters, updated lock-free.
#[derive(Debug, Default)]
pub(crate) struct DbCounters {
    tx_n: AtomicU64,
    open_tx_n: AtomicU64,
    free_page_n: AtomicU64,
    pending_page_n: AtomicU64,
    freelist_inuse: AtomicU64,
    tx: [AtomicU64; TX_FIELDS],
}

impl DbCounters {
    pub(crate) fn begin_read(&self) {
        self.tx_n.fetch_add(1, Relaxed);
        self.open_tx_n.fetch_add(1, Relaxed);
    }

    /// A read transaction ended, having made `cursors` cursors (the only counter a reader
    /// bumps).
    pub(crate) fn end_read(&self, cursors: u64) {
        self.open_tx_n.fetch_sub(1, Relaxed);
        if cursors != 0 {
            self.add_tx(&TxStats {
                cursor_count: cursors,
                ..TxStats::default()
            });
        }
    }

    /// Adds a closed transaction's counters (only the non-zero ones, to keep readers cheap).
    pub(crate) fn add_tx(&self, s: &TxStats) {
        for (slot, v) in self.tx.iter().zip(s.to_array()) {
            if v != 0 {
                slot.fetch_add(v, Relaxed);
            }
        }
    }

    /// Records the freelist's gauges, after each write transaction and at open.
    pub(crate) fn note_freelist(&self, f: &Freelist) {
        let (free, pending) = (f.free_count(), f.pending_count());
        self.free_page_n.store(free, Relaxed);
        self.pending_page_n.store(pending, Relaxed);
        self.freelist_inuse
            .store(freelist_inuse(free + pending), Relaxed);
    }

    pub(crate) fn snapshot(&self, page_size: u64) -> Stats {
        let mut a = [0u64; TX_FIELDS];
        for (x, slot) in a.iter_mut().zip(&self.tx) {
            *x = slot.load(Relaxed);
        }
        let (free, pending) = (
            self.free_page_n.load(Relaxed),
            self.pending_page_n.load(Relaxed),
        );
        Stats {
            tx_stats: TxStats::from_array(a),
            free_page_n: free,
            pending_page_n: pending,
            free_alloc: (free + pending) * page_size,
            freelist_inuse: self.freelist_inuse.load(Relaxed),
            tx_n: self.tx_n.load(Relaxed),
            open_tx_n: self.open_tx_n.load(Relaxed),
        }
    }
}

/// bbolt's `freelist.size()`: page header plus one u64 per id, plus the count word when the
/// count overflows the header's u16.
pub(crate) fn freelist_inuse(count: u64) -> u64 {
    let n = if count >= 0xFFFF { count + 1 } else { count };
    PAGE_HEADER_SIZE as u64 + 8 * n
}

/// A transaction's counters, bumped in place.
#[derive(Debug, Default)]
pub(crate) struct TxCounters(Cell<TxStats>);

impl TxCounters {
    pub(crate) fn bump(&self, f: impl FnOnce(&mut TxStats)) {
        let mut s = self.0.get();
        f(&mut s);
        self.0.set(s);
    }

    pub(crate) fn get(&self) -> TxStats {
        self.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freelist_inuse_matches_bbolt_size() {
        assert_eq!(freelist_inuse(0), 16);
        assert_eq!(freelist_inuse(3), 40);
        assert_eq!(freelist_inuse(0xFFFE), 16 + 8 * 0xFFFE);
        assert_eq!(freelist_inuse(0xFFFF), 16 + 8 * 0x10000);
    }

    #[test]
    fn tx_stats_add_and_sub_are_field_wise() {
        let a = TxStats {
            page_count: 3,
            spill_time: Duration::from_millis(5),
            ..TxStats::default()
        };
        let mut b = a;
        b.add(&a);
        assert_eq!(b.page_count, 6);
        assert_eq!(b.spill_time, Duration::from_millis(10));
        assert_eq!(b.sub(&a), a);
        assert_eq!(a.sub(&b), TxStats::default(), "saturates at zero");
    }
}
