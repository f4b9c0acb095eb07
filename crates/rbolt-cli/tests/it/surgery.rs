//! Surgery writes only to `--output`; every copy bbolt would leave valid passes Go bbolt's
//! `Tx.Check`.

use crate::fixtures::{Fx, go_check, go_helper, run};
use insta::assert_snapshot;

fn unchanged(fx: &Fx, f: &str, before: &[u8]) {
    assert_eq!(
        std::fs::read(fx.path(f)).unwrap(),
        before,
        "{f} must not change"
    );
}

#[test]
fn revert_meta_page_goes_back_one_transaction() {
    let fx = Fx::new();
    fx.meta1();
    let before = std::fs::read(fx.path("meta1.db")).unwrap();
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "revert-meta-page",
            "--output",
            "r.db",
            "meta1.db"
        ]
    ));
    unchanged(&fx, "meta1.db", &before);
    // The last commit is gone, everything before it is there.
    assert!(run(&fx, &["keys", "meta1.db", "more"]).starts_with("exit: 0"));
    let more = |f: &str| run(&fx, &["keys", f, "more"]).lines().count();
    assert!(
        more("r.db") < more("meta1.db")
            || run(&fx, &["keys", "r.db", "more"]).contains("bucket not found")
    );
    assert!(run(&fx, &["get", "r.db", "alpha", "text"]).contains("hello world"));
    if let Some(go) = go_helper() {
        assert_eq!(go_check(&go, &fx.path("r.db")), (true, "OK\n".into()));
    }
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "revert-meta-page",
            "--output",
            "r.db",
            "meta1.db"
        ]
    ));
}

#[test]
fn freelist_abandon_then_rebuild() {
    let fx = Fx::new();
    fx.nested();
    let before = std::fs::read(fx.path("fx.db")).unwrap();
    assert_snapshot!(run(
        &fx,
        &[
            "surgery", "freelist", "abandon", "--output", "a.db", "fx.db"
        ]
    ));
    unchanged(&fx, "fx.db", &before);
    assert_snapshot!(run(
        &fx,
        &[
            "surgery", "freelist", "rebuild", "--output", "b.db", "fx.db"
        ]
    ));
    assert_snapshot!(run(
        &fx,
        &["surgery", "freelist", "rebuild", "--output", "b.db", "a.db"]
    ));
    assert!(run(&fx, &["pages", "b.db"]).contains(" freelist "));
    if let Some(go) = go_helper() {
        assert_eq!(go_check(&go, &fx.path("a.db")), (true, "OK\n".into()));
        assert_eq!(go_check(&go, &fx.path("b.db")), (true, "OK\n".into()));
    }
}

#[test]
fn clear_page_elements_of_a_leaf() {
    let fx = Fx::new();
    fx.nested();
    let before = std::fs::read(fx.path("fx.db")).unwrap();
    // Page 4 is `alpha`'s leaf; drop `bin` and `empty` (elements 0 and 1).
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "clear-page-elements",
            "--output",
            "e.db",
            "--pageId",
            "4",
            "--from-index",
            "0",
            "--to-index",
            "2",
            "fx.db",
        ]
    ));
    unchanged(&fx, "fx.db", &before);
    assert_snapshot!(run(&fx, &["keys", "e.db", "alpha"]));
    if let Some(go) = go_helper() {
        assert_eq!(go_check(&go, &fx.path("e.db")), (true, "OK\n".into()));
    }
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "clear-page-elements",
            "--output",
            "f.db",
            "--pageId",
            "4",
            "--from-index",
            "3",
            "--to-index",
            "-1",
            "fx.db",
        ]
    ));
    assert_snapshot!(run(&fx, &["keys", "f.db", "alpha"]));
}

#[test]
fn clear_page_and_copy_page() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "clear-page",
            "--output",
            "c.db",
            "--pageId",
            "4",
            "fx.db"
        ]
    ));
    assert_snapshot!(run(&fx, &["keys", "c.db", "alpha"]));
    if let Some(go) = go_helper() {
        assert_eq!(go_check(&go, &fx.path("c.db")), (true, "OK\n".into()));
    }
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "copy-page",
            "--output",
            "p.db",
            "--from-page",
            "4",
            "--to-page",
            "2",
            "fx.db"
        ]
    ));
    assert_snapshot!(run(&fx, &["page-item", "--key-only", "p.db", "2", "0"]));
}

#[test]
fn meta_validate_and_update() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["surgery", "meta", "validate", "fx.db"]));
    // Break meta 0's checksum in a copy, validate, then repair it with `meta update`.
    let mut bytes = std::fs::read(fx.path("fx.db")).unwrap();
    bytes[16 + 56] ^= 0xff;
    std::fs::write(fx.path("bad.db"), bytes).unwrap();
    assert_snapshot!(run(&fx, &["surgery", "meta", "validate", "bad.db"]));
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "meta",
            "update",
            "--output",
            "u.db",
            "--meta-page",
            "0",
            "bad.db"
        ]
    ));
    assert_snapshot!(run(&fx, &["surgery", "meta", "validate", "u.db"]));
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "meta",
            "update",
            "--output",
            "v.db",
            "--fields",
            "pgid:999,bogus:1",
            "fx.db"
        ]
    ));
}

#[test]
fn surgery_argument_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["surgery", "copy-page", "fx.db"]));
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "copy-page",
            "--output",
            "o.db",
            "--from-page",
            "3",
            "--to-page",
            "3",
            "fx.db"
        ]
    ));
    assert_snapshot!(run(
        &fx,
        &[
            "surgery",
            "clear-page",
            "--output",
            "o.db",
            "--pageId",
            "1",
            "fx.db"
        ]
    ));
    assert_snapshot!(run(&fx, &["surgery", "revert-meta-page", "fx.db"]));
    assert!(
        !fx.path("o.db").exists(),
        "nothing is written after a usage error"
    );
    // A group without an action prints help and succeeds.
    let out = run(&fx, &["surgery"]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
}
