//! Introspection (bbolt's `DB.Info`, `Tx.Page`, `Tx.Inspect`/`Bucket.Inspect`): what the
//! database looks like page by page and bucket by bucket, for tools and debugging.

use crate::db::Db;
use crate::error::{Error, Result};
use crate::limits::check_nesting;
use crate::sync::lock;
use crate::tx::{Bucket, Mode, Tx};
use rbolt_format::{
    BRANCH_PAGE, FREELIST_PAGE, LEAF_PAGE, META_PAGE, PGID_NO_FREELIST, PageHeader, Pgid, Txid,
};
use std::fmt;

/// Facts about an open database (bbolt's `Info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Info {
    /// Page size of the file.
    pub page_size: usize,
    /// Bytes of the file mapped by the current map generation. (bbolt reports the map's
    /// address; rbolt keeps pointers to itself.)
    pub map_len: u64,
    /// High-water mark of the latest commit: the database's logical size is
    /// `hwm × page_size`; the file may be longer.
    pub hwm: Pgid,
    /// Txid of the latest commit.
    pub txid: Txid,
    /// The freelist type the writer uses ([`Options::freelist_type`](crate::Options)).
    pub freelist_type: crate::FreelistType,
}

impl Db {
    /// Page size, mapped length and the latest commit's high-water mark and txid.
    pub fn info(&self) -> Info {
        let st = lock(&self.shared.state);
        Info {
            page_size: self.shared.page_size,
            map_len: st.map.len(),
            hwm: st.meta.pgid,
            txid: st.meta.txid,
            freelist_type: self.shared.freelist_type,
        }
    }
}

/// What a page is, with bbolt's names (`Display` gives "branch", "leaf", "meta",
/// "freelist", "free" or `unknown<xx>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PageType {
    /// A meta page (0 or 1).
    Meta,
    /// The freelist page.
    Freelist,
    /// A branch page of some bucket's tree.
    Branch,
    /// A leaf page of some bucket's tree.
    Leaf,
    /// Free (or freed and pending) in this snapshot; its bytes mean nothing.
    Free,
    /// A page whose type flags are none of the above.
    Unknown(u16),
}

impl fmt::Display for PageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Meta => f.write_str("meta"),
            Self::Freelist => f.write_str("freelist"),
            Self::Branch => f.write_str("branch"),
            Self::Leaf => f.write_str("leaf"),
            Self::Free => f.write_str("free"),
            Self::Unknown(x) => write!(f, "unknown<{x:02x}>"),
        }
    }
}

/// One page as [`Tx::page`] describes it (bbolt's `PageInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageInfo {
    /// The page id.
    pub id: Pgid,
    /// Its type.
    pub page_type: PageType,
    /// Element count from its header.
    pub count: u16,
    /// Extra pages it spans, from its header.
    pub overflow: u32,
}

impl<M: Mode> Tx<M> {
    /// Describes page `id` of this transaction's snapshot (bbolt's `Tx.Page`), or `None` if
    /// `id` is at or past the high-water mark. Free pages (including pages freed by recent
    /// commits) are reported as [`PageType::Free`]; which pages are free comes from this
    /// snapshot's own freelist, so the answer is consistent however the writer moves on.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = rbolt::Db::open(dir.path().join("p.db"))?;
    /// let tx = db.begin_read()?;
    /// use rbolt::Pgid;
    /// assert_eq!(tx.page(Pgid(0))?.unwrap().page_type.to_string(), "meta");
    /// assert_eq!(tx.page(Pgid(3))?.unwrap().page_type, rbolt::PageType::Leaf);
    /// assert!(tx.page(Pgid(tx.size() / tx.page_size() as u64))?.is_none());
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn page(&self, id: Pgid) -> Result<Option<PageInfo>> {
        if id >= self.snap.meta.pgid {
            return Ok(None);
        }
        let ps = self.snap.page_size as u64;
        let bytes = self.snap.map.bytes();
        let hdr = usize::try_from(id.get() * ps)
            .ok()
            .and_then(|off| bytes.get(off..))
            .ok_or_else(|| Error::corrupted(id, "page beyond end of the mapping"))?;
        let h = PageHeader::decode(hdr).map_err(|e| Error::format(id, e))?;
        let page_type = if id >= Pgid(2) && self.free_ids()?.binary_search(&id).is_ok() {
            PageType::Free
        } else {
            match h.flags {
                META_PAGE => PageType::Meta,
                FREELIST_PAGE => PageType::Freelist,
                BRANCH_PAGE => PageType::Branch,
                LEAF_PAGE => PageType::Leaf,
                x => PageType::Unknown(x),
            }
        };
        Ok(Some(PageInfo {
            id,
            page_type,
            count: h.count,
            overflow: h.overflow,
        }))
    }

    /// The snapshot's free ids, sorted (decoded once per transaction).
    fn free_ids(&self) -> Result<&[Pgid]> {
        if let Some(v) = self.free_ids.get() {
            return Ok(v);
        }
        let mut ids = if self.snap.meta.freelist == PGID_NO_FREELIST {
            crate::read::walk::unreachable_pages(
                self.snap.map.clone(),
                self.snap.meta,
                self.snap.page_size,
            )?
        } else {
            let s = self.view().page_slot(self.snap.meta.freelist)?;
            rbolt_format::decode_freelist(self.view().bytes(s))
                .map_err(|e| Error::format(self.snap.meta.freelist, e))?
        };
        ids.sort_unstable();
        Ok(self.free_ids.get_or_init(|| ids))
    }

    /// The tree of buckets with their key counts, rooted at a node named "root" (bbolt's
    /// `Tx.Inspect`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = rbolt::Db::open(dir.path().join("i.db"))?;
    /// db.update(|tx| {
    ///     let a = tx.create_bucket(b"a")?;
    ///     a.put(b"k", b"v")?;
    ///     a.create_bucket(b"sub")?;
    ///     Ok(())
    /// })?;
    /// let tree = db.view(|tx| tx.inspect())?;
    /// assert_eq!(tree.name, b"root");
    /// assert_eq!(tree.children[0].name, b"a");
    /// assert_eq!(tree.children[0].key_n, 1);
    /// assert_eq!(tree.children[0].children[0].name, b"sub");
    /// # Ok::<(), rbolt::Error>(())
    /// ```
    pub fn inspect(&self) -> Result<BucketStructure> {
        inspect(&self.root(), b"root")
    }
}

/// A bucket's name, how many plain keys it holds, and its sub-buckets, recursively (bbolt's
/// `BucketStructure`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BucketStructure {
    /// The bucket's name ("root" for the top).
    pub name: Vec<u8>,
    /// Keys holding values (sub-buckets are not counted).
    pub key_n: u64,
    /// Sub-buckets in key order.
    pub children: Vec<BucketStructure>,
}

impl<M: Mode> Bucket<'_, M> {
    /// This bucket's structure, named "root" as in bbolt's `Bucket.Inspect`.
    pub fn inspect(&self) -> Result<BucketStructure> {
        inspect(self, b"root")
    }
}

/// Builds the structure of `b` and everything under it. Buckets still to read wait on an
/// explicit stack, so nesting depth costs heap, not call stack.
fn inspect<M: Mode>(b: &Bucket<'_, M>, name: &[u8]) -> Result<BucketStructure> {
    struct Frame<'tx, M: Mode> {
        bucket: Bucket<'tx, M>,
        iter: crate::tx::Iter<'tx, M>,
        s: BucketStructure,
    }
    fn frame<'tx, M: Mode>(bucket: Bucket<'tx, M>, name: &[u8]) -> Frame<'tx, M> {
        Frame {
            bucket,
            iter: bucket.iter(),
            s: BucketStructure {
                name: name.to_vec(),
                ..BucketStructure::default()
            },
        }
    }
    let mut stack = vec![frame(*b, name)];
    loop {
        let top = stack
            .last_mut()
            .expect("invariant: the stack ends with the first frame");
        match top.iter.next().transpose()? {
            Some((_, Some(_))) => top.s.key_n += 1,
            Some((k, None)) => {
                let child = top
                    .bucket
                    .bucket(k)?
                    .ok_or_else(|| Error::corrupted(None, "sub-bucket vanished during inspect"))?;
                check_nesting(stack.len())?;
                stack.push(frame(child, k));
            }
            None => {
                let done = stack.pop().expect("invariant: just looked at it").s;
                match stack.last_mut() {
                    Some(parent) => parent.s.children.push(done),
                    None => return Ok(done),
                }
            }
        }
    }
}
