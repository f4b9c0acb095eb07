use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn check_ok_on_every_fixture() {
    let fx = Fx::new();
    fx.empty().nested().meta1().no_freelist().pages16k();
    for f in ["empty.db", "fx.db", "meta1.db", "nofl.db", "big16k.db"] {
        assert_eq!(
            run(&fx, &["check", f]),
            "exit: 0\nstderr: \n--- stdout\nOK\n",
            "{f}"
        );
    }
}

#[test]
fn check_lists_problems_and_fails_with_invalid_value() {
    let fx = Fx::new();
    fx.damaged();
    assert_snapshot!(run(&fx, &["check", "damaged.db"]));
    assert_snapshot!(run(&fx, &["check", "--json", "damaged.db"]));
}

#[test]
fn check_from_page() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["check", "--from-page", "1", "fx.db"]));
    assert_snapshot!(run(&fx, &["check", "--from-page", "4", "fx.db"]));
    assert_snapshot!(run(&fx, &["check", "--from-page", "x", "fx.db"]));
}

#[test]
fn check_never_panics_on_wild_pointers() {
    // A root pointer far past the end of the file and a page that points at itself.
    let fx = Fx::new();
    fx.nested();
    let path = fx.path("fx.db");
    let mut bytes = std::fs::read(&path).unwrap();
    let pages = bytes.len() / 4096;
    for p in 4..pages {
        let off = p * 4096;
        if bytes[off + 8] == 0x01 {
            // A branch: its first child becomes itself, its second a page id far away.
            bytes[off + 16 + 8..off + 16 + 16].copy_from_slice(&(p as u64).to_le_bytes());
            bytes[off + 32 + 8..off + 32 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        }
    }
    std::fs::write(&path, bytes).unwrap();
    let out = run(&fx, &["check", "fx.db"]);
    assert!(
        out.starts_with("exit: 1\nstderr: Error: invalid value\n"),
        "{out}"
    );
    assert!(out.contains("multiple references"), "{out}");
    assert!(out.contains("errors found"), "{out}");
}
