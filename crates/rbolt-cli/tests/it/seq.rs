use crate::fixtures::{Fx, run};
use crate::written::assert_consistent;
use insta::assert_snapshot;

#[test]
fn seq_get_set_next() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["seq", "get", "fx.db", "alpha", "nested"]));
    assert_snapshot!(run(&fx, &["seq", "next", "fx.db", "alpha", "nested"]));
    assert_snapshot!(run(
        &fx,
        &["seq", "set", "fx.db", "alpha", "nested", "1000"]
    ));
    assert_snapshot!(run(
        &fx,
        &["seq", "set", "--dry-run", "fx.db", "alpha", "nested", "5"]
    ));
    assert_snapshot!(run(&fx, &["seq", "get", "fx.db", "alpha", "nested"]));
    assert_consistent(&fx.path("fx.db"));
}

#[test]
fn seq_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["seq", "get", "fx.db", "nope"]));
    assert_snapshot!(run(&fx, &["seq", "set", "fx.db", "alpha", "x"]));
    assert_snapshot!(run(&fx, &["seq", "set", "fx.db", "alpha"]));
    assert_snapshot!(run(&fx, &["seq", "next", "fx.db"]));
    assert_snapshot!(run(&fx, &["seq", "next", "fx.db", "alpha", "text"]));
    crate::written::assert_consistent(&fx.path("fx.db"));
}
