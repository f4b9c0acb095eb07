use crate::fixtures::{Fx, LockHolder, go_helper, rbolt, run};
use crate::written::assert_consistent_in_go_too;
use insta::assert_snapshot;

#[test]
fn backup_copies_checks_and_matches_the_source() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["backup", "fx.db", "-o", "copy.db"]));
    assert_consistent_in_go_too(&fx.path("copy.db"));
    assert_snapshot!(run(&fx, &["diff", "fx.db", "copy.db"]));
    // Not a terminal: no progress bar drawn.
    let o = rbolt(fx.dir.path())
        .args(["backup", "fx.db", "--output", "copy2.db"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn backup_errors_leave_nothing_behind() {
    let fx = Fx::new();
    fx.nested();
    fx.empty();
    let before = std::fs::read(fx.path("empty.db")).unwrap();
    assert_snapshot!(run(&fx, &["backup", "fx.db", "-o", "empty.db"]));
    assert_eq!(before, std::fs::read(fx.path("empty.db")).unwrap());
    assert_snapshot!(run(&fx, &["backup", "missing.db", "-o", "x.db"]));
    assert!(!fx.path("x.db").exists());
    assert_snapshot!(run(&fx, &["backup", "fx.db", "-o", "no/such/dir.db"]));
    assert_snapshot!(run(&fx, &["backup", "fx.db"]));
}

#[test]
fn backup_runs_while_another_process_reads() {
    let Some(go) = go_helper() else { return };
    let fx = Fx::new();
    fx.nested();
    let holder = LockHolder::start(&go, &fx.path("fx.db"), true, 5);
    let out = run(&fx, &["backup", "--timeout", "1s", "fx.db", "-o", "hot.db"]);
    drop(holder);
    assert_snapshot!(out);
    assert_consistent_in_go_too(&fx.path("hot.db"));
}
