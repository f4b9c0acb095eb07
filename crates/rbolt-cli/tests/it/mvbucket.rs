use crate::fixtures::{Fx, run};
use crate::written::{assert_consistent_in_go_too, contents};
use insta::assert_snapshot;

#[test]
fn mvbucket_down_up_and_across() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["mvbucket", "fx.db", "alpha", "nested", "--to"]));
    assert_snapshot!(run(&fx, &["mvbucket", "fx.db", "nested", "--to", "big"]));
    assert_snapshot!(run(
        &fx,
        &[
            "mvbucket", "-p", "fx.db", "big", "nested", "--to", "new", "home"
        ]
    ));
    assert_snapshot!(run(
        &fx,
        &["mvbucket", "--dry-run", "fx.db", "alpha", "--to", "new"]
    ));
    assert_snapshot!(run(&fx, &["tree", "fx.db", "--counts"]));
    assert_snapshot!(contents(&fx, "fx.db"));
    assert_consistent_in_go_too(&fx.path("fx.db"));
}

#[test]
fn mvbucket_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(
        &fx,
        &["mvbucket", "fx.db", "alpha", "--to", "alpha", "nested"]
    ));
    assert_snapshot!(run(
        &fx,
        &["mvbucket", "fx.db", "alpha", "nested", "--to", "alpha"]
    ));
    assert_snapshot!(run(&fx, &["mvbucket", "fx.db", "alpha", "text", "--to"]));
    assert_snapshot!(run(&fx, &["mvbucket", "fx.db", "nope", "--to", "alpha"]));
    assert_snapshot!(run(&fx, &["mvbucket", "fx.db", "big", "--to", "nope"]));
    assert_snapshot!(run(&fx, &["mvbucket", "fx.db", "alpha", "nested"]));
    assert_snapshot!(contents(&fx, "fx.db"));
}
