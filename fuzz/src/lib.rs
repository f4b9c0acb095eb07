//! The bodies of rbolt's fuzz targets. Each takes arbitrary bytes and panics only on a real
//! bug, so it can run under libFuzzer (`--features libfuzzer`, nightly `cargo fuzz`) or under
//! the stable replay driver in [`replay`].

pub mod replay;

use rbolt_format::{
    BranchPage, BucketHeader, LeafPage, Meta, PageHeader, decode_freelist, freelist_id_count,
};
use rbolt_testkit::crashsim::{self, Model, Op, OpLog, Sweep};
use rbolt_testkit::rng::Rng;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Every decoder of `rbolt-format` on the same bytes: none may panic, and what decodes must
/// be internally consistent (elements inside the page, meta round trip).
pub fn format_decode(data: &[u8]) {
    let _ = PageHeader::decode(data);
    if let Ok(h) = PageHeader::decode(data) {
        let _ = h.type_name();
    }
    let probes: [&[u8]; 3] = [b"", b"k00100", &[0xff; 4]];
    if let Ok(p) = LeafPage::new(data) {
        for i in 0..p.len().min(70_000) {
            if let Ok(e) = p.elem(i) {
                assert!(
                    e.key.end <= data.len() && e.value.end <= data.len(),
                    "leaf elem {i} escapes the page"
                );
            }
            let _ = p.key(i);
        }
        for k in probes {
            let _ = p.search(k);
        }
    }
    if let Ok(p) = BranchPage::new(data) {
        for i in 0..p.len().min(70_000) {
            if let Ok(e) = p.elem(i) {
                assert!(e.key.end <= data.len(), "branch elem {i} escapes the page");
            }
            let _ = p.child(i);
            let _ = p.key(i);
        }
        for k in probes {
            let _ = p.search(k);
            let _ = p.child_index(k);
        }
    }
    if let Ok(m) = Meta::decode(data) {
        let mut page = vec![0u8; 4096.max(data.len().min(1 << 16))];
        m.encode_page(rbolt_format::Pgid(0), &mut page);
        let again = Meta::decode(&page).expect("an encoded meta decodes");
        assert_eq!(again.txid, m.txid);
        assert_eq!(again.root, m.root);
        assert_eq!(again.pgid, m.pgid);
    }
    let _ = Meta::decode_unverified(data);
    let _ = decode_freelist(data);
    let _ = freelist_id_count(data);
    if let Ok(b) = BucketHeader::decode(data)
        && b.root == rbolt_format::Pgid(0)
    {
        let _ = LeafPage::new(BucketHeader::inline_page(data)).map(|p| {
            (0..p.len().min(70_000)).for_each(|i| {
                let _ = p.elem(i);
            })
        });
    }
}

type Model_ = BTreeMap<(u8, Vec<u8>), Vec<u8>>;

fn contents(db: &rbolt::Db) -> Model_ {
    let tx = db.begin_read().expect("begin_read");
    let mut m = BTreeMap::new();
    for b in 0..3u8 {
        if let Some(bucket) = tx.bucket(&[b'b', b]).expect("bucket") {
            for item in bucket.iter() {
                let (k, v) = item.expect("iterate");
                m.insert((b, k.to_vec()), v.expect("no sub-buckets").to_vec());
            }
        }
    }
    m
}

/// Op sequences against a `BTreeMap` model, with reopen and simulated crashes: the bytes are
/// a program (put / delete / commit / rollback / reopen / crash). After every commit the
/// database must equal the model; after a crash (a random point among the ops recorded since
/// the last reopen, under a random persistence model) it must equal exactly one committed
/// state that is no older than the last acknowledged one.
pub fn ops_model(data: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ops.db");
    let ps = if data.first().is_some_and(|b| b & 1 == 1) {
        1024
    } else {
        4096
    };
    let opts = rbolt::Options::new().page_size(ps).no_sync(false);
    let mut log = OpLog::new();
    let mut db = Some(
        opts.clone()
            .wrap_storage(log.wrapper(false))
            .open(&path)
            .expect("open"),
    );
    let mut committed: Model_ = BTreeMap::new();
    // txid → state, for the commits recorded in `log`.
    let mut snaps: BTreeMap<u64, Model_> = BTreeMap::new();
    let t0 = db.as_ref().unwrap().begin_read().unwrap().id().get();
    snaps.insert(t0, committed.clone());
    log.push(Op::Ack(t0));
    let mut pending: Option<(rbolt::Tx<rbolt::ReadWrite>, Model_)> = None;
    // The file as it was when `log` started (empty for a new file).
    let mut at_log_start: Vec<u8> = Vec::new();
    let mut i = 1;
    let mut steps = 0;
    while i < data.len() && steps < 400 {
        steps += 1;
        let op = data[i];
        let at = i;
        let arg = move |j: usize| data.get(at + j).copied().unwrap_or(0);
        i += 3;
        let d = db.as_ref().unwrap();
        match op % 10 {
            0..=4 => {
                let (tx, m) = pending.get_or_insert_with(|| {
                    (d.begin_write().expect("begin_write"), committed.clone())
                });
                let b = arg(1) % 3;
                let key = format!("k{:03}", arg(2) % 64).into_bytes();
                let bucket = tx.create_bucket_if_not_exists(&[b'b', b]).expect("bucket");
                if op % 10 == 4 {
                    bucket.delete(&key).expect("delete");
                    m.remove(&(b, key));
                } else {
                    let len = match op % 4 {
                        0 => usize::from(arg(1)) * 40,
                        _ => usize::from(arg(1) % 32),
                    };
                    let v: Vec<u8> = (0..len).map(|x| (x as u8).wrapping_add(arg(2))).collect();
                    bucket.put(&key, &v).expect("put");
                    m.insert((b, key), v);
                }
            }
            5 | 6 => {
                if let Some((tx, m)) = pending.take() {
                    tx.commit().expect("commit");
                    committed = m;
                    let t = d.begin_read().unwrap().id().get();
                    log.push(Op::Ack(t));
                    snaps.insert(t, committed.clone());
                    assert_eq!(contents(d), committed, "after commit {t}");
                }
            }
            7 => {
                pending = None; // rollback
                assert_eq!(contents(d), committed);
            }
            8 => {
                pending = None;
                drop(db.take());
                log = OpLog::new();
                at_log_start = std::fs::read(&path).expect("read file");
                db = Some(
                    opts.clone()
                        .wrap_storage(log.wrapper(false))
                        .open(&path)
                        .expect("reopen"),
                );
                let d = db.as_ref().unwrap();
                assert_eq!(contents(d), committed, "after reopen");
                let t = d.begin_read().unwrap().id().get();
                snaps = BTreeMap::from([(t, committed.clone())]);
                log.push(Op::Ack(t));
            }
            _ => {
                // Simulated crash somewhere among the recorded ops.
                pending = None;
                drop(db.take());
                let ops = log.ops();
                let mut r = Rng::new(u64::from(arg(1)) << 8 | u64::from(arg(2)));
                // Never before the first acknowledgement: a crash inside the very first open
                // is the sweep's business (and a known bug, torn create).
                let first_ack = ops
                    .iter()
                    .position(|o| matches!(o, Op::Ack(_)))
                    .unwrap_or(0)
                    + 1;
                let cut = (ops.len() - r.index(ops.len().min(24) + 1)).max(first_ack);
                let mut sw = Sweep::from_image(&ops[..cut], ps, at_log_start.clone());
                while sw.advance() {}
                let model = Model::ALL[r.index(Model::ALL.len())];
                let img = sw.image(model, &mut r);
                let point = sw.point();
                std::fs::write(&path, &img).expect("write image");
                log = OpLog::new();
                at_log_start = img;
                let d = opts
                    .clone()
                    .wrap_storage(log.wrapper(false))
                    .open(&path)
                    .unwrap_or_else(|e| {
                        panic!("open after crash ({model:?} at {cut}/{}): {e}", ops.len())
                    });
                let tx = d.begin_read().unwrap();
                let t = tx.id().get();
                let problems = tx.check();
                assert!(
                    problems.is_empty(),
                    "check after crash ({model:?}): {problems:?}"
                );
                drop(tx);
                let lo = point.acked.expect("the first open is always acknowledged");
                let hi = lo.max(point.meta_issued.unwrap_or(0));
                assert!(
                    (lo..=hi).contains(&t),
                    "recovered txid {t}, allowed {lo}..={hi} ({model:?})"
                );
                let want = snaps
                    .get(&t)
                    .unwrap_or_else(|| panic!("txid {t} was never committed"));
                assert_eq!(
                    &contents(&d),
                    want,
                    "contents after crash at txid {t} ({model:?})"
                );
                committed = want.clone();
                snaps = BTreeMap::from([(t, committed.clone())]);
                log.push(Op::Ack(t));
                db = Some(d);
            }
        }
    }
    drop(pending);
    if let Some(d) = db {
        assert!(d.begin_read().unwrap().check().is_empty());
    }
    let _ = crashsim::SECTOR;
}

fn bases() -> &'static Vec<(Vec<u8>, usize)> {
    static B: OnceLock<Vec<(Vec<u8>, usize)>> = OnceLock::new();
    B.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut out = Vec::new();
        for (seed, ps) in [(1u64, 1024usize), (2, 4096), (3, 1024)] {
            let mut spec = rbolt_testkit::workload::Spec::from_seed(seed, 25);
            spec.page_size = ps;
            let path = dir.path().join(format!("b{seed}.db"));
            let db = spec.options().no_sync(true).open(&path).expect("open base");
            for tx in rbolt_testkit::workload::generate(&spec) {
                rbolt_testkit::workload::run_tx(&db, &tx).expect("base workload");
            }
            drop(db);
            out.push((std::fs::read(&path).expect("read base"), ps));
        }
        out
    })
}

/// Opening hostile files. First byte even: the rest is the file itself. Odd: the rest seeds
/// structure-aware mutations of a valid database, and its bytes are also XORed in at
/// positions they choose. Then everything `rbolt_testkit::hostile::exercise` does; a panic or
/// an inconsistency is a bug.
pub fn open_file(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.db");
    let img = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let mut seed = 0u64;
        for &b in rest.iter().take(8) {
            seed = seed << 8 | u64::from(b);
        }
        let mut r = Rng::new(seed);
        let (base, ps) = &bases()[usize::from(mode >> 1) % bases().len()];
        let mut img = base.clone();
        let _ = rbolt_testkit::hostile::mutate(&mut img, *ps, &mut r);
        for pair in rest.get(8..).unwrap_or(&[]).chunks(3) {
            if let [a, b, x] = pair {
                let pos = (usize::from(*a) << 8 | usize::from(*b)) * 7 % img.len().max(1);
                if let Some(v) = img.get_mut(pos) {
                    *v ^= x;
                }
            }
        }
        img
    };
    std::fs::write(&path, &img).expect("write file");
    if let Err(e) = rbolt_testkit::hostile::exercise(&path, mode & 2 == 2) {
        panic!("inconsistent hostile file: {e}");
    }
}
