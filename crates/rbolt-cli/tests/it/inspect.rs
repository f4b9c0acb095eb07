use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn inspect_is_go_marshal_indent() {
    let fx = Fx::new();
    fx.nested().empty();
    assert_snapshot!(run(&fx, &["inspect", "fx.db"]));
    assert_snapshot!(run(&fx, &["inspect", "empty.db"]));
}

#[test]
fn inspect_json_is_lossless() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["inspect", "--json", "fx.db"]));
}
