//! `rbolt analyze FILE`: where the space goes, in the manner of `sqlite3_analyzer` — per
//! bucket pages, payload and unused bytes, depth, inline or not, overflow, key and value
//! sizes; how full leaf and branch pages are; free runs by length; and what `rbolt compact`
//! would leave. One walk of the tree through pread; memory grows with the number of buckets
//! and pages (bits), never with the data.

use super::exact;
use super::map::bucket_label;
use crate::cli::space::AnalyzeArgs;
use crate::error::CliError;
use crate::json;
use crate::pack::{CopyOrder, CopySim};
use crate::pagemap::PageMap;
use crate::raw::RawFile;
use crate::source::{check_source, path_arg};
use crate::walk::{BucketInfo, PageVisit, Problem, Visit};
use rbolt_format::{BUCKET_LEAF_FLAG, LEAF_PAGE};
use serde_json::json;
use std::io::Write;

/// Min, total and max of a size.
#[derive(Clone, Copy, Debug, Default)]
struct Sizes {
    n: u64,
    min: u64,
    max: u64,
    total: u64,
}

impl Sizes {
    fn add(&mut self, x: u64) {
        self.min = if self.n == 0 { x } else { self.min.min(x) };
        self.max = self.max.max(x);
        self.total += x;
        self.n += 1;
    }

    fn avg(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.total as f64 / self.n as f64
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({ "min": self.min, "avg": (self.avg() * 10.0).round() / 10.0, "max": self.max })
    }
}

/// One bucket's space.
#[derive(Clone, Debug)]
struct Row {
    info: BucketInfo,
    branch: u64,
    leaf: u64,
    overflow: u64,
    used: u64,
    depth: u64,
    keys: Sizes,
    values: Sizes,
    sub_buckets: u64,
}

struct AnalyzeVisit {
    ps: u64,
    /// The copy `compact` would make (in pages of the OS page size, as for any new file),
    /// replayed as the walk goes.
    copy: CopyOrder,
    rows: Vec<Row>,
    /// Fill of leaf and branch pages in 10% bins (index 10 is exactly full).
    leaf_fill: [u64; 10],
    branch_fill: [u64; 10],
    problems: u64,
}

impl Visit for AnalyzeVisit {
    fn bucket(&mut self, id: u32, b: &BucketInfo) {
        let i = id as usize;
        let row = Row {
            info: b.clone(),
            branch: 0,
            leaf: 0,
            overflow: 0,
            used: 0,
            depth: 0,
            keys: Sizes::default(),
            values: Sizes::default(),
            sub_buckets: 0,
        };
        self.copy.bucket(id, b.parent, b.name.len());
        if self.rows.len() <= i {
            self.rows.resize(i + 1, row);
        } else {
            self.rows[i] = row;
        }
    }

    fn page(&mut self, p: &PageVisit<'_>) {
        let used = crate::pagemap::page_used(&p.header, p.bytes);
        let Some(r) = self.rows.get_mut(p.bucket as usize) else {
            return;
        };
        r.depth = r.depth.max(p.depth as u64 + 1);
        r.used += used;
        if p.id.is_none() {
            return;
        }
        let span = self.ps * (u64::from(p.header.overflow) + 1);
        let bin = ((used * 10 / span.max(1)) as usize).min(9);
        r.overflow += u64::from(p.header.overflow);
        if p.header.flags == LEAF_PAGE {
            r.leaf += 1;
            self.leaf_fill[bin] += 1;
        } else {
            r.branch += 1;
            self.branch_fill[bin] += 1;
        }
    }

    fn pair(&mut self, bucket: u32, _page: u64, flags: u32, k: &[u8], v: &[u8]) {
        let Some(r) = self.rows.get_mut(bucket as usize) else {
            return;
        };
        let sub = flags & BUCKET_LEAF_FLAG != 0;
        r.keys.add(k.len() as u64);
        if sub {
            r.sub_buckets += 1;
        } else {
            r.values.add(v.len() as u64);
        }
        self.copy.pair(bucket, sub, k.len(), v.len());
    }

    fn problem(&mut self, _p: &Problem) {
        self.problems += 1;
    }
}

/// `rbolt compact`'s default `--tx-max-size`: bytes of keys and values per commit.
const COMPACT_TX_MAX: u64 = 65536;

pub(crate) fn run(a: &AnalyzeArgs, ctx: &crate::Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    let path = path_arg(&a.pos.args[0]);
    check_source(path)?;
    let raw = RawFile::open_lenient(path)?;
    let dst_ps = rustix::param::page_size() as u64;
    let mut v = AnalyzeVisit {
        ps: raw.page_size,
        copy: CopyOrder::new(CopySim::new(dst_ps, COMPACT_TX_MAX)),
        rows: Vec::new(),
        leaf_fill: [0; 10],
        branch_fill: [0; 10],
        problems: 0,
    };
    let bar = ctx.progress.bar(raw.pages(), "pages");
    bar.set_prefix("analyze");
    let m = PageMap::build_with(&raw, a.from.meta, &mut v, Some(&bar))?;
    bar.finish_and_clear();
    if m.meta.is_none() {
        return Err(CliError::msg(
            "invalid database: neither meta page is valid",
        ));
    }
    let ps = raw.page_size;
    let file = raw.file_len();
    let runs = m.free_runs();
    let free_pages: u64 = runs.iter().map(|r| r.1).sum();
    let est_pages = v.copy.finish();
    let run_bins = run_bins(&runs);
    if let Some(svg) = &a.svg {
        super::analyze_svg::write(
            std::path::Path::new(svg),
            path,
            &v.leaf_fill,
            &v.branch_fill,
            &top_buckets(&v.rows, &bucket_infos(&v.rows), ps),
            file,
        )?;
    }
    if a.json {
        // Built once: per bucket it made the output quadratic in the number of buckets.
        let infos = bucket_infos(&v.rows);
        let buckets: Vec<_> = v
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let path: Vec<_> = crate::walk::bucket_path(&infos, i as u32)
                    .iter()
                    .map(|n| json::bytes(n))
                    .collect();
                let alloc = (r.branch + r.leaf + r.overflow) * ps;
                json!({
                    "path": path,
                    "inline": r.info.inline_len.is_some(),
                    "pages": r.branch + r.leaf + r.overflow,
                    "branch_pages": r.branch,
                    "leaf_pages": r.leaf,
                    "overflow_pages": r.overflow,
                    "payload_bytes": r.keys.total + r.values.total,
                    "used_bytes": r.used,
                    "unused_bytes": alloc.saturating_sub(r.used),
                    "file_percent": pct(alloc, file),
                    "depth": r.depth,
                    "keys": r.keys.n,
                    "sub_buckets": r.sub_buckets,
                    "key_size": r.keys.json(),
                    "value_size": r.values.json(),
                })
            })
            .collect();
        let runs: Vec<_> = run_bins
            .iter()
            .map(|(lo, hi, n, pages)| json!({ "min": lo, "max": hi, "runs": n, "pages": pages }))
            .collect();
        let v = json!({
            "file_size": file,
            "page_size": ps,
            "pages": m.pages,
            "meta": m.meta_id,
            "buckets": buckets,
            "fill": { "leaf": v.leaf_fill, "branch": v.branch_fill },
            "free_pages": free_pages,
            "free_runs": runs,
            "problems": v.problems,
            "compact_estimate": { "pages": est_pages, "page_size": dst_ps, "bytes": est_pages * dst_ps },
        });
        return json::line(out, &v);
    }
    let o = out;
    writeln!(
        o,
        "{}: {file} bytes, {} pages of {ps} bytes, meta {}",
        path.display(),
        m.pages,
        m.meta_id.unwrap_or(0)
    )?;
    if v.problems > 0 {
        writeln!(
            o,
            "warning: {} problems found while reading; run `rbolt check`",
            v.problems
        )?;
    }
    writeln!(o)?;
    writeln!(o, "Buckets")?;
    writeln!(
        o,
        "{:>7} {:>6} {:>6} {:>12} {:>12} {:>6} {:>5} {:>8}  {:<18} {:<18}  bucket",
        "pages",
        "ovfl",
        "%file",
        "payload",
        "unused",
        "depth",
        "keys",
        "",
        "key min/avg/max",
        "value min/avg/max"
    )?;
    let infos = bucket_infos(&v.rows);
    for (i, r) in v.rows.iter().enumerate() {
        let pages = r.branch + r.leaf + r.overflow;
        let alloc = pages * ps;
        let inline = if r.info.inline_len.is_some() {
            "inline"
        } else {
            ""
        };
        writeln!(
            o,
            "{:>7} {:>6} {:>5.1}% {:>12} {:>12} {:>6} {:>5} {:>8}  {:<18} {:<18}  {}",
            pages,
            r.overflow,
            pct(alloc, file),
            r.keys.total + r.values.total,
            alloc.saturating_sub(r.used),
            r.depth,
            r.keys.n,
            inline,
            triple(&r.keys),
            triple(&r.values),
            bucket_label(&infos, i as u32)
        )?;
    }
    writeln!(o)?;
    histogram(o, "Leaf pages by fill", &v.leaf_fill)?;
    histogram(o, "Branch pages by fill", &v.branch_fill)?;
    writeln!(o, "Free runs by length")?;
    if run_bins.is_empty() {
        writeln!(o, "  none")?;
    }
    for (lo, hi, n, pages) in &run_bins {
        let label = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo}-{hi}")
        };
        writeln!(o, "  {label:>13} pages: {n:>6} runs, {pages:>8} pages")?;
    }
    writeln!(o)?;
    writeln!(
        o,
        "Free: {free_pages} of {} pages ({:.1}%); {}",
        m.pages,
        pct(free_pages, m.pages),
        super::map::summary(&m)
    )?;
    writeln!(
        o,
        "After `rbolt compact`: about {est_pages} pages of {dst_ps} bytes, {} bytes ({:.1}% of now)",
        est_pages * dst_ps,
        pct(est_pages * dst_ps, file)
    )?;
    Ok(())
}

fn bucket_infos(rows: &[Row]) -> Vec<BucketInfo> {
    rows.iter().map(|r| r.info.clone()).collect()
}

/// The ten biggest buckets by pages: label and bytes.
fn top_buckets(rows: &[Row], infos: &[BucketInfo], ps: u64) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                bucket_label(infos, i as u32),
                (r.branch + r.leaf + r.overflow) * ps,
            )
        })
        .filter(|(_, b)| *b > 0)
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(10);
    v
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn triple(s: &Sizes) -> String {
    if s.n == 0 {
        "-".into()
    } else {
        format!("{}/{:.0}/{}", s.min, s.avg(), s.max)
    }
}

/// Free runs in power-of-two length bins: (shortest, longest, runs, pages).
fn run_bins(runs: &[(u64, u64)]) -> Vec<(u64, u64, u64, u64)> {
    let mut bins: Vec<(u64, u64, u64, u64)> = Vec::new();
    for &(_, len) in runs {
        let b = 63 - len.max(1).leading_zeros() as u64;
        let (lo, hi) = (1u64 << b, (1u64 << b) * 2 - 1);
        match bins.iter_mut().find(|x| x.0 == lo) {
            Some(x) => {
                x.2 += 1;
                x.3 += len;
            }
            None => bins.push((lo, hi, 1, len)),
        }
    }
    bins.sort();
    bins
}

/// Ten 10% bins as Unicode bars, scaled to the biggest.
fn histogram(o: &mut dyn Write, title: &str, bins: &[u64; 10]) -> Result<(), CliError> {
    writeln!(o, "{title}")?;
    let max = bins.iter().copied().max().unwrap_or(0).max(1);
    for (i, &n) in bins.iter().enumerate() {
        let eighths = (n * 40 * 8).div_ceil(max);
        let mut bar = "█".repeat((eighths / 8) as usize);
        let part = [" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][(eighths % 8) as usize];
        if eighths % 8 != 0 {
            bar.push_str(part);
        }
        writeln!(o, "  {:>3}-{:<3}% {n:>8} {bar}", i * 10, i * 10 + 10)?;
    }
    Ok(())
}
