//! `rbolt doctor`: the diagnosis and the surgery it prints, and with `--apply` a repaired
//! copy that passes rbolt's and Go bbolt's check while the file itself stays as it was.

use crate::fixtures::{Fx, go_check, go_helper, run};
use crate::map::unlisted;
use insta::assert_snapshot;

/// `fx.db` with its active meta page's checksum broken: the last commit looks torn.
fn torn_meta(fx: &Fx) -> &'static str {
    let mut b = std::fs::read(fx.path("fx.db")).unwrap();
    b[16 + 56] ^= 0xff;
    std::fs::write(fx.path("torn.db"), b).unwrap();
    "torn.db"
}

/// `fx.db` with meta page 1 (the older) wiped.
fn wiped_meta(fx: &Fx) -> &'static str {
    let mut b = std::fs::read(fx.path("fx.db")).unwrap();
    b[4096 + 16..4096 + 80].fill(0);
    std::fs::write(fx.path("wiped.db"), b).unwrap();
    "wiped.db"
}

fn go_ok(fx: &Fx, f: &str) {
    match go_helper() {
        Some(go) => assert_eq!(go_check(&go, &fx.path(f)), (true, "OK\n".into()), "{f}"),
        None => assert!(
            !crate::forensic_hostile::go_required(),
            "Go bbolt helper required (RBOLT_REQUIRE_GO/CI)"
        ),
    }
}

#[test]
fn doctor_on_a_healthy_file() {
    let fx = Fx::new();
    fx.nested().no_freelist();
    assert_snapshot!(run(&fx, &["doctor", "fx.db"]));
    assert!(run(&fx, &["doctor", "nofl.db"]).starts_with("exit: 0"));
    let again = run(&fx, &["doctor", "--apply", "-o", "x.db", "fx.db"]);
    assert!(
        again.starts_with("exit: 0") && !fx.path("x.db").exists(),
        "{again}"
    );
}

#[test]
fn doctor_prescribes_and_applies_surgery() {
    let fx = Fx::new();
    fx.nested().damaged();
    let bytes = std::fs::read(fx.path("fx.db")).unwrap();
    let cases = [
        "damaged.db",
        torn_meta(&fx),
        wiped_meta(&fx),
        &*unlisted(&fx, &bytes),
    ];
    for f in cases {
        let before = std::fs::read(fx.path(f)).unwrap();
        let diagnosis = run(&fx, &["doctor", f]);
        assert!(diagnosis.starts_with("exit: 1"), "{diagnosis}");
        insta::assert_snapshot!(format!("diagnose-{f}"), diagnosis);
        let out = format!("{f}.fixed");
        let applied = run(&fx, &["doctor", f, "--apply", "-o", &out]);
        assert!(applied.starts_with("exit: 0"), "{applied}");
        insta::assert_snapshot!(format!("apply-{f}"), applied);
        assert_eq!(std::fs::read(fx.path(f)).unwrap(), before, "{f} changed");
        assert!(run(&fx, &["check", &out]).starts_with("exit: 0"));
        assert!(run(&fx, &["doctor", &out]).starts_with("exit: 0"));
        go_ok(&fx, &out);
        // No intermediate copies are left behind.
        let left: Vec<_> = std::fs::read_dir(fx.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".step"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // The pairs the torn commit wrote are gone with it; those before it are there.
    assert!(run(&fx, &["get", "torn.db.fixed", "alpha", "text"]).contains("hello world"));
}

#[test]
fn doctor_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["doctor", "--apply", "fx.db"]));
    assert_snapshot!(run(&fx, &["doctor", "nope.db"]));
    std::fs::write(fx.path("zero.db"), vec![0u8; 8192]).unwrap();
    assert_snapshot!(run(&fx, &["doctor", "zero.db"]));
    // Both metas bad: nothing surgery can do; salvage is the way.
    let mut b = std::fs::read(fx.path("fx.db")).unwrap();
    b[16 + 56] ^= 0xff;
    b[4096 + 16 + 56] ^= 0xff;
    std::fs::write(fx.path("both.db"), b).unwrap();
    assert_snapshot!(run(&fx, &["doctor", "both.db"]));
    std::fs::write(fx.path("exists.db"), b"x").unwrap();
    let damaged = torn_meta(&fx);
    assert_snapshot!(run(&fx, &["doctor", damaged, "--apply", "-o", "exists.db"]));
}
