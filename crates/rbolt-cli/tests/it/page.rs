use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn page_meta_leaf_branch_freelist() {
    let fx = Fx::new();
    fx.nested();
    // Meta, the leaf of `alpha`, then whatever `pages` lists as branch and freelist.
    assert_snapshot!(run(&fx, &["page", "fx.db", "0", "4"]));
    let pages = run(&fx, &["pages", "fx.db"]);
    let id_of = |ty: &str| -> String {
        pages
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(ty))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string()
    };
    let (branch, freelist) = (id_of("branch"), id_of("freelist"));
    assert_snapshot!(run(&fx, &["page", "fx.db", &branch, &freelist]));
}

#[test]
fn page_value_formats_and_json() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["page", "--format-value", "hex", "fx.db", "4"]));
    assert_snapshot!(run(&fx, &["page", "--json", "fx.db", "4"]));
}

#[test]
fn page_failure_is_reported_on_stdout_and_exits_0() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["page", "fx.db", "99999", "0"]));
}

#[test]
fn page_argument_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["page", "fx.db"]));
    assert_snapshot!(run(&fx, &["page", "--all", "fx.db", "3"]));
    assert_snapshot!(run(&fx, &["page"]));
}

#[test]
fn page_all_walks_to_the_active_metas_high_water_mark() {
    let fx = Fx::new();
    fx.meta1();
    let raw = std::fs::read(fx.path("meta1.db")).unwrap();
    let hwm = |meta: usize| {
        let o = meta * 4096 + 16 + 40;
        u64::from_le_bytes(raw[o..o + 8].try_into().unwrap())
    };
    assert!(hwm(1) > hwm(0), "the fixture's active meta has grown");
    let o = crate::fixtures::rbolt(fx.dir.path())
        .args(["page", "--all", "meta1.db"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    let last_id: u64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("Page ID:    "))
        .map(|n| n.parse().unwrap())
        .max()
        .unwrap();
    // bbolt would stop below meta 0's mark; rbolt reaches the active meta's pages.
    assert!(
        last_id >= hwm(0),
        "last page {last_id}, meta0 hwm {}",
        hwm(0)
    );
    assert!(last_id < hwm(1));
    // A pipe gets no progress bar.
    assert!(!o.stderr.contains(&b'\r') && !o.stderr.contains(&0x1b));
}
