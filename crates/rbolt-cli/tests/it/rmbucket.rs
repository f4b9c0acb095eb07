use crate::fixtures::{Fx, run};
use crate::written::{assert_consistent_in_go_too, contents};
use insta::assert_snapshot;

#[test]
fn rmbucket_refuses_non_empty_buckets_without_r() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["rmbucket", "fx.db", "alpha"]));
    assert_snapshot!(run(
        &fx,
        &["rmbucket", "--bucket-format", "hex", "fx.db", "00000001"]
    ));
    assert_snapshot!(run(&fx, &["rmbucket", "-r", "--dry-run", "fx.db", "big"]));
    assert_snapshot!(run(&fx, &["rmbucket", "-r", "fx.db", "big"]));
    assert_snapshot!(run(&fx, &["rmbucket", "-r", "fx.db", "alpha", "nested"]));
    assert_snapshot!(contents(&fx, "fx.db"));
    assert_consistent_in_go_too(&fx.path("fx.db"));
}

#[test]
fn rmbucket_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["rmbucket", "fx.db", "nope"]));
    assert_snapshot!(run(&fx, &["rmbucket", "fx.db", "alpha", "text"]));
    assert_snapshot!(run(&fx, &["rmbucket", "fx.db"]));
    crate::written::assert_consistent(&fx.path("fx.db"));
}
