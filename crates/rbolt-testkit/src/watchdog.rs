//! Bounds for tests that wait on other threads or processes, so that a hang, or a panic that
//! leaves another thread waiting, becomes a named failure within seconds instead of a CI
//! timeout.
//!
//! - [`Watchdog`]: armed for the length of a test. If the test has made no progress
//!   ([`Watchdog::progress`]) for its limit, it prints the test's name and exits the process:
//!   a hung thread cannot be unwound, and `std::thread::scope` waits for its threads forever.
//! - [`StopOnDrop`]: sets a stop flag when dropped, so background loops end when the thread
//!   that drives them returns or panics (a scope waits for its threads before it unwinds).
//! - [`join_within`], [`join_scoped_within`], [`wait_within`], [`output_within`]: wait for a
//!   thread or a child process with a deadline, and name what did not finish.
//!
//! Every limit is multiplied by `RBOLT_WATCHDOG_SCALE` (default 1) for slow machines.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// Exit code of a process the watchdog ends (the test harness's own failure code).
pub const EXIT_CODE: i32 = 101;

/// `limit` times `RBOLT_WATCHDOG_SCALE`.
pub fn scaled(limit: Duration) -> Duration {
    let scale = std::env::var("RBOLT_WATCHDOG_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    limit.mul_f64(scale)
}

/// Ends the process with a message naming the test if the test makes no progress for its
/// limit; disarmed when dropped (also while unwinding from a panic).
#[derive(Debug)]
pub struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    progress: Arc<AtomicU64>,
    doing: Arc<Mutex<String>>,
}

impl Watchdog {
    /// Arms a watchdog for test `name`: it fires `limit` after the last progress.
    pub fn new(name: &str, limit: Duration) -> Self {
        let limit = scaled(limit);
        let (disarm, rx) = mpsc::channel::<()>();
        let progress = Arc::new(AtomicU64::new(0));
        let doing = Arc::new(Mutex::new(String::new()));
        let (name, p, d) = (name.to_owned(), progress.clone(), doing.clone());
        let thread = std::thread::Builder::new()
            .name(format!("watchdog {name}"))
            .spawn(move || {
                let mut seen = p.load(Ordering::SeqCst);
                loop {
                    match rx.recv_timeout(limit) {
                        Err(RecvTimeoutError::Timeout) => {
                            let now = p.load(Ordering::SeqCst);
                            if now != seen {
                                seen = now;
                                continue;
                            }
                            let doing = d.lock().map(|s| s.clone()).unwrap_or_default();
                            fire(&name, limit, &doing);
                        }
                        // Disarmed: the guard was dropped.
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .expect("spawn the watchdog thread");
        Self {
            disarm: Some(disarm),
            thread: Some(thread),
            progress,
            doing,
        }
    }

    /// Records progress: the limit starts again from now.
    pub fn progress(&self) {
        self.progress.fetch_add(1, Ordering::SeqCst);
    }

    /// Records progress and what the test is doing now (printed if the watchdog fires), e.g.
    /// the seed or case being run.
    pub fn doing(&self, what: impl Into<String>) {
        if let Ok(mut d) = self.doing.lock() {
            *d = what.into();
        }
        self.progress();
    }
}

fn fire(name: &str, limit: Duration, doing: &str) -> ! {
    // Straight to the process's stderr: the harness's output capture dies with the process.
    let doing = if doing.is_empty() {
        String::new()
    } else {
        format!(" (last progress: {doing})")
    };
    let _ = writeln!(
        std::io::stderr().lock(),
        "\nWATCHDOG: test `{name}` made no progress for {limit:?}{doing}: a thread hangs, or a \
         panic left another thread waiting. Exiting the test process."
    );
    std::process::exit(EXIT_CODE);
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.disarm.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sets its flag when dropped: the thread that holds it returning or panicking stops the
/// loops that poll the flag.
#[derive(Debug)]
pub struct StopOnDrop<'a>(pub &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The two kinds of join handle.
trait Joinable<T> {
    fn done(&self) -> bool;
    fn join_now(self) -> std::thread::Result<T>;
}

impl<T> Joinable<T> for JoinHandle<T> {
    fn done(&self) -> bool {
        self.is_finished()
    }
    fn join_now(self) -> std::thread::Result<T> {
        self.join()
    }
}

impl<T> Joinable<T> for ScopedJoinHandle<'_, T> {
    fn done(&self) -> bool {
        self.is_finished()
    }
    fn join_now(self) -> std::thread::Result<T> {
        self.join()
    }
}

fn join_polling<T>(h: impl Joinable<T>, limit: Duration, what: &str) -> T {
    let limit = scaled(limit);
    let deadline = Instant::now() + limit;
    while !h.done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    match h.join_now() {
        Ok(v) => v,
        Err(p) => panic!("{what} panicked: {}", crate::panic_message(&*p)),
    }
}

/// Joins `h`, failing with `what` if it has not finished within `limit` or panicked.
pub fn join_within<T>(h: JoinHandle<T>, limit: Duration, what: &str) -> T {
    join_polling(h, limit, what)
}

/// [`join_within`] for a scoped thread. A scope still waits for a thread that never ends, so
/// pair this with a [`Watchdog`] and a [`StopOnDrop`].
pub fn join_scoped_within<T>(h: ScopedJoinHandle<'_, T>, limit: Duration, what: &str) -> T {
    join_polling(h, limit, what)
}

/// Waits for child process `c`; kills it and fails, naming `what`, if it runs past `limit`.
pub fn wait_within(c: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let limit = scaled(limit);
    let deadline = Instant::now() + limit;
    loop {
        match c.try_wait() {
            Ok(Some(st)) => return st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = c.kill();
                let _ = c.wait();
                panic!("{what} did not exit within {limit:?}; killed it");
            }
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// `cmd.output()` with a deadline: stdin is null, stdout and stderr are collected; a process
/// still running after `limit` is killed and the call fails naming `what`.
pub fn output_within(cmd: &mut Command, limit: Duration, what: &str) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drained on threads so a chatty child cannot block on a full pipe.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let status = wait_within(&mut child, limit, what);
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_within_names_a_thread_that_runs_too_long() {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let h = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            join_within(h, Duration::from_millis(50), "the spinner")
        }));
        stop.store(true, Ordering::SeqCst);
        let msg = crate::panic_message(&*r.expect_err("join must time out")).to_owned();
        assert!(msg.contains("the spinner did not finish"), "{msg}");
    }

    #[test]
    fn join_within_reports_a_panic_with_its_message() {
        let h = std::thread::spawn(|| -> u32 { panic!("boom") });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            join_within(h, Duration::from_secs(5), "worker")
        }));
        let msg = crate::panic_message(&*r.expect_err("the panic propagates")).to_owned();
        assert!(msg.contains("worker panicked: boom"), "{msg}");
    }

    #[test]
    fn stop_on_drop_stops_loops_when_the_driver_panics() {
        let stop = AtomicBool::new(false);
        let r = std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    std::thread::yield_now();
                }
                n
            });
            let driver = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _stop = StopOnDrop(&stop);
                panic!("writer failed");
            }));
            (
                driver.is_err(),
                join_scoped_within(reader, Duration::from_secs(5), "reader"),
            )
        });
        assert!(r.0, "the driver panicked");
        assert!(stop.load(Ordering::SeqCst));
    }

    #[test]
    fn output_within_kills_a_hung_process() {
        let r = std::panic::catch_unwind(|| {
            output_within(
                Command::new("sleep").arg("30"),
                Duration::from_millis(100),
                "sleep 30",
            )
        });
        let msg = crate::panic_message(&*r.expect_err("must time out")).to_owned();
        assert!(msg.contains("sleep 30 did not exit"), "{msg}");
        let ok = output_within(
            Command::new("sh").args(["-c", "echo out; echo err >&2"]),
            Duration::from_secs(10),
            "sh",
        )
        .unwrap();
        assert!(ok.status.success());
        assert_eq!(
            (ok.stdout.as_slice(), ok.stderr.as_slice()),
            (&b"out\n"[..], &b"err\n"[..])
        );
    }

    /// Runs itself as a child process whose test hangs: the child must exit with the
    /// watchdog's code and name its test, long before the hang would end.
    #[test]
    fn a_watchdog_ends_a_hung_test_naming_it() {
        if std::env::var_os("RBOLT_WATCHDOG_CHILD").is_some() {
            let w = Watchdog::new("hung child", Duration::from_millis(100));
            w.doing("sleeping");
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
        let t = Instant::now();
        let out = output_within(
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "watchdog::tests::a_watchdog_ends_a_hung_test_naming_it",
                ])
                .env("RBOLT_WATCHDOG_CHILD", "1")
                .env_remove("RBOLT_WATCHDOG_SCALE"),
            Duration::from_secs(20),
            "the hung child test",
        )
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(EXIT_CODE), "{stderr}");
        assert!(
            stderr.contains("WATCHDOG: test `hung child`") && stderr.contains("sleeping"),
            "{stderr}"
        );
        assert!(t.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn a_watchdog_with_progress_does_not_fire() {
        let w = Watchdog::new("progress", Duration::from_millis(200));
        for i in 0..6 {
            std::thread::sleep(Duration::from_millis(60));
            w.doing(format!("step {i}"));
        }
        drop(w);
    }
}
