//! Checks on databases the write commands leave behind: the engine's consistency check on
//! every one, Go bbolt's on some, and a readable listing of the contents for snapshots.

use crate::fixtures::{Fx, go_check, go_helper, run};
use std::path::Path;

/// The engine's check passes on `path`.
pub(crate) fn assert_consistent(path: &Path) {
    let db = rbolt::Options::new().read_only(true).open(path).unwrap();
    let problems = db.begin_read().unwrap().check();
    assert!(problems.is_empty(), "{}: {problems:?}", path.display());
}

/// The engine's check, and Go bbolt's when the Go helper can be built.
pub(crate) fn assert_consistent_in_go_too(path: &Path) {
    assert_consistent(path);
    if let Some(go) = go_helper() {
        let (ok, out) = go_check(&go, path);
        assert!(ok, "Go bbolt's check of {}: {out}", path.display());
    }
}

/// `rbolt ls -r --values` of a fixture file, after checking it; the contents of a top-level
/// bucket `big` are summed up in one line.
pub(crate) fn contents(fx: &Fx, name: &str) -> String {
    assert_consistent(&fx.path(name));
    let full = run(fx, &["ls", "-r", "--values", name]);
    let mut out = String::new();
    let mut in_big = 0;
    for line in full.lines() {
        if in_big > 0 && line.starts_with(' ') {
            in_big += 1;
            continue;
        }
        if in_big > 1 {
            out.push_str(&format!("  ({} lines)\n", in_big - 1));
        }
        in_big = usize::from(line == "big/");
        out.push_str(line);
        out.push('\n');
    }
    if in_big > 1 {
        out.push_str(&format!("  ({} lines)\n", in_big - 1));
    }
    out
}
