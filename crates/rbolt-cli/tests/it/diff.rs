use crate::fixtures::{Fx, run};
use crate::written::assert_consistent;
use insta::assert_snapshot;

/// `fx.db` and `b.db`: a copy changed by each kind of edit.
fn pair() -> Fx {
    let fx = Fx::new();
    fx.nested();
    std::fs::copy(fx.path("fx.db"), fx.path("b.db")).unwrap();
    for args in [
        &["put", "b.db", "alpha", "text", "changed"][..],
        &["put", "b.db", "alpha", "added", "1"],
        &["delete", "b.db", "big", "key00001"],
        &["put", "b.db", "big", "key00002", "back"],
        &["seq", "set", "b.db", "alpha", "nested", "9"],
        &["mkbucket", "-p", "b.db", "new", "inner"],
        &["rmbucket", "--bucket-format", "hex", "b.db", "00000001"],
        &["delete", "b.db", "alpha", "json"],
        &["mkbucket", "b.db", "alpha", "json"],
    ] {
        let out = run(&fx, args);
        assert!(out.starts_with("exit: 0"), "{args:?}: {out}");
    }
    assert_consistent(&fx.path("b.db"));
    fx
}

#[test]
fn diff_lists_each_kind_of_difference() {
    let fx = pair();
    assert_snapshot!(run(&fx, &["diff", "fx.db", "b.db"]));
    assert_snapshot!(run(&fx, &["diff", "b.db", "fx.db", "--format", "hex"]));
    assert_snapshot!(run(&fx, &["diff", "--values", "fx.db", "b.db", "alpha"]));
    assert_snapshot!(run(
        &fx,
        &[
            "diff",
            "--values",
            "-f",
            "ascii-encoded",
            "fx.db",
            "b.db",
            "big"
        ]
    ));
}

#[test]
fn diff_of_one_bucket_and_brief() {
    let fx = pair();
    assert_snapshot!(run(&fx, &["diff", "fx.db", "b.db", "big"]));
    assert_snapshot!(run(&fx, &["diff", "fx.db", "b.db", "alpha", "nested"]));
    assert_snapshot!(run(&fx, &["diff", "fx.db", "b.db", "new"]));
    assert_snapshot!(run(&fx, &["diff", "-s", "fx.db", "b.db"]));
    assert_snapshot!(run(&fx, &["diff", "-s", "fx.db", "fx.db"]));
}

#[test]
fn diff_exit_codes() {
    let fx = pair();
    assert_snapshot!(run(&fx, &["diff", "fx.db", "fx.db"]));
    assert_snapshot!(run(&fx, &["diff", "fx.db", "missing.db"]));
    assert_snapshot!(run(&fx, &["diff", "fx.db", "b.db", "nope"]));
    // Usage errors too: 1 would read as "different".
    assert_snapshot!(run(&fx, &["diff", "fx.db"]));
    assert_snapshot!(run(&fx, &["diff", "--bogus", "fx.db", "b.db"]));
    fx.damaged();
    assert_snapshot!(run(&fx, &["diff", "fx.db", "damaged.db"]));
}
