use crate::fixtures::{Fx, rbolt, run, summary};
use crate::written::{assert_consistent, assert_consistent_in_go_too, contents};
use insta::assert_snapshot;

const SAMPLE: &str = r#"{"bucket":["users"],"seq":41}
{"bucket":["users"],"key":"alice","value":"{\"age\":30}"}
{"bucket":["users","a/b\\c"],"seq":0}
{"bucket":["users","a/b\\c"],"key":{"hex":"00ff"},"value":""}
{"bucket":["users"],"key":"bob","value":{"hex":"c328"}}
{"bucket":[{"hex":"ff00"}],"seq":0}

{"bucket":["implicit","parents"],"key":"k","value":"v"}
"#;

fn import(fx: &Fx, args: &[&str], stdin: &str) -> String {
    let o = rbolt(fx.dir.path())
        .arg("import")
        .args(args)
        .write_stdin(stdin)
        .output()
        .unwrap();
    summary(&o)
}

#[test]
fn import_jsonl_creates_the_file_buckets_and_sequences() {
    let fx = Fx::new();
    assert_snapshot!(import(&fx, &["new.db"], SAMPLE));
    assert_snapshot!(contents(&fx, "new.db"));
    assert_snapshot!(run(&fx, &["seq", "get", "new.db", "users"]));
    assert_snapshot!(run(&fx, &["export", "new.db"]));
    assert_consistent_in_go_too(&fx.path("new.db"));
}

#[test]
fn import_no_overwrite_keeps_keys_and_sequences() {
    let fx = Fx::new();
    import(&fx, &["new.db"], SAMPLE);
    let again = "{\"bucket\":[\"users\"],\"seq\":1}\n{\"bucket\":[\"users\"],\"key\":\"alice\",\"value\":\"new\"}\n{\"bucket\":[\"users\"],\"key\":\"carol\",\"value\":\"c\"}\n";
    assert_snapshot!(import(&fx, &["--no-overwrite", "new.db"], again));
    assert_snapshot!(run(&fx, &["ls", "--values", "new.db", "users"]));
    assert_snapshot!(run(&fx, &["seq", "get", "new.db", "users"]));
    assert_snapshot!(import(&fx, &["new.db"], again));
    assert_snapshot!(run(&fx, &["ls", "--values", "new.db", "users"]));
    assert_consistent(&fx.path("new.db"));
}

#[test]
fn import_batches_by_tx_max_size_and_fills_pages() {
    let fx = Fx::new();
    fx.nested();
    run(&fx, &["export", "fx.db", "-o", "fx.jsonl"]);
    assert_snapshot!(run(
        &fx,
        &[
            "import",
            "--tx-max-size",
            "10KiB",
            "-i",
            "fx.jsonl",
            "small.db"
        ]
    ));
    assert_snapshot!(run(
        &fx,
        &[
            "import",
            "--tx-max-size",
            "0",
            "--fill-percent",
            "1.0",
            "-i",
            "fx.jsonl",
            "packed.db"
        ]
    ));
    assert_snapshot!(run(&fx, &["diff", "fx.db", "small.db"]));
    assert_snapshot!(run(&fx, &["diff", "fx.db", "packed.db"]));
    assert_consistent_in_go_too(&fx.path("small.db"));
    assert_consistent_in_go_too(&fx.path("packed.db"));
    let pages = |name: &str| {
        let db = rbolt::Options::new()
            .read_only(true)
            .open(fx.path(name))
            .unwrap();
        let tx = db.begin_read().unwrap();
        tx.bucket(b"big")
            .unwrap()
            .unwrap()
            .stats()
            .unwrap()
            .leaf_page_n
    };
    assert!(
        pages("packed.db") < pages("small.db"),
        "fill percent 1.0 packs leaves"
    );
}

#[test]
fn import_errors_name_the_line() {
    let fx = Fx::new();
    for (name, input) in [
        ("not json", "{\"bucket\":[\"a\"],\"seq\":0}\nnope\n"),
        ("no bucket", "{\"key\":\"k\",\"value\":\"v\"}\n"),
        (
            "top level",
            "{\"bucket\":[],\"key\":\"k\",\"value\":\"v\"}\n",
        ),
        (
            "bad hex",
            "{\"bucket\":[\"a\"],\"key\":{\"hex\":\"0\"},\"value\":\"v\"}\n",
        ),
        (
            "key is a bucket",
            "{\"bucket\":[\"a\",\"b\"],\"seq\":0}\n{\"bucket\":[\"a\"],\"key\":\"b\",\"value\":\"v\"}\n",
        ),
        (
            "bucket is a key",
            "{\"bucket\":[\"a\"],\"key\":\"b\",\"value\":\"v\"}\n{\"bucket\":[\"a\",\"b\"],\"seq\":0}\n",
        ),
        ("empty name", "{\"bucket\":[\"\"],\"seq\":0}\n"),
        ("bad seq", "{\"bucket\":[\"a\"],\"seq\":-1}\n"),
    ] {
        let db = format!("{}.db", name.replace(' ', "_"));
        let out = import(&fx, &[&db], input);
        let tag = name.replace(' ', "_");
        assert_snapshot!(tag.clone(), out);
        // One transaction: nothing of a failed import was written, not even an empty file.
        assert_snapshot!(format!("{tag}_after"), run(&fx, &["ls", "-r", &db]));
    }
    assert_snapshot!(import(&fx, &["--tx-max-size", "lots", "x.db"], ""));
    assert_snapshot!(import(&fx, &["--fill-percent", "2", "x.db"], ""));
    assert_snapshot!(run(&fx, &["import", "-i", "missing.jsonl", "x.db"]));
    assert!(!fx.path("x.db").exists());
}

#[test]
fn import_keeps_committed_batches_before_an_error() {
    let fx = Fx::new();
    let mut input = String::from("{\"bucket\":[\"b\"],\"seq\":0}\n");
    for i in 0..10 {
        input.push_str(&format!(
            "{{\"bucket\":[\"b\"],\"key\":\"k{i}\",\"value\":\"0123456789\"}}\n"
        ));
    }
    input.push_str("broken\n");
    assert_snapshot!(import(&fx, &["--tx-max-size", "30", "b.db"], &input));
    assert_snapshot!(run(&fx, &["ls", "b.db", "b"]));
    assert_consistent(&fx.path("b.db"));
}

#[test]
fn import_mdb_errors() {
    let fx = Fx::new();
    let top = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 62\nDATA=END\n";
    assert_snapshot!(import(&fx, &["--format", "mdb", "a.db"], top));
    let dup = "VERSION=3\nformat=bytevalue\ndatabase=x\ndupsort=1\nHEADER=END\nDATA=END\n";
    assert_snapshot!(import(&fx, &["--format", "mdb", "a.db"], dup));
    let cut = "VERSION=3\nformat=print\ndatabase=x\nHEADER=END\n a\n";
    assert_snapshot!(import(&fx, &["--format", "mdb", "a.db"], cut));
    // mdb_dump -p leaves a backslash bare; `\\` and `\5c` both read as one.
    let lmdb = "VERSION=3\nformat=print\ndatabase=x\nHEADER=END\n a\\\\b\n c\\5cd\nDATA=END\n";
    assert_snapshot!(import(&fx, &["--format", "mdb", "b.db"], lmdb));
    assert_snapshot!(run(
        &fx,
        &["ls", "--values", "-f", "ascii-encoded", "b.db", "x"]
    ));
}

/// Damaged dumps (bytes flipped, lines cut) end in exit 0 or 1, never a crash, and leave a
/// consistent file or none. Prints its seed; `RBOLT_SEED` replays one.
#[test]
fn damaged_dumps_fail_cleanly() {
    use rbolt_testkit::rng::{Rng, fresh_seed};
    let seed = fresh_seed();
    eprintln!("damaged-dump seed: RBOLT_SEED={seed}");
    let mut rng = Rng::new(seed);
    let fx = Fx::new();
    fx.nested();
    for format in ["jsonl", "mdb", "mdb-print"] {
        let o = rbolt(fx.dir.path())
            .args(["export", "--format", format, "fx.db", "alpha"])
            .output()
            .unwrap();
        let good = o.stdout;
        for round in 0..8 {
            let mut bad = good.clone();
            for _ in 0..rng.range(1, 6) {
                let i = rng.index(bad.len());
                bad[i] = *rng.pick(b"\x00\n \\\"{}[]:,=0fzA\xff");
            }
            if rng.chance(0.3) {
                bad.truncate(rng.index(bad.len()));
            }
            let db = format!("d-{format}-{round}.db");
            let fmt = if format == "jsonl" { "jsonl" } else { "mdb" };
            let o = rbolt(fx.dir.path())
                .args(["import", "--format", fmt, &db])
                .write_stdin(bad)
                .timeout(std::time::Duration::from_secs(20))
                .output()
                .unwrap();
            let code = o.status.code();
            assert!(
                code == Some(0) || code == Some(1),
                "seed {seed} {format} round {round}: {:?} {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
            if fx.path(&db).exists() {
                assert_consistent(&fx.path(&db));
            }
        }
    }
}
