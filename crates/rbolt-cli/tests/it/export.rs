use crate::fixtures::{Fx, run};
use insta::assert_snapshot;

#[test]
fn export_jsonl_of_buckets() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["export", "fx.db", "alpha"]));
    assert_snapshot!(run(
        &fx,
        &[
            "export",
            "--bucket-format",
            "hex",
            "fx.db",
            "616c706861",
            "6e6573746564"
        ]
    ));
    assert_snapshot!(run(
        &fx,
        &["export", "--bucket-format", "hex", "fx.db", "00000001"]
    ));
}

#[test]
fn export_mdb_formats() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["export", "--format", "mdb", "fx.db", "alpha"]));
    assert_snapshot!(run(
        &fx,
        &["export", "--format", "mdb-print", "fx.db", "alpha"]
    ));
}

#[test]
fn export_whole_file_to_a_file() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["export", "fx.db", "-o", "out.jsonl"]));
    let text = std::fs::read_to_string(fx.path("out.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4 + 4 + 1 + 1001);
    // Cursor order: a sub-bucket's records at its name's place in its parent.
    assert_snapshot!(lines[..10].join("\n"));
    let o = run(
        &fx,
        &["export", "--format", "mdb", "fx.db", "-o", "out.mdb"],
    );
    assert_eq!(o, "exit: 0\nstderr: \n--- stdout\n");
    let text = std::fs::read_to_string(fx.path("out.mdb")).unwrap();
    assert_eq!(text.matches("VERSION=3").count(), 4);
}

#[test]
fn export_of_an_empty_file_is_empty() {
    let fx = Fx::new();
    fx.empty();
    assert_snapshot!(run(&fx, &["export", "empty.db"]));
    assert_snapshot!(run(&fx, &["export", "--format", "mdb", "empty.db"]));
}

#[test]
fn export_errors() {
    let fx = Fx::new();
    fx.nested();
    fx.damaged();
    assert_snapshot!(run(&fx, &["export", "fx.db", "nope"]));
    assert_snapshot!(run(&fx, &["export", "missing.db"]));
    assert_snapshot!(run(&fx, &["export", "fx.db", "-o", "no/such/dir"]));
    assert_snapshot!(run(&fx, &["export", "--format", "yaml", "fx.db"]));
    assert_snapshot!(run(&fx, &["export", "damaged.db", "-o", "d.jsonl"]));
    let before = std::fs::read(fx.path("fx.db")).unwrap();
    assert_snapshot!(run(&fx, &["export", "fx.db", "-o", "./fx.db"]));
    assert_eq!(before, std::fs::read(fx.path("fx.db")).unwrap());
}

#[test]
fn export_and_import_draw_nothing_on_a_pipe() {
    let fx = Fx::new();
    fx.nested();
    let e = crate::fixtures::rbolt(fx.dir.path())
        .args(["export", "fx.db"])
        .output()
        .unwrap();
    assert!(e.status.success() && e.stderr.is_empty(), "{e:?}");
    let i = crate::fixtures::rbolt(fx.dir.path())
        .args(["import", "copy.db"])
        .write_stdin(e.stdout)
        .output()
        .unwrap();
    assert!(i.status.success() && i.stderr.is_empty(), "{i:?}");
    crate::written::assert_consistent(&fx.path("copy.db"));
}
