//! CI smoke test: `rbolt-bench --quick` over every engine finishes, every engine reports every
//! phase it supports, and all engines read back the same bytes (checksums agree).

use std::process::Command;

#[test]
fn quick_run_all_engines() {
    let out = std::env::temp_dir().join(format!("rbolt-bench-quick-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_rbolt-bench"))
        .args(["--quick", "--engines", "all", "--out"])
        .arg(&out)
        .status()
        .expect("run rbolt-bench");
    assert!(status.success(), "rbolt-bench --quick failed: {status}");

    let json = std::fs::read_to_string(out.join("results.json")).expect("results.json");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("valid JSON");
    let has = |engine: &str, phase: &str| {
        rows.iter()
            .any(|r| r["engine"] == engine && r["phase"] == phase)
    };
    let mut engines = vec!["rbolt", "lmdb", "redb", "sled", "jammdb", "sqlite"];
    // The Go column needs Go and Debian's bbolt; CI installs them (interop/go/build.sh).
    if std::env::var_os("RBOLT_REQUIRE_GO").is_some() {
        engines.push("go-bbolt");
    }
    for e in engines {
        for phase in [
            "bulk_load",
            "individual_writes",
            "batch_writes",
            "len",
            "random_reads",
            "random_range_reads",
            "random_reads_4t",
            "removals",
            "uncompacted_size",
            "sorted_inserts",
            "large_write",
            "large_read",
            "peak_rss_main",
        ] {
            assert!(has(e, phase), "{e} did not report {phase}");
        }
    }
    assert!(has("rbolt", "nosync_writes"));
    assert!(has("lmdb", "compacted_size"));

    let md = std::fs::read_to_string(out.join("results.md")).expect("results.md");
    assert!(!md.contains("differs between engines"), "{md}");
    assert!(!md.contains("later phases missing"), "{md}");
    assert!(
        std::fs::read_to_string(out.join("ratios.svg"))
            .expect("ratios.svg")
            .starts_with("<svg")
    );
    std::fs::remove_dir_all(&out).ok();
}
