use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn ls_top_level_and_a_bucket() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["ls", "fx.db"]));
    assert_snapshot!(run(&fx, &["ls", "fx.db", "alpha", "--values"]));
}

#[test]
fn ls_prefix_start_limit_reverse() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(
        &fx,
        &["ls", "fx.db", "big", "--prefix", "key0001", "--limit", "3"]
    ));
    assert_snapshot!(run(
        &fx,
        &["ls", "fx.db", "big", "--start", "key01990", "-n", "4"]
    ));
    assert_snapshot!(run(
        &fx,
        &[
            "ls",
            "fx.db",
            "big",
            "--prefix",
            "key0001",
            "--reverse",
            "--limit",
            "3"
        ]
    ));
    assert_snapshot!(run(
        &fx,
        &["ls", "fx.db", "big", "--start", "key00004", "--reverse"]
    ));
    // A prefix past every key, and one that ends in 0xff.
    assert_snapshot!(run(&fx, &["ls", "fx.db", "big", "--prefix", "zz"]));
    assert_snapshot!(run(
        &fx,
        &["ls", "fx.db", "--key-format", "hex", "--prefix", "00ff"]
    ));
}

#[test]
fn ls_recursive_indents_and_counts_lines_against_the_limit() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["ls", "-r", "fx.db", "--limit", "9", "--values"]));
    assert_snapshot!(run(&fx, &["ls", "-r", "--reverse", "fx.db", "alpha"]));
}

#[test]
fn ls_formats_and_binary_bucket_names() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(
        &fx,
        &["ls", "fx.db", "alpha", "--values", "-f", "ascii-encoded"]
    ));
    assert_snapshot!(run(
        &fx,
        &["ls", "fx.db", "alpha", "--values", "--format", "redacted"]
    ));
    assert_snapshot!(run(
        &fx,
        &[
            "ls",
            "--bucket-format",
            "hex",
            "fx.db",
            "616c706861",
            "6e6573746564",
            "--values"
        ]
    ));
    assert_snapshot!(run(
        &fx,
        &["ls", "--bucket-format", "hex", "fx.db", "00000001"]
    ));
}

#[test]
fn ls_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["ls", "fx.db", "alpha", "nope"]));
    assert_snapshot!(run(&fx, &["ls", "fx.db", "alpha", "text"]));
    assert_snapshot!(run(&fx, &["ls", "missing.db"]));
    assert_snapshot!(run(&fx, &["ls", "fx.db", "--bucket-format", "hex", "zz"]));
    assert_snapshot!(run(&fx, &["ls", "fx.db", "alpha", "-f", "yaml"]));
    assert_snapshot!(run(&fx, &["ls"]));
}

#[test]
fn ls_of_an_empty_file_prints_nothing() {
    let fx = Fx::new();
    fx.empty();
    assert_snapshot!(run(&fx, &["ls", "-r", "empty.db"]));
}
