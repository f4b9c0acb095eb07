//! `export | import` round trips: through rbolt's own formats (the copy equals the original,
//! sequences included, by `diff` and by Go bbolt's dump), and through LMDB's `mdb_load` and
//! `mdb_dump` (the dump of what rbolt re-imports is the dump LMDB made). The LMDB tests need
//! Debian's lmdb-utils; without them they are skipped with a notice, unless
//! `RBOLT_REQUIRE_LMDB=1`.

use crate::fixtures::{Fx, go_helper, rbolt, run};
use crate::written::assert_consistent_in_go_too;
use std::path::Path;
use std::process::Command;

/// Go bbolt's dump of `path` (B/K lines in cursor order).
fn go_dump(go: &Path, path: &Path) -> String {
    let o = Command::new(go).arg("dump").arg(path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A fixture with every kind of name, key and value: binary, `/` and `\` in names, empty
/// values, a 10 KB value, deep nesting, sequences and an empty bucket.
fn rich(fx: &Fx) {
    fx.nested();
    let db = rbolt::Options::new().open(fx.path("fx.db")).unwrap();
    db.update(|tx| {
        let odd = tx.create_bucket(b"a/b\\c d")?;
        odd.set_sequence(u64::MAX)?;
        odd.put([0xff, 0, b'\\', b'/'], [0x5c, 0x41])?;
        odd.put(b"\x7f\n", "é日本".as_bytes())?;
        let mut b = odd;
        for i in 0..5u8 {
            b = b.create_bucket([b'd', i])?;
        }
        b.put(b"deepest", b"")?;
        tx.create_bucket(b"empty")?.set_sequence(3)
    })
    .unwrap();
}

/// Asserts two dumps are the same apart from `mapsize=` (which follows the file size), naming
/// the first line that differs.
fn same_dump(a: &str, b: &str, what: &str) {
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with("mapsize="))
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (strip(a), strip(b));
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!("{what}: line {}: {:?} vs {:?}", i + 1, a.get(i), b.get(i));
    }
}

fn ok(out: &str) {
    assert!(out.starts_with("exit: 0"), "{out}");
}

#[test]
fn jsonl_and_mdb_round_trips_are_exact() {
    let fx = Fx::new();
    rich(&fx);
    for format in ["jsonl", "mdb", "mdb-print"] {
        let dump = format!("fx.{format}");
        let copy = format!("copy-{format}.db");
        ok(&run(
            &fx,
            &["export", "--format", format, "fx.db", "-o", &dump],
        ));
        ok(&run(
            &fx,
            &["import", "--format", format, "-i", &dump, &copy],
        ));
        let diff = run(&fx, &["diff", "fx.db", &copy]);
        assert_eq!(diff, "exit: 0\nstderr: \n--- stdout\n", "{format}");
        // Exporting the copy gives the same bytes.
        let again = format!("again.{format}");
        ok(&run(
            &fx,
            &["export", "--format", format, &copy, "-o", &again],
        ));
        let read =
            |f: &str| String::from_utf8_lossy(&std::fs::read(fx.path(f)).unwrap()).into_owned();
        same_dump(&read(&dump), &read(&again), format);
        assert_consistent_in_go_too(&fx.path(&copy));
    }
}

#[test]
fn round_trip_reproduces_go_bbolts_dump() {
    let Some(go) = go_helper() else { return };
    let fx = Fx::new();
    rich(&fx);
    let want = go_dump(&go, &fx.path("fx.db"));
    let exported = rbolt(fx.dir.path())
        .args(["export", "fx.db"])
        .output()
        .unwrap();
    assert!(exported.status.success());
    let o = rbolt(fx.dir.path())
        .args(["import", "copy.db"])
        .write_stdin(exported.stdout)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = go_dump(&go, &fx.path("copy.db"));
    assert!(
        got == want,
        "Go's dump of the copy differs from the original's"
    );
}

/// `mdb_load` and `mdb_dump`, or `None` (with a notice) when lmdb-utils is missing and not
/// required.
fn lmdb() -> Option<()> {
    let found = Command::new("mdb_load").arg("-V").output().is_ok()
        && Command::new("mdb_dump").arg("-V").output().is_ok();
    if found {
        return Some(());
    }
    if std::env::var("RBOLT_REQUIRE_LMDB").is_ok_and(|v| v == "1") {
        panic!("mdb_load/mdb_dump not found and RBOLT_REQUIRE_LMDB=1: apt-get install lmdb-utils");
    }
    eprintln!(
        "notice: mdb_load not found (apt-get install lmdb-utils); skipping the LMDB round trip"
    );
    None
}

/// `mdb_load -n` of `dump` (fed on stdin, as in `rbolt export --format mdb | mdb_load`) into a
/// new environment file, then `mdb_dump -n -a` of it (with `-p` when `print`).
fn through_lmdb(fx: &Fx, dump: &str, env: &str, print: bool) -> String {
    use std::io::Write;
    let dir = fx.dir.path();
    let mut load = Command::new("mdb_load")
        .current_dir(dir)
        .args(["-n", env])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(fx.path(dump)).unwrap();
    load.stdin.take().unwrap().write_all(&text).unwrap();
    let o = load.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "mdb_load: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut c = Command::new("mdb_dump");
    c.current_dir(dir).args(["-n", "-a"]);
    if print {
        c.arg("-p");
    }
    let o = c.arg(env).output().unwrap();
    assert!(
        o.status.success(),
        "mdb_dump: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn lmdb_round_trip_dumps_identically() {
    if lmdb().is_none() {
        return;
    }
    let fx = Fx::new();
    rich(&fx);
    for (format, print) in [("mdb", false), ("mdb-print", false), ("mdb", true)] {
        let tag = format!("{format}-{print}");
        ok(&run(
            &fx,
            &[
                "export",
                "--format",
                format,
                "fx.db",
                "-o",
                &format!("{tag}.dump"),
            ],
        ));
        let first = through_lmdb(&fx, &format!("{tag}.dump"), &format!("{tag}.env1"), print);
        std::fs::write(fx.path(&format!("{tag}.lmdb")), &first).unwrap();
        // LMDB's dump back into bbolt...
        let back = format!("{tag}.db");
        ok(&run(
            &fx,
            &[
                "import",
                "--format",
                "mdb",
                "-i",
                &format!("{tag}.lmdb"),
                &back,
            ],
        ));
        assert_consistent_in_go_too(&fx.path(&back));
        // ...holds what the original holds: LMDB keeps no sequences, so those are all.
        let diff = run(&fx, &["diff", "fx.db", &back]);
        let rest: Vec<&str> = diff
            .lines()
            .skip(3)
            .filter(|l| !l.contains(" sequence "))
            .collect();
        assert!(
            diff.starts_with("exit: 1") && rest.is_empty(),
            "{tag}: {diff}"
        );
        // ...and LMDB dumps it identically.
        ok(&run(
            &fx,
            &[
                "export",
                "--format",
                format,
                &back,
                "-o",
                &format!("{tag}.dump2"),
            ],
        ));
        let second = through_lmdb(&fx, &format!("{tag}.dump2"), &format!("{tag}.env2"), print);
        same_dump(&first, &second, &tag);
    }
}

/// Random trees of buckets (binary and text names with `/` and `\`, sequences, empty buckets)
/// and pairs (empty, binary, text, multi-page values) survive every format exactly. Prints its
/// seed; `RBOLT_SEED` replays one, `RBOLT_ROUNDTRIP_CASES` runs more.
#[test]
fn random_trees_round_trip_through_every_format() {
    use rbolt_testkit::rng::{Rng, env_count, fresh_seed};
    let seed = fresh_seed();
    eprintln!("round-trip seed: RBOLT_SEED={seed}");
    let mut rng = Rng::new(seed);
    let alphabet: &[u8] = b"ab/\\ \x00\xff\n\"%{}\xc3\xa9";
    let word = |rng: &mut Rng, min: usize| -> Vec<u8> {
        let n = rng.range(min as u64, 12) as usize;
        if rng.chance(0.3) {
            rng.bytes(n)
        } else {
            (0..n).map(|_| *rng.pick(alphabet)).collect()
        }
    };
    for case in 0..env_count("RBOLT_ROUNDTRIP_CASES", 4) {
        let fx = Fx::new();
        let db = rbolt::Options::new().open(fx.path("r.db")).unwrap();
        db.update(|tx| {
            let mut buckets = Vec::new();
            for _ in 0..rng.range(1, 6) {
                let b = tx.create_bucket_if_not_exists(word(&mut rng, 1))?;
                buckets.push(b);
            }
            for _ in 0..rng.range(0, 8) {
                let parent = buckets[rng.index(buckets.len())];
                let name = word(&mut rng, 1);
                if parent.get(&name)?.is_none() {
                    let b = parent.create_bucket_if_not_exists(&name)?;
                    b.set_sequence(rng.next_u64() >> rng.below(64))?;
                    buckets.push(b);
                }
            }
            for _ in 0..rng.range(0, 300) {
                let b = buckets[rng.index(buckets.len())];
                let key = word(&mut rng, 1);
                let value = if rng.chance(0.02) {
                    let n = rng.range(4000, 20000) as usize;
                    rng.bytes(n)
                } else {
                    word(&mut rng, 0)
                };
                if b.bucket(&key)?.is_none() {
                    b.put(&key, &value)?;
                }
            }
            Ok(())
        })
        .unwrap();
        drop(db);
        for format in ["jsonl", "mdb", "mdb-print"] {
            let what = format!("seed {seed} case {case} {format}");
            let dump = format!("r.{format}");
            let copy = format!("r-{format}.db");
            ok(&run(
                &fx,
                &["export", "--format", format, "r.db", "-o", &dump],
            ));
            ok(&run(
                &fx,
                &["import", "--format", format, "-i", &dump, &copy],
            ));
            let diff = run(&fx, &["diff", "r.db", &copy]);
            assert_eq!(diff, "exit: 0\nstderr: \n--- stdout\n", "{what}");
        }
        crate::written::assert_consistent(&fx.path("r-jsonl.db"));
    }
}
