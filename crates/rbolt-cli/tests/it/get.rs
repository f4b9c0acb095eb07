use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn get_prints_values_in_each_format() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha", "json"]));
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha", "bin"]));
    assert_snapshot!(run(
        &fx,
        &["get", "--format", "ascii-encoded", "fx.db", "alpha", "bin"]
    ));
    assert_snapshot!(run(
        &fx,
        &[
            "get", "fx.db", "alpha", "nested", "deep", "--format", "redacted"
        ]
    ));
}

#[test]
fn get_empty_value_prints_an_empty_line() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha", "empty"]));
}

#[test]
fn get_parse_format_hex_and_raw_quotes() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(
        &fx,
        &["get", "--parse-format", "hex", "fx.db", "alpha", "74657874"]
    ));
    // ascii-encoded takes the argument's bytes: the quotes are part of the key.
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha", "\"text\""]));
}

#[test]
fn get_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha"]));
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha", ""]));
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha", "nope"]));
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha", "nested"]));
    assert_snapshot!(run(&fx, &["get", "fx.db", "nope", "deep"]));
    assert_snapshot!(run(
        &fx,
        &["get", "fx.db", "alpha", "zz", "--parse-format", "hex"]
    ));
}

#[test]
fn get_json() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["get", "--json", "fx.db", "alpha", "bin"]));
}
