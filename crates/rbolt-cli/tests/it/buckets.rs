use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn buckets_prints_raw_names() {
    let fx = Fx::new();
    fx.nested();
    let o = crate::fixtures::rbolt(fx.dir.path())
        .args(["buckets", "fx.db"])
        .output()
        .unwrap();
    assert!(o.status.success());
    // The binary name is written as its bytes, exactly like bbolt.
    assert_eq!(o.stdout, b"\0\0\0\x01\nalpha\nbig\n");
}

#[test]
fn buckets_formats_and_json() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["buckets", "--format", "auto", "fx.db"]));
    assert_snapshot!(run(&fx, &["buckets", "--json", "fx.db"]));
}

#[test]
fn buckets_of_empty_and_wrong_args() {
    let fx = Fx::new();
    fx.empty();
    assert_snapshot!(run(&fx, &["buckets", "empty.db"]));
    assert_snapshot!(run(&fx, &["buckets"]));
    assert_snapshot!(run(&fx, &["buckets", "a", "b"]));
}
