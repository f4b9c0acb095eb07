//! Output: `results.json` (one object per engine × phase), `results.md` (the table) and
//! `ratios.svg` (a hand-written chart of rbolt's ratio against each peer, log scale).

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One result: the JSON array holds these.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) engine: String,
    pub(crate) phase: String,
    /// Element count this engine ran with (differs from the run's `--n` under `--n-for`).
    pub(crate) n: u64,
    pub(crate) millis: f64,
    pub(crate) ops_per_sec: f64,
    pub(crate) peak_rss_bytes: u64,
    pub(crate) file_bytes: u64,
}

/// How the run was made; stored beside the results as `results.meta.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) n: u64,
    pub(crate) n_for: BTreeMap<String, u64>,
    pub(crate) engines: Vec<String>,
    pub(crate) notes: Vec<String>,
    pub(crate) total_secs: f64,
    /// Runs per engine; each cell is the best (lowest) of them, or the median (`keep`).
    #[serde(default)]
    pub(crate) runs: usize,
    /// "best" or "median".
    #[serde(default = "best")]
    pub(crate) keep: String,
}

fn best() -> String {
    "best".to_string()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Lower millis (higher ops/s) is better.
    Time,
    /// Lower `file_bytes` is better.
    Size,
    /// Lower `peak_rss_bytes` is better.
    Rss,
}

const PHASES: [(&str, &str, Kind); 19] = [
    ("bulk_load", "bulk load (1 tx)", Kind::Time),
    (
        "individual_writes",
        "individual writes (1 tx each)",
        Kind::Time,
    ),
    ("batch_writes", "batch writes", Kind::Time),
    ("nosync_writes", "nosync writes (1 tx each)", Kind::Time),
    (
        "sorted_inserts",
        "sorted inserts (append, 1 tx)",
        Kind::Time,
    ),
    ("len", "len()", Kind::Time),
    ("random_reads", "random reads", Kind::Time),
    (
        "random_range_reads",
        "random range reads (10 each)",
        Kind::Time,
    ),
    ("random_reads_1t", "random reads (1 thread)", Kind::Time),
    ("random_reads_2t", "random reads (2 threads)", Kind::Time),
    ("random_reads_4t", "random reads (4 threads)", Kind::Time),
    ("removals", "removals (half, 1 tx)", Kind::Time),
    ("compaction", "compaction time", Kind::Time),
    ("uncompacted_size", "uncompacted size", Kind::Size),
    ("compacted_size", "compacted size", Kind::Size),
    ("large_write", "large values: write (1 tx)", Kind::Time),
    ("large_read", "large values: read all", Kind::Time),
    ("peak_rss_main", "peak RSS (main workload)", Kind::Rss),
    ("peak_rss_large", "peak RSS (large values)", Kind::Rss),
];

/// The engine's score for a phase, higher is better, or None if it did not run it.
fn score(rows: &[Row], engine: &str, phase: &str, kind: Kind) -> Option<f64> {
    let r = rows
        .iter()
        .find(|r| r.engine == engine && r.phase == phase)?;
    match kind {
        Kind::Time if r.ops_per_sec > 0.0 => Some(r.ops_per_sec),
        Kind::Size if r.file_bytes > 0 => Some(1.0 / r.file_bytes as f64),
        Kind::Rss if r.peak_rss_bytes > 0 => Some(1.0 / r.peak_rss_bytes as f64),
        _ => None,
    }
}

fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    }
}

fn fmt_ms(ms: f64) -> String {
    if ms < 0.01 {
        // A call of a few microseconds (len): the children report nanoseconds.
        format!("{:.2}µs", ms * 1000.0)
    } else if ms < 0.1 {
        format!("{:.1}µs", ms * 1000.0)
    } else if ms < 10.0 {
        format!("{ms:.2}ms")
    } else if ms < 1000.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    }
}

fn cell(r: &Row, kind: Kind) -> String {
    match kind {
        Kind::Time => fmt_ms(r.millis),
        Kind::Size => fmt_bytes(r.file_bytes),
        Kind::Rss => fmt_bytes(r.peak_rss_bytes),
    }
}

/// rbolt's ratio against `other` (> 1: rbolt better).
fn ratio(rows: &[Row], other: &str, phase: &str, kind: Kind) -> Option<f64> {
    Some(score(rows, "rbolt", phase, kind)? / score(rows, other, phase, kind)?)
}

/// True if `engine` ran with the run's `n` (not lowered by `--n-for`).
fn full_n(rows: &[Row], engine: &str, n: u64) -> bool {
    rows.iter().filter(|r| r.engine == engine).all(|r| r.n == n)
}

/// rbolt's ratio against the best other engine that ran with the same n, and that engine.
fn ratio_best(rows: &[Row], meta: &Meta, phase: &str, kind: Kind) -> Option<(f64, String)> {
    let rb = score(rows, "rbolt", phase, kind)?;
    meta.engines
        .iter()
        .filter(|e| *e != "rbolt" && full_n(rows, e, meta.n))
        .filter_map(|e| Some((score(rows, e, phase, kind)?, e.clone())))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(best, e)| (rb / best, e))
}

pub(crate) fn markdown(rows: &[Row], meta: &Meta) -> String {
    let engines = &meta.engines;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "n = {} (elements after the write phases: {}). Times in ms, lower is better; best in **bold**. \
         Ratio > 1 means rbolt is better (faster, or smaller).\n",
        meta.n,
        crate::workload::Params::new(meta.n).elements()
    );
    if meta.runs > 1 {
        let _ = writeln!(
            s,
            "Each engine ran {} times (interleaved); every cell is its {} run.\n",
            meta.runs,
            if meta.keep == "median" {
                "median"
            } else {
                "best"
            }
        );
    }
    let _ = writeln!(
        s,
        "| phase | {} | rbolt vs best other |",
        engines.join(" | ")
    );
    let _ = writeln!(s, "|---|{}---|", "---|".repeat(engines.len()));
    for (phase, label, kind) in PHASES {
        if !rows.iter().any(|r| r.phase == phase) {
            continue;
        }
        let best = engines
            .iter()
            .filter(|e| full_n(rows, e, meta.n))
            .filter_map(|e| score(rows, e, phase, kind))
            .fold(f64::MIN, f64::max);
        let mut line = format!("| {label} |");
        for e in engines {
            match rows.iter().find(|r| &r.engine == e && r.phase == phase) {
                Some(r) => {
                    let mut c = cell(r, kind);
                    if r.n != meta.n {
                        c.push('†');
                    }
                    if score(rows, e, phase, kind) == Some(best) {
                        c = format!("**{c}**");
                    }
                    let _ = write!(line, " {c} |");
                }
                None => line.push_str(" n/a |"),
            }
        }
        match ratio_best(rows, meta, phase, kind) {
            Some((r, e)) => {
                let _ = write!(line, " {r:.2}× ({e}) |");
            }
            None => line.push_str(" n/a |"),
        }
        let _ = writeln!(s, "{line}");
    }
    if !meta.n_for.is_empty() {
        let _ = writeln!(
            s,
            "\n† ran with a smaller n: {}. Ratios for those cells compare throughput (ops/s), \
             not times, and are left out of \"best\" and \"rbolt vs best other\"; a smaller \
             tree reads faster, so they flatter that engine. Sizes and RSS are not comparable.",
            meta.n_for
                .iter()
                .map(|(e, n)| format!("{e} n = {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // rbolt against each peer.
    let peers: Vec<&String> = engines.iter().filter(|e| *e != "rbolt").collect();
    if rows.iter().any(|r| r.engine == "rbolt") && !peers.is_empty() {
        let _ = writeln!(
            s,
            "\nrbolt against each engine (peer time ÷ rbolt time, or peer size ÷ rbolt size; \
             > 1 = rbolt better):\n"
        );
        let peer_names: Vec<&str> = peers.iter().map(|p| p.as_str()).collect();
        let _ = writeln!(s, "| phase | {} |", peer_names.join(" | "));
        let _ = writeln!(s, "|---|{}", "---|".repeat(peers.len()));
        for (phase, label, kind) in PHASES {
            if score(rows, "rbolt", phase, kind).is_none() {
                continue;
            }
            let mut line = format!("| {label} |");
            for p in &peers {
                match ratio(rows, p, phase, kind) {
                    Some(r) if r >= 1.0 => {
                        let _ = write!(line, " {r:.2} |");
                    }
                    Some(r) => {
                        let _ = write!(line, " *{r:.2}* |");
                    }
                    None => line.push_str(" n/a |"),
                }
            }
            let _ = writeln!(s, "{line}");
        }
    }
    for n in &meta.notes {
        let _ = writeln!(s, "\nNote: {n}");
    }
    s
}

const COLORS: [&str; 7] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
];

/// A horizontal chart: for each phase, a bar from 1 to rbolt's ratio against the best other
/// engine (green: rbolt ahead, red: behind), and one dot per peer. Log₂ axis, 1/16× to 16×.
pub(crate) fn svg(rows: &[Row], meta: &Meta) -> String {
    let peers: Vec<&String> = meta.engines.iter().filter(|e| *e != "rbolt").collect();
    let phases: Vec<_> = PHASES
        .iter()
        .filter(|(p, _, k)| score(rows, "rbolt", p, *k).is_some())
        .collect();
    let (left, right, top, row_h) = (260.0, 60.0, 60.0, 26.0);
    let plot_w = 640.0;
    let width = left + plot_w + right;
    let height = top + row_h * phases.len() as f64 + 70.0;
    let (lo, hi) = (-4.0f64, 4.0f64); // log2 range
    let x = |r: f64| left + (r.log2().clamp(lo, hi) - lo) / (hi - lo) * plot_w;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">rbolt vs peers, n = {} (ratio &gt; 1: rbolt faster / smaller; log scale)</text>"#,
        width / 2.0,
        meta.n
    );
    for t in -4..=4 {
        let r = 2f64.powi(t);
        let xx = x(r);
        let label = if t >= 0 {
            format!("{}×", 1 << t)
        } else {
            format!("1/{}×", 1 << -t)
        };
        let _ = writeln!(
            s,
            r##"<line x1="{xx}" y1="{top}" x2="{xx}" y2="{}" stroke="{}" stroke-width="{}"/><text x="{xx}" y="{}" text-anchor="middle" fill="#444">{label}</text>"##,
            top + row_h * phases.len() as f64,
            if t == 0 { "#000" } else { "#ddd" },
            if t == 0 { 1.5 } else { 1.0 },
            top - 6.0
        );
    }
    for (i, (phase, label, kind)) in phases.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{label}</text>"#,
            left - 8.0,
            y + row_h * 0.65
        );
        if let Some((r, _)) = ratio_best(rows, meta, phase, *kind) {
            let (x0, x1) = (x(1.0).min(x(r)), x(1.0).max(x(r)));
            let color = if r >= 1.0 { "#7fc97f" } else { "#f08080" };
            // Right of a green bar; left of a red one, or inside it where it hits the edge.
            let (tx, anchor) = if r >= 1.0 {
                (x1 + 3.0, "start")
            } else if x0 < left + 30.0 {
                (x0 + 3.0, "start")
            } else {
                (x0 - 3.0, "end")
            };
            let _ = writeln!(
                s,
                r##"<rect x="{x0}" y="{}" width="{}" height="{}" fill="{color}"/><text x="{tx}" y="{}" font-size="10" fill="#333" text-anchor="{anchor}">{r:.2}×</text>"##,
                y + 5.0,
                (x1 - x0).max(1.0),
                row_h - 10.0,
                y + row_h * 0.65,
            );
        }
        for (j, p) in peers.iter().enumerate() {
            if let Some(r) = ratio(rows, p, phase, *kind) {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{}" cy="{}" r="3.5" fill="{}" stroke="white" stroke-width="0.5"><title>{p}: {r:.2}×</title></circle>"#,
                    x(r),
                    y + row_h / 2.0,
                    COLORS[j % COLORS.len()]
                );
            }
        }
    }
    let ly = top + row_h * phases.len() as f64 + 30.0;
    let mut lx = left;
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end">dots: rbolt vs</text>"#,
        lx - 8.0,
        ly + 4.0
    );
    for (j, p) in peers.iter().enumerate() {
        let mark = if full_n(rows, p, meta.n) { "" } else { "†" };
        let _ = writeln!(
            s,
            r#"<circle cx="{lx}" cy="{ly}" r="4" fill="{}"/><text x="{}" y="{}">{p}{mark}</text>"#,
            COLORS[j % COLORS.len()],
            lx + 8.0,
            ly + 4.0
        );
        lx += 90.0;
    }
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="{}" fill="#444">bar: rbolt vs the best other engine in that row (green ahead, red behind); †: ran with a smaller n</text>"##,
        ly + 24.0
    );
    s.push_str("</svg>\n");
    s
}

pub(crate) fn write_all(out: &Path, rows: &[Row], meta: &Meta) -> Result<()> {
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(rows)?,
    )?;
    std::fs::write(
        out.join("results.meta.json"),
        serde_json::to_string_pretty(meta)?,
    )?;
    let md = markdown(rows, meta);
    std::fs::write(out.join("results.md"), &md)?;
    std::fs::write(out.join("ratios.svg"), svg(rows, meta))?;
    println!("{md}");
    Ok(())
}

pub(crate) fn read_json(path: &Path) -> Result<(Vec<Row>, Meta)> {
    let rows: Vec<Row> = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let meta_path = path.with_file_name("results.meta.json");
    let meta = match std::fs::read_to_string(&meta_path) {
        Ok(s) => {
            let mut m: Meta = serde_json::from_str(&s)?;
            m.runs = m.runs.max(1);
            m
        }
        Err(_) => {
            let mut engines: Vec<String> = Vec::new();
            for r in &rows {
                if !engines.contains(&r.engine) {
                    engines.push(r.engine.clone());
                }
            }
            Meta {
                n: rows.first().map_or(0, |r| r.n),
                n_for: BTreeMap::new(),
                engines,
                notes: Vec::new(),
                total_secs: 0.0,
                runs: 1,
                keep: best(),
            }
        }
    };
    Ok((rows, meta))
}
