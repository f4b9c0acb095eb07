//! A file another process holds: `--timeout` gives up in time and says who holds it; `0`
//! waits.

use crate::fixtures::{Fx, go_helper, rbolt};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `bbolt-interop lockhold DB SECONDS`, once it says it holds the lock; killed on drop.
struct Holder(Child);

impl Holder {
    fn start(go: &std::path::Path, db: &std::path::Path) -> Self {
        let mut child = Command::new(go)
            .arg("lockhold")
            .arg(db)
            .arg("5")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn keys_times_out_on_a_locked_file() {
    let Some(go) = go_helper() else { return };
    let fx = Fx::new();
    fx.nested();
    let holder = Holder::start(&go, &fx.path("fx.db"));
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
    let _holder = Holder::start(&go, &fx.path("fx.db"));
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
    let _holder = Holder::start(&go, &fx.path("fx.db"));
    let o = rbolt(fx.dir.path())
        .args(["page", "fx.db", "0"])
        .timeout(Duration::from_secs(5))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Page ID:    0\n"));
}
