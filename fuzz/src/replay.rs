//! The stable-toolchain driver: without libFuzzer, each target is a binary that runs every
//! file of the given corpus directories (and `fuzz/regressions/<target>/`), then random
//! inputs — fresh bytes and bit-flipped corpus entries — from a printed seed.
//!
//! ```text
//! format_decode [--runs N] [--seed S] [--max-len L] [CORPUS_DIR_OR_FILE ...]
//! ```
//!
//! A panic stops the run, prints the seed and input number, and saves the input as
//! `fuzz/artifacts/<target>/crash-<hash>` (replay it by passing that file).

use rbolt_testkit::rng::Rng;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            files(&e, out);
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

fn run_one(name: &str, target: fn(&[u8]), input: &[u8], what: &str) {
    let r = std::panic::catch_unwind(|| target(input));
    if r.is_err() {
        let mut h = DefaultHasher::new();
        h.write(input);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("artifacts")
            .join(name);
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("crash-{:016x}", h.finish()));
        let _ = std::fs::write(&file, input);
        eprintln!("{name}: CRASH on {what}; input saved to {}", file.display());
        std::process::exit(1);
    }
}

/// Runs `target` as described in the module docs.
pub fn main(name: &str, target: fn(&[u8])) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 1000u64;
    let mut seed = None;
    let mut max_len = 4096usize;
    let mut paths = vec![
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(name),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("regressions")
            .join(name),
    ];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .and_then(|v| v.parse::<u64>().ok())
                .expect("a number")
        };
        match a.as_str() {
            "--runs" => runs = val(),
            "--seed" => seed = Some(val()),
            "--max-len" => max_len = val() as usize,
            p => paths.push(PathBuf::from(p)),
        }
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let start = Instant::now();
    let mut corpus = Vec::new();
    for p in &paths {
        files(p, &mut corpus);
    }
    let inputs: Vec<Vec<u8>> = corpus
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .collect();
    for (f, data) in corpus.iter().zip(&inputs) {
        run_one(name, target, data, &f.display().to_string());
    }
    let mut r = Rng::new(seed);
    for i in 0..runs {
        let data = if !inputs.is_empty() && r.chance(0.5) {
            let mut d = r.pick(&inputs).clone();
            for _ in 0..r.range(1, 8) {
                if d.is_empty() {
                    break;
                }
                let pos = r.index(d.len());
                d[pos] ^= 1 << r.below(8);
            }
            d
        } else {
            let n = r.index(max_len + 1);
            r.bytes(n)
        };
        run_one(
            name,
            target,
            &data,
            &format!("random input {i} of seed {seed}"),
        );
    }
    eprintln!(
        "{name}: {} corpus files and {runs} random inputs (seed {seed}) in {:.1}s, no crash",
        inputs.len(),
        start.elapsed().as_secs_f64()
    );
}
