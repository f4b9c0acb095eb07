//! The browser without a terminal: key sequences against a fixture database, and every pane,
//! view and mode drawn into ratatui's `TestBackend` at 80×24, 120×40 and 60×20 and compared
//! with reviewed snapshots.

use super::data::Data;
use super::jobs::{self, JobMsg, JobSpec};
use super::render::{Theme, draw};
use super::state::{App, Effect, Focus, Mode, Target};
use super::views::View;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The demo database: text, JSON, binary, empty and time values, nested and binary-named
/// buckets, 2,000 keys, and a 1 MB value.
pub(crate) fn build(path: &Path, write: bool) -> Data {
    let db = rbolt::Options::new()
        .page_size(4096)
        .freelist_type(rbolt::FreelistType::Array)
        .open(path)
        .unwrap();
    db.update(|tx| {
        let a = tx.create_bucket(b"alpha")?;
        a.put(b"text", b"hello world")?;
        a.put(
            b"json",
            br#"{"name":"rbolt","tags":["kv","bolt"],"size":{"pages":37,"free":2}}"#,
        )?;
        a.put(b"bin", [0, 0, 0, 0, 0, 0, 0, 14])?;
        a.put(b"empty", b"")?;
        a.put(b"when", 1_700_000_000u64.to_le_bytes())?;
        a.put(b"multi", b"line one\nline two\n\tindented\n")?;
        let n = a.create_bucket(b"nested")?;
        n.set_sequence(7)?;
        n.put(b"deep", b"v")?;
        n.create_bucket(b"deeper")?.put(b"x", b"y")?;
        let bin = tx.create_bucket([0, 0, 0, 1])?;
        bin.put([0xde, 0xad, 0xbe, 0xef], b"\x1b[31mred\x07")?;
        bin.put("日本語のキー".as_bytes(), "値".as_bytes())?;
        bin.put("\u{202e}reversed".as_bytes(), b"bidi")?;
        let big = tx.create_bucket(b"big")?;
        for i in 0..2000u32 {
            big.put(
                format!("key{i:05}").as_bytes(),
                [b'A' + (i % 26) as u8; 100],
            )?;
        }
        let blobs = tx.create_bucket(b"blobs")?;
        let mb: Vec<u8> = (0..1_000_000u32)
            .map(|i| b"0123456789abcdef"[(i % 16) as usize])
            .collect();
        blobs.put(b"1mb", &mb)?;
        Ok(())
    })
    .unwrap();
    if write {
        Data::from_db(Arc::new(db), path).unwrap()
    } else {
        drop(db);
        Data::open(path, false, Some(Duration::from_secs(1))).unwrap()
    }
}

/// Fields drop in order: the database closes before its directory is deleted (the engine
/// refuses a second open of a file it still has open, and a new file may reuse the inode).
struct T {
    data: Data,
    app: App,
    term: Terminal<TestBackend>,
    _dir: tempfile::TempDir,
}

fn setup(w: u16, h: u16, write: bool) -> T {
    let dir = tempfile::tempdir().unwrap();
    let data = build(&dir.path().join("fx.db"), write);
    let app = App::new(&data, Rect::new(0, 0, w, h), &[]).unwrap();
    let term = Terminal::new(TestBackend::new(w, h)).unwrap();
    T {
        _dir: dir,
        data,
        app,
        term,
    }
}

impl T {
    fn keys(&mut self, keys: &[KeyCode]) -> Effect {
        let mut e = Effect::None;
        for k in keys {
            e = self
                .app
                .on_key(&mut self.data, KeyEvent::new(*k, KeyModifiers::NONE));
            if let Effect::Start(spec) = e.clone() {
                self.run_job(spec);
            }
        }
        e
    }

    fn typed(&mut self, s: &str) {
        for c in s.chars() {
            self.keys(&[KeyCode::Char(c)]);
        }
    }

    /// Runs a job to the end, feeding its messages in as the event loop does.
    fn run_job(&mut self, spec: JobSpec) {
        let job = jobs::spawn(self.data.db(), spec);
        loop {
            let m = job.rx.recv_timeout(Duration::from_secs(30)).unwrap();
            let done = matches!(m, JobMsg::Done(_));
            self.app.on_job(m);
            if done {
                break;
            }
        }
    }

    fn screen(&mut self) -> String {
        let (app, data) = (&mut self.app, &self.data);
        self.term
            .draw(|f| draw(f, app, data, Theme { color: false }))
            .unwrap();
        let buf = self.term.backend().buffer().clone();
        let mut s = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s
    }
}

use KeyCode::{Char, Down, End, Enter, Esc, Tab};

fn selected_key(t: &T) -> String {
    String::from_utf8_lossy(&t.app.keys.selected().unwrap().key).into_owned()
}

#[test]
fn navigation_opens_buckets_and_goes_back() {
    let mut t = setup(120, 40, false);
    assert_eq!(t.app.focus, Focus::Tree);
    // Root's keys are the top-level buckets.
    assert_eq!(t.app.keys.rows.len(), 4);
    t.keys(&[Char('j')]);
    assert_eq!(t.app.tree.bucket(), vec![vec![0, 0, 0, 1]]);
    t.keys(&[Char('j'), Char('l')]);
    assert_eq!(t.app.tree.bucket(), vec![b"alpha".to_vec()]);
    assert_eq!(t.app.focus, Focus::Tree);
    assert!(
        t.app
            .tree
            .nodes
            .iter()
            .any(|n| n.path == vec![b"alpha".to_vec(), b"nested".to_vec()])
    );
    t.keys(&[Char('l')]);
    assert_eq!(t.app.focus, Focus::Keys);
    assert_eq!(selected_key(&t), "bin");
    t.keys(&[Char('G')]);
    assert_eq!(selected_key(&t), "when");
    t.keys(&[Char('g')]);
    t.typed("/ne");
    assert_eq!(selected_key(&t), "nested");
    t.keys(&[Enter]);
    t.keys(&[Enter]);
    assert_eq!(
        t.app.keys.bucket,
        vec![b"alpha".to_vec(), b"nested".to_vec()]
    );
    t.keys(&[Char('h')]);
    assert_eq!(t.app.keys.bucket, vec![b"alpha".to_vec()]);
    assert_eq!(selected_key(&t), "nested");
    t.keys(&[Char('h'), Char('h')]);
    assert_eq!(t.app.focus, Focus::Tree);
    assert_eq!(t.keys(&[Char('q')]), Effect::Quit);
}

#[test]
fn seek_goto_and_views() {
    let mut t = setup(120, 40, false);
    t.keys(&[Char(':')]);
    t.typed("big/key01001");
    t.keys(&[Enter]);
    assert_eq!(t.app.keys.bucket, vec![b"big".to_vec()]);
    assert_eq!(selected_key(&t), "key01001");
    // A prefix that is not a key lands on the next one; hex works too.
    t.keys(&[Char('/')]);
    t.typed("0x6b65793031303035"); // "key01005"
    t.keys(&[Enter]);
    assert_eq!(selected_key(&t), "key01005");
    t.keys(&[Char(':')]);
    t.typed("0x00000001");
    t.keys(&[Enter]);
    assert_eq!(t.app.keys.bucket, vec![vec![0, 0, 0, 1]]);
    t.keys(&[Char('v')]);
    assert_eq!(t.app.inspector.view, View::Utf8);
    t.keys(&[Char('4')]);
    assert_eq!(t.app.inspector.view, View::Hex);
    // `#page` opens the pages mode on that page.
    t.keys(&[Char(':')]);
    t.typed("#3");
    t.keys(&[Enter]);
    assert_eq!(t.app.mode, Mode::Pages);
    assert_eq!(t.app.target(), Target::Page(3));
    t.keys(&[Esc]);
    assert_eq!(t.app.mode, Mode::Browse);
}

#[test]
fn read_only_refuses_edits_with_a_hint() {
    let mut t = setup(80, 24, false);
    for k in ['e', 'p', 'b', 'D', 'm'] {
        t.keys(&[Char(k)]);
        assert_eq!(
            t.app.message.as_ref().unwrap().0,
            super::state::READ_ONLY,
            "{k}"
        );
        assert!(t.app.prompt.is_none());
    }
}

#[test]
fn edits_run_one_transaction_each() {
    let mut t = setup(120, 40, true);
    let tx0 = t.data.header().txid;
    t.keys(&[Char('p')]);
    assert_eq!(
        t.app.message.as_ref().unwrap().0,
        "the top level holds only buckets: b creates one"
    );
    t.keys(&[Char(':')]);
    t.typed("alpha/text");
    t.keys(&[Enter, Char('e')]);
    assert_eq!(t.app.prompt.as_ref().unwrap().text, "hello world");
    t.keys(&[KeyCode::Backspace; 5]);
    t.typed("rbolt");
    t.keys(&[Enter]);
    assert_eq!(t.data.header().txid, tx0 + 1);
    t.data
        .with_value(&[b"alpha".to_vec()], b"text", |v| {
            assert_eq!(v, Some(&b"hello rbolt"[..]))
        })
        .unwrap();
    // New pair, hex value.
    t.keys(&[Char('p')]);
    t.typed("zz");
    t.keys(&[Enter]);
    t.typed("0x00ff");
    t.keys(&[Enter]);
    assert_eq!(selected_key(&t), "zz");
    t.data
        .with_value(&[b"alpha".to_vec()], b"zz", |v| {
            assert_eq!(v, Some(&[0u8, 255][..]))
        })
        .unwrap();
    // Delete asks first; anything but y keeps the key.
    t.keys(&[Char('D'), Char('n')]);
    assert_eq!(selected_key(&t), "zz");
    t.keys(&[Char('D'), Char('y')]);
    assert_ne!(selected_key(&t), "zz");
    // New bucket, then move `nested` into it.
    t.keys(&[Char('b')]);
    t.typed("box");
    t.keys(&[Enter]);
    assert_eq!(t.app.keys.bucket, vec![b"alpha".to_vec(), b"box".to_vec()]);
    t.keys(&[Char('h'), Char('/')]);
    t.typed("nested");
    t.keys(&[Enter, Char('m')]);
    t.keys(&[KeyCode::Backspace]);
    t.typed("alpha/box");
    t.keys(&[Enter]);
    assert_eq!(t.app.keys.bucket, vec![b"alpha".to_vec(), b"box".to_vec()]);
    assert_eq!(selected_key(&t), "nested");
    assert_eq!(t.data.header().txid, tx0 + 5);
    // Delete the moved bucket (with what is in it), from its new parent.
    t.keys(&[Char('D')]);
    assert!(
        t.app
            .prompt
            .as_ref()
            .is_some_and(|p| super::prompt::question(&p.ask).contains("delete bucket nested"))
    );
    t.keys(&[Char('y')]);
    assert_eq!(t.app.message.as_ref().unwrap().0, "deleted bucket nested");
    assert!(
        !t.data
            .is_bucket(&[b"alpha".to_vec(), b"box".to_vec(), b"nested".to_vec()])
    );
    // Save a value to a file.
    let out = t._dir.path().join("v.bin");
    t.keys(&[Char(':')]);
    t.typed("alpha/multi");
    t.keys(&[Enter, Char('x')]);
    for _ in 0.."value.bin".len() {
        t.keys(&[KeyCode::Backspace]);
    }
    t.typed(out.to_str().unwrap());
    t.keys(&[Enter]);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"line one\nline two\n\tindented\n"
    );
    assert_eq!(t.data.header().txid, tx0 + 6);
    assert!(t.data.db().begin_read().unwrap().check().is_empty());
}

#[test]
fn search_check_and_pages_jobs() {
    let mut t = setup(120, 40, false);
    t.keys(&[Char('f')]);
    t.typed("rbolt");
    t.keys(&[Enter]);
    assert_eq!(t.app.mode, Mode::Search);
    assert_eq!(t.app.hits.items.len(), 1);
    t.keys(&[Enter]);
    assert_eq!(t.app.mode, Mode::Browse);
    assert_eq!(selected_key(&t), "json");
    // n and N walk the matches without going back to the list (searching from the top).
    t.keys(&[Char(':'), Char('/'), Enter, Char('f')]);
    t.typed("key0000");
    t.keys(&[Enter, Enter]);
    assert_eq!(selected_key(&t), "key00000");
    t.keys(&[Char('n'), Char('n')]);
    assert_eq!(selected_key(&t), "key00002");
    t.keys(&[Char('N')]);
    assert_eq!(selected_key(&t), "key00001");
    assert_eq!(t.keys(&[Esc]), Effect::None);
    t.keys(&[Char(':')]);
    t.typed("alpha/json");
    t.keys(&[Enter]);
    // From a key to its leaf page.
    t.keys(&[Char('o')]);
    assert_eq!(t.app.mode, Mode::Pages);
    let Target::Page(id) = t.app.target() else {
        panic!("{:?}", t.app.target())
    };
    let raw = crate::raw::RawFile::open(t.data.file_path()).unwrap();
    let (lines, _, _) = super::pages::describe(&raw, id);
    assert!(lines[0].contains("leaf"), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("json = {")), "{lines:?}");
    // alpha fits one leaf: no branch above it.
    t.keys(&[Char('u')]);
    assert!(
        t.app
            .message
            .as_ref()
            .unwrap()
            .0
            .starts_with("no branch page points to")
    );
    // In big: up to the branch above a leaf, down again, across to its siblings.
    t.keys(&[Esc, Char(':')]);
    t.typed("big/key01000");
    t.keys(&[Enter, Char('o')]);
    let Target::Page(id) = t.app.target() else {
        panic!()
    };
    t.keys(&[Char('u')]);
    let Target::Page(parent) = t.app.target() else {
        panic!()
    };
    let (lines, kids, _) = super::pages::describe(&raw, parent);
    assert!(lines[0].contains("branch"), "{lines:?}");
    let i = kids.iter().position(|k| *k == id).unwrap();
    t.keys(&[Char(':')]);
    t.typed(&format!("#{id}"));
    t.keys(&[Enter]);
    assert_eq!(t.app.target(), Target::Page(id));
    t.keys(&[Char('n')]);
    assert_eq!(t.app.target(), Target::Page(kids[i + 1]));
    t.keys(&[Char('N'), Char('N')]);
    assert_eq!(t.app.target(), Target::Page(kids[i - 1]));
    t.keys(&[Char('u'), Char('c')]);
    assert_eq!(t.app.target(), Target::Page(kids[0]));
    t.keys(&[Char('c')]);
    assert!(t.app.message.as_ref().unwrap().1, "a leaf has no children");
    t.keys(&[Esc, Char('C')]);
    assert_eq!(t.app.mode, Mode::Check);
    assert_eq!(t.app.message.as_ref().unwrap().0, "check: OK");
}

fn snap(name: &str, t: &mut T) {
    let screen = t.screen();
    insta::with_settings!({ filters => vec![(r"/tmp/[^/ ]+/", "[TMP]/")] }, {
        insta::assert_snapshot!(name, screen);
    });
}

#[test]
fn screens_at_three_sizes() {
    for (w, h) in [(80u16, 24u16), (120, 40), (60, 20)] {
        let mut t = setup(w, h, false);
        snap(&format!("start_{w}x{h}"), &mut t);
        t.keys(&[Down, Down, Enter, Enter]);
        snap(&format!("alpha_{w}x{h}"), &mut t);
        t.keys(&[Char('/')]);
        t.typed("json");
        t.keys(&[Enter]);
        snap(&format!("json_{w}x{h}"), &mut t);
        t.keys(&[Char('?')]);
        snap(&format!("help_{w}x{h}"), &mut t);
        if h < 24 {
            t.keys(&[Char('j'); 10]);
            snap(&format!("help_scrolled_{w}x{h}"), &mut t);
        }
    }
}

#[test]
fn every_view_of_a_value() {
    let mut t = setup(120, 40, false);
    t.keys(&[Char(':')]);
    t.typed("alpha/json");
    t.keys(&[Enter]);
    for i in 1..=9 {
        t.keys(&[Char(char::from(b'0' + i))]);
        let name = t.app.inspector.view.name().replace(' ', "_");
        snap(&format!("view_{i}_{name}"), &mut t);
    }
    t.keys(&[Char(':')]);
    t.typed("alpha/when");
    t.keys(&[Enter, Char('7')]);
    snap("view_time_of_a_timestamp", &mut t);
    t.keys(&[Char('6')]);
    snap("view_ints_of_a_timestamp", &mut t);
    // V: the same views of the key's bytes.
    t.keys(&[Char('V'), Char('4')]);
    assert!(t.app.inspector.key);
    snap("key_in_hex", &mut t);
}

#[test]
fn a_1mb_value_binary_names_and_an_error() {
    let mut t = setup(120, 40, false);
    t.keys(&[Char(':')]);
    t.typed("blobs/1mb");
    t.keys(&[Enter, Tab]);
    snap("big_value_top", &mut t);
    t.keys(&[End]);
    snap("big_value_end", &mut t);
    t.keys(&[Char('4')]);
    snap("big_value_hex", &mut t);
    t.keys(&[Char(':')]);
    t.typed("0x00000001");
    t.keys(&[Enter]);
    snap("binary_names", &mut t);
    t.keys(&[Char(':')]);
    t.typed("nope/nope/nope");
    t.keys(&[Enter]);
    snap("error_toast", &mut t);
}

#[test]
fn modes_drawn() {
    let mut t = setup(120, 40, false);
    t.keys(&[Char('P')]);
    snap("pages_mode", &mut t);
    t.keys(&[Down, Down, Down, Enter]);
    snap("pages_decoded", &mut t);
    t.keys(&[Esc, Char('C')]);
    snap("check_mode", &mut t);
    t.keys(&[Esc, Char('S')]);
    snap("stats", &mut t);
    t.keys(&[Char('f')]);
    t.typed("key0199");
    t.keys(&[Enter]);
    snap("search_mode", &mut t);
    let mut t = setup(60, 20, true);
    snap("write_badge_60x20", &mut t);
}

/// Writes the demo database to `$RBOLT_BROWSE_DEMO` (for trying the browser by hand).
#[test]
#[ignore = "writes a demo file where RBOLT_BROWSE_DEMO says"]
fn write_demo_database() {
    let path = std::env::var("RBOLT_BROWSE_DEMO").unwrap();
    build(Path::new(&path), true);
}

#[test]
fn copy_and_export() {
    let mut t = setup(120, 40, false);
    t.keys(&[Char(':')]);
    t.typed("alpha/text");
    t.keys(&[Enter]);
    assert_eq!(t.keys(&[Char('y')]), Effect::Copy(b"hello world".to_vec()));
    assert_eq!(t.keys(&[Char('Y')]), Effect::Copy(b"text".to_vec()));
    t.keys(&[Char('X')]);
    assert_eq!(t.app.prompt.as_ref().unwrap().text, "alpha.jsonl");
    let file = t._dir.path().join("out.jsonl");
    for _ in 0.."alpha.jsonl".len() {
        t.keys(&[KeyCode::Backspace]);
    }
    t.typed(file.to_str().unwrap());
    t.keys(&[Enter]);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r#"{"bucket":["alpha"],"seq":0}"#);
    // Text is a string, anything else hex: the format `rbolt export` writes and `import` reads.
    let bin = r#"{"bucket":["alpha"],"key":"bin","value":{"hex":"000000000000000e"}}"#;
    assert!(lines.contains(&bin), "{lines:?}");
    assert!(
        lines.contains(&r#"{"bucket":["alpha","nested"],"seq":7}"#),
        "{lines:?}"
    );
    let multi = r#"{"bucket":["alpha"],"key":"multi","value":"line one\nline two\n\tindented\n"}"#;
    assert!(lines.contains(&multi), "{lines:?}");
}

#[test]
fn check_problems_jump_to_their_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.db");
    drop(build(&path, true));
    // Turn the first leaf of `big` into a page of no known type.
    let victim = {
        let db = rbolt::Options::new().read_only(true).open(&path).unwrap();
        let tx = db.begin_read().unwrap();
        let b = tx.bucket(b"big").unwrap().unwrap();
        let raw = crate::raw::RawFile::open(&path).unwrap();
        let (_, page) = raw.read_page(b.root().get()).unwrap();
        rbolt_format::BranchPage::new(&page)
            .unwrap()
            .child(0)
            .unwrap()
            .get()
    };
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[victim as usize * 4096 + 8] = 0x20;
    std::fs::write(&path, bytes).unwrap();
    let data = Data::open(&path, false, None).unwrap();
    let app = App::new(&data, Rect::new(0, 0, 120, 40), &[]).unwrap();
    let term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut t = T {
        _dir: dir,
        data,
        app,
        term,
    };
    t.keys(&[Char('C')]);
    assert_eq!(t.app.mode, Mode::Check);
    let first = t.app.problems.items.first().cloned().unwrap();
    assert_eq!(first.0, Some(victim), "{:?}", t.app.problems.items);
    snap("check_problems", &mut t);
    t.keys(&[Enter]);
    assert_eq!(t.app.mode, Mode::Pages);
    assert_eq!(t.app.target(), Target::Page(victim));
    // Browsing the damaged bucket reports the damage instead of failing.
    t.keys(&[Esc, Char(':')]);
    t.typed("big/key00000");
    t.keys(&[Enter]);
    assert!(
        t.app.message.as_ref().is_some_and(|m| m.1),
        "{:?}",
        t.app.message
    );
    t.screen();
}

/// Damaged files (the testkit's hostile mutations of the demo file) give messages on the
/// status line, never a panic, whatever the user presses. The seed is printed;
/// `RBOLT_BROWSE_HOSTILE_SEED` replays it, `RBOLT_BROWSE_HOSTILE_ROUNDS` runs longer.
#[test]
fn hostile_files_never_panic() {
    use rbolt_testkit::hostile::mutate;
    use rbolt_testkit::rng::Rng;
    let dir = tempfile::tempdir().unwrap();
    let good_path = dir.path().join("good.db");
    drop(build(&good_path, true));
    let good = std::fs::read(&good_path).unwrap();
    let env = |k: &str| std::env::var(k).ok().and_then(|s| s.parse::<u64>().ok());
    let seed = env("RBOLT_BROWSE_HOSTILE_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    eprintln!("hostile seed: RBOLT_BROWSE_HOSTILE_SEED={seed}");
    let mut rng = Rng::new(seed);
    let rounds = env("RBOLT_BROWSE_HOSTILE_ROUNDS").unwrap_or(16);
    let script: &[KeyCode] = &[
        Down,
        Down,
        Enter,
        Enter,
        End,
        Char('g'),
        Char('4'),
        Tab,
        Char('J'),
        End,
        Char('1'),
        Char('h'),
        Char('h'),
        Char('j'),
        Enter,
        Char('G'),
        Char('o'),
        Esc,
        Char('P'),
        Down,
        Tab,
        End,
        Esc,
        Char('C'),
        Enter,
        Esc,
        Char('S'),
        Char('f'),
        Char('A'),
        Enter,
        Enter,
        Esc,
        Char(':'),
        Char('b'),
        Char('i'),
        Char('g'),
        Enter,
        Char('9'),
        Char('v'),
    ];
    for round in 0..rounds {
        let mut img = good.clone();
        let what = mutate(&mut img, 4096, &mut rng);
        let path = dir.path().join(format!("h{round}.db"));
        std::fs::write(&path, &img).unwrap();
        let Ok(data) = Data::open(&path, false, Some(Duration::from_secs(1))) else {
            continue;
        };
        let Ok(app) = App::new(&data, Rect::new(0, 0, 100, 30), &[]) else {
            continue;
        };
        let term = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let mut t = T {
            _dir: tempfile::tempdir().unwrap(),
            data,
            app,
            term,
        };
        for k in script {
            t.keys(&[*k]);
            let _ = t.screen();
        }
        eprintln!("round {round}: {what}: ok");
    }
}
