//! The top-level buckets the latest commits wrote, carried by value in every snapshot
//! published after them, so that a read transaction opening one of them needs neither the
//! root bucket's page nor the bucket's root page. A commit that writes a bucket rewrites
//! both, and on the first transaction after it they are the two cold pages of the open (a
//! cache and TLB miss each, most of what opening a bucket costs then).
//!
//! An entry is the header the writer itself put into the root bucket for that name, and the
//! length of the root page it wrote: nothing here comes from the file, so a hostile file
//! cannot reach a reader through it. A commit that rewrites the root bucket builds a new list from
//! the buckets it wrote and the previous entries its root bucket still holds unchanged; a
//! commit that leaves the root bucket alone changed no top-level header and passes the list
//! on as it was.

use rbolt_format::Pgid;

/// How many buckets a snapshot carries: enough for a service that writes a data bucket and
/// a bookkeeping one in each commit, few enough that copying them into every new snapshot
/// (under the lock readers begin under) and moving them with every transaction stays two
/// cache lines.
const SLOTS: usize = 3;
/// Longer names are not carried: the list is copied, never allocated.
const NAME_MAX: usize = 21;

/// The latest top-level buckets written, newest first; an entry with an empty name (not a
/// valid bucket name) is an empty slot.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecentBuckets([Entry; SLOTS]);

/// A top-level bucket as a snapshot carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecentBucket {
    pub(crate) root: Pgid,
    pub(crate) sequence: u64,
    /// The length of the root page's run, in pages.
    pub(crate) pages: u16,
}

/// 40 bytes: the header, the run length and a short name.
#[derive(Clone, Copy, Debug)]
struct Entry {
    root: Pgid,
    sequence: u64,
    pages: u16,
    name_len: u8,
    name: [u8; NAME_MAX],
}

impl Default for Entry {
    fn default() -> Self {
        Self {
            root: Pgid(0),
            sequence: 0,
            pages: 0,
            name_len: 0,
            name: [0; NAME_MAX],
        }
    }
}

impl Entry {
    fn name(&self) -> &[u8] {
        &self.name[..usize::from(self.name_len)]
    }

    fn bucket(&self) -> RecentBucket {
        RecentBucket {
            root: self.root,
            sequence: self.sequence,
            pages: self.pages,
        }
    }
}

impl RecentBuckets {
    /// Top-level bucket `name`, if it is one of those carried.
    #[inline]
    pub(crate) fn get(&self, name: &[u8]) -> Option<RecentBucket> {
        self.0
            .iter()
            .find(|e| e.name_len != 0 && e.name() == name)
            .map(Entry::bucket)
    }

    /// Adds `name` after the entries already here, if there is room, the name fits, the
    /// bucket has a root page and it is not here yet. Returns whether it is now carried.
    pub(crate) fn push(&mut self, name: &[u8], bucket: RecentBucket) -> bool {
        if name.is_empty() || name.len() > NAME_MAX || bucket.root == Pgid(0) || bucket.pages == 0 {
            return false;
        }
        if self.get(name).is_some() {
            return true;
        }
        let Some(e) = self.0.iter_mut().find(|e| e.name_len == 0) else {
            return false;
        };
        e.name[..name.len()].copy_from_slice(name);
        e.name_len = name.len() as u8;
        e.root = bucket.root;
        e.sequence = bucket.sequence;
        e.pages = bucket.pages;
        true
    }

    /// The carried buckets, newest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], RecentBucket)> {
        self.0
            .iter()
            .filter(|e| e.name_len != 0)
            .map(|e| (e.name(), e.bucket()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(root: u64) -> RecentBucket {
        RecentBucket {
            root: Pgid(root),
            sequence: root * 10,
            pages: 1,
        }
    }

    #[test]
    fn an_entry_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }

    #[test]
    fn carries_what_was_pushed_and_nothing_else() {
        let mut r = RecentBuckets::default();
        assert_eq!(r.get(b"a"), None);
        assert!(r.push(b"a", bucket(3)));
        assert!(r.push(b"bb", bucket(4)));
        assert_eq!(r.get(b"a"), Some(bucket(3)));
        assert_eq!(r.get(b"bb"), Some(bucket(4)));
        assert_eq!(r.get(b"b"), None, "a prefix of a name is another name");
        assert_eq!(r.get(b""), None, "empty slots are not the empty name");
        // The first push of a name wins: the newest is pushed first.
        assert!(r.push(b"a", bucket(9)));
        assert_eq!(r.get(b"a"), Some(bucket(3)));
        let names: Vec<&[u8]> = r.iter().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"a"[..], b"bb"]);
    }

    #[test]
    fn refuses_what_it_cannot_carry() {
        let mut r = RecentBuckets::default();
        assert!(!r.push(b"", bucket(3)), "no bucket has an empty name");
        assert!(!r.push(&[b'x'; NAME_MAX + 1], bucket(3)), "name too long");
        assert!(r.push(&[b'x'; NAME_MAX], bucket(3)));
        assert!(
            !r.push(b"inline", bucket(0)),
            "an inline bucket has no root page"
        );
        let run_too_long = RecentBucket {
            pages: 0,
            ..bucket(4)
        };
        assert!(!r.push(b"long", run_too_long), "no run length to carry");
        for (i, name) in [b"p", b"q"].iter().enumerate() {
            assert!(r.push(*name, bucket(10 + i as u64)));
        }
        assert!(!r.push(b"s", bucket(20)), "full");
        assert_eq!(r.iter().count(), SLOTS);
        assert_eq!(r.get(b"s"), None);
    }

    #[test]
    fn a_reader_after_a_commit_finds_the_buckets_it_wrote_in_its_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let db = crate::Db::open(&path).unwrap();
        let paged = |b: &crate::Bucket<'_, crate::ReadWrite>, tag: u8| {
            (0u32..300).try_for_each(|i| b.put(i.to_le_bytes(), [tag; 50]))
        };
        db.update(|tx| {
            paged(&tx.create_bucket(b"a")?, 1)?;
            paged(&tx.create_bucket(b"b")?, 2)?;
            tx.create_bucket(b"small")?.put(b"k", b"v")
        })
        .unwrap();
        let carried = |names: &[&[u8]]| {
            let tx = db.begin_read().unwrap();
            for name in names {
                let c = tx.snap.buckets.get(name);
                let root = tx.bucket(name).unwrap().map(|b| b.root());
                assert_eq!(c.map(|c| c.root), root, "{name:?}");
            }
            tx.snap.buckets.iter().count()
        };
        assert_eq!(carried(&[b"a", b"b"]), 2, "inline buckets are not carried");
        // Only `b` written: `a` is carried on, unchanged.
        db.update(|tx| paged(&tx.bucket(b"b")?.unwrap(), 3))
            .unwrap();
        assert_eq!(carried(&[b"a", b"b"]), 2);
        db.update(|tx| tx.delete_bucket(b"a")).unwrap();
        assert_eq!(carried(&[b"b"]), 1);
        drop(db);
        let db = crate::Db::open(&path).unwrap();
        assert_eq!(db.begin_read().unwrap().snap.buckets.iter().count(), 0);
    }
}
