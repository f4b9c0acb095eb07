//! Deterministic fixture databases, built through the engine with a fixed page size and
//! freelist type so page numbers are the same on every run, and helpers to run the binary.

use assert_cmd::Command;
use rbolt::{FreelistType, Options};
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

/// A directory holding the fixtures; commands run inside it, so paths in output are short.
pub(crate) struct Fx {
    pub(crate) dir: TempDir,
}

fn opts(page_size: usize) -> Options {
    Options::new()
        .page_size(page_size)
        .freelist_type(FreelistType::Array)
}

fn check(db: &rbolt::Db) {
    let problems = db.begin_read().unwrap().check();
    assert!(problems.is_empty(), "fixture is inconsistent: {problems:?}");
}

impl Fx {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `empty.db`: a fresh 4 KiB-page file.
    pub(crate) fn empty(&self) -> &Self {
        let db = opts(4096).open(self.path("empty.db")).unwrap();
        check(&db);
        self
    }

    /// `fx.db`: bucket `alpha` (printable, JSON, binary and empty values, and `nested` with
    /// sequence 7), a bucket named 00 00 00 01, and `big` (2,000 keys of 100 bytes and one
    /// 10 KB value, then every other key deleted) on 4 KiB pages.
    pub(crate) fn nested(&self) -> &Self {
        build_nested(&self.path("fx.db"), opts(4096));
        self
    }

    /// `meta1.db`: like `fx.db` plus a bucket `more` of values of 1 MB and more, committed so that meta
    /// page 1 is the active one and its high-water mark is above meta 0's.
    pub(crate) fn meta1(&self) -> &Self {
        let path = self.path("meta1.db");
        build_nested(&path, opts(4096));
        let db = opts(4096).open(&path).unwrap();
        // Commits that grow the file, until meta 1 holds the latest one.
        let mut n = 0;
        while n == 0 || db.info().txid.get().is_multiple_of(2) {
            db.update(|tx| {
                let b = tx.create_bucket_if_not_exists(b"more")?;
                b.put(format!("k{n}").as_bytes(), vec![b'm'; 1_000_000 * (n + 1)])
            })
            .unwrap();
            n += 1;
        }
        assert_eq!(db.info().txid.get() % 2, 1, "meta 1 must be active");
        check(&db);
        self
    }

    /// `nofl.db`: written without a freelist page.
    pub(crate) fn no_freelist(&self) -> &Self {
        build_nested(&self.path("nofl.db"), opts(4096).no_freelist_sync(true));
        self
    }

    /// `big16k.db`: 16 KiB pages.
    pub(crate) fn pages16k(&self) -> &Self {
        build_nested(&self.path("big16k.db"), opts(16384));
        self
    }

    /// `damaged.db`: `fx.db` with one leaf of `big` cleared to a page of an unknown type, so
    /// its keys are lost and the check fails.
    pub(crate) fn damaged(&self) -> &Self {
        let path = self.path("damaged.db");
        build_nested(&path, opts(4096));
        let victim = {
            let db = opts(4096).read_only(true).open(&path).unwrap();
            let tx = db.begin_read().unwrap();
            // The first well-filled leaf: one of `big`'s.
            let mut id = rbolt::Pgid(2);
            let mut found = None;
            while let Some(p) = tx.page(id).unwrap() {
                if p.page_type == rbolt::PageType::Leaf && p.count > 5 && found.is_none() {
                    found = Some(id);
                }
                id += 1 + u64::from(p.overflow);
            }
            found.unwrap()
        };
        let mut bytes = std::fs::read(&path).unwrap();
        let off = victim.get() as usize * 4096;
        bytes[off + 8] = 0x20; // page type: none of bbolt's
        std::fs::write(&path, bytes).unwrap();
        self
    }
}

fn build_nested(path: &Path, opts: Options) {
    let db = opts.open(path).unwrap();
    db.update(|tx| {
        let a = tx.create_bucket(b"alpha")?;
        a.put(b"text", b"hello world")?;
        a.put(b"json", br#"{"a":1}"#)?;
        a.put(b"bin", [0, 0, 0, 0, 0, 0, 0, 14])?;
        a.put(b"empty", b"")?;
        let n = a.create_bucket(b"nested")?;
        n.set_sequence(7)?;
        n.put(b"deep", b"v")?;
        tx.create_bucket([0, 0, 0, 1])?;
        Ok(())
    })
    .unwrap();
    db.update(|tx| {
        let b = tx.create_bucket(b"big")?;
        for i in 0..2000u32 {
            let v = [b'A' + (i % 26) as u8; 100];
            b.put(format!("key{i:05}").as_bytes(), v)?;
        }
        b.put(b"huge", [b'x'; 10_000])
    })
    .unwrap();
    db.update(|tx| {
        let b = tx.bucket(b"big")?.unwrap();
        for i in (0..2000u32).step_by(2) {
            b.delete(format!("key{i:05}").as_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    check(&db);
}

/// The binary, run in `dir`.
pub(crate) fn rbolt(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("rbolt").unwrap();
    c.current_dir(dir)
        .env_remove("RBOLT_COMPAT")
        .env("NO_COLOR", "1");
    c
}

/// Exit code, stdout and the first line of stderr, for a snapshot.
pub(crate) fn summary(o: &Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr);
    format!(
        "exit: {}\nstderr: {}\n--- stdout\n{}",
        o.status.code().unwrap_or(-1),
        stderr.lines().next().unwrap_or(""),
        String::from_utf8_lossy(&o.stdout)
    )
}

/// Runs `rbolt ARGS` in the fixture directory and summarises the result.
pub(crate) fn run(fx: &Fx, args: &[&str]) -> String {
    let o = rbolt(fx.dir.path()).args(args).output().unwrap();
    summary(&o)
}

/// The Go bbolt oracle (`interop/go/build.sh`), or `None` with a notice when Go is missing.
pub(crate) fn go_helper() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new("sh")
        .arg(root.join("interop/go/build.sh"))
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).lines().last()?.trim());
    if out.status.success() && bin.is_file() {
        Some(bin)
    } else {
        eprintln!(
            "notice: the Go helper could not be built; skipping:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        None
    }
}

/// Go bbolt's `Tx.Check` on `path`: its output, and whether it passed.
pub(crate) fn go_check(go: &Path, path: &Path) -> (bool, String) {
    let o = std::process::Command::new(go)
        .arg("check")
        .arg(path)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// Go bbolt holding `db`'s lock (`bbolt-interop lockhold [--read-only] DB SECONDS`), from
/// the moment it says so until it is dropped.
pub(crate) struct LockHolder(pub(crate) std::process::Child);

impl LockHolder {
    pub(crate) fn start(go: &Path, db: &Path, read_only: bool, secs: u32) -> Self {
        use std::io::{BufRead, BufReader};
        let mut cmd = std::process::Command::new(go);
        cmd.arg("lockhold");
        if read_only {
            cmd.arg("--read-only");
        }
        let mut child = cmd
            .arg(db)
            .arg(secs.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");
        LockHolder(child)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `rbolt ARGS` in `fx`'s directory, killed after `limit`; the exit code must be 0 or 1
/// (an answer, or a clean error — never a crash or a hang). True for 0.
pub(crate) fn exits_0_or_1(fx: &Fx, args: &[&str], what: &str, limit: std::time::Duration) -> bool {
    let o = rbolt(fx.dir.path())
        .args(args)
        .timeout(limit)
        .output()
        .unwrap();
    let code = o.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "{what}: `rbolt {}` ended with {:?}\nstderr: {}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    code == Some(0)
}
