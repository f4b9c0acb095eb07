//! Interop with Go bbolt (issue 3): files cross over both ways, proven against the real bbolt
//! 1.3.6 through `interop/go` (`bbolt-interop`), with a model ([`Model`]) as a third opinion.
//!
//! Knobs (all optional):
//! - `RBOLT_INTEROP_SEED=N` — master seed (decimal or `0x` hex); printed by every test.
//! - `RBOLT_INTEROP_SCRIPTS=N` — scripts per direction (default 100).
//! - `RBOLT_INTEROP_ROUNDS=N` — rounds per file in the alternating-writers test (default 12).
//! - `RBOLT_INTEROP_ONLY=I` — run only script / file index `I` (to replay one failure).
//! - `RBOLT_REQUIRE_GO=1` or `CI` set — a Go helper that cannot be built fails the tests
//!   instead of skipping them.
//!
//! A failing script's op file is kept under `$CARGO_TARGET_TMPDIR/interop-failures/`; the
//! panic message says where and how to replay it with either tool.

use rbolt::Options;
use rbolt_format::{FREELIST_COUNT_OVERFLOW, Meta, PGID_NO_FREELIST, read_u16};
use rbolt_testkit::r#gen::{Coverage, Generator, Model, Script, derive_seed, path_hex};
use rbolt_testkit::script::{self, hex};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

// ------------------------------------------------------------------------------------------
// Locating the tools
// ------------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the Go helper once per process with `interop/go/build.sh`.
fn build_go() -> Result<PathBuf, String> {
    let script = repo_root().join("interop/go/build.sh");
    let out = Command::new("sh")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}):\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bin = PathBuf::from(stdout.lines().last().unwrap_or("").trim());
    if !bin.is_file() {
        return Err(format!(
            "build.sh succeeded but printed no binary path (stdout: {stdout:?})"
        ));
    }
    // A smoke test: a binary that cannot even print usage is as good as none.
    let probe = Command::new(&bin)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if probe.status.code() != Some(2) {
        return Err(format!(
            "{} without arguments exited {} (expected the usage exit code 2)",
            bin.display(),
            probe.status
        ));
    }
    Ok(bin)
}

/// The Go helper, or `None` after printing a SKIPPED notice. Panics instead when
/// `RBOLT_REQUIRE_GO=1` or `CI` is set: there the interop suite must not silently vanish.
fn go_bin() -> Option<&'static Path> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(build_go) {
        Ok(p) => Some(p),
        Err(why) => {
            let required = std::env::var("RBOLT_REQUIRE_GO").is_ok_and(|v| v == "1")
                || std::env::var_os("CI").is_some_and(|v| !v.is_empty());
            if required {
                panic!(
                    "\n########## Go bbolt unavailable (RBOLT_REQUIRE_GO=1 or CI is set) ##########\n\
                     {why}\n\
                     ##########################################################################"
                );
            }
            eprintln!("SKIPPED: Go bbolt unavailable: {why}");
            None
        }
    }
}

/// Evaluates to the Go helper's path, or returns from the test (after the notice).
macro_rules! require_go {
    () => {
        match go_bin() {
            Some(p) => p,
            None => return,
        }
    };
}

const RBOLT_SCRIPT: &str = env!("CARGO_BIN_EXE_rbolt-script");

fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

fn describe(what: &str, out: &Output) -> String {
    let cut = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let s = s.trim_end();
        if s.len() > 2000 {
            format!("{}…({} bytes)", &s[..s.floor_char_boundary(2000)], s.len())
        } else {
            s.to_string()
        }
    };
    format!(
        "{what}: {}\n  stdout: {}\n  stderr: {}",
        out.status,
        cut(&out.stdout),
        cut(&out.stderr)
    )
}

/// Runs a tool and returns its stdout, or an error describing how it failed.
fn run_ok(what: &str, bin: &Path, args: &[&str]) -> Result<String, String> {
    let out = run(bin, args);
    if !out.status.success() {
        return Err(describe(what, &out));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{what}: stdout is not UTF-8: {e}"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

// ------------------------------------------------------------------------------------------
// Checks shared by the tests
// ------------------------------------------------------------------------------------------

/// `Err` naming the first differing line (shortened) if two dumps differ.
fn same_dump(what: &str, expected: &str, actual: &str) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let short = |l: Option<&str>| match l {
        None => "<end of dump>".to_string(),
        Some(l) if l.len() > 160 => format!("{}…({} chars)", &l[..160], l.len()),
        Some(l) => l.to_string(),
    };
    let (mut e, mut a) = (expected.lines(), actual.lines());
    let mut n = 1;
    loop {
        let (x, y) = (e.next(), a.next());
        if x != y {
            return Err(format!(
                "{what}: dumps differ at line {n} ({} vs {} lines)\n  expected: {}\n  actual:   {}",
                expected.lines().count(),
                actual.lines().count(),
                short(x),
                short(y)
            ));
        }
        if x.is_none() {
            return Err(format!("{what}: dumps differ only in line endings"));
        }
        n += 1;
    }
}

/// Collects the outcome of independent checks, so one failing check does not hide another.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn note(&mut self, r: Result<(), String>) {
        if let Err(e) = r {
            self.0.push(e);
        }
    }

    fn into_result(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0.join("\n  "))
        }
    }
}

fn rbolt_check(path: &Path) -> Result<(), String> {
    let db = Options::new()
        .read_only(true)
        .open(path)
        .map_err(|e| format!("rbolt open for check: {e}"))?;
    let tx = db
        .begin_read()
        .map_err(|e| format!("rbolt begin_read: {e}"))?;
    let problems = tx.check();
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "rbolt check found {} problem(s):\n  {}",
        problems.len(),
        problems
            .iter()
            .take(20)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n  ")
    ))
}

fn go_check(go: &Path, path: &Path) -> Result<(), String> {
    let out = run(go, &["check", s(path)]);
    if out.status.success() && out.stdout == b"OK\n" {
        return Ok(());
    }
    Err(describe("Go check", &out))
}

fn rbolt_dump(path: &Path) -> Result<String, String> {
    script::dump_file(path).map_err(|e| format!("rbolt dump: {e:#}"))
}

/// The valid meta with the highest txid, as bbolt picks it.
fn meta(path: &Path) -> Meta {
    let bytes = std::fs::read(path).expect("read db file");
    let m0 = Meta::decode(&bytes).expect("meta 0 decodes");
    let ps = m0.page_size as usize;
    match Meta::decode(&bytes[ps..]) {
        Ok(m1) if m1.txid > m0.txid => m1,
        _ => m0,
    }
}

fn meta_checked(path: &Path) -> Result<Meta, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let metas: Vec<Meta> = [0usize, 1]
        .iter()
        .filter_map(|&i| {
            let ps = Meta::decode_unverified(&bytes).ok()?.page_size as usize;
            Meta::decode(bytes.get(i * ps..)?).ok()
        })
        .collect();
    metas
        .into_iter()
        .max_by_key(|m| m.txid)
        .ok_or_else(|| "no valid meta page".to_string())
}

// ------------------------------------------------------------------------------------------
// Seeds, counts, failure reports
// ------------------------------------------------------------------------------------------

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    let parsed = match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={v:?}: {e}")))
}

/// The run's master seed: `RBOLT_INTEROP_SEED`, or one drawn now (and printed).
fn master_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        env_u64("RBOLT_INTEROP_SEED").unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            derive_seed(t, u64::from(std::process::id()))
        })
    })
}

fn script_count() -> u64 {
    env_u64("RBOLT_INTEROP_SCRIPTS").unwrap_or(100)
}

/// Where failing cases are kept for the report.
fn failure_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-failures");
    std::fs::create_dir_all(&d).expect("create failure dir");
    d
}

/// Keeps a failing script's ops and returns a paragraph on how to replay it.
fn keep_failure(test: &str, tag: u64, sc: &Script, err: &str) -> String {
    let name = format!("{test}-seed{}-{}.ops", master_seed(), sc.index);
    let ops_path = failure_dir().join(&name);
    std::fs::write(&ops_path, &sc.ops).expect("write failing ops");
    std::fs::write(ops_path.with_extension("expected.dump"), &sc.expected)
        .expect("write expected dump");
    let flags = sc.apply_flags().join(" ");
    format!(
        "script #{idx} (seed {seed:#x}, page size {ps}, no-freelist-sync {nfs}, {ops} ops, {txs} txs)\n  \
         {err}\n  ops kept in {p}\n  replay: rbolt-script apply {flags} {p} /tmp/x.db   \
         (or bbolt-interop apply …), or RBOLT_INTEROP_SEED={m} RBOLT_INTEROP_ONLY={idx} (tag {tag})",
        idx = sc.index,
        seed = sc.seed,
        ps = sc.page_size,
        nfs = sc.no_freelist_sync,
        ops = sc.coverage.ops,
        txs = sc.coverage.txs,
        p = ops_path.display(),
        m = master_seed(),
    )
}

/// Runs `check` on `RBOLT_INTEROP_SCRIPTS` generated scripts on two worker threads, then
/// asserts every script passed, none was skipped, and together they covered every feature.
fn for_each_script(
    test: &str,
    tag: u64,
    check: impl Fn(&Script, &Path) -> Result<(), String> + Sync,
) {
    let master = master_seed();
    let only = env_u64("RBOLT_INTEROP_ONLY");
    let count = script_count();
    eprintln!(
        "interop {test}: master seed {master} ({count} scripts; replay with RBOLT_INTEROP_SEED={master})"
    );
    let indices: Vec<u64> = match only {
        Some(i) => vec![i],
        None => (0..count).collect(),
    };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let coverage = Mutex::new(Coverage::default());
    let (bytes, ops) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = indices.get(i) else { break };
                    let sc = Script::generate(master ^ tag, index);
                    let dir = tempfile::tempdir().expect("temp dir");
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        check(&sc, dir.path())
                    }))
                    .unwrap_or_else(|p| {
                        Err(format!(
                            "panicked: {}",
                            p.downcast_ref::<String>()
                                .map(String::as_str)
                                .or_else(|| p.downcast_ref::<&str>().copied())
                                .unwrap_or("?")
                        ))
                    });
                    if let Err(e) = r {
                        failures
                            .lock()
                            .expect("failures lock")
                            .push(keep_failure(test, tag, &sc, &e));
                    }
                    bytes.fetch_add(sc.ops.len(), Ordering::Relaxed);
                    ops.fetch_add(sc.coverage.ops, Ordering::Relaxed);
                    coverage.lock().expect("coverage lock").merge(&sc.coverage);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let cov = coverage.into_inner().expect("coverage lock");
    eprintln!(
        "interop {test}: {} scripts, {} txs, {} ops, {:.1} MiB of op text in {:.1?}",
        done.load(Ordering::Relaxed),
        cov.txs,
        ops.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed) as f64 / f64::from(1 << 20),
        started.elapsed()
    );
    let failures = failures.into_inner().expect("failures lock");
    assert!(
        failures.is_empty(),
        "interop {test}: {} of {} scripts failed (master seed {master}):\n\n{}",
        failures.len(),
        indices.len(),
        failures.join("\n\n")
    );
    assert_eq!(
        done.load(Ordering::Relaxed),
        indices.len(),
        "every script ran"
    );
    assert!(!indices.is_empty(), "RBOLT_INTEROP_SCRIPTS=0 runs nothing");
    if only.is_none() && count >= 24 {
        assert_eq!(
            cov.missing(),
            Vec::<&str>::new(),
            "interop {test}: the scripts did not cover every feature issue 3 lists"
        );
    } else {
        eprintln!("interop {test}: coverage not asserted for a partial run");
    }
}

// ------------------------------------------------------------------------------------------
// 1. Go writes, rbolt reads
// ------------------------------------------------------------------------------------------

#[test]
fn go_writes_rbolt_reads() {
    let go = require_go!();
    for_each_script("go-writes", 0x60_0001, |sc, dir| {
        let (ops, db) = (dir.join("ops"), dir.join("go.db"));
        std::fs::write(&ops, &sc.ops).map_err(|e| e.to_string())?;
        let mut args = vec!["apply"];
        let flags = sc.apply_flags();
        args.extend(flags.iter().map(String::as_str));
        args.extend([s(&ops), s(&db)]);
        run_ok("Go apply", go, &args)?;
        let mut p = Problems::default();
        let go_dump = run_ok("Go dump", go, &["dump", s(&db)])?;
        p.note(same_dump("Go dump vs model", &sc.expected, &go_dump));
        p.note(go_check(go, &db));
        // The rbolt side as a separate process, exactly the tool contract.
        p.note(
            run_ok(
                "rbolt-script dump",
                RBOLT_SCRIPT.as_ref(),
                &["dump", s(&db)],
            )
            .and_then(|rb| same_dump("rbolt dump vs Go dump", &go_dump, &rb)),
        );
        p.note(rbolt_check(&db));
        let m = meta_checked(&db)?;
        if m.page_size as usize != sc.page_size {
            p.note(Err(format!(
                "Go wrote page size {}, asked {}",
                m.page_size, sc.page_size
            )));
        }
        p.into_result()
    });
}

// ------------------------------------------------------------------------------------------
// 2. rbolt writes, Go reads
// ------------------------------------------------------------------------------------------

#[test]
fn rbolt_writes_go_reads() {
    let go = require_go!();
    for_each_script("rbolt-writes", 0x60_0002, |sc, dir| {
        let (ops, db) = (dir.join("ops"), dir.join("rbolt.db"));
        std::fs::write(&ops, &sc.ops).map_err(|e| e.to_string())?;
        let mut args = vec!["apply"];
        let flags = sc.apply_flags();
        args.extend(flags.iter().map(String::as_str));
        args.extend([s(&ops), s(&db)]);
        run_ok("rbolt-script apply", RBOLT_SCRIPT.as_ref(), &args)?;
        let mut p = Problems::default();
        p.note(rbolt_dump(&db).and_then(|d| same_dump("rbolt dump vs model", &sc.expected, &d)));
        p.note(go_check(go, &db));
        p.note(
            run_ok("Go dump", go, &["dump", s(&db)])
                .and_then(|d| same_dump("Go dump vs model", &sc.expected, &d)),
        );
        p.note(rbolt_check(&db));
        let m = meta_checked(&db)?;
        if m.page_size as usize != sc.page_size {
            p.note(Err(format!(
                "rbolt wrote page size {}, asked {}",
                m.page_size, sc.page_size
            )));
        }
        if sc.no_freelist_sync != (m.freelist == PGID_NO_FREELIST) {
            p.note(Err(format!(
                "no-freelist-sync {} but the meta's freelist is {:#x}",
                sc.no_freelist_sync, m.freelist
            )));
        }
        p.into_result()
    });
}

// ------------------------------------------------------------------------------------------
// 3. Alternating writers on one file
// ------------------------------------------------------------------------------------------

/// The bucket the alternating test uses to prove freed pages are reused across tools.
const PROBE: &[u8] = b"~reuse-probe";
/// Probe value size in pages.
const PROBE_PAGES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Writer {
    Go,
    Rbolt,
}

struct AltFile {
    label: &'static str,
    page_size: usize,
    /// `None`: always synced; `Some(p)`: each apply uses `--no-freelist-sync` with chance p
    /// (so files flip between the two forms, written by both tools).
    nfs_chance: Option<f64>,
}

fn apply_with(
    go: &Path,
    who: Writer,
    ops_text: &str,
    dir: &Path,
    db: &Path,
    page_size: usize,
    nfs: bool,
) -> Result<(), String> {
    let ops = dir.join("round.ops");
    std::fs::write(&ops, ops_text).map_err(|e| e.to_string())?;
    match who {
        Writer::Go => {
            let ps = page_size.to_string();
            let mut args = vec!["apply", "--page-size", &ps];
            if nfs {
                args.push("--no-freelist-sync");
            }
            args.extend([s(&ops), s(db)]);
            run_ok("Go apply", go, &args).map(drop)
        }
        Writer::Rbolt => script::apply_file(db, ops_text, Some(page_size), nfs)
            .map_err(|e| format!("rbolt apply: {e:#}")),
    }
}

/// One file extended alternately by Go and rbolt. Returns how many rounds of each writer
/// proved page reuse (probe put without growing the file's high-water mark).
fn alternate(go: &Path, file: &AltFile, seed: u64, rounds: usize) -> Result<[usize; 2], String> {
    use rand::Rng;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = dir.path().join("alt.db");
    let mut g = Generator::new(seed, file.page_size);
    g.protect(PROBE);
    let mut reuse = [0usize; 2];
    let mut check_failures = Vec::new();
    let probe = vec![PROBE.to_vec()];
    let probe_len = PROBE_PAGES * file.page_size - 64;
    for round in 0..rounds {
        let who = if round % 2 == 0 {
            Writer::Go
        } else {
            Writer::Rbolt
        };
        let nfs = file.nfs_chance.is_some_and(|p| g.rng().random_bool(p));
        let ctx = |e: String| {
            format!(
                "{} round {round} ({who:?} writes, nfs {nfs}): {e}",
                file.label
            )
        };

        // (a) Put the probe value: only pages the other tool freed last round may be used.
        let before = (round > 0).then(|| meta(&db));
        let v: Vec<u8> = (0..probe_len).map(|i| (i * 7 + round) as u8).collect();
        g.put(&probe, b"p", &v);
        let ops = g.take_script();
        apply_with(go, who, &ops, dir.path(), &db, file.page_size, nfs).map_err(ctx)?;
        if let Some(before) = before {
            let after = meta(&db);
            if after.txid <= before.txid {
                return Err(ctx(format!(
                    "txid did not advance: {} -> {}",
                    before.txid, after.txid
                )));
            }
            // rbolt may also lower the high-water mark (it trims free pages at the end of
            // the file); only growth means the other tool's frees were not reused.
            if after.pgid <= before.pgid {
                reuse[who as usize] += 1;
            } else {
                eprintln!(
                    "{}: round {round} ({who:?}): probe put grew the high-water mark {} -> {}",
                    file.label, before.pgid, after.pgid
                );
            }
        }

        // (b) Random episodes, then free the probe and a bigger padding value for the other
        // tool to reuse next round.
        g.reset_big_budget();
        for _ in 0..g.rng().random_range(1..=3) {
            g.random_episode();
        }
        for _ in 0..g.rng().random_range(5..=30) {
            g.random_op();
        }
        g.commit();
        let pad = vec![0x5a; probe_len + 8 * file.page_size];
        g.put(&probe, b"pad", &pad);
        g.commit();
        g.del(&probe, b"p");
        g.del(&probe, b"pad");
        let ops = g.take_script();
        apply_with(go, who, &ops, dir.path(), &db, file.page_size, nfs).map_err(|e| {
            let kept = failure_dir().join(format!("alternate-{}-round{round}.ops", file.label));
            let _ = std::fs::write(&kept, &ops);
            ctx(format!("{e}\n  ops kept in {}", kept.display()))
        })?;

        // Both tools agree with the model, and both checks are clean. A failing check is
        // recorded and the rounds go on (later rounds still test reading and writing); a
        // dump that differs from the model ends the file.
        let expected = g.model().dump();
        go_check(go, &db).map_err(ctx)?;
        let go_dump = run_ok("Go dump", go, &["dump", s(&db)]).map_err(ctx)?;
        same_dump("Go dump vs model", &expected, &go_dump).map_err(ctx)?;
        same_dump(
            "rbolt dump vs model",
            &expected,
            &rbolt_dump(&db).map_err(ctx)?,
        )
        .map_err(ctx)?;
        if let Err(e) = rbolt_check(&db) {
            check_failures.push(ctx(e));
        }
    }
    if check_failures.is_empty() {
        Ok(reuse)
    } else {
        Err(format!(
            "{} of {rounds} rounds failed rbolt's check (all else passed):\n{}",
            check_failures.len(),
            check_failures.join("\n")
        ))
    }
}

#[test]
fn alternating_writers() {
    let go = require_go!();
    let rounds = env_u64("RBOLT_INTEROP_ROUNDS").unwrap_or(12) as usize;
    assert!(rounds >= 2, "RBOLT_INTEROP_ROUNDS must be at least 2");
    let master = master_seed();
    eprintln!("interop alternating: master seed {master}, {rounds} rounds per file");
    let files = [
        AltFile {
            label: "4k",
            page_size: 4096,
            nfs_chance: None,
        },
        AltFile {
            label: "16k",
            page_size: 16384,
            nfs_chance: None,
        },
        AltFile {
            label: "4k-nfs-mixed",
            page_size: 4096,
            nfs_chance: Some(0.6),
        },
    ];
    let only = env_u64("RBOLT_INTEROP_ONLY").map(|i| i as usize);
    let results: Vec<(usize, Result<[usize; 2], String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .enumerate()
            .filter(|(i, _)| only.is_none_or(|o| o == *i))
            .map(|(i, f)| {
                let seed = derive_seed(master ^ 0x60_0003, i as u64);
                (i, scope.spawn(move || alternate(go, f, seed, rounds)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(i, h)| (i, h.join().unwrap_or_else(|_| Err("panicked".into()))))
            .collect()
    });
    assert!(!results.is_empty(), "RBOLT_INTEROP_ONLY selected no file");
    let mut errors = Vec::new();
    for (i, r) in &results {
        match r {
            Ok([go_reuse, rb_reuse]) => {
                eprintln!(
                    "interop alternating {}: {rounds} rounds clean; probe reuse proven in {go_reuse} Go and {rb_reuse} rbolt rounds",
                    files[*i].label
                );
                // Every round after the first must put the probe without growing the file:
                // the other tool's frees are reused.
                let (go_rounds, rb_rounds) = ((rounds - 1) / 2, rounds / 2);
                if *go_reuse != go_rounds || *rb_reuse != rb_rounds {
                    errors.push(format!(
                        "{}: pages freed by the other tool were not reused: probe fit in {go_reuse}/{go_rounds} Go rounds and {rb_reuse}/{rb_rounds} rbolt rounds",
                        files[*i].label
                    ));
                }
            }
            Err(e) => errors.push(format!("file #{i}: {e}")),
        }
    }
    assert!(
        errors.is_empty(),
        "alternating writers (master seed {master}; replay with RBOLT_INTEROP_SEED={master} RBOLT_INTEROP_ONLY=<file #>):\n{}",
        errors.join("\n")
    );
}

// ------------------------------------------------------------------------------------------
// 4. Locking
// ------------------------------------------------------------------------------------------

/// A `bbolt-interop lockhold` child, killed on drop.
struct Holder(Child);

impl Holder {
    /// Starts `lockhold` and waits until it reports the lock as held.
    fn start(go: &Path, db: &Path, read_only: bool) -> Holder {
        let mut args = vec!["lockhold"];
        if read_only {
            args.push("--read-only");
        }
        args.extend([s(db), "30"]);
        let mut child = Command::new(go)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lockhold");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read lockhold stdout");
        if line.trim() != "locked" {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("lockhold did not report the lock (said {line:?}; stderr {err:?})");
        }
        Holder(child)
    }

    fn release(mut self) {
        self.0.kill().expect("kill lockhold");
        self.0.wait().expect("wait for lockhold");
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn expect_timeout(what: &str, opts: Options, db: &Path) {
    let t0 = Instant::now();
    match opts.open(db) {
        Err(rbolt::Error::Timeout) => {}
        Err(e) => panic!("{what}: expected Error::Timeout, got {e}"),
        Ok(_) => panic!("{what}: opened although the lock is held"),
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(10),
        "{what}: timed out after {took:?} with a 300 ms timeout"
    );
}

fn go_tryopen(go: &Path, db: &Path, read_only: bool) -> &'static str {
    let mut args = vec!["tryopen"];
    if read_only {
        args.push("--read-only");
    }
    args.extend([s(db), "300"]);
    let out = run(go, &args);
    match (out.status.code(), out.stdout.as_slice()) {
        (Some(0), b"ok\n") => "ok",
        (Some(3), b"timeout\n") => "timeout",
        _ => panic!("{}", describe("Go tryopen", &out)),
    }
}

#[test]
fn locking_both_directions() {
    let go = require_go!();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("lock.db");
    script::apply_file(&db, "put 61 6b 76\n", Some(4096), false).expect("create db");
    let t300 = Duration::from_millis(300);

    // Go holds the file read-write: rbolt times out, read-write and read-only.
    let h = Holder::start(go, &db, false);
    expect_timeout("rbolt rw vs Go rw", Options::new().timeout(t300), &db);
    expect_timeout(
        "rbolt ro vs Go rw",
        Options::new().read_only(true).timeout(t300),
        &db,
    );
    h.release();
    // ... and the lock really was the reason: once Go is gone, rbolt opens.
    drop(
        Options::new()
            .timeout(Duration::from_secs(5))
            .open(&db)
            .expect("rbolt opens once Go released the lock"),
    );

    // rbolt holds the file read-write: Go times out, read-write and read-only.
    let held = Options::new().open(&db).expect("rbolt open rw");
    assert_eq!(go_tryopen(go, &db, false), "timeout", "Go rw vs rbolt rw");
    assert_eq!(go_tryopen(go, &db, true), "timeout", "Go ro vs rbolt rw");
    drop(held);
    assert_eq!(go_tryopen(go, &db, false), "ok", "Go rw after rbolt closed");

    // Two read-only opens coexist, in both orders; a writer is kept out by either.
    let h = Holder::start(go, &db, true);
    let ro = Options::new()
        .read_only(true)
        .timeout(Duration::from_secs(5))
        .open(&db)
        .expect("rbolt ro while Go ro holds the file");
    let v = ro
        .view(|tx| {
            let b = tx.bucket(b"a")?.ok_or(rbolt::Error::BucketNotFound)?;
            Ok(b.get(b"k")?.map(<[u8]>::to_vec))
        })
        .expect("read while shared");
    assert_eq!(v.as_deref(), Some(&b"v"[..]));
    expect_timeout(
        "rbolt rw vs Go ro + rbolt ro",
        Options::new().timeout(t300),
        &db,
    );
    h.release();
    assert_eq!(go_tryopen(go, &db, true), "ok", "Go ro while rbolt ro");
    assert_eq!(go_tryopen(go, &db, false), "timeout", "Go rw vs rbolt ro");
    drop(ro);
    assert_eq!(
        go_tryopen(go, &db, false),
        "ok",
        "Go rw after all readers left"
    );
}

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
        assert_eq!(tx.id(), expect_txid, "{name}: opened at the wrong txid");
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
        after.txid,
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
    let count_at = |m: &Meta| read_u16(&bytes, m.freelist as usize * 1024 + 10);
    assert_eq!(
        count_at(&m),
        Some(FREELIST_COUNT_OVERFLOW),
        "fixture freelist form"
    );
    drop(bytes);
    // ...rbolt reads it, and after an rbolt commit the freelist rbolt wrote must be in that
    // form too (it holds > 64K ids) and Go must accept it.
    let after = edge_file(go, "freelist-overflow-1k.db.gz", 1024, m.txid);
    assert_ne!(after.freelist, PGID_NO_FREELIST);
    // `edge_file` wrote to its own copy; check the form on a fresh one written the same way.
    let db2 = data_copy("freelist-overflow-1k.db.gz", dir.path());
    script::apply_file(&db2, "put 6b656570 7a 7a\n", None, false).expect("rbolt write");
    let m2 = meta(&db2);
    let bytes = std::fs::read(&db2).expect("read");
    assert_eq!(
        read_u16(&bytes, m2.freelist as usize * 1024 + 10),
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
    assert_eq!(Meta::decode_unverified(&bytes).map(|m| m.txid), Ok(4));
    assert_eq!(Meta::decode(&bytes[4096..]).map(|m| m.txid), Ok(3));
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
            after.txid,
            before.txid + 1,
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
