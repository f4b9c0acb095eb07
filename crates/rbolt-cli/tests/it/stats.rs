use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn stats_of_all_buckets_and_a_prefix() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["stats", "fx.db"]));
    assert_snapshot!(run(&fx, &["stats", "fx.db", "al"]));
    assert_snapshot!(run(
        &fx,
        &["stats", "--bucket-format", "hex", "fx.db", "00"]
    ));
    assert_snapshot!(run(&fx, &["stats", "--json", "fx.db", "big"]));
}

#[test]
fn stats_lines_start_with_a_tab() {
    let fx = Fx::new();
    fx.nested();
    let o = crate::fixtures::rbolt(fx.dir.path())
        .args(["stats", "fx.db"])
        .output()
        .unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    let values: Vec<&str> = out.lines().filter(|l| l.contains(": ")).collect();
    assert_eq!(values.len(), 13, "{out}");
    assert!(values.iter().all(|l| l.starts_with('\t')), "{out}");
    assert!(
        out.contains("\tTotal number on inlined buckets: "),
        "upstream's typo is kept"
    );
}

#[test]
fn stats_argument_count() {
    let fx = Fx::new();
    assert_snapshot!(run(&fx, &["stats", "a", "b", "c", "d"]));
}
