use crate::fixtures::{Fx, rbolt, run};
use insta::assert_snapshot;

/// Replaces the timings, which change on every run, with `T`.
fn mask(s: &str) -> String {
    s.split('\t')
        .map(|f| {
            if f.ends_with("(ops)") || f.starts_with("# ") || f.starts_with("Benchmark") {
                f.to_string()
            } else if f.starts_with('(') {
                "(T)".to_string()
            } else if f.ends_with("ns/op") {
                "T ns/op".to_string()
            } else if f.chars().next().is_some_and(|c| c.is_ascii_digit())
                && !f.trim().chars().all(|c| c.is_ascii_digit())
            {
                "T".to_string()
            } else {
                f.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\t")
}

#[test]
fn bench_writes_then_reads_and_prints_bbolt_lines() {
    let fx = Fx::new();
    let o = rbolt(fx.dir.path())
        .args([
            "bench",
            "--count",
            "200",
            "--batch-size",
            "50",
            "--no-sync",
            "--work",
            "--path",
            "b.db",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("# Write\t200(ops)\t"), "{out}");
    assert!(lines[1].starts_with("# Read\t"), "{out}");
    assert_eq!(lines[2], "");
    assert_snapshot!(mask(lines[0]));
    let err = String::from_utf8(o.stderr).unwrap();
    assert_snapshot!(err.lines().take(10).collect::<Vec<_>>().join("\n"));
    // --work keeps the file, with all the keys in bucket "bench".
    let keys = run(&fx, &["keys", "b.db", "bench"]);
    assert_eq!(keys.lines().count(), 3 + 200, "{keys}");
}

#[test]
fn bench_gobench_output_and_nested_random_mode() {
    let fx = Fx::new();
    let o = rbolt(fx.dir.path())
        .args([
            "bench",
            "--count",
            "100",
            "--write-mode",
            "rnd-nest",
            "--read-mode",
            "rnd",
            "--gobench-output",
            "--no-sync",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8(o.stdout).unwrap();
    let masked: Vec<String> = out.lines().map(mask).collect();
    assert_eq!(masked[0], "BenchmarkWrite\t     100\tT ns/op", "{out}");
    assert!(masked[1].starts_with("BenchmarkRead \t"), "{out}");
}

#[test]
fn bench_validation_errors() {
    let fx = Fx::new();
    assert_snapshot!(run(&fx, &["bench", "--write-mode", "seq-del"]));
    assert_snapshot!(run(&fx, &["bench", "--count", "10", "--batch-size", "3"]));
}
