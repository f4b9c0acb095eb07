//! Two tools on one file: alternating writers reusing each other's free pages, and the file
//! lock excluding (or sharing with) the other process.

use super::*;

// ------------------------------------------------------------------------------------------
// 3. Alternating writers on one file
// ------------------------------------------------------------------------------------------

/// The bucket the alternating test uses to prove freed pages are reused across tools.
const PROBE: &[u8] = b"~reuse-probe";
/// Probe value size in pages.
const PROBE_PAGES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Writer {
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

pub(super) fn apply_with(
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
    let _wd = Watchdog::new("alternating_writers", Duration::from_secs(600));
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
        watchdog::wait_within(&mut self.0, Duration::from_secs(10), "killed lockhold");
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
    let _wd = Watchdog::new("locking_both_directions", Duration::from_secs(120));
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
    expect_timeout("rbolt rw vs Go ro", Options::new().timeout(t300), &db);
    let ro = Options::new()
        .read_only(true)
        .timeout(Duration::from_secs(5))
        .open(&db)
        .expect("rbolt ro while Go ro holds the file");
    let v = ro
        .view(|tx| {
            let b = tx.open_bucket(b"a")?;
            Ok(b.get(b"k")?.map(<[u8]>::to_vec))
        })
        .expect("read while shared");
    assert_eq!(v.as_deref(), Some(&b"v"[..]));
    // A writer from this process is refused at once: the file is already open here.
    let r = Options::new().timeout(t300).open(&db);
    assert!(
        matches!(r, Err(rbolt::Error::DatabaseAlreadyOpen)),
        "rbolt rw vs Go ro + rbolt ro in this process: {r:?}"
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
