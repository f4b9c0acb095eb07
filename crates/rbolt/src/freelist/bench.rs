//! Allocation benchmark at 10^6 free pages (run by hand, in release mode):
//!
//! ```text
//! cargo test -p rbolt --release --lib -- --ignored --nocapture freelist_at_a_million
//! ```
//!
//! The free set is fragmented like a long-churned file: runs of 1–8 free pages separated by
//! 1–8 used ones, 10^6 free pages in all. Compared: the array and hashmap free sets, and the
//! linear scan they replaced ("scan": a `BTreeMap<start, len>` searched front to back for the
//! first run that fits, which is what bbolt's array freelist does over individual ids).

use super::{Freelist, FreelistType};
use rbolt_format::{Pgid, Txid};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

const FREE: u64 = 1_000_000;

/// (start, len) runs of the fragmented free set, and the high-water mark.
fn fragmented() -> (Vec<(u64, u64)>, u64) {
    let mut rng = rbolt_testkit::rng::Rng::new(0x2545_F491_4F6C_DD1D);
    let (mut runs, mut id, mut free) = (Vec::new(), 2u64, 0u64);
    while free < FREE {
        id += rng.below(8) + 1; // used pages
        let len = (rng.below(8) + 1).min(FREE - free);
        runs.push((id, len));
        id += len;
        free += len;
    }
    (runs, id + 1)
}

/// The previous implementation, for comparison.
struct Scan(BTreeMap<u64, u64>);

impl Scan {
    fn allocate(&mut self, n: u64) -> Option<u64> {
        let (&s, &l) = self.0.iter().find(|&(_, &l)| l >= n)?;
        self.0.remove(&s);
        if l > n {
            self.0.insert(s + n, l - n);
        }
        Some(s)
    }
}

trait Alloc {
    fn alloc(&mut self, n: u64) -> Option<u64>;
}
impl Alloc for Scan {
    fn alloc(&mut self, n: u64) -> Option<u64> {
        self.allocate(n)
    }
}
impl Alloc for Freelist {
    fn alloc(&mut self, n: u64) -> Option<u64> {
        self.allocate(Txid(1), n).map(Pgid::get)
    }
}

/// Average nanoseconds per allocation of `n` pages over `count` calls.
fn per_alloc(a: &mut dyn Alloc, n: u64, count: u32) -> f64 {
    let t = Instant::now();
    for _ in 0..count {
        black_box(a.alloc(n));
    }
    t.elapsed().as_nanos() as f64 / f64::from(count)
}

fn build(name: &str, runs: &[(u64, u64)], ids: &[u64], hwm: u64) -> Box<dyn Alloc> {
    let ids: Vec<Pgid> = ids.iter().copied().map(Pgid).collect();
    let hwm = Pgid(hwm);
    match name {
        "scan" => Box::new(Scan(runs.iter().copied().collect())),
        "array" => Box::new(Freelist::from_ids_typed(ids, hwm, FreelistType::Array).unwrap()),
        _ => Box::new(Freelist::from_ids_typed(ids, hwm, FreelistType::Hashmap).unwrap()),
    }
}

/// Best of a few repetitions, each on a fresh structure (the machine is shared).
const REPS: usize = 5;

#[test]
#[ignore = "benchmark: run by hand in release mode"]
fn freelist_at_a_million_free_pages() {
    let (runs, hwm) = fragmented();
    let ids: Vec<u64> = runs.iter().flat_map(|&(s, l)| s..s + l).collect();
    assert_eq!(ids.len() as u64, FREE);
    println!(
        "free pages {FREE}, runs {}, high-water mark {hwm}",
        runs.len()
    );
    // (n, calls): 1 and 4 fit early runs; 8 needs the rarer long runs; 16 fits nowhere, so
    // each call must establish that no run is long enough.
    let cases = [(1u64, 100_000u32), (4, 20_000), (8, 10_000), (16, 10_000)];
    println!("| structure | load 10^6 ids | n=1 | n=4 | n=8 | n=16 (no fit) | free 1 page |");
    println!("|---|---|---|---|---|---|---|");
    for name in ["scan", "array", "hashmap"] {
        let mut load = f64::MAX;
        let mut best = [f64::MAX; 4];
        for _ in 0..REPS {
            let t = Instant::now();
            let mut a = build(name, &runs, &ids, hwm);
            load = load.min(t.elapsed().as_secs_f64() * 1e3);
            for (i, &(n, count)) in cases.iter().enumerate() {
                best[i] = best[i].min(per_alloc(a.as_mut(), n, count));
            }
        }
        // (The scan is built straight from runs, so its load time is not comparable.)
        let mut row = if name == "scan" {
            format!("| {name} | – |")
        } else {
            format!("| {name} | {load:.0} ms |")
        };
        for b in best {
            row += &format!(" {b:.0} ns |");
        }
        // Freeing: single pages into the gaps between runs, merging with neighbours.
        let free_ns = if name == "scan" {
            "–".to_string()
        } else {
            let kind = if name == "array" {
                FreelistType::Array
            } else {
                FreelistType::Hashmap
            };
            let gaps: Vec<u64> = runs.windows(2).map(|w| w[0].0 + w[0].1).collect();
            let mut best = f64::MAX;
            for _ in 0..REPS {
                let typed: Vec<Pgid> = ids.iter().copied().map(Pgid).collect();
                let mut f = Freelist::from_ids_typed(typed, Pgid(hwm), kind).unwrap();
                let t = Instant::now();
                for &g in gaps.iter().take(100_000) {
                    f.free.insert(g, 1);
                }
                best = best.min(t.elapsed().as_nanos() as f64 / 100_000.0);
            }
            format!("{best:.0} ns")
        };
        row += &format!(" {free_ns} |");
        println!("{row}");
    }
}
