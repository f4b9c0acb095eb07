//! The client commands of the `rbolt-raft` binary against a real three-process cluster:
//! output on stdout, messages on stderr, and exit codes (0 ok, 1 error or missing key,
//! 2 usage, 3 compare failed).

use rbolt_raft::process::ProcessCluster;
use std::process::{Command, Output};

fn run(cluster: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rbolt-raft"))
        .args(args)
        .env("RBOLT_CLUSTER", cluster)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn client_commands_print_and_exit_as_documented() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_rbolt-raft"));
    let mut cluster = rt
        .block_on(ProcessCluster::start(exe, tmp.path(), 3))
        .unwrap();
    let addrs = cluster.addrs().join(",");
    let c = addrs.as_str();

    let put = run(c, &["put", "greeting", "hello"]);
    assert_eq!(put.status.code(), Some(0), "{}", text(&put.stderr));
    assert!(
        text(&put.stdout).starts_with("OK index="),
        "{}",
        text(&put.stdout)
    );

    let get = run(c, &["get", "greeting"]);
    assert_eq!(
        (get.status.code(), text(&get.stdout)),
        (Some(0), "hello\n".to_string())
    );

    let missing = run(c, &["get", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(text(&missing.stdout), "");
    assert_eq!(text(&missing.stderr), "key not found\n");

    let failed = run(c, &["txn", "greeting", "--if-value", "other", "--put", "x"]);
    assert_eq!(failed.status.code(), Some(3));
    assert!(text(&failed.stdout).starts_with("compare failed"));
    let ok = run(
        c,
        &["txn", "greeting", "--if-value", "hello", "--put", "bye"],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains("previous value: hello"));

    assert_eq!(run(c, &["put", "a", "1"]).status.code(), Some(0));
    let range = run(c, &["range", "a", "h"]);
    assert_eq!(text(&range.stdout), "a\t1\ngreeting\tbye\n");
    let limited = run(c, &["range", "a", "--limit", "1"]);
    assert_eq!(text(&limited.stdout), "a\t1\n");

    assert_eq!(run(c, &["delete", "greeting"]).status.code(), Some(0));
    assert_eq!(run(c, &["get", "greeting"]).status.code(), Some(1));

    let empty = run(c, &["put", "", "x"]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(
        text(&empty.stderr).contains("key required"),
        "{}",
        text(&empty.stderr)
    );

    let usage = run(c, &["txn", "k", "--put", "v"]);
    assert_eq!(usage.status.code(), Some(2));

    let status = run(c, &["status"]);
    assert_eq!(status.status.code(), Some(0));
    let out = text(&status.stdout);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("Leader")).count(),
        1,
        "{out}"
    );

    rt.block_on(cluster.stop());
    // Nobody listening: a clear error and exit 1 within the timeout.
    let down = run(c, &["get", "a", "--timeout", "1"]);
    assert_eq!(down.status.code(), Some(1));
    assert!(
        text(&down.stderr).starts_with("rbolt-raft: no answer from the cluster"),
        "{}",
        text(&down.stderr)
    );
}
