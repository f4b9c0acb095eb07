use crate::fixtures::{Fx, run};
use crate::written::contents;
use insta::assert_snapshot;

#[test]
fn delete_keys() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["delete", "fx.db", "alpha", "text"]));
    assert_snapshot!(run(
        &fx,
        &["delete", "--key-format", "hex", "fx.db", "alpha", "62696e"]
    ));
    assert_snapshot!(run(&fx, &["delete", "--dry-run", "fx.db", "alpha", "json"]));
    assert_snapshot!(contents(&fx, "fx.db"));
}

#[test]
fn delete_missing_and_wrong_kinds() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["delete", "fx.db", "alpha", "nope"]));
    assert_snapshot!(run(
        &fx,
        &["delete", "--missing-ok", "fx.db", "alpha", "nope"]
    ));
    assert_snapshot!(run(&fx, &["delete", "fx.db", "alpha", "nested"]));
    assert_snapshot!(run(&fx, &["delete", "fx.db", "nope", "k"]));
    assert_snapshot!(run(&fx, &["delete", "fx.db", "alpha"]));
    assert_snapshot!(contents(&fx, "fx.db"));
}
