//! The consistency checker is the oracle of every other test, so its own detections are
//! tested here: a valid file is damaged in one known way at a time (a page referenced twice,
//! a cycle, a reachable page listed as free, a free page listed twice, ids past the high-water
//! mark, an overflow run crossing it, keys out of order, wrong page types, bad bucket values,
//! a leaked page, a misdirected page) and `Tx::check` must report that damage, naming the page.

use rbolt::{CheckError, Options};
use rbolt_format::{
    BRANCH_PAGE, BUCKET_HEADER_SIZE, BranchPage, FREELIST_PAGE, LEAF_PAGE, LeafPage, Meta,
    PAGE_HEADER_SIZE, PageHeader, Pgid,
};
use std::sync::OnceLock;

const PS: usize = 1024;

/// A database image with helpers to find and patch its pages.
#[derive(Clone)]
struct Image {
    bytes: Vec<u8>,
    meta_slot: u64,
    meta: Meta,
}

/// Keys of bucket "a": enough to need a branch root over many leaves.
fn a_key(i: u32) -> Vec<u8> {
    format!("a{i:05}").into_bytes()
}

/// The base file: bucket "a" (a branch over leaves), "b" (a page of its own holding an inline
/// sub-bucket "inner"), "big" (a value on an overflow run), and free pages left by a deleted
/// bucket "gone" (created first, so its pages sit below the live ones).
fn base() -> &'static Image {
    static BASE: OnceLock<Image> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.db");
        {
            let db = Options::new()
                .page_size(PS)
                .no_sync(true)
                .open(&path)
                .unwrap();
            db.update(|tx| {
                let g = tx.create_bucket(b"gone")?;
                for i in 0..40u32 {
                    g.put(&i.to_be_bytes(), &[9; 100])?;
                }
                Ok(())
            })
            .unwrap();
            db.update(|tx| {
                let a = tx.create_bucket(b"a")?;
                for i in 0..200 {
                    a.put(&a_key(i), &[1; 40])?;
                }
                let b = tx.create_bucket(b"b")?;
                for i in 0..6u8 {
                    b.put(&[b'k', i], &[2; 100])?;
                }
                b.create_bucket(b"inner")?.put(b"x", b"y")?;
                tx.create_bucket(b"big")?.put(b"blob", &[3; 3000])
            })
            .unwrap();
            db.update(|tx| tx.delete_bucket(b"gone")).unwrap();
        }
        let img = Image::new(std::fs::read(&path).unwrap());
        let problems = img.check();
        assert!(
            problems.is_empty(),
            "the base file is damaged: {problems:?}"
        );
        assert!(!img.freelist().is_empty(), "the base file needs free pages");
        img
    })
}

impl Image {
    fn new(bytes: Vec<u8>) -> Self {
        let metas = [0u64, 1].map(|i| Meta::decode(&bytes[i as usize * PS..]).ok());
        let (meta_slot, meta) = metas
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.map(|m| (i as u64, m)))
            .max_by_key(|(_, m)| m.txid)
            .expect("a valid meta");
        Self {
            bytes,
            meta_slot,
            meta,
        }
    }

    fn hwm(&self) -> u64 {
        self.meta.pgid.get()
    }

    fn page(&self, id: u64) -> &[u8] {
        let o = id as usize * PS;
        let h = PageHeader::decode(&self.bytes[o..]).unwrap();
        &self.bytes[o..o + (h.overflow as usize + 1) * PS]
    }

    fn page_mut(&mut self, id: u64) -> &mut [u8] {
        let o = id as usize * PS;
        &mut self.bytes[o..o + PS]
    }

    fn header(&self, id: u64) -> PageHeader {
        PageHeader::decode(self.page(id)).unwrap()
    }

    fn set_header(&mut self, id: u64, f: impl FnOnce(&mut PageHeader)) {
        let mut h = self.header(id);
        f(&mut h);
        h.encode(self.page_mut(id));
    }

    /// Rewrites the newest meta (and its checksum).
    fn set_meta(&mut self, f: impl FnOnce(&mut Meta)) {
        f(&mut self.meta);
        let slot = self.meta_slot;
        let mut page = vec![0u8; PS];
        self.meta.encode_page(Pgid(slot), &mut page);
        self.page_mut(slot).copy_from_slice(&page);
        self.meta = Meta::decode(&page).expect("resealed meta is valid");
    }

    /// Children of branch page `id`: (key, child pgid).
    fn children(&self, id: u64) -> Vec<(Vec<u8>, u64)> {
        let p = BranchPage::new(self.page(id)).unwrap();
        (0..p.len())
            .map(|i| (p.key(i).unwrap().to_vec(), p.child(i).unwrap().get()))
            .collect()
    }

    fn set_child(&mut self, branch: u64, i: usize, child: u64) {
        let o = PAGE_HEADER_SIZE + 16 * i + 8;
        self.page_mut(branch)[o..o + 8].copy_from_slice(&child.to_le_bytes());
    }

    /// Byte offset (within page `id`) of the key of leaf or branch element `i`.
    fn key_offset(&self, id: u64, i: usize) -> (usize, usize) {
        let page = self.page(id);
        let e = PAGE_HEADER_SIZE + 16 * i;
        let word = |o: usize| u32::from_le_bytes(page[o..o + 4].try_into().unwrap()) as usize;
        if self.header(id).flags == BRANCH_PAGE {
            (e + word(e), word(e + 4))
        } else {
            (e + word(e + 4), word(e + 8))
        }
    }

    fn key(&self, id: u64, i: usize) -> Vec<u8> {
        let (o, n) = self.key_offset(id, i);
        self.page(id)[o..o + n].to_vec()
    }

    /// Overwrites key `i` of page `id` with a key of the same length.
    fn set_key(&mut self, id: u64, i: usize, key: &[u8]) {
        let (o, n) = self.key_offset(id, i);
        assert_eq!(n, key.len(), "same-length keys only");
        self.page_mut(id)[o..o + n].copy_from_slice(key);
    }

    /// Element index and page of top-level bucket `name` in the root bucket's leaf.
    fn bucket_elem(&self, name: &[u8]) -> (u64, usize) {
        let root = self.meta.root.root.get();
        let leaf = LeafPage::new(self.page(root)).expect("the root bucket is one leaf");
        let i = (0..leaf.len())
            .find(|&i| leaf.key(i).unwrap() == name)
            .unwrap_or_else(|| panic!("no bucket {name:?}"));
        (root, i)
    }

    /// Root page of top-level bucket `name`.
    fn bucket_root(&self, name: &[u8]) -> u64 {
        let (page, i) = self.bucket_elem(name);
        let (_, _, v) = LeafPage::new(self.page(page)).unwrap().entry(i).unwrap();
        u64::from_le_bytes(v[..8].try_into().unwrap())
    }

    fn set_bucket_root(&mut self, name: &[u8], root: u64) {
        let (page, i) = self.bucket_elem(name);
        let e = LeafPage::new(self.page(page)).unwrap().elem(i).unwrap();
        self.page_mut(page)[e.value.start..e.value.start + 8].copy_from_slice(&root.to_le_bytes());
    }

    /// Overwrites the 32-bit field at `field` (0 flags, 4 pos, 8 ksize, 12 vsize) of leaf
    /// element `i` of page `id`.
    fn set_leaf_field(&mut self, id: u64, i: usize, field: usize, v: u32) {
        let o = PAGE_HEADER_SIZE + 16 * i + field;
        self.page_mut(id)[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn freelist(&self) -> Vec<u64> {
        rbolt_format::decode_freelist(self.page(self.meta.freelist.get()))
            .unwrap()
            .into_iter()
            .map(Pgid::get)
            .collect()
    }

    /// Rewrites the freelist page with `ids` (unsorted and duplicate ids are kept as given).
    fn set_freelist(&mut self, ids: Vec<u64>) {
        let id = self.meta.freelist.get();
        let h = self.header(id);
        let len = (h.overflow as usize + 1) * PS;
        assert!(rbolt_format::freelist_encoded_size(ids.len()) <= len);
        let o = id as usize * PS;
        let buf = &mut self.bytes[o..o + len];
        buf.fill(0);
        rbolt_format::encode_freelist(buf, Pgid(id), h.overflow, ids.into_iter().map(Pgid));
    }

    /// Leaf pages of bucket "a", left to right, and its root branch.
    fn a_tree(&self) -> (u64, Vec<(Vec<u8>, u64)>) {
        let root = self.bucket_root(b"a");
        assert_eq!(
            self.header(root).flags,
            BRANCH_PAGE,
            "bucket a has a branch root"
        );
        let kids = self.children(root);
        assert!(kids.len() >= 4, "bucket a has {} leaves", kids.len());
        assert!(kids.iter().all(|&(_, c)| self.header(c).flags == LEAF_PAGE));
        (root, kids)
    }

    /// `Tx::check` of this image, opened read-only from a file.
    fn check(&self) -> Vec<CheckError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.db");
        std::fs::write(&path, &self.bytes).unwrap();
        let db = Options::new()
            .read_only(true)
            .open(&path)
            .expect("a damaged tree still opens read-only");
        let tx = db.begin_read().unwrap();
        tx.check()
    }
}

/// Asserts `check` reports `what` on page `pgid`.
#[track_caller]
fn assert_reported(img: &Image, pgid: u64, what: &str) {
    let errors = img.check();
    assert!(
        errors
            .iter()
            .any(|e| e.pgid() == Some(Pgid(pgid)) && e.message().contains(what)),
        "check did not report \"{what}\" on page {pgid}; it reported:\n{}",
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn check_reports_a_page_referenced_twice() {
    let mut img = base().clone();
    let (branch, kids) = img.a_tree();
    img.set_child(branch, 1, kids[0].1);
    assert_reported(&img, kids[0].1, "multiple references");
    // The page the element pointed to is now reachable from nowhere.
    assert_reported(&img, kids[1].1, "unreachable unfreed");
}

#[test]
fn check_reports_a_page_shared_by_two_buckets() {
    let mut img = base().clone();
    let (_, kids) = img.a_tree();
    let b_root = img.bucket_root(b"b");
    img.set_bucket_root(b"b", kids[2].1);
    assert_reported(&img, kids[2].1, "multiple references");
    assert_reported(&img, b_root, "unreachable unfreed");
}

#[test]
fn check_reports_a_cycle() {
    let mut img = base().clone();
    let (branch, kids) = img.a_tree();
    let last = kids.len() - 1;
    img.set_child(branch, last, branch);
    assert_reported(&img, branch, "multiple references");
    assert_reported(&img, kids[last].1, "unreachable unfreed");
}

#[test]
fn check_reports_a_reachable_page_listed_as_free() {
    let mut img = base().clone();
    let (_, kids) = img.a_tree();
    let leaf = kids[2].1;
    let mut ids = img.freelist();
    ids.push(leaf);
    ids.sort_unstable();
    img.set_freelist(ids);
    assert_reported(&img, leaf, "reachable freed");

    // The freelist listing its own page.
    let mut img = base().clone();
    let own = img.meta.freelist.get();
    let mut ids = img.freelist();
    ids.push(own);
    ids.sort_unstable();
    img.set_freelist(ids);
    assert_reported(&img, own, "reachable freed");

    // A page inside a value's overflow run.
    let mut img = base().clone();
    let big = img.bucket_root(b"big");
    assert!(
        img.header(big).overflow >= 2,
        "the blob spans several pages"
    );
    let mut ids = img.freelist();
    ids.push(big + 1);
    ids.sort_unstable();
    img.set_freelist(ids);
    assert_reported(&img, big + 1, "reachable freed");
}

#[test]
fn check_reports_a_free_page_listed_twice() {
    let mut img = base().clone();
    let mut ids = img.freelist();
    let dup = ids[0];
    ids.insert(0, dup);
    img.set_freelist(ids);
    assert_reported(&img, dup, "already freed");
}

#[test]
fn check_reports_a_leaked_page() {
    let mut img = base().clone();
    let mut ids = img.freelist();
    let leaked = ids.remove(ids.len() / 2);
    img.set_freelist(ids);
    assert_reported(&img, leaked, "unreachable unfreed");
}

#[test]
fn check_reports_ids_past_the_high_water_mark() {
    let hwm = base().hwm();

    let mut img = base().clone();
    let (branch, _) = img.a_tree();
    img.set_child(branch, 0, hwm);
    assert_reported(&img, hwm, "out of range");

    let mut img = base().clone();
    img.set_bucket_root(b"b", hwm + 7);
    assert_reported(&img, hwm + 7, "out of range");

    let mut img = base().clone();
    let mut ids = img.freelist();
    ids.push(hwm);
    img.set_freelist(ids);
    assert_reported(&img, hwm, "freelist id out of bounds");

    // The meta's high-water mark cut below a live page (bucket a's root, which the root
    // bucket's page, below it, points to).
    let mut img = base().clone();
    let (branch, _) = img.a_tree();
    assert!(img.meta.root.root.get() < branch);
    img.set_meta(|m| m.pgid = Pgid(branch));
    assert_reported(&img, branch, "out of range");
}

#[test]
fn check_reports_an_overflow_run_crossing_the_high_water_mark() {
    let mut img = base().clone();
    let big = img.bucket_root(b"big");
    let (_, kids) = img.a_tree();
    // The value's own run first (the leaf holding "blob" spans several pages), then a plain
    // leaf claiming an overflow run it does not have.
    let hwm = img.hwm();
    let over = u32::try_from(hwm - big).unwrap();
    img.set_header(big, |h| h.overflow = over);
    assert_reported(&img, big, "runs past the end");

    let mut img = base().clone();
    let leaf = kids[1].1;
    img.set_header(leaf, |h| h.overflow = u32::try_from(hwm - leaf).unwrap());
    assert_reported(&img, leaf, "runs past the end");
}

#[test]
fn check_reports_keys_out_of_order() {
    // Two keys of one leaf swapped.
    let mut img = base().clone();
    let (branch, kids) = img.a_tree();
    let leaf = kids[1].1;
    let (k0, k1) = (img.key(leaf, 0), img.key(leaf, 1));
    img.set_key(leaf, 0, &k1);
    img.set_key(leaf, 1, &k0);
    assert_reported(&img, leaf, "not above the previous key");

    // A leaf's last key at or past the next leaf's branch key.
    let mut img = base().clone();
    let leaf = kids[1].1;
    let n = img.header(leaf).count as usize;
    img.set_key(leaf, n - 1, &a_key(99_999));
    assert_reported(&img, leaf, "not below the next branch key");

    // A leaf's first key below its own branch key (still in order within the leaf).
    let mut img = base().clone();
    let leaf = kids[2].1;
    img.set_key(leaf, 0, &a_key(0));
    assert_reported(&img, leaf, "below its branch key");

    // Two branch keys swapped.
    let mut img = base().clone();
    let (b1, b2) = (img.key(branch, 1), img.key(branch, 2));
    img.set_key(branch, 1, &b2);
    img.set_key(branch, 2, &b1);
    assert_reported(&img, branch, "not above the previous key");
}

#[test]
fn check_reports_wrong_page_types() {
    let mut img = base().clone();
    let (branch, kids) = img.a_tree();
    let leaf = kids[3].1;
    img.set_header(leaf, |h| h.flags = FREELIST_PAGE);
    assert_reported(&img, leaf, "invalid type");

    let mut img = base().clone();
    img.set_header(branch, |h| h.flags = 0x4000);
    assert_reported(&img, branch, "invalid type");

    // The meta's freelist pointing at a leaf.
    let mut img = base().clone();
    img.set_meta(|m| m.freelist = Pgid(leaf));
    assert_reported(&img, leaf, "expected freelist");
}

#[test]
fn check_reports_a_page_at_the_wrong_place() {
    // A misdirected write: leaf 2's bytes (header included) land on leaf 3's page.
    let mut img = base().clone();
    let (_, kids) = img.a_tree();
    let (src, dst) = (kids[2].1, kids[3].1);
    let copy = img.page(src)[..PS].to_vec();
    img.page_mut(dst).copy_from_slice(&copy);
    assert_reported(&img, dst, "self identifies as");
}

#[test]
fn check_reports_bad_bucket_values() {
    // A bucket value shorter than its header, on the root bucket's leaf.
    let mut img = base().clone();
    let (page, i) = img.bucket_elem(b"b");
    img.set_leaf_field(page, i, 12, 8);
    assert_reported(&img, page, "shorter than its 16-byte header");

    // An inline bucket whose page is not a leaf: "inner" lives in bucket b's page.
    let mut img = base().clone();
    let b_root = img.bucket_root(b"b");
    let leaf = LeafPage::new(img.page(b_root)).expect("bucket b is one leaf");
    let i = (0..leaf.len())
        .find(|&i| leaf.key(i).unwrap() == b"inner")
        .expect("inner is in b's page");
    let e = leaf.elem(i).unwrap();
    assert_eq!(&img.page(b_root)[e.value.start..e.value.start + 8], &[0; 8]);
    let flags = e.value.start + BUCKET_HEADER_SIZE + 8;
    img.page_mut(b_root)[flags..flags + 2].copy_from_slice(&BRANCH_PAGE.to_le_bytes());
    assert_reported(&img, b_root, "inline bucket page is not a leaf");

    // A value with flags no version of the format defines.
    let mut img = base().clone();
    let (_, kids) = img.a_tree();
    img.set_leaf_field(kids[0].1, 3, 0, 0x4);
    assert_reported(&img, kids[0].1, "unknown flags");
}

#[test]
fn check_reports_an_empty_branch_page() {
    let mut img = base().clone();
    let (branch, kids) = img.a_tree();
    img.set_header(branch, |h| h.count = 0);
    assert_reported(&img, branch, "no elements");
    assert_reported(&img, kids[0].1, "unreachable unfreed");
}
