//! Part 3 of the reliability harness: kill -9. A child process (`rbolt-crashchild writer`)
//! commits numbered transactions and prints each number once its commit returned `Ok`; the
//! parent SIGKILLs it after a random delay, reopens the file, and requires: it opens, `check`
//! is clean, the last committed number `L` is at least every number the child acknowledged,
//! and the contents are exactly the state after commit `L`. The next child resumes from `L`,
//! so recovery after recovery is exercised too; the file starts over every 100 cycles.
//!
//! `RBOLT_KILL_CYCLES` sets the cycle count (default 120; the soak target is 20,000).

use rbolt_testkit::killnine;
use rbolt_testkit::rng::{Rng, env_count, env_seed};
use rbolt_testkit::watchdog::{self, Watchdog, join_within};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROTATE: u64 = 100;

#[test]
fn kill_nine_never_loses_an_acknowledged_commit() {
    let start = Instant::now();
    let wd = Watchdog::new(
        "kill_nine_never_loses_an_acknowledged_commit",
        Duration::from_secs(60),
    );
    let cycles = env_count("RBOLT_KILL_CYCLES", 120);
    let seed = env_seed(9);
    let mut r = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut path = dir.path().join("kill-0.db");
    let mut page_size = 4096;
    let (mut commits, mut prev_last) = (0u64, 0u64);
    for cycle in 0..cycles {
        if cycle % ROTATE == 0 {
            path = dir.path().join(format!("kill-{cycle}.db"));
            page_size = *r.pick(&[1024, 4096, 4096, 16384]);
            if cycle > 0 {
                let _ =
                    std::fs::remove_file(dir.path().join(format!("kill-{}.db", cycle - ROTATE)));
            }
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_rbolt-crashchild"))
            .arg("writer")
            .arg(&path)
            .arg(page_size.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rbolt-crashchild");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                acked = line.trim().parse().expect("child printed a number");
            }
            acked
        });
        // Mostly mid-stream, sometimes during startup/open (recovery of the previous kill).
        let delay = if r.chance(0.15) {
            r.below(5)
        } else {
            r.range(5, 120)
        };
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().expect("SIGKILL the child");
        let status = watchdog::wait_within(&mut child, Duration::from_secs(10), "the killed child");
        let acked = join_within(reader, Duration::from_secs(10), "the child's stdout reader");
        wd.doing(format!("cycle {cycle} (seed {seed})"));
        if status.success() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).ok();
            panic!("child exited on its own before the kill: {err}");
        }
        // The lock must be free at once: the child is dead.
        let db = rbolt::Options::new()
            .timeout(Duration::from_millis(500))
            .open(&path)
            .unwrap_or_else(|e| panic!("cycle {cycle} (seed {seed}): reopen after kill: {e}"));
        let last = killnine::last(&db).unwrap();
        assert!(
            last >= acked,
            "cycle {cycle} (seed {seed}): child acknowledged commit {acked} but the file ends at {last}"
        );
        killnine::verify(&db, last)
            .unwrap_or_else(|e| panic!("cycle {cycle} (seed {seed}, {}): {e:#}", path.display()));
        assert!(
            last >= prev_last,
            "cycle {cycle} (seed {seed}): the file went back from commit {prev_last} to {last}"
        );
        commits += last - prev_last;
        if cycle > 0 && cycle.is_multiple_of(1000) {
            eprintln!("killnine: {cycle} cycles so far, {commits} commits");
        }
        prev_last = if cycle % ROTATE == ROTATE - 1 {
            0
        } else {
            last
        };
    }
    eprintln!(
        "killnine: {cycles} cycles (seed {seed}), {commits} commits survived, {:.1}s",
        start.elapsed().as_secs_f64()
    );
}
