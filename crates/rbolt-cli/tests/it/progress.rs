//! Progress bars: never an escape code or carriage return in a pipe; in a real terminal
//! (tmux), `check` and `page --all` over a 50k-page file draw a bar on stderr and leave a
//! clean line.

use crate::fixtures::{Fx, rbolt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn big_file(fx: &Fx) -> std::path::PathBuf {
    // 1 KiB pages and 520 values of 100 KB: over 50,000 pages.
    let path = fx.path("p50k.db");
    let db = rbolt::Options::new()
        .page_size(1024)
        .no_sync(true)
        .open(&path)
        .unwrap();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0..520u32 {
            b.put(
                format!("{i:05}").as_bytes(),
                &vec![(i % 251) as u8; 100_000],
            )?;
        }
        Ok(())
    })
    .unwrap();
    assert!(db.info().hwm > rbolt::Pgid(50_000));
    path
}

#[test]
fn no_escape_codes_in_a_pipe() {
    let fx = Fx::new();
    big_file(&fx);
    for args in [&["page", "--all", "p50k.db"][..], &["check", "p50k.db"]] {
        let o = rbolt(fx.dir.path()).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}");
        assert!(
            o.stderr.is_empty(),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

fn tmux(sock: &Path, args: &[&str]) -> String {
    let o = Command::new("tmux")
        .arg("-S")
        .arg(sock)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn bars_show_in_a_terminal_and_end_on_a_clean_line() {
    for (cmd, prefix) in [("check", "check ["), ("page --all", "page --all [")] {
        bar_in_terminal(cmd, prefix);
    }
}

fn bar_in_terminal(cmd: &str, prefix: &str) {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("notice: tmux missing; skipping the terminal progress test");
        return;
    }
    let fx = Fx::new();
    big_file(&fx);
    let sock = fx.path("tmux.sock");
    let log = fx.path("pane.log");
    let bin = assert_cmd::cargo::cargo_bin("rbolt");
    let script = format!(
        "cd '{}' && '{}' {cmd} p50k.db > /dev/null; echo DONE-$?",
        fx.dir.path().display(),
        bin.display()
    );
    tmux(
        &sock,
        &[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "30",
            "env",
            "PS1=READY> ",
            "sh",
        ],
    );
    // Type only once the shell prompts, so the command starts at the left margin as it would
    // for a person.
    wait_for(&sock, |s| s.contains("READY>"));
    // Record every byte the pane receives, so a bar drawn and cleared is still seen.
    tmux(
        &sock,
        &["pipe-pane", "-o", &format!("cat >> '{}'", log.display())],
    );
    tmux(&sock, &["send-keys", &script, "Enter"]);
    // The typed command contains "DONE-" too; its output starts a line with it.
    let screen = wait_for(&sock, |s| s.lines().any(|l| l.starts_with("DONE-")));
    tmux(&sock, &["kill-server"]);
    assert!(
        screen.lines().any(|l| l == "DONE-0"),
        "command did not finish: {screen}"
    );
    let raw = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(raw.contains(prefix), "{cmd}: no bar was drawn: {raw:?}");
    assert!(raw.contains("pages"), "{raw:?}");
    // The bar is cleared: the line before DONE holds only the command itself.
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    let done = lines.iter().position(|l| l.starts_with("DONE-")).unwrap();
    assert!(!lines[done - 1].contains('['), "bar left behind: {screen}");
}

/// Polls the pane until `done` holds (30 s at most) and returns the last screen.
fn wait_for(sock: &Path, done: impl Fn(&str) -> bool) -> String {
    let t = Instant::now();
    loop {
        let screen = tmux(sock, &["capture-pane", "-p"]);
        if done(&screen) || t.elapsed() > Duration::from_secs(30) {
            return screen;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
