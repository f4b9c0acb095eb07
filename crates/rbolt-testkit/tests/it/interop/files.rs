//! Fixed edge files from `tests/data` and byte-identical fresh files.

use super::processes::{Writer, apply_with};
use super::*;

// ------------------------------------------------------------------------------------------
// 5. Fixed edge files
// ------------------------------------------------------------------------------------------

fn data_dir() -> PathBuf {
    repo_root().join("tests/data")
}

/// Copies (or gunzips) `tests/data/NAME` into `dir` and returns the copy's path.
fn data_copy(name: &str, dir: &Path) -> PathBuf {
    let src = data_dir().join(name);
    let dst = dir.join(name.trim_end_matches(".gz"));
    if name.ends_with(".gz") {
        let f = std::fs::File::open(&src).unwrap_or_else(|e| panic!("open {name}: {e}"));
        let mut out = std::fs::File::create(&dst).expect("create copy");
        std::io::copy(&mut flate2::read::GzDecoder::new(f), &mut out)
            .unwrap_or_else(|e| panic!("gunzip {name}: {e}"));
    } else {
        std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    dst
}

fn data_dump(name: &str) -> String {
    let base = name.trim_end_matches(".gz").trim_end_matches(".db");
    std::fs::read_to_string(data_dir().join(format!("{base}.dump")))
        .unwrap_or_else(|e| panic!("read {base}.dump: {e}"))
}

fn must(r: Result<(), String>, what: &str) {
    if let Err(e) = r {
        panic!("{what}: {e}");
    }
}

/// Reads a fixed file with rbolt (check + dump), then writes to it with rbolt and has Go
/// check and dump the result. Returns the file's meta after the write.
fn edge_file(go: &Path, name: &str, page_size: usize, expect_txid: u64) -> Meta {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = data_copy(name, dir.path());
    let expected = data_dump(name);
    {
        let ro = Options::new()
            .read_only(true)
            .open(&db)
            .expect("rbolt opens");
        assert_eq!(ro.page_size(), page_size, "{name}: page size");
        let tx = ro.begin_read().expect("begin read");
        assert_eq!(
            tx.id().get(),
            expect_txid,
            "{name}: opened at the wrong txid"
        );
        let problems = tx.check();
        assert!(problems.is_empty(), "{name}: rbolt check: {problems:?}");
    }
    must(
        same_dump(
            &format!("{name}: rbolt dump vs .dump"),
            &expected,
            &rbolt_dump(&db).unwrap(),
        ),
        name,
    );
    let out = run_ok(
        "rbolt-script check",
        RBOLT_SCRIPT.as_ref(),
        &["check", s(&db)],
    );
    assert_eq!(out.as_deref(), Ok("OK\n"), "{name}: rbolt-script check");

    // rbolt writes on top (a copy, never the committed file); Go must accept the result.
    let mut model = Model::from_dump(&expected).expect("parse .dump");
    let mut g = Generator::with_model(derive_seed(master_seed(), expect_txid), page_size, model);
    g.put(&[b"rbolt-was-here".to_vec()], b"k", b"v");
    g.random_op();
    g.random_op();
    g.commit();
    let ops = g.take_script();
    model = g.model().clone();
    script::apply_file(&db, &ops, None, false).expect("rbolt writes on the fixed file");
    let after = meta(&db);
    assert_eq!(
        after.txid.get(),
        expect_txid + 1,
        "{name}: one commit after opening"
    );
    must(rbolt_check(&db), name);
    must(go_check(go, &db), &format!("{name} after rbolt wrote"));
    let go_dump = run_ok("Go dump", go, &["dump", s(&db)]).unwrap_or_else(|e| panic!("{e}"));
    must(
        same_dump(
            &format!("{name}: Go dump after rbolt wrote"),
            &model.dump(),
            &go_dump,
        ),
        name,
    );
    after
}

#[test]
fn edge_file_empty_4k() {
    let go = require_go!();
    let m = edge_file(go, "empty-4k.db", 4096, 1);
    assert_eq!(m.page_size, 4096);
}

#[test]
fn edge_file_small_1k() {
    let go = require_go!();
    edge_file(go, "small-1k.db", 1024, 4);
}

#[test]
fn edge_file_small_64k() {
    let go = require_go!();
    edge_file(go, "small-64k.db.gz", 65536, 3);
}

#[test]
fn edge_file_freelist_overflow_1k() {
    let go = require_go!();
    // The committed file's freelist is in the 0xFFFF-count form...
    let dir = tempfile::tempdir().expect("temp dir");
    let db = data_copy("freelist-overflow-1k.db.gz", dir.path());
    let m = meta(&db);
    let bytes = std::fs::read(&db).expect("read");
    let count_at = |m: &Meta| read_u16(&bytes, m.freelist.get() as usize * 1024 + 10);
    assert_eq!(
        count_at(&m),
        Some(FREELIST_COUNT_OVERFLOW),
        "fixture freelist form"
    );
    drop(bytes);
    // ...rbolt reads it, and after an rbolt commit the freelist rbolt wrote must be in that
    // form too (it holds > 64K ids) and Go must accept it.
    let after = edge_file(go, "freelist-overflow-1k.db.gz", 1024, m.txid.get());
    assert_ne!(after.freelist, PGID_NO_FREELIST);
    // `edge_file` wrote to its own copy; check the form on a fresh one written the same way.
    let db2 = data_copy("freelist-overflow-1k.db.gz", dir.path());
    script::apply_file(&db2, "put 6b656570 7a 7a\n", None, false).expect("rbolt write");
    let m2 = meta(&db2);
    let bytes = std::fs::read(&db2).expect("read");
    assert_eq!(
        read_u16(&bytes, m2.freelist.get() as usize * 1024 + 10),
        Some(FREELIST_COUNT_OVERFLOW),
        "rbolt's freelist with > 0xFFFF ids uses the overflow count form"
    );
    must(
        go_check(go, &db2),
        "Go check after rbolt rewrote the big freelist",
    );
}

#[test]
fn edge_file_corrupt_newest_meta() {
    let go = require_go!();
    // The fixture: meta 0 says txid 4 but its checksum is broken; meta 1 holds txid 3.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = data_copy("corrupt-newest-meta.db", dir.path());
    let bytes = std::fs::read(&db).expect("read");
    assert!(Meta::decode(&bytes).is_err(), "fixture: meta 0 is corrupt");
    assert_eq!(Meta::decode_unverified(&bytes).map(|m| m.txid.get()), Ok(4));
    assert_eq!(Meta::decode(&bytes[4096..]).map(|m| m.txid.get()), Ok(3));
    drop(bytes);
    // rbolt opens at txid 3 (like bbolt), sees the txid-3 state, and its next commit (txid 4)
    // replaces the corrupt meta so Go reads the new state.
    edge_file(go, "corrupt-newest-meta.db", 4096, 3);
}

#[test]
fn fixed_files_are_what_their_readme_says() {
    // The committed files themselves pass Go's check and dump as committed.
    let go = require_go!();
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [
        "empty-4k.db",
        "small-1k.db",
        "small-64k.db.gz",
        "freelist-overflow-1k.db.gz",
        "corrupt-newest-meta.db",
    ] {
        let db = data_copy(name, dir.path());
        must(go_check(go, &db), name);
        let go_dump = run_ok("Go dump", go, &["dump", s(&db)]).unwrap_or_else(|e| panic!("{e}"));
        must(same_dump(name, &data_dump(name), &go_dump), name);
    }
}

// ------------------------------------------------------------------------------------------
// 6. A fresh file's first four pages are bbolt's, byte for byte
// ------------------------------------------------------------------------------------------

#[test]
fn fresh_file_first_four_pages_match_bbolt() {
    let go = require_go!();
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.ops");
    std::fs::write(&empty, "").expect("write empty ops");
    // (page size flag, expected page size, no-freelist-sync)
    let cases: [(Option<usize>, usize, bool); 7] = [
        (None, 4096, false),
        (Some(1024), 1024, false),
        (Some(4096), 4096, false),
        (Some(8192), 8192, false),
        (Some(16384), 16384, false),
        (Some(65536), 65536, false),
        (Some(4096), 4096, true),
    ];
    for (i, (flag, ps, nfs)) in cases.into_iter().enumerate() {
        let go_db = dir.path().join(format!("go-{i}.db"));
        let rb_db = dir.path().join(format!("rb-{i}.db"));
        let rb_bin_db = dir.path().join(format!("rb-bin-{i}.db"));
        let mut flags = Vec::new();
        if let Some(p) = flag {
            flags.extend(["--page-size".to_string(), p.to_string()]);
        }
        if nfs {
            flags.push("--no-freelist-sync".into());
        }
        let args = |db: &Path| {
            let mut a = vec!["apply".to_string()];
            a.extend(flags.iter().cloned());
            a.extend([s(&empty).to_string(), s(db).to_string()]);
            a
        };
        let as_str = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
        run_ok(
            "Go apply",
            go,
            &args(&go_db).iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        run_ok(
            "rbolt-script apply",
            RBOLT_SCRIPT.as_ref(),
            &args(&rb_bin_db)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        script::apply_file(&rb_db, "", flag, nfs).expect("rbolt apply_file");
        let go_bytes = std::fs::read(&go_db).expect("read go db");
        assert!(go_bytes.len() >= 4 * ps, "Go file shorter than 4 pages");
        for rb in [&rb_db, &rb_bin_db] {
            let rb_bytes = std::fs::read(rb).expect("read rbolt db");
            assert!(rb_bytes.len() >= 4 * ps, "rbolt file shorter than 4 pages");
            if let Some(off) = (0..4 * ps).find(|&o| go_bytes[o] != rb_bytes[o]) {
                panic!(
                    "fresh file ({}): first difference at byte {off} (page {}, offset {}): Go {:#04x}, rbolt {:#04x}",
                    as_str(&args(rb)),
                    off / ps,
                    off % ps,
                    go_bytes[off],
                    rb_bytes[off]
                );
            }
        }
        if ps == 4096 && !nfs {
            // And both equal the committed fixture (golden meta checksums).
            let fixture = std::fs::read(data_dir().join("empty-4k.db")).expect("read fixture");
            assert_eq!(&fixture[..4 * ps], &go_bytes[..4 * ps], "Go vs empty-4k.db");
        }
    }
}

/// The dumps compare hex; make sure the model's and the tools' idea of hex agree on a value
/// with every byte (a cheap guard against a test that compares two wrong things).
#[test]
fn every_byte_value_round_trips() {
    let go = require_go!();
    let dir = tempfile::tempdir().expect("temp dir");
    let all: Vec<u8> = (0..=255).collect();
    let path = vec![all[1..].to_vec(), vec![0]];
    let mut m = Model::new();
    m.put(&path, &all[1..], &all).expect("model put");
    m.put(&path, &[0], &[]).expect("model put");
    let ops = format!(
        "put {p} {k} {v}\nput {p} 00\n",
        p = path_hex(&path),
        k = hex(&all[1..]),
        v = hex(&all)
    );
    for (who, db) in [(Writer::Go, "go.db"), (Writer::Rbolt, "rb.db")] {
        let db = dir.path().join(db);
        apply_with(go, who, &ops, dir.path(), &db, 4096, false).unwrap_or_else(|e| panic!("{e}"));
        let go_dump = run_ok("Go dump", go, &["dump", s(&db)]).unwrap_or_else(|e| panic!("{e}"));
        must(same_dump("Go", &m.dump(), &go_dump), "every byte");
        must(
            same_dump("rbolt", &m.dump(), &rbolt_dump(&db).unwrap()),
            "every byte",
        );
    }
}

/// Minimal reproducer for the first rbolt bug this suite found: on a file written with
/// `--no-freelist-sync` (meta freelist = `PGID_NO_FREELIST`), rbolt's `check` reports every
/// free page as "page N: unreachable unfreed", while bbolt's `Tx.Check` rebuilds the free set
/// by walking the tree (`db.freepages`) and says OK. Same for files either tool wrote.
#[test]
fn rbolt_check_accepts_no_freelist_sync_files() {
    let go = require_go!();
    let dir = tempfile::tempdir().expect("temp dir");
    let ops = "put 61 6b 76\ncommit\nput 61 6b 77\n";
    let mut p = Problems::default();
    for (who, name) in [(Writer::Go, "go.db"), (Writer::Rbolt, "rb.db")] {
        let db = dir.path().join(name);
        apply_with(go, who, ops, dir.path(), &db, 4096, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            meta(&db).freelist,
            PGID_NO_FREELIST,
            "{who:?}: no freelist written"
        );
        must(go_check(go, &db), &format!("{who:?}-written: Go check"));
        p.note(rbolt_check(&db).map_err(|e| format!("{who:?}-written: {e}")));
    }
    must(p.into_result(), "rbolt check of no-freelist-sync files");
}

/// A file written without a freelist, opened read-write *without* the option by the other
/// tool, gets a freelist at once (one empty commit), as bbolt does; the first tool reads it.
#[test]
fn no_freelist_sync_file_gets_a_freelist_on_plain_open() {
    let go = require_go!();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = Generator::new(derive_seed(master_seed(), 0x60_0004), 4096);
    g.fill_and_merge();
    let ops = g.take_script();
    let expected = g.model().dump();
    for (first, second) in [(Writer::Go, Writer::Rbolt), (Writer::Rbolt, Writer::Go)] {
        let db = dir.path().join(format!("{first:?}.db"));
        apply_with(go, first, &ops, dir.path(), &db, 4096, true).unwrap_or_else(|e| panic!("{e}"));
        let before = meta(&db);
        assert_eq!(
            before.freelist, PGID_NO_FREELIST,
            "{first:?} wrote no freelist"
        );
        // An empty op file: open read-write, no ops, close.
        apply_with(go, second, "", dir.path(), &db, 4096, false).unwrap_or_else(|e| panic!("{e}"));
        let after = meta(&db);
        assert_eq!(
            after.txid.get(),
            before.txid.get() + 1,
            "{second:?} committed once on open"
        );
        assert_ne!(
            after.freelist, PGID_NO_FREELIST,
            "{second:?} wrote a freelist"
        );
        must(
            go_check(go, &db),
            &format!("{first:?} then {second:?}: Go check"),
        );
        must(
            rbolt_check(&db),
            &format!("{first:?} then {second:?}: rbolt check"),
        );
        for (who, dump) in [
            (
                "Go",
                run_ok("Go dump", go, &["dump", s(&db)]).unwrap_or_else(|e| panic!("{e}")),
            ),
            ("rbolt", rbolt_dump(&db).unwrap_or_else(|e| panic!("{e}"))),
        ] {
            must(
                same_dump(who, &expected, &dump),
                "dump after the freelist was written",
            );
        }
    }
}
