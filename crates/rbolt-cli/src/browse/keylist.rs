//! The virtualised key list: a window of rows around the cursor, never more than about three
//! screens, refilled from the bucket with seeks as the cursor moves. Memory is O(screen)
//! whatever the bucket's size; every move costs one seek plus a screen of steps at most.

use super::data::{BucketPath, Data, Row};
use crate::error::CliError;

/// The rows of one bucket that are in memory, and the cursor among them.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyList {
    pub(crate) bucket: BucketPath,
    pub(crate) rows: Vec<Row>,
    /// `rows[0]` is the bucket's first key.
    pub(crate) at_start: bool,
    /// The last row is the bucket's last key.
    pub(crate) at_end: bool,
    /// Index of the selected row in `rows`.
    pub(crate) cursor: usize,
    /// Index in `rows` of the first row on screen.
    pub(crate) top: usize,
    /// Rows on screen.
    pub(crate) page: usize,
}

impl KeyList {
    pub(crate) fn new(bucket: BucketPath, page: usize) -> Self {
        Self {
            bucket,
            page: page.max(1),
            ..Self::default()
        }
    }

    /// Rows fetched per refill.
    fn chunk(&self) -> usize {
        self.page.max(16)
    }

    /// Most rows kept.
    pub(crate) fn cap(&self) -> usize {
        3 * self.chunk()
    }

    pub(crate) fn selected(&self) -> Option<&Row> {
        self.rows.get(self.cursor)
    }

    pub(crate) fn set_page(&mut self, page: usize) {
        self.page = page.max(1);
        self.scroll_into_view();
    }

    /// Loads the first rows.
    pub(crate) fn first(&mut self, data: &Data) -> Result<(), CliError> {
        let n = self.cap();
        self.rows = data.rows_from(&self.bucket, None, false, n)?;
        self.at_start = true;
        self.at_end = self.rows.len() < n;
        self.cursor = 0;
        self.top = 0;
        Ok(())
    }

    /// Loads the last rows, the cursor on the last.
    pub(crate) fn last(&mut self, data: &Data) -> Result<(), CliError> {
        let n = self.cap();
        self.rows = data.rows_before(&self.bucket, None, n)?;
        self.at_end = true;
        self.at_start = self.rows.len() < n;
        self.cursor = self.rows.len().saturating_sub(1);
        self.top = self.rows.len().saturating_sub(self.page);
        Ok(())
    }

    /// Puts the cursor on the first key ≥ `key` (the last key if none is), with rows on both
    /// sides.
    pub(crate) fn seek(&mut self, data: &Data, key: &[u8]) -> Result<(), CliError> {
        let want_after = self.chunk() * 2;
        let after = data.rows_from(&self.bucket, Some(key), false, want_after)?;
        if after.is_empty() {
            return self.last(data);
        }
        let before = data.rows_before(&self.bucket, Some(&after[0].key), self.chunk())?;
        self.at_start = before.len() < self.chunk();
        self.at_end = after.len() < want_after;
        self.cursor = before.len();
        self.rows = before;
        self.rows.extend(after);
        // The found row a third of the way down the screen, like a search result.
        self.top = self.cursor.saturating_sub(self.page / 3);
        self.scroll_into_view();
        Ok(())
    }

    /// Re-reads the rows around the selected key (after an edit or a refresh).
    pub(crate) fn reload(&mut self, data: &Data) -> Result<(), CliError> {
        let key = self.selected().map(|r| r.key.clone());
        let offset = self.cursor.saturating_sub(self.top);
        match key {
            Some(k) => self.seek(data, &k)?,
            None => self.first(data)?,
        }
        self.top = self.cursor.saturating_sub(offset);
        Ok(())
    }

    fn extend_forward(&mut self, data: &Data, want: usize) -> Result<(), CliError> {
        let Some(last) = self.rows.last().map(|r| r.key.clone()) else {
            return self.first(data);
        };
        let n = want.max(self.chunk());
        let more = data.rows_from(&self.bucket, Some(&last), true, n)?;
        self.at_end = more.len() < n;
        self.rows.extend(more);
        Ok(())
    }

    fn extend_backward(&mut self, data: &Data, want: usize) -> Result<(), CliError> {
        let Some(first) = self.rows.first().map(|r| r.key.clone()) else {
            return self.first(data);
        };
        let n = want.max(self.chunk());
        let mut more = data.rows_before(&self.bucket, Some(&first), n)?;
        self.at_start = more.len() < n;
        let m = more.len();
        more.append(&mut self.rows);
        self.rows = more;
        self.cursor += m;
        self.top += m;
        Ok(())
    }

    /// Drops rows far from the screen so at most [`cap`](Self::cap) stay.
    fn trim(&mut self) {
        let cap = self.cap().max(self.page + 2);
        if self.rows.len() <= cap {
            return;
        }
        let keep_from = self.top.saturating_sub(self.chunk() / 2);
        let drop_front = keep_from.min(self.rows.len() - cap);
        if drop_front > 0 {
            self.rows.drain(..drop_front);
            self.at_start = false;
            self.cursor -= drop_front;
            self.top -= drop_front;
        }
        if self.rows.len() > cap {
            self.rows.truncate(cap);
            self.at_end = false;
        }
    }

    fn scroll_into_view(&mut self) {
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if self.cursor >= self.top + self.page {
            self.top = self.cursor + 1 - self.page;
        }
    }

    /// Moves the cursor by `delta` rows, fetching rows as needed; stops at either end.
    pub(crate) fn move_by(&mut self, data: &Data, delta: isize) -> Result<(), CliError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        if delta > 0 {
            let d = delta.unsigned_abs();
            while self.cursor + d >= self.rows.len() && !self.at_end {
                let need = self.cursor + d + 1 - self.rows.len();
                self.extend_forward(data, need)?;
            }
            self.cursor = (self.cursor + d).min(self.rows.len() - 1);
        } else {
            let d = delta.unsigned_abs();
            while d > self.cursor && !self.at_start {
                let need = d - self.cursor;
                self.extend_backward(data, need)?;
            }
            self.cursor = self.cursor.saturating_sub(d);
        }
        self.scroll_into_view();
        self.trim();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn fixture(n: u32) -> (tempfile::TempDir, Data) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let db = rbolt::Db::open(&path).unwrap();
        db.update(|tx| {
            let b = tx.create_bucket(b"b")?;
            for i in 0..n {
                b.put(format!("{i:06}").as_bytes(), b"v")?;
            }
            Ok(())
        })
        .unwrap();
        let data = Data::from_db(Arc::new(db), &path).unwrap();
        (dir, data)
    }

    fn key(l: &KeyList) -> String {
        String::from_utf8(l.selected().unwrap().key.clone()).unwrap()
    }

    #[test]
    fn scrolling_keeps_the_window_bounded_and_in_order() {
        let (_d, data) = fixture(10_000);
        let mut l = KeyList::new(vec![b"b".to_vec()], 20);
        l.first(&data).unwrap();
        for i in 1..=5000 {
            l.move_by(&data, 1).unwrap();
            assert_eq!(key(&l), format!("{i:06}"));
            assert!(l.rows.len() <= l.cap(), "{} rows", l.rows.len());
            assert!(l.cursor >= l.top && l.cursor < l.top + l.page);
        }
        for i in (4000..5000).rev() {
            l.move_by(&data, -1).unwrap();
            assert_eq!(key(&l), format!("{i:06}"));
            assert!(l.rows.len() <= l.cap());
        }
        l.move_by(&data, -100_000).unwrap();
        assert_eq!(key(&l), "000000");
        l.move_by(&data, 20).unwrap();
        assert_eq!(key(&l), "000020");
        // Rows stay sorted and contiguous.
        for w in l.rows.windows(2) {
            assert!(w[0].key < w[1].key);
        }
    }

    #[test]
    fn ends_and_seeks() {
        let (_d, data) = fixture(1000);
        let mut l = KeyList::new(vec![b"b".to_vec()], 10);
        l.last(&data).unwrap();
        assert_eq!(key(&l), "000999");
        l.move_by(&data, 5).unwrap();
        assert_eq!(key(&l), "000999");
        l.seek(&data, b"0005").unwrap();
        assert_eq!(key(&l), "000500");
        l.move_by(&data, -1).unwrap();
        assert_eq!(key(&l), "000499");
        l.seek(&data, b"zzz").unwrap();
        assert_eq!(key(&l), "000999");
        l.seek(&data, b"").unwrap();
        assert_eq!(key(&l), "000000");
        assert!(l.at_start);
        l.move_by(&data, 995).unwrap();
        assert_eq!(key(&l), "000995");
        l.move_by(&data, 10).unwrap();
        assert_eq!(key(&l), "000999");
    }

    #[test]
    fn empty_bucket() {
        let (_d, data) = fixture(0);
        let mut l = KeyList::new(vec![b"b".to_vec()], 10);
        l.first(&data).unwrap();
        l.move_by(&data, 3).unwrap();
        l.last(&data).unwrap();
        l.seek(&data, b"x").unwrap();
        assert!(l.selected().is_none());
    }
}
