use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn dump_meta_and_leaf_with_star_lines() {
    let fx = Fx::new();
    fx.nested();
    let out = run(&fx, &["dump", "fx.db", "0", "4"]);
    // Runs of equal lines collapse to `ADDR *`, but a page's last line is always printed.
    assert!(out.contains("\n0000060 *\n0000ff0 0000 0000 0000 0000 0000 0000 0000 0000\n"));
    assert!(out.contains("\n===============================================\n"));
    assert_snapshot!(out);
}

#[test]
fn dump_errors() {
    let fx = Fx::new();
    fx.nested();
    std::fs::write(fx.path("junk.db"), vec![7u8; 8192]).unwrap();
    assert_snapshot!(run(&fx, &["dump", "fx.db"]));
    assert_snapshot!(run(&fx, &["dump", "fx.db", ""]));
    assert_snapshot!(run(&fx, &["dump", "fx.db", "99999"]));
    assert_snapshot!(run(&fx, &["dump", "junk.db", "0"]));
    assert_snapshot!(run(&fx, &["dump", "fx.db", "abc"]));
}
