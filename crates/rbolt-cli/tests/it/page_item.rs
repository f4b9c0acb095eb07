use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn page_item_key_and_value() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["page-item", "fx.db", "4", "0"]));
    assert_snapshot!(run(&fx, &["page-item", "--key-only", "fx.db", "4", "2"]));
    assert_snapshot!(run(
        &fx,
        &[
            "page-item",
            "--value-only",
            "--format",
            "ascii-encoded",
            "fx.db",
            "4",
            "0"
        ]
    ));
}

#[test]
fn page_item_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["page-item", "fx.db", "4", "9"]));
    assert_snapshot!(run(&fx, &["page-item", "fx.db", "0", "0"]));
    assert_snapshot!(run(
        &fx,
        &["page-item", "--key-only", "--value-only", "fx.db", "4", "0"]
    ));
    assert_snapshot!(run(&fx, &["page-item", "fx.db", "4"]));
}
