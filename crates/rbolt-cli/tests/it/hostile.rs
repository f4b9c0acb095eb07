//! Damaged files never make a command panic, hang or crash: every command ends with exit
//! code 0 or 1. Files are `fx.db` with bytes overwritten at seeded random places, plus
//! truncated and empty files. The seed is printed; `RBOLT_CLI_HOSTILE_SEED` replays it and
//! `RBOLT_CLI_HOSTILE_ROUNDS` runs a longer soak.

use crate::fixtures::{Fx, exits_0_or_1};
use std::time::Duration;

const COMMANDS: &[&[&str]] = &[
    &["check", "h.db"],
    &["pages", "h.db"],
    &["page", "--all", "h.db"],
    &["page", "--json", "h.db", "3", "4", "5", "6"],
    &["keys", "h.db", "alpha"],
    &["keys", "h.db", "big"],
    &["get", "h.db", "alpha", "nested", "deep"],
    &["stats", "h.db"],
    &["inspect", "h.db"],
    &["info", "--json", "h.db"],
    &["buckets", "h.db"],
    &["ls", "-r", "--values", "h.db"],
    &["tree", "--counts", "--sizes", "h.db"],
    &["export", "h.db"],
    &["export", "--format", "mdb", "h.db"],
    &["dump", "h.db", "0", "4"],
    &["page-item", "h.db", "4", "1"],
    &["surgery", "meta", "validate", "h.db"],
];

fn all_commands_end_cleanly(fx: &Fx, what: &str) {
    for args in COMMANDS {
        exits_0_or_1(fx, args, what, Duration::from_secs(20));
    }
}

/// xorshift64*, enough to scatter bytes.
fn next(s: &mut u64) -> u64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn corrupted_files_give_errors_not_panics() {
    let fx = Fx::new();
    fx.nested();
    let good = std::fs::read(fx.path("fx.db")).unwrap();
    let seed: u64 = std::env::var("RBOLT_CLI_HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("hostile seed: RBOLT_CLI_HOSTILE_SEED={seed}");
    let mut s = seed;
    let used = 201 * 4096; // up to the high-water mark
    let rounds: u32 = std::env::var("RBOLT_CLI_HOSTILE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    for round in 0..rounds {
        let mut bytes = good.clone();
        for _ in 0..(1 + next(&mut s) % 40) {
            let off = (next(&mut s) % used as u64) as usize;
            // Mostly page headers and element arrays, where pointers and counts live.
            let off = if next(&mut s).is_multiple_of(2) {
                off - off % 4096 + (off % 64)
            } else {
                off
            };
            bytes[off] = next(&mut s) as u8;
        }
        std::fs::write(fx.path("h.db"), &bytes).unwrap();
        all_commands_end_cleanly(&fx, &format!("round {round} (seed {seed})"));
    }
}

#[test]
fn truncated_and_empty_files() {
    let fx = Fx::new();
    fx.nested();
    let good = std::fs::read(fx.path("fx.db")).unwrap();
    for len in [0, 100, 4096, 8192 + 17, 5 * 4096] {
        std::fs::write(fx.path("h.db"), &good[..len]).unwrap();
        all_commands_end_cleanly(&fx, &format!("truncated to {len}"));
    }
}
