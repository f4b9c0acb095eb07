use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn pages_table_has_trailing_spaces() {
    let fx = Fx::new();
    fx.nested();
    let out = run(&fx, &["pages", "fx.db"]);
    assert!(
        out.contains("\n0        meta       0            \n"),
        "{out}"
    );
    assert!(
        out.contains("free                    \n"),
        "free rows pad empty columns: {out}"
    );
    assert_snapshot!(out);
}

#[test]
fn pages_of_other_fixtures() {
    let fx = Fx::new();
    fx.empty().no_freelist().pages16k();
    assert_snapshot!(run(&fx, &["pages", "empty.db"]));
    assert_snapshot!(run(&fx, &["pages", "nofl.db"]));
    assert_snapshot!(run(&fx, &["pages", "--json", "big16k.db"]));
}
