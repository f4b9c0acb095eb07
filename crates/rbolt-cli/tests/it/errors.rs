//! bbolt's error texts and exit codes, single-dash flags, and compat mode.

use crate::fixtures::{Fx, rbolt, run, summary};
use insta::assert_snapshot;

#[test]
fn unknown_command_and_flag() {
    let fx = Fx::new();
    assert_snapshot!(run(&fx, &["bogus"]));
    assert_snapshot!(run(&fx, &["keys", "--bogus", "a", "b"]));
    assert_snapshot!(run(&fx, &["keys", "-z", "a", "b"]));
    assert_snapshot!(run(&fx, &["keys", "a", "b", "--format"]));
}

#[test]
fn single_dash_long_flags_work_like_double_dash() {
    let fx = Fx::new();
    fx.nested();
    assert_eq!(
        run(&fx, &["keys", "-format=hex", "fx.db", "alpha"]),
        run(&fx, &["keys", "--format=hex", "fx.db", "alpha"])
    );
    assert_eq!(
        run(
            &fx,
            &["get", "-parse-format", "hex", "fx.db", "alpha", "74657874"]
        ),
        run(
            &fx,
            &["get", "--parse-format", "hex", "fx.db", "alpha", "74657874"]
        )
    );
}

#[test]
fn compat_mode_prints_cobra_usage_after_errors() {
    let fx = Fx::new();
    let o = rbolt(fx.dir.path())
        .env("RBOLT_COMPAT", "bbolt")
        .args(["keys", "x"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_snapshot!(err);
    let o = rbolt(fx.dir.path())
        .env("RBOLT_COMPAT", "bbolt")
        .args(["bogus"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(o.stderr).unwrap(),
        "Error: unknown command \"bogus\" for \"bbolt\"\nRun 'bbolt --help' for usage.\n"
    );
}

#[test]
fn compat_mode_by_program_name() {
    let fx = Fx::new();
    let link = fx.path("bbolt");
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("rbolt"), &link).unwrap();
    let o = std::process::Command::new(&link)
        .arg("bogus")
        .output()
        .unwrap();
    assert_snapshot!(summary(&o));
    let o = std::process::Command::new(&link)
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("bbolt version ")
    );
}

#[test]
fn version_and_help() {
    let fx = Fx::new();
    let out = run(&fx, &["version"]);
    assert!(
        out.starts_with("exit: 0\nstderr: \n--- stdout\nrbolt Version: "),
        "{out}"
    );
    assert!(out.contains("\nbbolt format: 2\nRust Version: "), "{out}");
    let help = run(&fx, &["--help"]);
    assert!(
        help.starts_with("exit: 0\n") && help.contains("surgery"),
        "{help}"
    );
    let help = run(&fx, &["page", "--help"]);
    assert!(help.contains("--format-value"), "{help}");
}

#[test]
fn completion_scripts() {
    let fx = Fx::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = rbolt(fx.dir.path())
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(o.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("page-item"),
            "{shell}"
        );
    }
}

#[test]
fn broken_pipe_is_not_an_error() {
    let fx = Fx::new();
    fx.nested();
    let bin = assert_cmd::cargo::cargo_bin("rbolt");
    let o = std::process::Command::new("sh")
        .current_dir(fx.dir.path())
        .arg("-c")
        .arg(format!("'{}' keys fx.db big | head -n 1", bin.display()))
        .output()
        .unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("huge\n"), "{out}");
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
