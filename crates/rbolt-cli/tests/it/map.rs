//! `rbolt map`: the page map as text (plain and coloured) and as SVG, on sound and damaged
//! files.

use crate::fixtures::{Fx, rbolt, run};
use insta::assert_snapshot;

#[test]
#[ignore = "writes the fixtures to $RBOLT_FX_DIR for a look by hand"]
fn write_fixtures_for_a_look() {
    let fx = Fx::new();
    fx.nested()
        .meta1()
        .no_freelist()
        .damaged()
        .empty()
        .pages16k();
    let dir = std::env::var("RBOLT_FX_DIR").unwrap();
    for f in [
        "fx.db",
        "meta1.db",
        "nofl.db",
        "damaged.db",
        "empty.db",
        "big16k.db",
    ] {
        std::fs::copy(fx.path(f), std::path::Path::new(&dir).join(f)).unwrap();
    }
}

/// The map's text output with the escape codes made visible.
fn visible(s: &str) -> String {
    s.replace('\x1b', "\\e")
}

#[test]
fn map_of_sound_files_plain() {
    let fx = Fx::new();
    fx.nested().meta1().no_freelist().empty();
    assert_snapshot!(run(&fx, &["map", "fx.db"]));
    assert_snapshot!(run(&fx, &["map", "--width", "32", "meta1.db"]));
    assert_snapshot!(run(&fx, &["map", "nofl.db"]));
    assert_snapshot!(run(&fx, &["map", "empty.db"]));
}

#[test]
fn map_groups_pages_when_they_do_not_fit() {
    let fx = Fx::new();
    fx.meta1();
    let out = run(&fx, &["map", "--rows", "4", "--width", "32", "meta1.db"]);
    assert!(out.contains("4 pages per cell"), "{out}");
    assert_snapshot!(out);
    assert_snapshot!(run(&fx, &["map", "--per-cell", "10", "meta1.db"]));
}

#[test]
fn map_in_colour_on_request_only() {
    let fx = Fx::new();
    fx.nested();
    let plain = run(&fx, &["map", "fx.db"]);
    assert!(!plain.contains('\x1b'));
    // NO_COLOR is set by the test harness; --color always overrides it.
    let coloured = run(&fx, &["map", "--color", "always", "fx.db"]);
    assert!(coloured.contains("\x1b[0;32m"));
    assert_snapshot!(visible(&coloured));
    let auto = rbolt(fx.dir.path())
        .args(["map", "fx.db"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!auto.stdout.contains(&0x1b), "a pipe gets no escapes");
}

#[test]
fn map_shows_damage_in_its_own_classes() {
    let fx = Fx::new();
    fx.damaged();
    let out = run(&fx, &["map", "damaged.db"]);
    assert!(out.contains("MM::1X2"), "{out}");
    assert_snapshot!(out);
    let bytes = std::fs::read(fx.path("damaged.db")).unwrap();
    assert_snapshot!(run(&fx, &["map", "--width", "32", &unlisted(&fx, &bytes)]));
    std::fs::write(fx.path("trunc.db"), &bytes[..3 * 4096 + 100]).unwrap();
    assert_snapshot!(run(&fx, &["map", "trunc.db"]));
    std::fs::write(fx.path("zero.db"), vec![0u8; 8192]).unwrap();
    assert_snapshot!(run(&fx, &["map", "zero.db"]));
}

#[test]
fn map_reads_an_older_snapshot() {
    let fx = Fx::new();
    fx.meta1();
    assert_snapshot!(run(
        &fx,
        &["map", "--meta", "0", "--width", "32", "meta1.db"]
    ));
}

#[test]
fn map_svg_is_well_formed_with_a_tooltip_per_cell() {
    let fx = Fx::new();
    fx.nested().meta1();
    let out = run(&fx, &["map", "fx.db", "--svg", "fx.svg"]);
    assert!(out.starts_with("exit: 0"), "{out}");
    let text = std::fs::read_to_string(fx.path("fx.svg")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    // 256 pages, one cell each, plus one swatch per legend entry.
    assert_eq!(titles.len(), 256 + 13);
    assert!(titles.contains(&"page 0: meta"));
    assert!(
        titles.iter().any(|t| t.contains(", bucket big, ")),
        "{titles:?}"
    );
    assert!(titles.iter().any(|t| t.starts_with("page 4: leaf")));
    assert_snapshot!(text);
    // Several pages per cell: the tooltip counts them.
    run(
        &fx,
        &["map", "meta1.db", "--per-cell", "8", "--svg", "m.svg"],
    );
    let text = std::fs::read_to_string(fx.path("m.svg")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert!(
        doc.descendants()
            .filter_map(|n| n.text())
            .any(|t| t.starts_with("pages 0–7: 2 meta, "))
    );
    assert!(!fx.path("m.svg.tmp").exists());
}

/// A copy of `bytes` whose freelist forgets its last page id, which is then neither
/// reachable nor free: returns the copy's name.
pub(crate) fn unlisted(fx: &Fx, bytes: &[u8]) -> String {
    let mut b = bytes.to_vec();
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    // The newer meta page's freelist.
    let (m0, m1) = (u64_at(&b, 16 + 48), u64_at(&b, 4096 + 16 + 48));
    let meta = if m1 > m0 { 4096 } else { 0 };
    let fl = u64_at(&b, meta + 16 + 32) as usize * 4096;
    let count = u16::from_le_bytes([b[fl + 10], b[fl + 11]]);
    assert!(count > 0 && count < 0xffff);
    b[fl + 10..fl + 12].copy_from_slice(&(count - 1).to_le_bytes());
    std::fs::write(fx.path("unlisted.db"), b).unwrap();
    "unlisted.db".into()
}

#[test]
#[ignore = "writes a big file to $RBOLT_BIG_DB for memory measurements"]
fn write_a_big_file() {
    let path = std::env::var("RBOLT_BIG_DB").unwrap();
    let db = rbolt::Options::new().no_sync(true).open(&path).unwrap();
    let mut r = rbolt_testkit::rng::Rng::new(1);
    for chunk in 0..40u32 {
        db.update(|tx| {
            for name in [&b"events"[..], b"users", b"blobs"] {
                let b = tx.create_bucket_if_not_exists(name)?;
                let sub = b.create_bucket_if_not_exists(b"index")?;
                for i in 0..25_000u32 {
                    let k = format!("{chunk:04}-{i:08}");
                    let n = if name == b"blobs" {
                        200 + r.below(3000)
                    } else {
                        20 + r.below(200)
                    };
                    b.put(k.as_bytes(), vec![b'v'; n as usize])?;
                    if i % 10 == 0 {
                        sub.put(k.as_bytes(), b"1")?;
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    }
    db.update(|tx| {
        let b = tx.bucket(b"blobs")?.unwrap();
        for chunk in 0..40u32 {
            for i in (0..25_000u32).step_by(3) {
                b.delete(format!("{chunk:04}-{i:08}").as_bytes())?;
            }
        }
        Ok(())
    })
    .unwrap();
    assert!(db.begin_read().unwrap().check().is_empty());
}
