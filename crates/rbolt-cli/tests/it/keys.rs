use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn keys_lists_sub_buckets_too() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["keys", "fx.db", "alpha"]));
}

#[test]
fn keys_of_a_nested_bucket_in_each_format() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(
        &fx,
        &["keys", "fx.db", "alpha", "nested", "--format", "hex"]
    ));
    assert_snapshot!(run(&fx, &["keys", "-f", "ascii-encoded", "fx.db", "alpha"]));
    assert_snapshot!(run(&fx, &["keys", "fx.db", "alpha", "--format=redacted"]));
}

#[test]
fn keys_addresses_binary_bucket_names_in_hex() {
    let fx = Fx::new();
    fx.nested();
    let out = run(
        &fx,
        &[
            "keys",
            "--bucket-format",
            "hex",
            "fx.db",
            "616c706861",
            "6e6573746564",
        ],
    );
    assert_snapshot!(out);
    // bbolt's raw argument cannot carry a NUL byte; hex can.
    assert_snapshot!(run(
        &fx,
        &["keys", "--bucket-format=hex", "fx.db", "00000001"]
    ));
}

#[test]
fn keys_json_marks_buckets() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["keys", "--json", "fx.db", "alpha"]));
}

#[test]
fn keys_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["keys", "fx.db"]));
    assert_snapshot!(run(&fx, &["keys", "fx.db", "nope"]));
    assert_snapshot!(run(&fx, &["keys", "fx.db", "alpha", "text"]));
    assert_snapshot!(run(&fx, &["keys", "missing.db", "alpha"]));
    assert_snapshot!(run(&fx, &["keys", "fx.db", "alpha", "--format", "yaml"]));
}

#[test]
fn keys_streams_a_big_bucket() {
    let fx = Fx::new();
    fx.nested();
    let o = crate::fixtures::rbolt(fx.dir.path())
        .args(["keys", "fx.db", "big"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1001);
    assert_eq!(lines[0], "huge");
    assert_eq!(lines[1], "key00001");
    assert_eq!(lines[1000], "key01999");
}
