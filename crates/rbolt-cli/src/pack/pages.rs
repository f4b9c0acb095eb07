//! The copy's page allocation, as the engine's writer does it with its default freelist: the
//! lowest run of free pages that fits, else the end of the file; pages a commit frees are
//! reusable from the next transaction on (nothing reads the copy meanwhile); free runs that
//! end the file are cut off at each commit. Memory grows with the free runs, never the data.

use std::collections::BTreeMap;

/// A run of pages: first id and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: u64,
    pub(super) len: u64,
}

#[derive(Debug)]
pub(super) struct Pages {
    /// First page past the end of the file's data (the meta's page count).
    pub(super) hwm: u64,
    /// Reusable runs, merged: start → length.
    free: BTreeMap<u64, u64>,
    free_count: u64,
    /// Freed by the transaction being committed: reusable only after it.
    pending: Vec<Span>,
    pending_count: u64,
}

impl Pages {
    pub(super) fn new(hwm: u64) -> Self {
        Pages {
            hwm,
            free: BTreeMap::new(),
            free_count: 0,
            pending: Vec::new(),
            pending_count: 0,
        }
    }

    /// Takes the front of the lowest free run of at least `n` pages, else extends the file.
    pub(super) fn allocate(&mut self, n: u64) -> Span {
        let fit = self
            .free
            .iter()
            .find(|&(_, &len)| len >= n)
            .map(|(&s, &len)| (s, len));
        let start = match fit {
            Some((s, len)) => {
                self.free.remove(&s);
                if len > n {
                    self.free.insert(s + n, len - n);
                }
                self.free_count -= n;
                s
            }
            None => {
                self.hwm += n;
                self.hwm - n
            }
        };
        Span { start, len: n }
    }

    pub(super) fn free(&mut self, s: Span) {
        self.pending.push(s);
        self.pending_count += s.len;
    }

    /// Ids the freelist page lists: free and pending.
    pub(super) fn count(&self) -> u64 {
        self.free_count + self.pending_count
    }

    /// Cuts free runs that end the file off it.
    pub(super) fn trim_tail(&mut self) {
        while let Some((&s, &len)) = self.free.last_key_value() {
            if s + len != self.hwm || s < 2 {
                break;
            }
            self.free.remove(&s);
            self.free_count -= len;
            self.hwm = s;
        }
    }

    /// The next transaction begins: what the last commit freed becomes reusable.
    pub(super) fn release(&mut self) {
        for Span { start, len } in std::mem::take(&mut self.pending) {
            let (mut s, mut l) = (start, len);
            if let Some((&ps, &pl)) = self.free.range(..s).next_back()
                && ps + pl == s
            {
                self.free.remove(&ps);
                s = ps;
                l += pl;
            }
            if let Some(&nl) = self.free.get(&(start + len)) {
                self.free.remove(&(start + len));
                l += nl;
            }
            self.free.insert(s, l);
            self.free_count += len;
        }
        self.pending_count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_fitting_run_then_the_end_of_the_file() {
        let mut p = Pages::new(10);
        for s in [2, 3, 6, 7, 8] {
            p.free(Span { start: s, len: 1 });
        }
        assert_eq!(
            p.allocate(1),
            Span { start: 10, len: 1 },
            "pending is not reusable"
        );
        p.release();
        assert_eq!(p.count(), 5);
        assert_eq!(p.allocate(3), Span { start: 6, len: 3 });
        assert_eq!(p.allocate(1), Span { start: 2, len: 1 });
        assert_eq!(p.allocate(2), Span { start: 11, len: 2 });
        p.free(Span { start: 11, len: 2 });
        p.release();
        p.trim_tail();
        assert_eq!((p.hwm, p.count()), (11, 1));
    }
}
