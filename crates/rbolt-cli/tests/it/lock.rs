//! A file another process holds: `--timeout` gives up in time and says who holds it; `0`
//! waits.

use crate::fixtures::{Fx, LockHolder, go_helper, rbolt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn keys_times_out_on_a_locked_file() {
    let Some(go) = go_helper() else { return };
    let fx = Fx::new();
    fx.nested();
    let holder = LockHolder::start(&go, &fx.path("fx.db"), false, 5);
    let t = Instant::now();
    let o = rbolt(fx.dir.path())
        .args(["keys", "--timeout", "200ms", "fx.db", "alpha"])
        .output()
        .unwrap();
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(1));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let err = String::from_utf8(o.stderr).unwrap();
    let first = err.lines().next().unwrap();
    assert!(first.starts_with("Error: timeout"), "{first}");
    assert!(
        first.contains(&format!("pid {}", holder.0.id())),
        "names the holder: {first}"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn timeout_zero_waits_for_the_lock() {
    let Some(go) = go_helper() else { return };
    let fx = Fx::new();
    fx.nested();
    let _holder = LockHolder::start(&go, &fx.path("fx.db"), false, 5);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("rbolt"))
        .current_dir(fx.dir.path())
        .args(["keys", "--timeout", "0", "fx.db", "alpha"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(still_running, "--timeout 0 must wait for the lock");
}

#[test]
fn page_level_commands_ignore_the_lock() {
    let Some(go) = go_helper() else { return };
    let fx = Fx::new();
    fx.nested();
    let _holder = LockHolder::start(&go, &fx.path("fx.db"), false, 5);
    let o = rbolt(fx.dir.path())
        .args(["page", "fx.db", "0"])
        .timeout(Duration::from_secs(5))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Page ID:    0\n"));
}
