//! `--meta 0|1` and `--no-lock`: the read commands give the engine's output when read page
//! by page, read an older snapshot on request, and read a file another process holds.

use crate::fixtures::{Fx, LockHolder, go_helper, run};
use insta::assert_snapshot;

/// Every read command, as `(args)` with the file as `F`.
const READS: &[&[&str]] = &[
    &["info", "F"],
    &["info", "--json", "F"],
    &["buckets", "F"],
    &["buckets", "--json", "F"],
    &["keys", "F", "alpha"],
    &["keys", "F", "alpha", "nested"],
    &["keys", "--json", "F", "big"],
    &["get", "F", "alpha", "text"],
    &["get", "F", "alpha", "nested", "deep"],
    &["get", "F", "big", "huge"],
    &["get", "F", "alpha", "nope"],
    &["get", "F", "alpha", "nested"],
    &["keys", "F", "nope"],
    &["stats", "F"],
    &["stats", "F", "al"],
    &["stats", "--json", "F"],
    &["check", "F"],
    &["check", "--from-page", "3", "F"],
    &["pages", "F"],
    &["inspect", "F"],
];

fn with(args: &[&str], file: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args
        .iter()
        .map(|a| if *a == "F" { file } else { a }.to_string())
        .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_s(fx: &Fx, args: &[String]) -> String {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run(fx, &a)
}

#[test]
fn raw_reads_print_what_the_engine_prints() {
    let fx = Fx::new();
    fx.nested().meta1().no_freelist().damaged();
    let mut wrong = Vec::new();
    for file in ["fx.db", "meta1.db", "nofl.db", "damaged.db"] {
        let active = if file == "meta1.db" { "1" } else { "0" };
        for args in READS {
            let engine = run_s(&fx, &with(args, file, &[]));
            for extra in [&["--no-lock"][..], &["--meta", active]] {
                let raw = run_s(&fx, &with(args, file, extra));
                // On the damaged file the engine stops at the bad page and the raw read
                // goes past it; both must fail, with the same stdout when the engine works.
                let same = if engine.starts_with("exit: 1") && file == "damaged.db" {
                    raw.starts_with("exit: 1")
                } else {
                    raw == engine
                };
                if !same {
                    wrong.push(format!(
                        "{file}: {args:?} {extra:?}\n--- engine\n{}\n--- raw\n{}",
                        &engine[..engine.len().min(600)],
                        &raw[..raw.len().min(600)]
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn meta_reads_the_older_snapshot() {
    let fx = Fx::new();
    fx.nested().meta1();
    // meta1.db is fx.db plus one commit that added bucket `more`; meta 0 is fx.db's tree.
    let older = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--meta", "0", "meta1.db"]);
        run(&fx, &a)
    };
    for args in [&["buckets"][..], &["stats"], &["inspect"], &["keys", "big"]] {
        let mut a = args.to_vec();
        a.push("fx.db");
        assert_eq!(older(args), run(&fx, &a), "{args:?}");
    }
    assert!(run(&fx, &["buckets", "meta1.db"]).contains("more"));
    assert_snapshot!(older(&["keys", "more"]));
    assert_snapshot!(older(&["info", "--json"]));
    assert_snapshot!(older(&["check"]));
}

#[test]
fn meta_flag_errors() {
    let fx = Fx::new();
    fx.nested();
    assert_snapshot!(run(&fx, &["keys", "--meta", "2", "fx.db", "alpha"]));
    // A wiped meta page cannot be chosen, the other one still can.
    let mut bytes = std::fs::read(fx.path("fx.db")).unwrap();
    bytes[16..80].fill(0);
    std::fs::write(fx.path("wiped.db"), &bytes).unwrap();
    assert_snapshot!(run(&fx, &["keys", "--meta", "0", "wiped.db", "alpha"]));
    let m1 = run(&fx, &["keys", "--meta", "1", "wiped.db", "alpha"]);
    assert!(m1.starts_with("exit: 0"), "{m1}");
}

#[test]
fn no_lock_reads_a_file_held_by_another_process() {
    let fx = Fx::new();
    fx.nested();
    let Some(go) = go_helper() else { return };
    let holder = LockHolder::start(&go, &fx.path("fx.db"), false, 10);
    let locked = run(&fx, &["--timeout", "200ms", "keys", "fx.db", "alpha"]);
    let free = run(
        &fx,
        &["--timeout", "200ms", "keys", "--no-lock", "fx.db", "alpha"],
    );
    drop(holder);
    assert!(locked.contains("timeout"), "{locked}");
    assert_snapshot!(free);
}

/// On hostile files the pread check finds what the engine's check finds, line for line,
/// whenever the engine opens the file at all.
#[test]
fn raw_check_matches_the_engine_on_hostile_files() {
    let fx = Fx::new();
    fx.nested();
    let orig = std::fs::read(fx.path("fx.db")).unwrap();
    let seed = rbolt_testkit::rng::env_seed(0xc0ffee);
    let rounds = rbolt_testkit::rng::env_count("RBOLT_FORENSIC_ROUNDS", 40);
    eprintln!("raw check seed: RBOLT_SEED={seed}");
    let mut r = rbolt_testkit::rng::Rng::new(seed);
    let mut compared = 0;
    for round in 0..rounds {
        let mut img = orig.clone();
        let how = rbolt_testkit::hostile::mutate(&mut img, 4096, &mut r);
        std::fs::write(fx.path("h.db"), &img).unwrap();
        let engine = run(&fx, &["check", "h.db"]);
        // The engine refuses some files on open; only a check it ran compares.
        if !(engine.contains("errors found") || engine.contains("\nOK\n")) {
            continue;
        }
        let raw = run(&fx, &["check", "--no-lock", "h.db"]);
        assert_eq!(raw, engine, "round {round} (seed {seed}): {how}");
        compared += 1;
    }
    eprintln!("{compared} of {rounds} checks compared");
    assert!(compared > 0);
}
