use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn tree_shows_nesting_counts_and_sizes() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["tree", "fx.db"]));
    assert_snapshot!(run(&fx, &["tree", "fx.db", "--counts", "--sizes"]));
    assert_snapshot!(run(&fx, &["tree", "fx.db", "--counts"]));
}

#[test]
fn tree_depth_and_format() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["tree", "fx.db", "--depth", "1", "--sizes"]));
    assert_snapshot!(run(&fx, &["tree", "fx.db", "--depth", "0"]));
    assert_snapshot!(run(&fx, &["tree", "fx.db", "-f", "ascii-encoded"]));
}

#[test]
fn tree_errors_and_empty() {
    let fx = Fx::new();
    fx.empty();
    fx.damaged();
    assert_snapshot!(run(&fx, &["tree", "empty.db", "--counts"]));
    assert_snapshot!(run(&fx, &["tree", "missing.db"]));
    assert_snapshot!(run(&fx, &["tree", "damaged.db", "--counts"]));
}
