use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn info_prints_page_size() {
    let fx = Fx::new();
    fx.nested().pages16k();
    assert_snapshot!(run(&fx, &["info", "fx.db"]));
    assert_snapshot!(run(&fx, &["info", "big16k.db"]));
}

#[test]
fn info_json_shows_both_metas() {
    let fx = Fx::new();
    fx.meta1();
    let out = run(&fx, &["info", "--json", "meta1.db"]);
    assert_snapshot!(out);
}

#[test]
fn info_on_a_file_that_is_not_bbolt() {
    let fx = Fx::new();
    std::fs::write(fx.path("junk.db"), vec![7u8; 8192]).unwrap();
    assert_snapshot!(run(&fx, &["info", "junk.db"]));
    assert_snapshot!(run(&fx, &["info", "missing.db"]));
}
