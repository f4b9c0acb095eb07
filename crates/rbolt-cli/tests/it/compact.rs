use crate::fixtures::{Fx, go_check, go_helper, run};
use insta::assert_snapshot;
use std::os::unix::fs::PermissionsExt;

#[test]
fn compact_copies_everything_and_reports_file_sizes() {
    let fx = Fx::new();
    fx.nested();
    std::fs::set_permissions(fx.path("fx.db"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run(&fx, &["compact", "-o", "small.db", "fx.db"]);
    let src = std::fs::metadata(fx.path("fx.db")).unwrap().len();
    let dst = std::fs::metadata(fx.path("small.db")).unwrap();
    let want = format!(
        "exit: 0\nstderr: \n--- stdout\n{src} -> {} bytes (gain={:.2}x)\n",
        dst.len(),
        src as f64 / dst.len() as f64
    );
    assert_eq!(out, want);
    assert!(dst.len() < src);
    assert_eq!(dst.permissions().mode() & 0o777, 0o640 & !umask());
    // Same content, and both dumps agree.
    let dump = |f: &str| run(&fx, &["keys", f, "big"]);
    assert_eq!(dump("fx.db"), dump("small.db"));
    assert_eq!(
        run(&fx, &["check", "small.db"]),
        "exit: 0\nstderr: \n--- stdout\nOK\n"
    );
    if let Some(go) = go_helper() {
        assert_eq!(go_check(&go, &fx.path("small.db")), (true, "OK\n".into()));
    }
}

fn umask() -> u32 {
    let probe = tempfile::tempdir().unwrap();
    let p = probe.path().join("m");
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode_for_test(0o777)
        .open(&p)
        .unwrap();
    0o777 & !std::fs::metadata(&p).unwrap().permissions().mode()
}

trait ModeForTest {
    fn mode_for_test(&mut self, m: u32) -> &mut Self;
}

impl ModeForTest for std::fs::OpenOptions {
    fn mode_for_test(&mut self, m: u32) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, m)
    }
}

#[test]
fn compact_json_and_single_dash_flags() {
    let fx = Fx::new();
    fx.nested();
    let out = run(
        &fx,
        &[
            "compact",
            "-tx-max-size=1024",
            "-no-sync",
            "-o",
            "c.db",
            "--json",
            "fx.db",
        ],
    );
    assert!(
        out.starts_with("exit: 0\nstderr: \n--- stdout\n{\"dst_size\":"),
        "{out}"
    );
}

#[test]
fn compact_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["compact", "fx.db"]));
    assert_snapshot!(run(&fx, &["compact"]));
    assert_snapshot!(run(&fx, &["compact", "-o", "x.db", "missing.db"]));
}
