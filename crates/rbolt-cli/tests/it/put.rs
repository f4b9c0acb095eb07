use crate::fixtures::{Fx, LockHolder, rbolt, run};
use crate::written::{assert_consistent, assert_consistent_in_go_too, contents};
use insta::assert_snapshot;

#[test]
fn put_new_and_replaced_keys() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["put", "fx.db", "alpha", "new", "value"]));
    assert_snapshot!(run(&fx, &["put", "fx.db", "alpha", "text", "bye"]));
    assert_snapshot!(run(&fx, &["put", "fx.db", "alpha", "nested", "deep", "w"]));
    assert_snapshot!(contents(&fx, "fx.db"));
    assert_consistent_in_go_too(&fx.path("fx.db"));
}

#[test]
fn put_binary_keys_values_from_files_and_stdin() {
    let fx = Fx::new();
    fx.nested();
    std::fs::write(fx.path("v.bin"), [0u8, 1, 2, 0xff]).unwrap();
    let args = [
        "put",
        "--key-format",
        "hex",
        "--bucket-format",
        "hex",
        "fx.db",
        "00000001",
    ];
    let mut a = args.to_vec();
    a.extend(["00ff", "--value-file", "v.bin"]);
    assert_snapshot!(run(&fx, &a));
    let mut a = args.to_vec();
    a.extend(["01", "--value-format", "hex", "cafe"]);
    assert_snapshot!(run(&fx, &a));
    let o = rbolt(fx.dir.path())
        .args(["put", "fx.db", "alpha", "stdin", "-"])
        .write_stdin("from\nstdin")
        .output()
        .unwrap();
    assert_snapshot!(crate::fixtures::summary(&o));
    assert_snapshot!(run(
        &fx,
        &[
            "ls",
            "--values",
            "fx.db",
            "--bucket-format",
            "hex",
            "00000001"
        ]
    ));
    assert_snapshot!(run(&fx, &["get", "fx.db", "alpha", "stdin"]));
    assert_consistent(&fx.path("fx.db"));
}

#[test]
fn put_if_absent_create_buckets_and_dry_run() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(
        &fx,
        &["put", "--if-absent", "fx.db", "alpha", "text", "no"]
    ));
    assert_snapshot!(run(&fx, &["put", "fx.db", "a", "b", "k", "v"]));
    assert_snapshot!(run(&fx, &["put", "-p", "fx.db", "a", "b", "k", "v"]));
    assert_snapshot!(run(
        &fx,
        &["put", "--dry-run", "fx.db", "alpha", "text", "dry"]
    ));
    assert_snapshot!(contents(&fx, "fx.db"));
}

#[test]
fn put_errors() {
    let fx = Fx::new();
    fx.nested();
    let before = std::fs::read(fx.path("fx.db")).unwrap();
    assert_snapshot!(run(&fx, &["put", "fx.db", "alpha", "nested", "v"]));
    assert_snapshot!(run(&fx, &["put", "fx.db", "alpha", "text", "x", "v"]));
    assert_snapshot!(run(&fx, &["put", "fx.db", "key", "value"]));
    assert_snapshot!(run(&fx, &["put", "missing.db", "a", "k", "v"]));
    assert_snapshot!(run(
        &fx,
        &["put", "--key-format", "hex", "fx.db", "alpha", "", "v"]
    ));
    assert_snapshot!(run(
        &fx,
        &["put", "fx.db", "alpha", "k", "--value-file", "nope.bin"]
    ));
    assert!(!fx.path("missing.db").exists());
    assert_eq!(
        before,
        std::fs::read(fx.path("fx.db")).unwrap(),
        "a failed put wrote"
    );
    crate::written::assert_consistent(&fx.path("fx.db"));
}

#[test]
fn writes_give_up_on_a_locked_file() {
    let Some(go) = crate::fixtures::go_helper() else {
        return;
    };
    let fx = Fx::new();
    fx.nested();
    let holder = LockHolder::start(&go, &fx.path("fx.db"), false, 5);
    let start = std::time::Instant::now();
    let out = run(
        &fx,
        &["put", "--timeout", "200ms", "fx.db", "alpha", "k", "v"],
    );
    let waited = start.elapsed();
    drop(holder);
    assert!(out.starts_with("exit: 1\nstderr: Error: timeout"), "{out}");
    assert!(waited < std::time::Duration::from_secs(2), "{waited:?}");
    assert_consistent(&fx.path("fx.db"));
}
