//! rbolt's Go quoting and printability against Go itself (the interop helper's `quote`), on
//! random and adversarial bytes. Seed: `PROPTEST_RNG_SEED`; failures are printed with it.

use crate::fixtures::{Fx, go_helper, rbolt};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rbolt_format::hex;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// Go's answers (`strconv.Quote`, printable) for each input, in one helper run.
fn go_answers(go: &std::path::Path, inputs: &[Vec<u8>]) -> Vec<(String, bool)> {
    let mut child = Command::new(go)
        .arg("quote")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text: String = inputs.iter().map(|b| format!("{}\n", hex(b))).collect();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()).unwrap());
    let answers = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| {
            let l = l.unwrap();
            let (q, p) = l.rsplit_once('\t').unwrap();
            (q.to_string(), p == "true")
        })
        .collect();
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    answers
}

/// rbolt's answers, through the binary: the values are stored in a scratch database and
/// printed by `page --format-value ascii-encoded` (the quoting) and `auto` (which prints a
/// value as it is exactly when it counts as printable).
fn rbolt_answers(inputs: &[Vec<u8>]) -> Vec<(String, bool)> {
    let fx = Fx::new();
    let db = rbolt::Options::new()
        .page_size(65536)
        .open(fx.path("q.db"))
        .unwrap();
    db.update(|tx| {
        let b = tx.create_bucket(b"q")?;
        for (i, v) in inputs.iter().enumerate() {
            b.put(format!("{i:06}").as_bytes(), v)?;
        }
        Ok(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let mut leaves = Vec::new();
    let mut id = rbolt::Pgid(0);
    while let Some(p) = tx.page(id).unwrap() {
        if p.page_type == rbolt::PageType::Leaf {
            leaves.push(id.to_string());
        }
        id += 1 + u64::from(p.overflow);
    }
    drop(tx);
    drop(db);
    let values = |fmt: &str| -> Vec<Vec<u8>> {
        let o = rbolt(fx.dir.path())
            .args(["page", "--format-value", fmt, "q.db"])
            .args(&leaves)
            .output()
            .unwrap();
        assert!(o.status.success());
        o.stdout
            .split(|&c| c == b'\n')
            .filter(|l| l.len() >= 10 && l[0] == b'"' && l[7] == b'"' && l[8] == b':')
            .map(|l| l[10..].to_vec())
            .collect()
    };
    let quoted = values("ascii-encoded");
    let auto = values("auto");
    assert_eq!(quoted.len(), inputs.len(), "one leaf line per value");
    inputs
        .iter()
        .zip(quoted)
        .zip(auto)
        .map(|((input, q), a)| (String::from_utf8(q).unwrap(), a == *input))
        .collect()
}

fn adversarial() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"plain ascii".to_vec(),
        "\u{a0}".into(),
        "e\u{301}".into(),
        "😀".into(),
        "\u{85}\u{9f}".into(),
        "\u{200b}\u{feff}\u{2028}".into(),
        "\u{fffd}".into(),
        "\u{e000}\u{10ffff}".into(),
        vec![0xed, 0xa0, 0x80],
        vec![0xf4, 0x90, 0x80, 0x80],
        vec![0xc0, 0xaf],
        vec![0xe2, 0x82, b'A'],
        b"\x00\x07\x08\x0b\x0c\x1b\x7f\"\\'".to_vec(),
    ];
    // Every code point class boundary in the BMP's first planes, one per 97 code points.
    for c in (0x80u32..0x3_0000).step_by(97) {
        if let Some(ch) = char::from_u32(c) {
            v.push(ch.to_string().into_bytes());
        }
    }
    v
}

fn compare(go: &std::path::Path, inputs: &[Vec<u8>], seed: &str) {
    let want = go_answers(go, inputs);
    let got = rbolt_answers(inputs);
    for ((input, w), g) in inputs.iter().zip(&want).zip(&got) {
        assert_eq!(g, w, "input {} differs from Go ({seed})", hex(input));
    }
}

#[test]
fn quoting_matches_go_on_adversarial_bytes() {
    let Some(go) = go_helper() else { return };
    compare(&go, &adversarial(), "fixed cases");
}

#[test]
fn quoting_matches_go_on_random_bytes() {
    let Some(go) = go_helper() else { return };
    let seed: u64 = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("quoting property seed: PROPTEST_RNG_SEED={seed}");
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &key),
    );
    let strat = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        any::<String>().prop_map(String::into_bytes),
        proptest::collection::vec(
            prop_oneof![
                Just(0xc2u8),
                Just(0xa0),
                Just(0xe2),
                Just(0x80),
                Just(0x22),
                0x00u8..0x20
            ],
            0..12
        ),
    ];
    let inputs: Vec<Vec<u8>> = (0..3000)
        .map(|_| strat.new_tree(&mut runner).unwrap().current())
        .collect();
    compare(&go, &inputs, &format!("PROPTEST_RNG_SEED={seed}"));
}

#[test]
fn printable_table_matches_go() {
    let Some(go) = go_helper() else { return };
    let o = Command::new(&go).arg("print-ranges").output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let src = include_str!("../../src/goprint.rs");
    let mut table = Vec::new();
    for pair in src.split("(0x").skip(1) {
        let (lo, rest) = pair.split_once(", 0x").unwrap();
        let hi = rest.split(')').next().unwrap();
        table.push(format!("{} {}", lo.to_lowercase(), hi.to_lowercase()));
    }
    let go_ranges: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
    assert_eq!(
        table, go_ranges,
        "regenerate src/goprint.rs from `bbolt-interop print-ranges`"
    );
}
