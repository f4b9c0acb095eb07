use crate::fixtures::{Fx, run};
use crate::written::{assert_consistent_in_go_too, contents};
use insta::assert_snapshot;

#[test]
fn mkbucket_with_and_without_parents() {
    let fx = Fx::new();
    fx.empty();
    assert_snapshot!(run(&fx, &["mkbucket", "empty.db", "a"]));
    assert_snapshot!(run(&fx, &["mkbucket", "empty.db", "x", "y"]));
    assert_snapshot!(run(&fx, &["mkbucket", "-p", "empty.db", "x", "y", "z"]));
    assert_snapshot!(run(&fx, &["mkbucket", "-p", "empty.db", "x", "y"]));
    assert_snapshot!(run(&fx, &["mkbucket", "empty.db", "a"]));
    assert_snapshot!(run(&fx, &["mkbucket", "--dry-run", "empty.db", "b"]));
    assert_snapshot!(run(
        &fx,
        &[
            "mkbucket",
            "--bucket-format",
            "hex",
            "empty.db",
            "a",
            "00ff"
        ]
    ));
    assert_snapshot!(contents(&fx, "empty.db"));
    assert_consistent_in_go_too(&fx.path("empty.db"));
}

#[test]
fn mkbucket_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["mkbucket", "fx.db", "alpha", "text"]));
    assert_snapshot!(run(&fx, &["mkbucket", "fx.db", "alpha", "text", "x"]));
    assert_snapshot!(run(&fx, &["mkbucket", "fx.db"]));
    assert_snapshot!(run(
        &fx,
        &["mkbucket", "--bucket-format", "hex", "fx.db", ""]
    ));
    crate::written::assert_consistent(&fx.path("fx.db"));
}

/// `-p` creates what is missing, the database file included; without `-p`, or in a dry run,
/// a missing file stays missing.
#[test]
fn parents_flag_creates_a_missing_file() {
    let fx = Fx::new();
    assert_snapshot!(run(&fx, &["mkbucket", "new.db", "a"]));
    assert!(!fx.path("new.db").exists());
    assert_snapshot!(run(&fx, &["mkbucket", "-p", "--dry-run", "new.db", "a"]));
    assert!(!fx.path("new.db").exists());
    assert_snapshot!(run(&fx, &["mkbucket", "-p", "new.db", "a", "b"]));
    assert_snapshot!(run(&fx, &["put", "-p", "other.db", "users", "alice", "1"]));
    assert_snapshot!(contents(&fx, "new.db"));
    assert_snapshot!(contents(&fx, "other.db"));
    assert_consistent_in_go_too(&fx.path("new.db"));
    assert_consistent_in_go_too(&fx.path("other.db"));
}
