//! `rbolt salvage FILE -o OUT [--from-page-scan]`: copies every pair that can still be read
//! into a fresh database. The tree is walked through pread, skipping what does not decode;
//! with `--from-page-scan` every page the walk did not reach is tried as a leaf too (free
//! and unreachable ones included), and its pairs go to `lost+found/<page id>`. A report of
//! what was read, recovered and skipped goes to stderr or `--report`.

use super::exact;
use crate::cli::space::SalvageArgs;
use crate::error::CliError;
use crate::raw::RawFile;
use crate::source::{check_source, path_arg};
use crate::walk::{BucketInfo, Problem, Visit, WalkOpts, Walker};
use rbolt_format::{BUCKET_LEAF_FLAG, LEAF_PAGE, LeafPage, Meta, PageHeader};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes of keys and values per commit of the copy.
const TX_BYTES: u64 = 4 << 20;
/// Problems listed one by one in the report; the rest are counted.
const LISTED: usize = 20;

/// The fresh database pairs are written into, committed in batches.
struct Sink {
    db: rbolt::Db,
    tx: Option<rbolt::Tx<rbolt::ReadWrite>>,
    pending: u64,
    pairs: u64,
    rejected: Vec<String>,
}

impl Sink {
    fn tx(&mut self) -> Result<&rbolt::Tx<rbolt::ReadWrite>, CliError> {
        if self.tx.is_none() {
            self.tx = Some(self.db.begin_write()?);
        }
        Ok(self.tx.as_ref().expect("just opened"))
    }

    fn commit(&mut self) -> Result<(), CliError> {
        if let Some(tx) = self.tx.take() {
            tx.commit()?;
        }
        self.pending = 0;
        Ok(())
    }

    /// Makes the bucket at `path` (and its parents) exist; sets its sequence.
    fn bucket(&mut self, path: &[Vec<u8>], sequence: u64) -> Result<(), CliError> {
        let tx = self.tx()?;
        let r = (|| -> rbolt::Result<()> {
            let Some((first, rest)) = path.split_first() else {
                return Ok(());
            };
            let mut b = tx.create_bucket_if_not_exists(first)?;
            for n in rest {
                b = b.create_bucket_if_not_exists(n)?;
            }
            if sequence != 0 {
                b.set_sequence(sequence)?;
            }
            Ok(())
        })();
        self.reject(r, path, None)
    }

    /// Stores one pair in the bucket at `path`. Returns false, storing nothing, when the
    /// bucket already holds `k` with another value (two versions of a pair reached through
    /// damaged pointers): the caller keeps the second elsewhere.
    fn put(&mut self, path: &[Vec<u8>], k: &[u8], v: &[u8]) -> Result<bool, CliError> {
        let tx = self.tx()?;
        let mut clash = false;
        let r = (|| -> rbolt::Result<()> {
            let Some((first, rest)) = path.split_first() else {
                return Err(rbolt::Error::IncompatibleValue);
            };
            let mut b = tx.create_bucket_if_not_exists(first)?;
            for n in rest {
                b = b.create_bucket_if_not_exists(n)?;
            }
            if b.get(k)?.is_some_and(|old| old != v) {
                clash = true;
                return Ok(());
            }
            b.put(k, v)
        })();
        if clash {
            return Ok(false);
        }
        let ok = r.is_ok();
        self.reject(r, path, Some(k))?;
        if ok {
            self.pairs += 1;
            self.pending += (k.len() + v.len()) as u64;
            if self.pending > TX_BYTES {
                self.commit()?;
            }
        }
        Ok(true)
    }

    /// A pair or bucket the copy refuses (an empty key, a name both a key and a bucket) is
    /// reported; an I/O failure of the copy ends the salvage.
    fn reject(
        &mut self,
        r: rbolt::Result<()>,
        path: &[Vec<u8>],
        key: Option<&[u8]>,
    ) -> Result<(), CliError> {
        match r {
            Ok(()) => Ok(()),
            Err(e @ (rbolt::Error::Io(_) | rbolt::Error::Poisoned)) => Err(e.into()),
            Err(e) => {
                let mut what = path_text(path);
                if let Some(k) = key {
                    what.push_str(&format!(" key {}", rbolt_format::hex(k)));
                }
                self.rejected.push(format!("{what}: {e}"));
                Ok(())
            }
        }
    }
}

fn path_text(path: &[Vec<u8>]) -> String {
    if path.is_empty() {
        return "(root)".into();
    }
    path.iter()
        .map(|n| String::from_utf8_lossy(&crate::values::auto(n)).into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The walk's view: every bucket and pair goes into the sink.
struct Copy<'s> {
    sink: &'s mut Sink,
    /// Leaf pages whose pairs were copied: the page scan skips only these (a page merely
    /// covered by another's bad overflow count is still scanned).
    copied: crate::walk::Bits,
    paths: Vec<Vec<Vec<u8>>>,
    problems: Vec<Problem>,
    err: Option<CliError>,
    root_pairs: u64,
    /// Pairs whose key the bucket already held with another value.
    clashes: u64,
}

impl Visit for Copy<'_> {
    fn bucket(&mut self, id: u32, b: &BucketInfo) {
        let mut path = b
            .parent
            .and_then(|p| self.paths.get(p as usize).cloned())
            .unwrap_or_default();
        if b.parent.is_some() {
            path.push(b.name.clone());
        }
        if self.err.is_none() && !path.is_empty() {
            self.err = self.sink.bucket(&path, b.sequence).err();
        }
        let i = id as usize;
        if self.paths.len() <= i {
            self.paths.resize(i + 1, Vec::new());
        }
        self.paths[i] = path;
    }

    fn page(&mut self, p: &crate::walk::PageVisit<'_>) {
        if let Some(id) = p.id
            && p.header.flags == LEAF_PAGE
        {
            self.copied.set(id);
        }
    }

    fn pair(&mut self, bucket: u32, page: u64, flags: u32, k: &[u8], v: &[u8]) {
        if flags & BUCKET_LEAF_FLAG != 0 || self.err.is_some() {
            return;
        }
        let Some(path) = self.paths.get(bucket as usize) else {
            return;
        };
        let path = if path.is_empty() {
            // A plain key among the top-level buckets, which bbolt never writes (the root
            // pointed at some bucket's page): kept aside.
            self.root_pairs += 1;
            vec![b"lost+found".to_vec(), b"root".to_vec()]
        } else {
            path.clone()
        };
        match self.sink.put(&path, k, v) {
            Ok(true) => {}
            Ok(false) => {
                // Another version of a pair already copied: kept beside the lost pages.
                self.clashes += 1;
                let aside = vec![b"lost+found".to_vec(), page.to_string().into_bytes()];
                self.err = self.sink.put(&aside, k, v).err();
            }
            Err(e) => self.err = Some(e),
        }
    }

    fn problem(&mut self, p: &Problem) {
        self.problems.push(p.clone());
    }
}

/// What the salvage did, for the report.
#[derive(Default)]
struct Report {
    snapshot: String,
    pages: u64,
    walked: u64,
    tree_pairs: u64,
    scanned: u64,
    lost_leaves: u64,
    lost_pairs: u64,
    lost_bucket_refs: u64,
    root_pairs: u64,
    clashes: u64,
    buckets: usize,
    problems: Vec<Problem>,
    rejected: Vec<String>,
}

impl Report {
    fn write(&self, o: &mut dyn Write, src: &Path, dst: &Path) -> Result<(), CliError> {
        writeln!(o, "salvage {} -> {}", src.display(), dst.display())?;
        writeln!(o, "  snapshot: {}", self.snapshot)?;
        writeln!(
            o,
            "  pages: {} in the file, {} reached by the tree walk, {} scanned for lost leaves",
            self.pages, self.walked, self.scanned
        )?;
        writeln!(
            o,
            "  recovered: {} pairs in {} buckets from the tree, {} pairs from {} lost leaf pages (lost+found/<page>)",
            self.tree_pairs, self.buckets, self.lost_pairs, self.lost_leaves
        )?;
        if self.lost_bucket_refs > 0 {
            writeln!(
                o,
                "  not recovered: {} sub-bucket entries on lost leaf pages (their buckets' pages are scanned on their own)",
                self.lost_bucket_refs
            )?;
        }
        if self.root_pairs > 0 {
            writeln!(
                o,
                "  {} plain keys among the top-level buckets went to lost+found/root",
                self.root_pairs
            )?;
        }
        if self.clashes > 0 {
            writeln!(
                o,
                "  {} pairs reached twice with different values: the later ones went to lost+found/<page>",
                self.clashes
            )?;
        }
        writeln!(o, "  skipped: {} problems", self.problems.len())?;
        for p in self.problems.iter().take(LISTED) {
            writeln!(o, "    {p}")?;
        }
        if self.problems.len() > LISTED {
            writeln!(o, "    … and {} more", self.problems.len() - LISTED)?;
        }
        writeln!(o, "  refused by the copy: {}", self.rejected.len())?;
        for r in self.rejected.iter().take(LISTED) {
            writeln!(o, "    {r}")?;
        }
        if self.rejected.len() > LISTED {
            writeln!(o, "    … and {} more", self.rejected.len() - LISTED)?;
        }
        Ok(())
    }
}

/// The snapshot to walk: the chosen or active meta; failing that, the newer meta page that
/// still decodes (checksum aside); failing that, none.
fn snapshot(raw: &RawFile, want: Option<u64>) -> Result<Option<(String, Meta)>, CliError> {
    if want.is_some() {
        let (id, m) = raw.snapshot(want)?;
        return Ok(Some((format!("meta {id} (txid {})", m.txid.0), m)));
    }
    if let Ok((id, m)) = raw.snapshot(None) {
        return Ok(Some((format!("meta {id} (txid {})", m.txid.0), m)));
    }
    let metas = raw.metas()?;
    let best = (0..2)
        .filter_map(|i| metas[i].meta.map(|m| (i, m)))
        .max_by_key(|(_, m)| m.txid.0);
    Ok(best.map(|(i, m)| {
        (
            format!("meta {i} (txid {}), whose checksum is wrong", m.txid.0),
            m,
        )
    }))
}

pub(crate) fn run(a: &SalvageArgs, ctx: &crate::Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    let src = path_arg(&a.pos.args[0]);
    let Some(dst) = a.output.as_deref().map(PathBuf::from) else {
        return Err(CliError::usage("required flag(s) \"output\" not set"));
    };
    check_source(src)?;
    if dst.symlink_metadata().is_ok() {
        return Err(CliError::msg(format!(
            "output file {} already exists",
            dst.display()
        )));
    }
    let raw = RawFile::open_lenient(src)?;
    let mut tmp = dst.as_os_str().to_os_string();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let bar = ctx.progress.bar(raw.pages(), "pages");
    bar.set_prefix("salvage");
    let res = salvage(a, &raw, &tmp, &bar);
    bar.finish_and_clear();
    let report = match res {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &dst)?;
    match &a.report {
        Some(p) => {
            let mut f = std::fs::File::create(p)?;
            report.write(&mut f, src, &dst)?;
        }
        None => report.write(&mut std::io::stderr().lock(), src, &dst)?,
    }
    writeln!(
        out,
        "{} pairs recovered into {}",
        report.tree_pairs + report.lost_pairs,
        dst.display()
    )?;
    Ok(())
}

fn salvage(
    a: &SalvageArgs,
    raw: &RawFile,
    tmp: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<Report, CliError> {
    let db = rbolt::Options::new()
        .page_size(usize::try_from(raw.page_size).unwrap_or(4096))
        .open(tmp)?;
    let mut sink = Sink {
        db,
        tx: None,
        pending: 0,
        pairs: 0,
        rejected: Vec::new(),
    };
    let mut report = Report {
        pages: raw.pages(),
        ..Report::default()
    };
    let snap = snapshot(raw, a.from.meta)?;
    let mut seen = crate::walk::Bits::new(raw.pages());
    if let Some((what, meta)) = &snap {
        report.snapshot = what.clone();
        let opts = WalkOpts {
            keys: false,
            recurse: true,
        };
        let copy = Copy {
            sink: &mut sink,
            copied: crate::walk::Bits::new(raw.pages()),
            paths: Vec::new(),
            problems: Vec::new(),
            err: None,
            root_pairs: 0,
            clashes: 0,
        };
        let mut w = Walker::new(raw, meta, copy, opts);
        w.progress = Some(bar.clone());
        w.run_root(meta.root);
        if let Some(e) = w.v.err.take() {
            return Err(e);
        }
        report.buckets = w.buckets.len().saturating_sub(1);
        report.problems = std::mem::take(&mut w.v.problems);
        report.root_pairs = w.v.root_pairs;
        report.clashes = w.v.clashes;
        report.walked = (0..w.hwm).filter(|&id| w.seen.get(id)).count() as u64;
        seen = std::mem::take(&mut w.v.copied);
    } else {
        report.snapshot = "none: neither meta page decodes".into();
    }
    report.tree_pairs = sink.pairs;
    if a.from_page_scan {
        bar.set_prefix("scan");
        bar.set_position(0);
        scan(raw, &seen, &mut sink, &mut report, bar)?;
    }
    sink.commit()?;
    report.rejected = std::mem::take(&mut sink.rejected);
    drop(sink);
    // The copy's check reads it with pread: mapping a copy as big as the file would put all
    // of it in the resident set.
    let copy = RawFile::open(tmp)?;
    let (_, meta) = copy.snapshot(None)?;
    if let Some(p) = crate::walk::check(&copy, &meta, None).first() {
        return Err(CliError::msg(format!("the copy fails its check: {p}")));
    }
    Ok(report)
}

/// Tries every page whose pairs the walk did not copy as a leaf page.
fn scan(
    raw: &RawFile,
    seen: &crate::walk::Bits,
    sink: &mut Sink,
    report: &mut Report,
    bar: &indicatif::ProgressBar,
) -> Result<(), CliError> {
    let mut id = 2;
    while id < raw.pages() {
        if id.is_multiple_of(256) {
            bar.set_position(id);
        }
        if seen.get(id) {
            id += 1;
            continue;
        }
        report.scanned += 1;
        let leaf = raw
            .read_block(id)
            .ok()
            .and_then(|b| PageHeader::decode(&b).ok())
            .filter(|h| h.flags == LEAF_PAGE && h.id.0 == id);
        let Some(h) = leaf.filter(|h| id + u64::from(h.overflow) < raw.pages()) else {
            id += 1;
            continue;
        };
        let Ok(bytes) = raw.read_span(id, u64::from(h.overflow) + 1) else {
            id += 1;
            continue;
        };
        let Ok(p) = LeafPage::new(&bytes) else {
            id += 1;
            continue;
        };
        let path = vec![b"lost+found".to_vec(), id.to_string().into_bytes()];
        let before = sink.pairs;
        for i in 0..p.len() {
            let Ok((flags, k, v)) = p.entry(i) else {
                continue;
            };
            if flags & BUCKET_LEAF_FLAG != 0 {
                report.lost_bucket_refs += 1;
                continue;
            }
            sink.put(&path, k, v)?;
        }
        if sink.pairs > before {
            report.lost_leaves += 1;
            report.lost_pairs += sink.pairs - before;
        }
        // The next page is tried too: an overflow count may lie, and a real overflow
        // page does not carry its own id in a leaf header.
        id += 1;
    }
    Ok(())
}
