//! Bugs the reliability harness found, each kept as a named test with a minimal reproducer.
//! Each test failed until its bug was fixed in the engine; a newly found, still-open bug may
//! be `#[ignore]`d with its reason until fixed.

/// `Tx::check` on a file written with `no_freelist_sync` (meta.freelist = none) reports every
/// free page as "unreachable unfreed": it only counts a persisted freelist as free, while the
/// engine (like bbolt) treats the unreachable pages as the free set of such a file.
#[test]
fn check_on_no_freelist_file_reports_free_pages_as_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nofl.db");
    let opts = rbolt::Options::new().page_size(4096).no_freelist_sync(true);
    let db = opts.clone().open(&path).unwrap();
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))
        .unwrap();
    db.update(|tx| tx.bucket(b"b")?.unwrap().put(b"k", b"w"))
        .unwrap();
    let problems: Vec<String> = db
        .begin_read()
        .unwrap()
        .check()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
}

/// A crash while a new file was being created could keep the sectors of the two meta pages but
/// not those of page 3 (the init was one 4-page write + one sync, like bbolt's,
/// etcd-io/etcd#16596). The file then opened without error, but its root page was zeros.
/// Found by `crash_images_recover_to_a_committed_snapshot` (model Torn, crash point 1).
/// Fixed by making the freelist and root pages durable before any meta is written; this pins
/// that order, and that a file whose metas never reached the disk is initialised again (nothing
/// in it was ever acknowledged) rather than opened as a corrupt database.
#[test]
fn torn_create_is_accepted_as_a_corrupt_database() {
    use rbolt_testkit::crashsim::{Op, OpLog};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("torn.db");
    let ps = 4096u64;
    let log = OpLog::new();
    drop(
        rbolt::Options::new()
            .page_size(ps as usize)
            .wrap_storage(log.wrapper(true))
            .open(&path)
            .unwrap(),
    );
    let ops = log.ops();
    let first_meta_write = ops
        .iter()
        .position(|op| matches!(op, Op::Write { off, .. } if *off < 2 * ps))
        .expect("init writes the metas");
    let synced_pages = ops[..first_meta_write]
        .iter()
        .any(|op| matches!(op, Op::SyncAll | Op::SyncData));
    let wrote_pages = ops[..first_meta_write]
        .iter()
        .any(|op| matches!(op, Op::Write { off, data } if *off <= 3 * ps && *off + data.len() as u64 >= 4 * ps));
    assert!(
        wrote_pages && synced_pages,
        "root and freelist pages must be durable before the metas: {ops:?}"
    );

    // The state a crash can now leave: pages 2-3 on disk, metas not. Read-only it is refused;
    // read-write it is initialised again.
    let mut img = std::fs::read(&path).unwrap();
    img[..2 * ps as usize].fill(0);
    std::fs::write(&path, &img).unwrap();
    assert!(matches!(
        rbolt::Options::new().read_only(true).open(&path),
        Err(rbolt::Error::Invalid)
    ));
    let db = rbolt::Options::new().open(&path).unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.id().get(), 1);
    assert!(tx.check().is_empty());
}

/// Shrinking an empty database written without a freelist lowers the high-water mark to 3
/// (metas + the root leaf), and open then rejects both metas ("invalid database"): open
/// requires `pgid >= 4`, which only holds while a freelist page exists. A kill -9 right after
/// such a commit leaves a file that cannot be opened. Found by
/// `every_subset_of_pending_writes_recovers` (seed 502) once workloads called `Db::shrink`.
#[test]
fn shrunk_no_freelist_file_cannot_be_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shrunk.db");
    let opts = rbolt::Options::new().page_size(1024).no_freelist_sync(true);
    {
        let db = opts.clone().open(&path).unwrap();
        db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))
            .unwrap();
        db.update(|tx| tx.delete_bucket(b"b")).unwrap();
        db.shrink().unwrap();
    }
    let db = opts
        .open(&path)
        .unwrap_or_else(|e| panic!("reopen after shrink: {e}"));
    let problems = db.begin_read().unwrap().check();
    assert!(problems.is_empty(), "{problems:?}");
}

/// When a write inside `Db::shrink` fails, `shrink` returns `Error::Poisoned` (from the
/// `begin_write` it runs afterwards) instead of the `Error::Io` that caused it, so the caller
/// never sees the real error. Found by `injected_io_errors_poison_and_recover` once workloads
/// called `Db::shrink` (118 runs); tolerated there for shrink transactions until fixed.
#[test]
fn shrink_reports_poisoned_instead_of_the_io_error() {
    use rbolt_testkit::faults::{self, FaultKind, FaultPlan};
    let run = |plan: Option<FaultPlan>| {
        let dir = tempfile::tempdir().unwrap();
        let (w, state) = faults::wrapper(plan, false);
        let db = rbolt::Options::new()
            .page_size(1024)
            .wrap_storage(w)
            .open(dir.path().join("s.db"))
            .unwrap();
        db.update(|tx| {
            let b = tx.create_bucket(b"big")?;
            for i in 0u32..3000 {
                b.put(format!("{i:06}").as_bytes(), &[1u8; 60])?;
            }
            tx.create_bucket(b"small")?.put(b"k", b"v")
        })
        .unwrap();
        db.update(|tx| {
            let b = tx.bucket(b"big")?.unwrap();
            for i in (0u32..3000).filter(|i| i % 10 != 0) {
                b.delete(format!("{i:06}").as_bytes())?;
            }
            Ok(())
        })
        .unwrap();
        let before = state.count(FaultKind::Write);
        (before, db.shrink(), state.count(FaultKind::Write))
    };
    let (before, res, after) = run(None);
    res.unwrap();
    assert!(
        after > before,
        "shrink wrote nothing; the reproducer needs a write to fail"
    );
    let (_, res, _) = run(Some(FaultPlan {
        kind: FaultKind::Write,
        k: before + 1,
        persistent: false,
        errno: 5,
    }));
    assert!(
        matches!(res, Err(rbolt::Error::Io(_))),
        "shrink returned {res:?}"
    );
}

/// The automatic tail cut at commit (on by default) had the same root cause as
/// `shrunk_no_freelist_file_cannot_be_reopened`, and it was worse: in a no-freelist file, a
/// commit whose free pages ended at the high-water mark lowered it to 3, the next open rejected
/// that commit's meta (`pgid < 4`) and silently opened the *previous* commit — whose root page
/// had since been rewritten — so an acknowledged commit was lost. Found by the crash sweep in a
/// soak (`RBOLT_CRASH_CASE=424288:19:0:0`, model Keep: recovered txid 3, acknowledged 4),
/// fixed with that bug (100e796).
#[test]
fn tail_cut_no_freelist_commit_is_lost_on_reopen() {
    use rbolt_testkit::crashsim::{self, Model, Sweep};
    use rbolt_testkit::rng::Rng;
    // The recorded workload of the soak failure; the Keep image at crash point 19 is the file
    // exactly as the process left it after acknowledging txid 4: meta 4 says pgid 3.
    let dir = tempfile::tempdir().unwrap();
    let spec = rbolt_testkit::workload::Spec::from_seed(424_288, 24);
    let rec = crashsim::record(&spec, dir.path()).unwrap();
    let mut sw = Sweep::new(&rec.ops, spec.page_size);
    while sw.point().pos < 19 {
        sw.advance();
    }
    let img = sw.image(Model::Keep, &mut Rng::new(0));
    let r = crashsim::verify_image(&img, &dir.path().join("img.db"), sw.point(), &rec, false);
    assert!(r.is_ok(), "{r:?}");
}
