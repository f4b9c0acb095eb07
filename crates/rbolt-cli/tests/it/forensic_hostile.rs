//! The space and forensics commands on hostile files (the testkit's structure-aware
//! mutations of sound files): `map`, `analyze`, `doctor`, `salvage` and the `--meta` and
//! `--no-lock` reads end with exit code 0 or 1, never a panic or a hang; `salvage
//! --from-page-scan` recovers every pair on every leaf page the mutation left intact; and
//! every copy `doctor --apply` calls repaired passes rbolt's and Go bbolt's check.
//!
//! The seed is printed; `RBOLT_SEED` replays it, `RBOLT_FORENSIC_ROUNDS` runs longer, and
//! `RBOLT_FORENSIC_KEEP=DIR` keeps a file salvage failed on.

use crate::fixtures::{Fx, exits_0_or_1, go_check, go_helper};
use crate::salvage::all_pairs;
use rbolt_format::{BUCKET_LEAF_FLAG, LeafPage, Meta, PageHeader};
use rbolt_testkit::r#gen::Script;
use rbolt_testkit::hostile::{Layout, mutate};
use rbolt_testkit::rng::{Rng, env_count, env_seed};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const COMMANDS: &[&[&str]] = &[
    &["map", "h.db", "--svg", "h.svg"],
    &["map", "--color", "always", "--per-cell", "3", "h.db"],
    &["map", "--meta", "1", "h.db"],
    &["analyze", "h.db", "--svg", "a.svg"],
    &["analyze", "--json", "h.db"],
    &["doctor", "h.db"],
    &["salvage", "h.db", "-o", "s.db"],
    &["keys", "--no-lock", "h.db", "alpha"],
    &["get", "--meta", "0", "h.db", "big", "key00001"],
    &["stats", "--no-lock", "h.db"],
    &["check", "--meta", "1", "h.db"],
    &["pages", "--no-lock", "h.db"],
    &["inspect", "--no-lock", "h.db"],
];

/// Runs `rbolt ARGS`; the exit code must be 0 or 1. True for 0.
fn ends_cleanly(fx: &Fx, args: &[&str], what: &str) -> bool {
    exits_0_or_1(fx, args, what, Duration::from_secs(30))
}

/// The page size `salvage` reads the image with (as `RawFile::open_lenient` decides).
fn page_size_read(img: &[u8]) -> u64 {
    if let Ok(m) = Meta::decode(img)
        && m.page_size.is_power_of_two()
        && (1024..=1 << 24).contains(&m.page_size)
    {
        return u64::from(m.page_size);
    }
    let mut s = 1024usize;
    while s <= 1 << 24 {
        if let Some(m) = img.get(s..).and_then(|b| Meta::decode(b).ok())
            && m.page_size as usize == s
        {
            return s as u64;
        }
        s *= 2;
    }
    img.get(24..28)
        .map_or(0, |b| u64::from(u32::from_le_bytes(b.try_into().unwrap())))
}

/// A key and its value.
type Kv = (Vec<u8>, Vec<u8>);

/// Pairs on every leaf page of `orig` that `img` still holds byte for byte, and how many
/// such pages there are.
fn intact_leaf_pairs(orig: &[u8], img: &[u8], ps: usize) -> (usize, BTreeSet<Kv>) {
    let mut pairs = BTreeSet::new();
    let mut leaves = 0;
    for id in Layout::scan(orig, ps).leaves {
        let off = id * ps;
        let Ok(h) = PageHeader::decode(&orig[off..]) else {
            continue;
        };
        let end = off + ps * (h.overflow as usize + 1);
        if end > orig.len() || img.get(off..end) != Some(&orig[off..end]) {
            continue;
        }
        let Ok(p) = LeafPage::new(&orig[off..end]) else {
            continue;
        };
        leaves += 1;
        for i in 0..p.len() {
            if let Ok((flags, k, v)) = p.entry(i)
                && flags & BUCKET_LEAF_FLAG == 0
            {
                pairs.insert((k.to_vec(), v.to_vec()));
            }
        }
    }
    (leaves, pairs)
}

/// Whether a missing Go helper fails the tests (`RBOLT_REQUIRE_GO=1` or `CI`).
pub(crate) fn go_required() -> bool {
    std::env::var("RBOLT_REQUIRE_GO").is_ok_and(|v| v == "1") || std::env::var_os("CI").is_some()
}

#[test]
fn hostile_files_never_crash_and_salvage_keeps_intact_leaves() {
    let fx = Fx::new();
    fx.nested();
    let go = go_helper();
    assert!(
        go.is_some() || !go_required(),
        "Go bbolt helper required (RBOLT_REQUIRE_GO/CI)"
    );
    let seed = env_seed(0x0f0e_51c5);
    let rounds = env_count("RBOLT_FORENSIC_ROUNDS", 24);
    eprintln!("forensic hostile seed: RBOLT_SEED={seed} ({rounds} rounds)");
    let mut r = Rng::new(seed);
    let mut bases: Vec<(String, Vec<u8>, usize)> = vec![(
        "fx.db".into(),
        std::fs::read(fx.path("fx.db")).unwrap(),
        4096,
    )];
    for i in [0u64, 5] {
        let s = Script::generate(seed, i);
        let p = fx.path(&format!("gen{i}.db"));
        rbolt_testkit::script::apply_file(&p, &s.ops, Some(s.page_size), s.no_freelist_sync)
            .unwrap();
        bases.push((
            format!("gen{i}.db"),
            std::fs::read(&p).unwrap(),
            s.page_size,
        ));
    }
    let (mut checked_leaves, mut checked_pairs, mut repaired) = (0usize, 0usize, 0usize);
    for round in 0..rounds {
        let (base, orig, ps) = &bases[(round % bases.len() as u64) as usize];
        let mut img = orig.clone();
        let how = mutate(&mut img, *ps, &mut r);
        let what = format!("round {round} ({base}, seed {seed}): {how}");
        std::fs::write(fx.path("h.db"), &img).unwrap();
        for f in ["s.db", "scan.db", "fixed.db"] {
            let _ = std::fs::remove_file(fx.path(f));
        }
        for args in COMMANDS {
            ends_cleanly(&fx, args, &what);
            let _ = std::fs::remove_file(fx.path("s.db"));
        }
        // Salvage with a page scan keeps every pair of every intact leaf.
        let scan_ok = ends_cleanly(
            &fx,
            &["salvage", "h.db", "-o", "scan.db", "--from-page-scan"],
            &what,
        );
        if page_size_read(&img) == *ps as u64 {
            let (leaves, want) = intact_leaf_pairs(orig, &img, *ps);
            if !want.is_empty() {
                assert!(scan_ok, "{what}: salvage failed");
                let got: BTreeSet<Kv> = all_pairs(&fx.path("scan.db"))
                    .into_iter()
                    .map(|(_, k, v)| (k, v))
                    .collect();
                let missing: Vec<_> = want.difference(&got).take(3).collect();
                if !missing.is_empty()
                    && let Ok(dir) = std::env::var("RBOLT_FORENSIC_KEEP")
                {
                    std::fs::copy(fx.path("h.db"), Path::new(&dir).join("failed.db")).unwrap();
                }
                assert!(
                    missing.is_empty(),
                    "{what}: not recovered, e.g. {missing:?}"
                );
                checked_leaves += leaves;
                checked_pairs += want.len();
            }
        }
        // Whatever doctor repairs passes both checks.
        if ends_cleanly(&fx, &["doctor", "h.db", "--apply", "-o", "fixed.db"], &what)
            && fx.path("fixed.db").exists()
        {
            repaired += 1;
            assert!(
                ends_cleanly(&fx, &["check", "fixed.db"], &what),
                "{what}: rbolt check of the repair"
            );
            if let Some(go) = &go {
                let (ok, out) = go_check(go, &fx.path("fixed.db"));
                assert!(ok, "{what}: Go check of the repaired copy:\n{out}");
            }
        }
    }
    eprintln!(
        "salvage kept all {checked_pairs} pairs of {checked_leaves} intact leaf pages; doctor repaired {repaired} of {rounds} files"
    );
    assert!(checked_pairs > 0, "the salvage check never ran");
}

#[test]
fn deep_files_do_not_overflow_the_stack() {
    let fx = Fx::new();
    let img = rbolt_testkit::hostile::deep_file(4096, 200, 40);
    std::fs::write(fx.path("h.db"), &img).unwrap();
    for args in COMMANDS {
        ends_cleanly(&fx, args, "deep file");
        let _ = std::fs::remove_file(fx.path("s.db"));
    }
    assert!(ends_cleanly(
        &fx,
        &["salvage", "h.db", "-o", "deep.db"],
        "deep file"
    ));
    assert_eq!(all_pairs(&fx.path("deep.db")).len(), 1);
}
