//! Background jobs: search, check, export, statistics and the page map. Each runs on its own
//! thread with its own read transaction and streams what it finds over a bounded channel, so
//! the screen stays responsive and memory stays bounded; search and export stop when
//! cancelled.

use super::data::BucketPath;
use rbolt::{Bucket, Db, PageType, Tx};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Pages the page map lists at most (16 bytes each in memory).
pub(crate) const MAX_MAP_ROWS: usize = 2_000_000;

/// Search results kept at most.
pub(crate) const MAX_HITS: usize = 10_000;

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum JobSpec {
    /// Keys and values under `bucket` (recursively) containing `pattern`.
    Search {
        bucket: BucketPath,
        pattern: Vec<u8>,
    },
    /// The engine's consistency check.
    Check,
    /// `bucket` and everything under it as JSON lines into `file`.
    Export { bucket: BucketPath, file: PathBuf },
    /// Statistics summed over every bucket.
    Stats,
    /// Every page's type, element count and overflow.
    PageMap,
}

impl JobSpec {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            JobSpec::Search { .. } => "search",
            JobSpec::Check => "check",
            JobSpec::Export { .. } => "export",
            JobSpec::Stats => "stats",
            JobSpec::PageMap => "page map",
        }
    }
}

/// A search match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) bucket: BucketPath,
    pub(crate) key: Vec<u8>,
    pub(crate) is_bucket: bool,
    /// The match is in the value (else in the key).
    pub(crate) in_value: bool,
}

/// One page (not counting the pages its overflow covers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PageRow {
    pub(crate) id: u64,
    pub(crate) kind: PageType,
    pub(crate) count: u16,
    pub(crate) overflow: u32,
}

/// What a job reports.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JobMsg {
    /// Items (keys or pages) done so far, and the total if known.
    Progress(u64, Option<u64>),
    Hit(Hit),
    /// A check problem and the page it is on.
    Problem(Option<u64>, String),
    Pages(Vec<PageRow>),
    Stats(rbolt::BucketStats),
    /// The job ended: a summary, or what went wrong.
    Done(Result<String, String>),
}

/// A running job: where its messages arrive and how to stop it.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) rx: Receiver<JobMsg>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    pub(crate) fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Stack for a job's thread. Walks descend one call per bucket level and a file may nest
/// buckets [`rbolt::MAX_NESTING`] deep, several times what a default 2 MiB thread stack
/// holds; the reservation is address space, touched only as deep as a walk goes.
const JOB_STACK: usize = 64 << 20;

/// Starts `spec` on a thread of its own.
pub(crate) fn spawn(db: Arc<Db>, spec: JobSpec) -> Job {
    let (tx, rx) = sync_channel(1024);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let failed = tx.clone();
    let started = std::thread::Builder::new()
        .name("browse job".into())
        .stack_size(JOB_STACK)
        .spawn(move || {
            let w = Worker {
                out: tx,
                cancel: flag,
            };
            let r = match db.begin_read() {
                Ok(t) => w.run(&t, spec),
                Err(e) => Err(e.to_string()),
            };
            // Let go of the file before saying so: whoever waits for `Done` may close or
            // reopen it.
            drop(db);
            let _ = w.out.send(JobMsg::Done(r));
        });
    if let Err(e) = started {
        let _ = failed.send(JobMsg::Done(Err(format!("cannot start the job: {e}"))));
    }
    Job { rx, cancel }
}

struct Worker {
    out: SyncSender<JobMsg>,
    cancel: Arc<AtomicBool>,
}

/// Why a walk stopped early.
enum Stop {
    Cancelled,
    Full,
    Failed(String),
}

impl From<rbolt::Error> for Stop {
    fn from(e: rbolt::Error) -> Self {
        Stop::Failed(e.to_string())
    }
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Stop::Failed(e.to_string())
    }
}

fn resolve<'tx>(tx: &'tx Tx, path: &[Vec<u8>]) -> rbolt::Result<Option<Bucket<'tx>>> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(None);
    };
    let mut b = tx.bucket(first)?.ok_or(rbolt::Error::BucketNotFound)?;
    for n in rest {
        b = b.bucket(n)?.ok_or(rbolt::Error::BucketNotFound)?;
    }
    Ok(Some(b))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Bytes as `rbolt export` writes them: a JSON string when they are text (as the inspector
/// decides: valid UTF-8, printable or tab and line breaks), else `{"hex": …}`.
pub(crate) fn json_bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) if super::views::is_text(b) => Value::String(s.to_string()),
        _ => json!({ "hex": crate::values::hex(b) }),
    }
}

impl Worker {
    fn send(&self, m: JobMsg) -> Result<(), Stop> {
        // The screen went away: nobody wants the rest.
        self.out.send(m).map_err(|_| Stop::Cancelled)
    }

    fn tick(&self, n: u64, total: Option<u64>) -> Result<(), Stop> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stop::Cancelled);
        }
        if n.is_multiple_of(4096) {
            self.send(JobMsg::Progress(n, total))?;
        }
        Ok(())
    }

    fn run(&self, tx: &Tx, spec: JobSpec) -> Result<String, String> {
        match spec {
            JobSpec::Search { bucket, pattern } => {
                let mut st = (0u64, 0usize);
                let r = match resolve(tx, &bucket) {
                    Ok(b) => self.search(tx, b, &mut bucket.clone(), &pattern, &mut st),
                    Err(e) => Err(e.into()),
                };
                let summary = format!("{} matches in {} keys", st.1, st.0);
                match r {
                    Ok(()) => Ok(summary),
                    Err(Stop::Full) => Ok(format!("stopped at {MAX_HITS} matches ({} keys)", st.0)),
                    Err(Stop::Cancelled) => Ok(format!("cancelled: {summary}")),
                    Err(Stop::Failed(e)) => Err(e),
                }
            }
            JobSpec::Check => {
                let out = self.out.clone();
                let total = tx.size() / tx.page_size() as u64;
                let opts = rbolt::CheckOptions::new().progress(move |n| {
                    if n.is_multiple_of(1024) {
                        let _ = out.try_send(JobMsg::Progress(n, Some(total)));
                    }
                });
                let problems = tx.check_with(&opts);
                let n = problems.len();
                for p in problems {
                    self.send(JobMsg::Problem(
                        p.pgid().map(u64::from),
                        p.message().to_string(),
                    ))
                    .map_err(|_| "cancelled".to_string())?;
                }
                Ok(if n == 0 {
                    "check: OK".into()
                } else {
                    format!("check: {n} problems")
                })
            }
            JobSpec::Export { bucket, file } => {
                let tmp = file.with_extension("partial");
                let r = self.export(tx, &bucket, &tmp);
                match r {
                    Ok(n) => {
                        std::fs::rename(&tmp, &file).map_err(|e| e.to_string())?;
                        Ok(format!("exported {n} pairs to {}", file.display()))
                    }
                    Err(s) => {
                        let _ = std::fs::remove_file(&tmp);
                        Err(match s {
                            Stop::Cancelled => "export cancelled".into(),
                            Stop::Full => "export stopped".into(),
                            Stop::Failed(e) => format!("export failed: {e}"),
                        })
                    }
                }
            }
            JobSpec::Stats => {
                let mut total = rbolt::BucketStats::default();
                tx.for_each_bucket(|_, b| {
                    total.add(&b.stats()?);
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
                self.send(JobMsg::Stats(total))
                    .map_err(|_| "cancelled".to_string())?;
                Ok("stats ready".into())
            }
            JobSpec::PageMap => self.page_map(tx).map_err(|s| match s {
                Stop::Failed(e) => e,
                _ => "cancelled".into(),
            }),
        }
    }

    fn search(
        &self,
        tx: &Tx,
        b: Option<Bucket<'_>>,
        path: &mut BucketPath,
        pat: &[u8],
        st: &mut (u64, usize),
    ) -> Result<(), Stop> {
        let iter = match b {
            Some(b) => b.iter(),
            None => tx.cursor().bucket().iter(),
        };
        for item in iter {
            let (k, v) = item?;
            st.0 += 1;
            self.tick(st.0, None)?;
            let in_key = contains(k, pat);
            let in_value = v.is_some_and(|v| contains(v, pat));
            if in_key || in_value {
                st.1 += 1;
                self.send(JobMsg::Hit(Hit {
                    bucket: path.clone(),
                    key: k.to_vec(),
                    is_bucket: v.is_none(),
                    in_value: !in_key,
                }))?;
                if st.1 >= MAX_HITS {
                    return Err(Stop::Full);
                }
            }
            if v.is_none() {
                let child = match b {
                    Some(b) => b.bucket(k)?,
                    None => tx.bucket(k)?,
                };
                if let Some(c) = child {
                    path.push(k.to_vec());
                    let r = self.search(tx, Some(c), path, pat, st);
                    path.pop();
                    r?;
                }
            }
        }
        Ok(())
    }

    fn export(&self, tx: &Tx, bucket: &[Vec<u8>], tmp: &std::path::Path) -> Result<u64, Stop> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(tmp)?);
        let b = resolve(tx, bucket)?;
        let mut n = 0u64;
        let mut path = bucket.to_vec();
        self.export_bucket(tx, b, &mut path, &mut w, &mut n)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        Ok(n)
    }

    fn export_bucket(
        &self,
        tx: &Tx,
        b: Option<Bucket<'_>>,
        path: &mut BucketPath,
        w: &mut impl Write,
        n: &mut u64,
    ) -> Result<(), Stop> {
        let line = |w: &mut dyn Write, v: &Value| -> Result<(), Stop> {
            serde_json::to_writer(&mut *w, v).map_err(|e| Stop::Failed(e.to_string()))?;
            w.write_all(b"\n")?;
            Ok(())
        };
        let segs: Vec<Value> = path.iter().map(|s| json_bytes(s)).collect();
        if let Some(b) = b {
            line(w, &json!({ "bucket": segs, "seq": b.sequence() }))?;
        }
        let iter = match b {
            Some(b) => b.iter(),
            None => tx.cursor().bucket().iter(),
        };
        for item in iter {
            let (k, v) = item?;
            match v {
                Some(v) => {
                    *n += 1;
                    self.tick(*n, None)?;
                    line(
                        w,
                        &json!({ "bucket": segs, "key": json_bytes(k), "value": json_bytes(v) }),
                    )?;
                }
                None => {
                    let child = match b {
                        Some(b) => b.bucket(k)?,
                        None => tx.bucket(k)?,
                    };
                    path.push(k.to_vec());
                    let r = self.export_bucket(tx, child, path, w, n);
                    path.pop();
                    r?;
                }
            }
        }
        Ok(())
    }

    fn page_map(&self, tx: &Tx) -> Result<String, Stop> {
        let hwm = tx.size() / tx.page_size() as u64;
        let mut batch = Vec::with_capacity(4096);
        let mut id = 0u64;
        let mut rows = 0usize;
        while id < hwm {
            if rows == MAX_MAP_ROWS {
                self.send(JobMsg::Pages(batch))?;
                return Ok(format!(
                    "the page map stops after {MAX_MAP_ROWS} pages (page {id} of {hwm}); : #ID decodes any page"
                ));
            }
            rows += 1;
            let row = match tx.page(rbolt::Pgid(id)) {
                Ok(Some(p)) => PageRow {
                    id,
                    kind: p.page_type,
                    count: p.count,
                    overflow: p.overflow,
                },
                Ok(None) => break,
                Err(_) => PageRow {
                    id,
                    kind: PageType::Unknown(0),
                    count: 0,
                    overflow: 0,
                },
            };
            batch.push(row);
            // A free page's header means nothing: it spans one page.
            let span = if row.kind == PageType::Free {
                1
            } else {
                1 + u64::from(row.overflow)
            };
            id = id.saturating_add(span);
            if batch.len() == 4096 {
                self.send(JobMsg::Pages(std::mem::take(&mut batch)))?;
                self.tick(0, None)?;
                self.send(JobMsg::Progress(id, Some(hwm)))?;
            }
        }
        self.send(JobMsg::Pages(batch))?;
        Ok(format!("{hwm} pages"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn collect(job: &Job) -> Vec<JobMsg> {
        let mut v = Vec::new();
        loop {
            let m = job.rx.recv_timeout(Duration::from_secs(20)).unwrap();
            let done = matches!(m, JobMsg::Done(_));
            v.push(m);
            if done {
                return v;
            }
        }
    }

    fn db() -> (tempfile::TempDir, Arc<Db>) {
        let dir = tempfile::tempdir().unwrap();
        let db = rbolt::Db::open(dir.path().join("j.db")).unwrap();
        db.update(|tx| {
            let a = tx.create_bucket(b"a")?;
            a.put(b"k1", b"needle here")?;
            a.put(b"needle", b"x")?;
            a.create_bucket(b"sub")?.put([0xff, 0], b"needle")?;
            tx.create_bucket(b"b")?.put(b"k", b"nothing")?;
            Ok(())
        })
        .unwrap();
        (dir, Arc::new(db))
    }

    #[test]
    fn search_finds_keys_and_values_in_nested_buckets() {
        let (_d, db) = db();
        let job = spawn(
            db,
            JobSpec::Search {
                bucket: vec![],
                pattern: b"needle".to_vec(),
            },
        );
        let msgs = collect(&job);
        let hits: Vec<&Hit> = msgs
            .iter()
            .filter_map(|m| {
                if let JobMsg::Hit(h) = m {
                    Some(h)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(hits.len(), 3, "{msgs:?}");
        assert_eq!(hits[2].bucket, vec![b"a".to_vec(), b"sub".to_vec()]);
        assert!(hits[2].in_value);
        assert_eq!(
            msgs.last(),
            Some(&JobMsg::Done(Ok("3 matches in 7 keys".into())))
        );
    }

    #[test]
    fn export_writes_the_json_lines_of_rbolt_export() {
        let (d, db) = db();
        let file = d.path().join("out.jsonl");
        let job = spawn(
            db,
            JobSpec::Export {
                bucket: vec![b"a".to_vec()],
                file: file.clone(),
            },
        );
        let msgs = collect(&job);
        assert!(matches!(msgs.last(), Some(JobMsg::Done(Ok(_)))), "{msgs:?}");
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            "{\"bucket\":[\"a\"],\"seq\":0}\n\
             {\"bucket\":[\"a\"],\"key\":\"k1\",\"value\":\"needle here\"}\n\
             {\"bucket\":[\"a\"],\"key\":\"needle\",\"value\":\"x\"}\n\
             {\"bucket\":[\"a\",\"sub\"],\"seq\":0}\n\
             {\"bucket\":[\"a\",\"sub\"],\"key\":{\"hex\":\"ff00\"},\"value\":\"needle\"}\n"
        );
    }

    #[test]
    fn page_map_and_check() {
        let (_d, db) = db();
        let msgs = collect(&spawn(db.clone(), JobSpec::PageMap));
        let pages: Vec<PageRow> = msgs
            .iter()
            .filter_map(|m| {
                if let JobMsg::Pages(p) = m {
                    Some(p.clone())
                } else {
                    None
                }
            })
            .flatten()
            .collect();
        assert_eq!(pages[0].kind, PageType::Meta);
        assert_eq!(pages[1].kind, PageType::Meta);
        let msgs = collect(&spawn(db, JobSpec::Check));
        assert_eq!(msgs.last(), Some(&JobMsg::Done(Ok("check: OK".into()))));
    }
}
