//! `rbolt browse` in a real terminal (tmux): scripted journeys that wait for the expected text
//! on screen (polling with a deadline, no fixed sleeps), a `--write` journey whose file must
//! then pass the engine's check and Go bbolt's, Ctrl-Z and `fg`, and a panic that must leave
//! the terminal restored. Skipped when tmux is missing. Without a terminal, browse refuses.

use crate::fixtures::{Fx, LockHolder, go_check, go_helper, rbolt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own, with one 120×40 pane running `sh`; killed on drop.
struct Pane {
    sock: PathBuf,
}

impl Pane {
    fn start(fx: &Fx) -> Option<Self> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("notice: tmux missing; skipping the terminal journeys");
            return None;
        }
        let p = Pane {
            sock: fx.path("tmux.sock"),
        };
        p.tmux(&[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "env",
            "PS1=READY> ",
            "TERM=xterm-256color",
            "sh",
        ]);
        p.wait("the shell prompt", |s| s.contains("READY>"));
        p.send(&[&format!("cd '{}'", fx.dir.path().display()), "Enter"]);
        p.send(&["clear", "Enter"]);
        // Type nothing until `clear` is done, or it wipes the echo of what was typed.
        p.wait("a clear screen", |s| {
            let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
            lines == ["READY>"]
        });
        Some(p)
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn display(&self, what: &str) -> String {
        self.tmux(&["display", "-p", what]).trim().to_string()
    }

    /// Polls the pane until `done` holds; fails with the last screen after 15 s.
    fn wait(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if done(&s) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "waited for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn wait_text(&self, text: &str) -> String {
        self.wait(text, |s| s.contains(text))
    }

    /// The program ended: the shell prompt is back, on the normal screen, cursor visible.
    fn assert_restored(&self) -> String {
        let s = self.wait("the prompt after the browser", |s| {
            s.lines()
                .any(|l| l.trim_start_matches("READY> ").starts_with("EXIT-"))
        });
        assert_eq!(
            self.display("#{alternate_on}"),
            "0",
            "still in the alternate screen:\n{s}"
        );
        assert_eq!(self.display("#{cursor_flag}"), "1", "cursor hidden:\n{s}");
        s
    }

    /// Sends `sig` to the browser (the pane's shell's child).
    fn signal(&self, sig: &str) {
        let shell = self.display("#{pane_pid}");
        let o = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        let pid = String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap()
            .trim()
            .to_string();
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn run_bare(&self, args: &str) {
        let bin = assert_cmd::cargo::cargo_bin("rbolt");
        self.type_text(&format!("'{}' {args}", bin.display()));
        self.send(&["Enter"]);
    }

    fn run(&self, args: &str) {
        let bin = assert_cmd::cargo::cargo_bin("rbolt");
        self.type_text(&format!("'{}' {args}; echo EXIT-$?", bin.display()));
        self.send(&["Enter"]);
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

#[test]
fn browse_needs_a_terminal_and_a_file() {
    let fx = Fx::new();
    fx.nested();
    let o = rbolt(fx.dir.path())
        .args(["browse", "fx.db"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().next(),
        Some("Error: browse needs a terminal")
    );
    let o = rbolt(fx.dir.path())
        .args(["tui", "missing.db"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).lines().next(),
        Some("Error: source database file \"missing.db\" doesn't exist")
    );
    let o = rbolt(fx.dir.path()).args(["browse"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
}

/// With Go bbolt holding the file's lock, browse gives up after `--timeout`, read-only or not.
#[test]
fn browse_times_out_on_a_locked_file() {
    let Some(go) = go_helper() else {
        assert!(!go_required(), "the Go helper is required here");
        return;
    };
    let fx = Fx::new();
    fx.nested();
    let holder = LockHolder::start(&go, &fx.path("fx.db"), false, 5);
    for args in [
        &["browse", "--timeout", "200ms", "fx.db"][..],
        &["browse", "--write", "--timeout", "200ms", "fx.db"],
    ] {
        let t = Instant::now();
        let o = rbolt(fx.dir.path()).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("Error: timeout"), "{args:?}: {err}");
        assert!(t.elapsed() < Duration::from_secs(3), "{args:?}");
    }
    drop(holder);
}

#[test]
fn journey_open_expand_seek_views_pages_suspend_quit() {
    let fx = Fx::new();
    fx.nested();
    let Some(p) = Pane::start(&fx) else { return };
    // No `; echo` after it: the shell would run that as soon as Ctrl-Z stops the browser.
    p.run_bare("browse fx.db");
    let s = p.wait_text("keys /");
    assert!(s.contains(" RO "), "{s}");
    assert_eq!(p.display("#{alternate_on}"), "1");
    // Down to `alpha`, expand it, into its keys; seek `json`.
    p.send(&["j", "j", "l"]);
    p.wait_text("▸ nested");
    p.send(&["l", "/"]);
    p.wait_text("seek (prefix");
    p.type_text("json");
    p.send(&["Enter"]);
    let s = p.wait_text("auto: json");
    assert!(s.contains("\"a\": 1"), "{s}");
    p.send(&["v"]);
    p.wait_text("utf-8");
    p.send(&["4"]);
    p.wait_text("7b 22 61 22 3a 31 7d");
    // The page map, and from the key to its leaf page.
    p.send(&["o"]);
    let s = p.wait("the leaf page of json", |s| {
        s.contains("page map") && s.contains("leaf page") && s.contains("json = {")
    });
    assert!(s.contains("[pages]"), "{s}");
    p.send(&["Escape"]);
    p.wait("browse mode", |s| {
        !s.contains("[pages]") && s.contains("keys /alpha")
    });
    // Ctrl-Z gives the terminal back; fg takes it again.
    p.send(&["C-z"]);
    p.wait("the shell after Ctrl-Z", |s| {
        s.lines().any(|l| l.starts_with("READY>"))
    });
    assert_eq!(p.display("#{alternate_on}"), "0");
    p.send(&["fg", "Enter"]);
    p.wait("the browser again", |s| s.contains("keys /alpha"));
    assert_eq!(p.display("#{alternate_on}"), "1");
    // A stop from outside (kill -TSTP) is as clean as Ctrl-Z.
    p.signal("TSTP");
    p.wait("the shell after kill -TSTP", |s| {
        s.lines()
            .rfind(|l| !l.trim().is_empty())
            .is_some_and(|l| l.starts_with("READY>"))
    });
    assert_eq!(p.display("#{alternate_on}"), "0");
    p.send(&["clear", "Enter", "fg", "Enter"]);
    p.wait("the browser again", |s| s.contains("keys /alpha"));
    assert_eq!(p.display("#{alternate_on}"), "1");
    p.send(&["q"]);
    p.wait("the prompt after q", |s| {
        s.lines()
            .rfind(|l| !l.trim().is_empty())
            .is_some_and(|l| l.starts_with("READY>"))
    });
    assert_eq!(p.display("#{alternate_on}"), "0");
    assert_eq!(p.display("#{cursor_flag}"), "1");
}

fn go_required() -> bool {
    std::env::var("RBOLT_REQUIRE_GO").is_ok_and(|v| v == "1") || std::env::var_os("CI").is_some()
}

#[test]
fn journey_write_put_delete_move() {
    let fx = Fx::new();
    fx.nested();
    let Some(p) = Pane::start(&fx) else { return };
    p.run("browse --write fx.db");
    p.wait_text(" RW ");
    // Edit alpha/text.
    p.send(&[":"]);
    p.type_text("alpha/text");
    p.send(&["Enter", "e"]);
    p.wait_text("value of text");
    for _ in 0.."hello world".len() {
        p.send(&["BSpace"]);
    }
    p.type_text("changed");
    p.send(&["Enter"]);
    p.wait_text("put text");
    // Delete alpha/bin, after saying no once.
    p.send(&[":"]);
    p.type_text("alpha/bin");
    p.send(&["Enter", "D"]);
    p.wait_text("delete key bin? (y/N)");
    p.send(&["n"]);
    p.wait_text("cancelled");
    p.send(&["D"]);
    p.wait_text("delete key bin? (y/N)");
    p.send(&["y"]);
    p.wait_text("deleted key bin");
    // Move alpha/nested into big.
    p.send(&["/"]);
    p.type_text("nested");
    p.send(&["Enter", "m"]);
    p.wait_text("move bucket nested into");
    p.send(&["BSpace"]);
    p.type_text("big");
    p.send(&["Enter"]);
    p.wait_text("moved bucket nested to /big");
    p.send(&["q"]);
    let s = p.assert_restored();
    assert!(s.contains("EXIT-0"), "{s}");

    let path = fx.path("fx.db");
    let db = rbolt::Options::new().read_only(true).open(&path).unwrap();
    let tx = db.begin_read().unwrap();
    assert!(tx.check().is_empty(), "{:?}", tx.check());
    let alpha = tx.bucket(b"alpha").unwrap().unwrap();
    assert_eq!(alpha.get(b"text").unwrap(), Some(&b"changed"[..]));
    assert_eq!(alpha.get(b"bin").unwrap(), None);
    assert!(alpha.bucket(b"nested").unwrap().is_none());
    let moved = tx
        .bucket(b"big")
        .unwrap()
        .unwrap()
        .bucket(b"nested")
        .unwrap()
        .unwrap();
    assert_eq!(moved.get(b"deep").unwrap(), Some(&b"v"[..]));
    assert_eq!(moved.sequence(), 7);
    drop(tx);
    drop(db);
    check_with_go(&path);
}

fn check_with_go(path: &Path) {
    match go_helper() {
        Some(go) => {
            let (ok, out) = go_check(&go, path);
            assert!(ok, "Go bbolt's check failed: {out}");
        }
        None => assert!(!go_required(), "the Go helper is required here"),
    }
}

#[test]
fn journey_panic_restores_the_terminal() {
    let fx = Fx::new();
    fx.nested();
    let Some(p) = Pane::start(&fx) else { return };
    let bin = assert_cmd::cargo::cargo_bin("rbolt");
    p.type_text(&format!(
        "RBOLT_BROWSE_TEST_PANIC=1 '{}' browse fx.db; echo EXIT-$?",
        bin.display()
    ));
    p.send(&["Enter"]);
    let s = p.assert_restored();
    assert!(s.contains("EXIT-101"), "{s}");
    assert!(
        s.contains("RBOLT_BROWSE_TEST_PANIC is set"),
        "the panic message is on the normal screen: {s}"
    );
}

#[test]
fn journey_terminated_restores_the_terminal() {
    let fx = Fx::new();
    fx.nested();
    let Some(p) = Pane::start(&fx) else { return };
    p.run("browse fx.db");
    p.wait_text("keys /");
    p.signal("TERM");
    let s = p.assert_restored();
    assert!(s.contains("Error: interrupted"), "{s}");
    assert!(s.contains("EXIT-1"), "{s}");
}

/// The terminal goes away under the browser (tmux killed, ssh dropped): it ends on the hang-up
/// instead of spinning on a dead terminal.
#[test]
fn a_hang_up_ends_the_browser() {
    let fx = Fx::new();
    fx.nested();
    let Some(p) = Pane::start(&fx) else { return };
    let bin = assert_cmd::cargo::cargo_bin("rbolt");
    p.type_text(&format!("exec '{}' browse fx.db", bin.display()));
    p.send(&["Enter"]);
    p.wait_text("keys /");
    let pid = p.display("#{pane_pid}");
    p.tmux(&["kill-server"]);
    let t = Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let state = status
            .lines()
            .find(|l| l.starts_with("State:"))
            .unwrap_or("State: gone");
        if state.contains("Z") || state.contains("gone") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still running after the hang-up: {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Colours only without `NO_COLOR`; with it, nothing but bold, underline and reverse video.
#[test]
fn no_color_means_no_colour_codes() {
    let fx = Fx::new();
    fx.nested();
    let Some(p) = Pane::start(&fx) else { return };
    let bin = assert_cmd::cargo::cargo_bin("rbolt");
    let colour_codes = |s: &str| {
        [
            "\u{1b}[31m",
            "\u{1b}[32m",
            "\u{1b}[34m",
            "\u{1b}[36m",
            "\u{1b}[41m",
            "\u{1b}[90m",
            "38;",
            "48;",
        ]
        .iter()
        .filter(|c| s.contains(*c))
        .count()
    };
    for (env, coloured) in [("env -u NO_COLOR", true), ("env NO_COLOR=1", false)] {
        p.type_text(&format!("{env} '{}' browse --write fx.db", bin.display()));
        p.send(&["Enter"]);
        p.wait_text(" RW ");
        let raw = p.tmux(&["capture-pane", "-p", "-e"]);
        assert_eq!(colour_codes(&raw) > 0, coloured, "{env}: {raw:?}");
        p.send(&["q"]);
        p.wait("the prompt", |s| {
            s.lines()
                .rfind(|l| !l.trim().is_empty())
                .is_some_and(|l| l.starts_with("READY>"))
        });
    }
}

/// `X` exports a bucket in `rbolt export`'s format: `rbolt import` reads it back whole.
#[test]
fn journey_export_then_import() {
    let fx = Fx::new();
    fx.nested();
    let Some(p) = Pane::start(&fx) else { return };
    p.run("browse fx.db");
    p.wait_text("keys /");
    p.send(&[":"]);
    p.type_text("alpha");
    p.send(&["Enter", "X"]);
    p.wait_text("alpha.jsonl");
    p.send(&["Enter"]);
    p.wait_text("exported 5 pairs to alpha.jsonl");
    p.send(&["q"]);
    p.assert_restored();
    let o = rbolt(fx.dir.path())
        .args(["import", "copy.db", "-i", "alpha.jsonl"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let db = rbolt::Options::new()
        .read_only(true)
        .open(fx.path("copy.db"))
        .unwrap();
    let src = rbolt::Options::new()
        .read_only(true)
        .open(fx.path("fx.db"))
        .unwrap();
    let (a, b) = (db.begin_read().unwrap(), src.begin_read().unwrap());
    assert!(a.check().is_empty());
    let dump = |tx: &rbolt::Tx| {
        let alpha = tx.bucket(b"alpha").unwrap().unwrap();
        let mut v: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for item in alpha.iter() {
            let (k, val) = item.unwrap();
            v.push((k.to_vec(), val.map(<[u8]>::to_vec)));
        }
        let n = alpha.bucket(b"nested").unwrap().unwrap();
        (v, n.sequence(), n.get(b"deep").unwrap().map(<[u8]>::to_vec))
    };
    assert_eq!(dump(&a), dump(&b));
}
