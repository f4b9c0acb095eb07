//! `rbolt salvage`: recovers what the tree still reaches, and with `--from-page-scan` every
//! pair on a well-formed leaf page anywhere in the file; reports what it skipped.

use crate::fixtures::{Fx, rbolt, run};
use insta::assert_snapshot;
use std::collections::BTreeSet;

/// A pair with its bucket path.
pub(crate) type Pair = (Vec<Vec<u8>>, Vec<u8>, Vec<u8>);

/// Every (path, key, value) in a database, through the engine.
pub(crate) fn all_pairs(path: &std::path::Path) -> BTreeSet<Pair> {
    let db = rbolt::Options::new().read_only(true).open(path).unwrap();
    assert!(
        db.begin_read().unwrap().check().is_empty(),
        "{path:?} fails its check"
    );
    let tx = db.begin_read().unwrap();
    let mut out = BTreeSet::new();
    let mut stack: Vec<Vec<Vec<u8>>> = Vec::new();
    tx.for_each_bucket(|name, _| {
        stack.push(vec![name.to_vec()]);
        Ok(())
    })
    .unwrap();
    while let Some(p) = stack.pop() {
        let mut b = tx.bucket(&p[0]).unwrap().unwrap();
        for n in &p[1..] {
            b = b.bucket(n).unwrap().unwrap();
        }
        for item in b.iter() {
            let (k, v) = item.unwrap();
            match v {
                Some(v) => {
                    out.insert((p.clone(), k.to_vec(), v.to_vec()));
                }
                None => {
                    let mut c = p.clone();
                    c.push(k.to_vec());
                    stack.push(c);
                }
            }
        }
    }
    out
}

#[test]
fn salvage_of_a_sound_file_copies_everything() {
    let fx = Fx::new();
    fx.nested();
    let out = run(
        &fx,
        &["salvage", "fx.db", "-o", "s.db", "--report", "r.txt"],
    );
    assert_snapshot!(out);
    assert_snapshot!(std::fs::read_to_string(fx.path("r.txt")).unwrap());
    assert_eq!(all_pairs(&fx.path("s.db")), all_pairs(&fx.path("fx.db")));
    // Sequences come along.
    let seq = rbolt::Options::new()
        .read_only(true)
        .open(fx.path("s.db"))
        .unwrap()
        .view(|tx| {
            Ok(tx
                .bucket(b"alpha")?
                .unwrap()
                .bucket(b"nested")?
                .unwrap()
                .sequence())
        })
        .unwrap();
    assert_eq!(seq, 7);
}

#[test]
fn salvage_skips_a_bad_page_and_scans_for_lost_leaves() {
    let fx = Fx::new();
    fx.nested().damaged();
    let o = rbolt(fx.dir.path())
        .args(["salvage", "damaged.db", "-o", "s1.db"])
        .output()
        .unwrap();
    assert_snapshot!(format!(
        "{}\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    ));
    let tree = all_pairs(&fx.path("s1.db"));
    let all = all_pairs(&fx.path("fx.db"));
    // Everything but the cleared leaf's pairs.
    assert_eq!(
        all.difference(&tree).count(),
        16,
        "pairs of the one lost leaf"
    );
    assert!(tree.is_subset(&all));
    let out = run(
        &fx,
        &[
            "salvage",
            "damaged.db",
            "-o",
            "s2.db",
            "--from-page-scan",
            "--report",
            "r.txt",
        ],
    );
    assert!(out.starts_with("exit: 0"), "{out}");
    assert_snapshot!(std::fs::read_to_string(fx.path("r.txt")).unwrap());
    let scanned = all_pairs(&fx.path("s2.db"));
    assert!(tree.is_subset(&scanned));
    assert!(scanned.iter().any(|(p, _, _)| p[0] == b"lost+found"));
}

#[test]
fn salvage_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["salvage", "fx.db"]));
    std::fs::write(fx.path("exists.db"), b"x").unwrap();
    assert_snapshot!(run(&fx, &["salvage", "fx.db", "-o", "exists.db"]));
    assert_snapshot!(run(&fx, &["salvage", "nope.db", "-o", "x.db"]));
    assert!(!fx.path("x.db").exists() && !fx.path("x.db.partial").exists());
    // No valid meta page: the tree is walked from the newer one that decodes.
    let mut b = std::fs::read(fx.path("fx.db")).unwrap();
    b[16 + 56] ^= 0xff;
    b[4096 + 16 + 56] ^= 0xff;
    std::fs::write(fx.path("both.db"), b).unwrap();
    let out = run(&fx, &["salvage", "both.db", "-o", "b.db"]);
    assert!(out.starts_with("exit: 0"), "{out}");
    assert_eq!(all_pairs(&fx.path("b.db")), all_pairs(&fx.path("fx.db")));
}
