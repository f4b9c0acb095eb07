//! Interop with Go bbolt: files cross over both ways, proven against the real bbolt
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
use rbolt_testkit::watchdog::{self, Watchdog};
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

/// Runs a tool; one that has not finished within a few minutes (a lock held by mistake, a
/// loop) is killed and fails the test, naming the command.
fn run(bin: &Path, args: &[&str]) -> Output {
    let what = format!("{} {}", bin.display(), args.join(" "));
    watchdog::output_within(
        Command::new(bin).args(args),
        Duration::from_secs(300),
        &what,
    )
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
    let wd = Watchdog::new(test, Duration::from_secs(300));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&index) = indices.get(i) else { break };
                    wd.doing(format!("script {index} (RBOLT_INTEROP_SEED={master})"));
                    let sc = Script::generate(master ^ tag, index);
                    let dir = tempfile::tempdir().expect("temp dir");
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        check(&sc, dir.path())
                    }))
                    .unwrap_or_else(|p| {
                        Err(format!("panicked: {}", rbolt_testkit::panic_message(&*p)))
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
            "interop {test}: the scripts did not cover every feature the generator must exercise"
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
                sc.no_freelist_sync,
                m.freelist.get()
            )));
        }
        p.into_result()
    });
}

// After the helpers and `require_go!`, which macro scoping requires to come first.
mod files;
mod processes;
