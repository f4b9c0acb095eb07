//! `rbolt-bench`: rbolt side by side with LMDB (heed), redb, sled, jammdb, SQLite and Go bbolt,
//! on redb's benchmark workload. Each engine runs in its own child process (this binary
//! re-executed with the hidden `__child` subcommand, or the Go driver under `go/`), so peak
//! RSS is measured per engine; the parent collects the results and writes a markdown table,
//! JSON and an SVG chart. See the crate README for flags.

mod engines;
mod report;
mod workload;

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use workload::{Params, Recorder};

/// Every engine, in column order.
const ALL_ENGINES: [&str; 7] = [
    "rbolt", "lmdb", "redb", "sled", "jammdb", "sqlite", "go-bbolt",
];

const USAGE: &str = "usage: rbolt-bench [--n N | --quick] [--engines all|LIST] [--out DIR]
                   [--data-dir DIR] [--n-for ENGINE=N]... [--no-large] [--timeout SECS]
                   [--runs K] [--keep best|median] [--keep-data]
       rbolt-bench probe [--dir DIR] [--count N]
       rbolt-bench render RESULTS.json [MORE.json...] [--keep best|median] [--out DIR]
Run `cargo run --release -p rbolt-bench -- --help` or see crates/rbolt-bench/README.md.";

#[derive(Debug)]
struct Args {
    n: u64,
    engines: Vec<String>,
    out: PathBuf,
    data_dir: Option<PathBuf>,
    n_for: BTreeMap<String, u64>,
    large: bool,
    timeout: Option<Duration>,
    keep_data: bool,
    runs: usize,
    keep: Keep,
}

/// Which of several runs a cell reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keep {
    /// The lowest time (or size): what the machine can do when the neighbours are quiet.
    Best,
    /// The median run: robust to one lucky or unlucky run either way, for rows that flip.
    Median,
}

impl Keep {
    fn parse(s: &str) -> Result<Self> {
        match s {
            "best" => Ok(Keep::Best),
            "median" => Ok(Keep::Median),
            _ => bail!("--keep best|median, not {s:?}"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Keep::Best => "best",
            Keep::Median => "median",
        }
    }
}

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("__child") => child(&argv[1..]),
        Some("probe" | "fsync-probe") => fsync_probe(&argv[1..]),
        Some("render") => render(&argv[1..]),
        Some("--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => parent(parse_args(&argv)?),
    }
}

fn parse_args(argv: &[String]) -> Result<Args> {
    let mut a = Args {
        n: 1_000_000,
        engines: ALL_ENGINES.iter().map(|s| s.to_string()).collect(),
        out: PathBuf::from("target/bench"),
        data_dir: None,
        n_for: BTreeMap::new(),
        large: true,
        timeout: None,
        keep_data: false,
        runs: 1,
        keep: Keep::Best,
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut val = || {
            it.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--n" => a.n = val()?.replace('_', "").parse()?,
            "--quick" => a.n = 20_000,
            "--engines" => {
                let v = val()?;
                if v != "all" {
                    a.engines = v.split(',').map(|s| s.trim().to_string()).collect();
                    for e in &a.engines {
                        if !ALL_ENGINES.contains(&e.as_str()) {
                            bail!("unknown engine {e:?}; known: {}", ALL_ENGINES.join(","));
                        }
                    }
                }
            }
            "--out" => a.out = PathBuf::from(val()?),
            "--data-dir" => a.data_dir = Some(PathBuf::from(val()?)),
            "--n-for" => {
                let v = val()?;
                let (e, n) = v.split_once('=').context("--n-for ENGINE=N")?;
                a.n_for.insert(e.to_string(), n.replace('_', "").parse()?);
            }
            "--no-large" => a.large = false,
            "--timeout" => a.timeout = Some(Duration::from_secs(val()?.parse()?)),
            "--keep-data" => a.keep_data = true,
            "--runs" => a.runs = val()?.parse::<usize>()?.max(1),
            "--keep" => a.keep = Keep::parse(val()?)?,
            _ => bail!("unknown argument {arg:?}\n{USAGE}"),
        }
    }
    Ok(a)
}

use rbolt_testkit::peak_rss;

/// `__child ENGINE MODE N DIR`: run one workload on one engine, results on stdout.
fn child(argv: &[String]) -> Result<()> {
    let [engine, mode, n, dir] = argv else {
        bail!("__child ENGINE MODE N DIR");
    };
    let p = Params::new(n.parse()?);
    let dir = Path::new(dir);
    let rec = Recorder { engine, dir };
    let mut e = engines::open(engine, dir)?;
    match mode.as_str() {
        "main" => workload::run_main(e.as_mut(), &p, &rec)?,
        "large" => workload::run_large(e.as_mut(), &p, &rec)?,
        _ => bail!("unknown mode {mode}"),
    }
    drop(e);
    println!("M peak_rss {}", peak_rss());
    Ok(())
}

/// Build the Go driver (once) and return its path, or None if Go is not available.
fn go_driver() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("go/build.sh");
    let out = Command::new("sh")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("go-bbolt: build failed; skipping it");
        return None;
    }
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()?
        .trim()
        .to_string();
    Some(PathBuf::from(path))
}

/// Results of one child run.
#[derive(Debug, Default)]
struct ChildOut {
    phases: Vec<workload::PhaseResult>,
    checks: Vec<(String, String)>,
    peak_rss: u64,
    failure: Option<String>,
}

fn run_child(mut cmd: Command, timeout: Option<Duration>) -> Result<ChildOut> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let reader = std::thread::spawn(move || -> Vec<String> {
        BufReader::new(stdout)
            .lines()
            .map_while(|l| l.ok())
            .collect()
    });
    let start = Instant::now();
    let mut failure = None;
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                failure = Some(format!("exited with {status}"));
            }
            break;
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            // Our own child, by pid.
            child.kill()?;
            child.wait()?;
            failure = Some(format!("timed out after {:?}", timeout.unwrap_or_default()));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = reader.join().expect("reader thread");
    let mut out = ChildOut {
        failure,
        ..ChildOut::default()
    };
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["R", phase, ms, ops, bytes] => out.phases.push(workload::PhaseResult {
                phase: phase.to_string(),
                millis: ms.parse()?,
                ops: ops.parse()?,
                file_bytes: bytes.parse()?,
            }),
            ["C", name, v] => out.checks.push((name.to_string(), v.to_string())),
            ["M", "peak_rss", v] => out.peak_rss = v.parse()?,
            _ => eprintln!("child: unexpected line {line:?}"),
        }
    }
    Ok(out)
}

fn parent(a: Args) -> Result<()> {
    let data_root = a.data_dir.clone().unwrap_or_else(|| a.out.join("data"));
    std::fs::create_dir_all(&a.out)?;
    let exe = std::env::current_exe()?;
    let go = if a.engines.iter().any(|e| e == "go-bbolt") {
        go_driver()
    } else {
        None
    };
    let mut rows: Vec<report::Row> = Vec::new();
    let mut checks: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut notes = Vec::new();
    let started = Instant::now();
    // Runs are interleaved (every engine once, then again) so that noise spreads evenly.
    for run in 0..a.runs {
        if a.runs > 1 {
            eprintln!("==== run {} of {} ====", run + 1, a.runs);
        }
        for engine in &a.engines {
            let n = a.n_for.get(engine).copied().unwrap_or(a.n);
            let modes: &[&str] = if a.large {
                &["main", "large"]
            } else {
                &["main"]
            };
            for mode in modes {
                let dir = data_root.join(engine).join(mode);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                std::fs::create_dir_all(&dir)?;
                eprintln!("== {engine} ({mode}, n = {n}) ==");
                let cmd = if engine == "go-bbolt" {
                    let Some(go) = &go else {
                        notes.push("go-bbolt: Go driver not built; column empty".to_string());
                        continue;
                    };
                    let mut c = Command::new(go);
                    c.args(["-mode", mode, "-n", &n.to_string(), "-dir"])
                        .arg(&dir);
                    c
                } else {
                    let mut c = Command::new(&exe);
                    c.args(["__child", engine, mode, &n.to_string()]).arg(&dir);
                    c
                };
                let t0 = Instant::now();
                let out = run_child(cmd, a.timeout)?;
                eprintln!(
                    "== {engine} ({mode}) done in {:.1} s, peak RSS {:.1} MiB ==",
                    t0.elapsed().as_secs_f64(),
                    out.peak_rss as f64 / (1 << 20) as f64
                );
                if let Some(f) = &out.failure {
                    eprintln!("!! {engine} ({mode}) {f}");
                    notes.push(format!("{engine} ({mode}): {f}; later phases missing"));
                }
                for p in &out.phases {
                    rows.push(report::Row {
                        engine: engine.clone(),
                        phase: p.phase.clone(),
                        n,
                        millis: p.millis,
                        ops_per_sec: if p.millis > 0.0 {
                            p.ops as f64 / (p.millis / 1000.0)
                        } else {
                            0.0
                        },
                        peak_rss_bytes: out.peak_rss,
                        file_bytes: p.file_bytes,
                    });
                }
                if out.peak_rss > 0 {
                    rows.push(report::Row {
                        engine: engine.clone(),
                        phase: format!("peak_rss_{mode}"),
                        n,
                        millis: 0.0,
                        ops_per_sec: 0.0,
                        peak_rss_bytes: out.peak_rss,
                        file_bytes: 0,
                    });
                }
                for (name, v) in out.checks {
                    checks
                        .entry(format!("{name} (n={n})"))
                        .or_default()
                        .insert(engine.clone(), v);
                }
                if !a.keep_data {
                    std::fs::remove_dir_all(&dir).ok();
                }
            }
        }
    }
    let rows = combine_runs(rows, a.keep);
    for (name, by_engine) in &checks {
        let mut values: Vec<&String> = by_engine.values().collect();
        values.dedup();
        if values.len() > 1 {
            let msg = format!("checksum {name} differs between engines: {by_engine:?}");
            eprintln!("!! {msg}");
            notes.push(msg);
        }
    }
    let meta = report::Meta {
        n: a.n,
        n_for: a.n_for.clone(),
        engines: a.engines.clone(),
        notes,
        total_secs: started.elapsed().as_secs_f64(),
        runs: a.runs,
        keep: a.keep.name().to_string(),
    };
    report::write_all(&a.out, &rows, &meta)?;
    eprintln!(
        "wrote {}/{{results.md,results.json,ratios.svg}} in {:.0} s",
        a.out.display(),
        meta.total_secs
    );
    Ok(())
}

/// One row per engine and phase out of several runs' rows: the best run (lowest time for
/// timed phases, lowest size or RSS otherwise) or the median one (the lower middle of the
/// runs in that order, so every reported row is a run that happened).
fn combine_runs(rows: Vec<report::Row>, keep: Keep) -> Vec<report::Row> {
    let mut groups: Vec<Vec<report::Row>> = Vec::new();
    for r in rows {
        match groups
            .iter_mut()
            .find(|g| g[0].engine == r.engine && g[0].phase == r.phase)
        {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    groups
        .into_iter()
        .map(|mut g| {
            let timed = g.iter().any(|r| r.millis > 0.0);
            g.sort_by(|x, y| {
                if timed {
                    x.millis.total_cmp(&y.millis)
                } else {
                    (x.file_bytes, x.peak_rss_bytes).cmp(&(y.file_bytes, y.peak_rss_bytes))
                }
            });
            let at = match keep {
                Keep::Best => 0,
                Keep::Median => (g.len() - 1) / 2,
            };
            g.swap_remove(at)
        })
        .collect()
}

/// Re-render the table and chart from one or more results.json files. With several (runs of
/// the same configuration), every cell keeps its best (or `--keep median`) run, as `--runs`
/// does.
fn render(argv: &[String]) -> Result<()> {
    let mut inputs = Vec::new();
    let mut out = None;
    let mut keep = Keep::Best;
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = it.next().map(PathBuf::from),
            "--keep" => keep = Keep::parse(it.next().map_or("", String::as_str))?,
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    let first = inputs
        .first()
        .context("render RESULTS.json [MORE.json...] [--out DIR]")?
        .clone();
    let (mut rows, mut meta) = report::read_json(&first)?;
    for input in &inputs[1..] {
        let (more, m) = report::read_json(input)?;
        if m.n != meta.n || m.n_for != meta.n_for {
            bail!(
                "{} ran with other sizes than {}",
                input.display(),
                first.display()
            );
        }
        rows.extend(more);
        meta.runs += m.runs.max(1);
        meta.total_secs += m.total_secs;
        meta.notes.extend(m.notes);
    }
    let rows = combine_runs(rows, keep);
    meta.keep = keep.name().to_string();
    let out = out.unwrap_or_else(|| first.parent().unwrap_or(Path::new(".")).to_path_buf());
    std::fs::create_dir_all(&out)?;
    report::write_all(&out, &rows, &meta)
}

/// The machine's physical floors: `pwrite(4 KiB) + fdatasync` latency and sequential write
/// bandwidth on the disk that holds `--dir`, and the latency of a dependent DRAM miss.
fn fsync_probe(argv: &[String]) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let mut dir = PathBuf::from("target");
    let mut count = 500usize;
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--dir" => dir = PathBuf::from(it.next().context("--dir DIR")?),
            "--count" => count = it.next().context("--count N")?.parse()?,
            _ => bail!("probe [--dir DIR] [--count N]"),
        }
    }
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("fsync-probe.tmp");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let buf = vec![0xA5u8; 4096];
    f.write_all_at(&vec![0u8; 64 * 4096], 0)?;
    f.sync_all()?;
    let mut lat = Vec::with_capacity(count);
    for i in 0..count {
        f.write_all_at(&buf, (i % 64) as u64 * 4096)?;
        let t = Instant::now();
        f.sync_data()?;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    println!(
        "fdatasync after a 4 KiB pwrite, {count} samples in {}: min {:.0} µs, median {:.0} µs, \
         p90 {:.0} µs, p99 {:.0} µs, mean {:.0} µs",
        dir.display(),
        lat[0],
        pct(0.5),
        pct(0.9),
        pct(0.99),
        lat.iter().sum::<f64>() / lat.len() as f64
    );

    // Sequential write bandwidth: 512 MiB in 1 MiB pwrites, then one fdatasync.
    let chunk = vec![0x5Au8; 1 << 20];
    let t = Instant::now();
    for i in 0..512u64 {
        f.write_all_at(&chunk, i << 20)?;
    }
    f.sync_data()?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "sequential write: 512 MiB + fdatasync in {:.2} s = {:.0} MiB/s",
        secs,
        512.0 / secs
    );
    drop(f);
    std::fs::remove_file(&path)?;

    // DRAM: a dependent pointer chase through a random cycle over 1 GiB.
    let slots = (1usize << 30) / 8;
    let mut next: Vec<usize> = (0..slots).collect();
    let mut r = workload::Rng::new(7);
    // Sattolo's algorithm: one cycle through every slot.
    for i in (1..slots).rev() {
        let j = (r.next_u64() % i as u64) as usize;
        next.swap(i, j);
    }
    let steps = 20_000_000usize;
    let mut p = 0usize;
    let t = Instant::now();
    for _ in 0..steps {
        p = next[p];
    }
    let ns = t.elapsed().as_secs_f64() * 1e9 / steps as f64;
    println!(
        "DRAM: dependent random load over 1 GiB: {ns:.1} ns each (cache + TLB miss; ended at {p})"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Keep, combine_runs};
    use crate::report::Row;

    fn row(engine: &str, phase: &str, millis: f64, file_bytes: u64) -> Row {
        Row {
            engine: engine.into(),
            phase: phase.into(),
            n: 10,
            millis,
            ops_per_sec: 0.0,
            peak_rss_bytes: 0,
            file_bytes,
        }
    }

    #[test]
    fn runs_combine_to_the_best_or_the_median_run() {
        let rows = || {
            vec![
                row("rbolt", "len", 9.0, 0),
                row("go", "len", 7.0, 0),
                row("rbolt", "len", 1.0, 0),
                row("rbolt", "size", 0.0, 30),
                row("rbolt", "len", 5.0, 0),
                row("rbolt", "len", 4.0, 0),
                row("rbolt", "size", 0.0, 10),
            ]
        };
        let pick = |keep, engine: &str, phase: &str| {
            let out = combine_runs(rows(), keep);
            assert_eq!(out.len(), 3, "one row per engine and phase");
            let r = out
                .into_iter()
                .find(|r| r.engine == engine && r.phase == phase)
                .unwrap();
            (r.millis, r.file_bytes)
        };
        assert_eq!(pick(Keep::Best, "rbolt", "len"), (1.0, 0));
        assert_eq!(
            pick(Keep::Median, "rbolt", "len"),
            (4.0, 0),
            "lower middle of 1,4,5,9"
        );
        assert_eq!(pick(Keep::Best, "rbolt", "size"), (0.0, 10));
        assert_eq!(pick(Keep::Median, "rbolt", "size"), (0.0, 10));
        assert_eq!(pick(Keep::Median, "go", "len"), (7.0, 0));
    }
}
