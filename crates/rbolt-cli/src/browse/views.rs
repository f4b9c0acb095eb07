//! The inspector's views of a value: each turns bytes into display lines, producing only the
//! lines in the visible window (a 1 GB value costs a scan, never a 1 GB string). Pure
//! functions of the bytes, the width and the window.

use crate::values::{go_quote, is_print};
use std::fmt::Write as _;

/// The inspector views, in the order `v` cycles through them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum View {
    /// JSON pretty-printed, else UTF-8 text, else hex.
    #[default]
    Auto,
    Utf8,
    Quoted,
    Hex,
    JsonTree,
    Ints,
    Time,
    Base64,
    Bucket,
}

pub(crate) const ALL_VIEWS: [View; 9] = [
    View::Auto,
    View::Utf8,
    View::Quoted,
    View::Hex,
    View::JsonTree,
    View::Ints,
    View::Time,
    View::Base64,
    View::Bucket,
];

impl View {
    pub(crate) fn name(self) -> &'static str {
        match self {
            View::Auto => "auto",
            View::Utf8 => "utf-8",
            View::Quoted => "go-quoted",
            View::Hex => "hex",
            View::JsonTree => "json tree",
            View::Ints => "integers",
            View::Time => "time",
            View::Base64 => "base64",
            View::Bucket => "bucket",
        }
    }

    pub(crate) fn next(self) -> View {
        let i = ALL_VIEWS.iter().position(|v| *v == self).unwrap_or(0);
        ALL_VIEWS[(i + 1) % ALL_VIEWS.len()]
    }
}

/// Values larger than this are shown as text only up to here; hex pages through all of it.
pub(crate) const TEXT_LIMIT: usize = 16 << 20;
/// Values larger than this are not parsed as JSON.
pub(crate) const JSON_LIMIT: usize = 4 << 20;

/// The visible part of a view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) lines: Vec<String>,
    /// Lines in the whole view.
    pub(crate) total: usize,
    /// What the view decided to show ("auto: json", "hex"…).
    pub(crate) label: String,
}

/// Collects wrapped lines, keeping only those in `[top, top + height)`.
struct Lines {
    width: usize,
    top: usize,
    height: usize,
    cur: String,
    cur_w: usize,
    done: usize,
    out: Vec<String>,
    /// The view's length from an earlier pass: scanning may stop after the window.
    known: Option<usize>,
}

impl Lines {
    fn new(width: usize, top: usize, height: usize) -> Self {
        Self {
            width: width.max(1),
            top,
            height,
            cur: String::new(),
            cur_w: 0,
            done: 0,
            out: Vec::new(),
            known: None,
        }
    }

    /// Nothing more to collect: the window is filled and the total is already known.
    fn full(&self) -> bool {
        self.known.is_some() && self.done >= self.top + self.height
    }

    fn visible(&self) -> bool {
        self.done >= self.top && self.done < self.top + self.height
    }

    fn newline(&mut self) {
        if self.visible() {
            self.out.push(std::mem::take(&mut self.cur));
        }
        self.cur.clear();
        self.cur_w = 0;
        self.done += 1;
    }

    fn ch(&mut self, c: char) {
        if self.cur_w == self.width {
            self.newline();
        }
        if self.visible() {
            // Nothing the terminal could act on (controls, bidi overrides) is drawn.
            self.cur.push(if is_print(u32::from(c)) { c } else { '·' });
        }
        self.cur_w += 1;
    }

    fn text(&mut self, s: &str) {
        for c in s.chars() {
            if self.full() {
                return;
            }
            if c == '\n' {
                self.newline();
            } else {
                self.ch(c);
            }
        }
    }

    fn finish(mut self, label: impl Into<String>) -> Window {
        if let Some(total) = self.known.filter(|_| self.full()) {
            return Window {
                lines: self.out,
                total,
                label: label.into(),
            };
        }
        if self.cur_w > 0 || self.done == 0 {
            self.newline();
        }
        Window {
            lines: self.out,
            total: self.done,
            label: label.into(),
        }
    }
}

/// Text that may be shown as is: valid UTF-8 whose characters are printable, or newlines and
/// tabs.
pub(crate) fn is_text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| {
        s.chars()
            .all(|c| c == '\n' || c == '\t' || c == '\r' || is_print(u32::from(c)))
    })
}

/// `b` pretty-printed if it is JSON (and not too large to parse).
pub(crate) fn pretty_json(b: &[u8]) -> Option<String> {
    if b.len() > JSON_LIMIT {
        return None;
    }
    super::json::parse(b).map(|j| super::json::pretty(&j))
}

/// The lines of `view` for `value` in the window `[top, top + height)` at `width` columns.
/// `json` is the value pretty-printed, when the caller has it cached; `fold` is how many JSON
/// tree levels are open.
pub(crate) fn window(
    view: View,
    value: &[u8],
    json: Option<&str>,
    width: usize,
    top: usize,
    height: usize,
    fold: usize,
) -> Window {
    window_known(view, value, json, (width, top, height), fold, None).0
}

/// What one full pass over a value learnt, so later frames can stop after the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Known {
    /// Lines in the view.
    pub(crate) total: usize,
    /// The auto view's verdict: text rather than hex.
    pub(crate) text: bool,
}

/// [`window`] with what an earlier pass over the same value and width learnt (`None` the
/// first time), and what this pass learnt.
pub(crate) fn window_known(
    view: View,
    value: &[u8],
    json: Option<&str>,
    (width, top, height): (usize, usize, usize),
    fold: usize,
    known: Option<Known>,
) -> (Window, Known) {
    let mk = |w: usize| {
        let mut l = Lines::new(w, top, height);
        l.known = known.map(|k| k.total);
        l
    };
    let text = known.map_or_else(
        || view == View::Auto && json.is_none() && is_text(&value[..value.len().min(TEXT_LIMIT)]),
        |k| k.text,
    );
    let w = window_inner(view, value, json, width, top, height, fold, text, mk);
    let k = Known {
        total: w.total,
        text,
    };
    (w, k)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the one place the window is assembled"
)]
fn window_inner(
    view: View,
    value: &[u8],
    json: Option<&str>,
    width: usize,
    top: usize,
    height: usize,
    fold: usize,
    text: bool,
    mk: impl Fn(usize) -> Lines,
) -> Window {
    let clipped = &value[..value.len().min(TEXT_LIMIT)];
    let note = if clipped.len() < value.len() {
        format!(" (first {} MiB)", TEXT_LIMIT >> 20)
    } else {
        String::new()
    };
    match view {
        View::Auto => {
            if let Some(j) = json {
                let mut l = mk(width);
                l.text(j);
                l.finish("auto: json")
            } else if text {
                utf8(mk(width), clipped, format!("auto: text{note}"))
            } else {
                hex(value, width, top, height, "auto: hex")
            }
        }
        View::Utf8 => utf8(mk(width), clipped, format!("utf-8{note}")),
        View::Quoted => {
            let mut l = mk(width);
            l.ch('"');
            'outer: for chunk in clipped.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if l.full() {
                        break 'outer;
                    }
                    if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                        l.ch(c);
                    } else {
                        let q = go_quote(c.encode_utf8(&mut [0; 4]).as_bytes());
                        l.text(&q[1..q.len() - 1]);
                    }
                }
                for x in chunk.invalid() {
                    l.text(&format!("\\x{x:02x}"));
                }
            }
            l.ch('"');
            l.finish(format!("go-quoted{note}"))
        }
        View::Hex => hex(value, width, top, height, "hex"),
        View::JsonTree => {
            let mut l = mk(usize::MAX);
            match super::json::parse(&value[..value.len().min(JSON_LIMIT)]) {
                Some(j) => {
                    let mut out = String::new();
                    super::json::tree(&mut out, None, &j, 0, fold);
                    l.text(&out);
                    l.finish(format!("json tree ({fold} levels open; +/- to change)"))
                }
                None => {
                    l.text("not a JSON object, array, string or number");
                    l.finish("json tree")
                }
            }
        }
        View::Ints => {
            let mut l = mk(width);
            l.text(&ints(value));
            l.finish("integers")
        }
        View::Time => {
            let mut l = mk(width);
            l.text(&times(value));
            l.finish("time guesses")
        }
        View::Base64 => {
            let mut l = mk(width);
            // Whole groups of 3 bytes encode the same alone as in the whole.
            for part in clipped.chunks(3 * 1024) {
                if l.full() {
                    break;
                }
                l.text(&base64(part));
            }
            l.finish(format!("base64{note}"))
        }
        View::Bucket => {
            let mut l = mk(width);
            l.text("a value, not a bucket");
            l.finish("bucket")
        }
    }
}

fn utf8(mut l: Lines, b: &[u8], label: String) -> Window {
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if l.full() {
                return l.finish(label);
            }
            match c {
                '\n' => l.newline(),
                '\t' => l.text("    "),
                c if is_print(u32::from(c)) => l.ch(c),
                // Control characters never reach the terminal.
                _ => l.ch('·'),
            }
        }
        if !chunk.invalid().is_empty() {
            l.ch('\u{fffd}');
        }
    }
    l.finish(label)
}

/// Bytes per hex line at `width` columns.
pub(crate) fn hex_per_line(width: usize) -> usize {
    // Offset, a gap, "xx " per byte (plus a gap after 8 of 16), "|ascii|".
    match width {
        77.. => 16,
        43.. => 8,
        _ => 4,
    }
}

fn hex(b: &[u8], width: usize, top: usize, height: usize, label: &str) -> Window {
    let per = hex_per_line(width);
    let total = b.len().div_ceil(per).max(1);
    let mut lines = Vec::new();
    for i in top..(top + height).min(total) {
        let off = i * per;
        let row = &b[off..(off + per).min(b.len())];
        let mut s = if per == 16 {
            format!("{off:08x}  ")
        } else {
            format!("{off:08x} ")
        };
        for j in 0..per {
            match row.get(j) {
                Some(x) => {
                    let _ = write!(s, "{x:02x} ");
                }
                None => s.push_str("   "),
            }
            if j == 7 && per == 16 {
                s.push(' ');
            }
        }
        s.push('|');
        s.extend(row.iter().map(|&x| {
            if (0x20..0x7f).contains(&x) {
                char::from(x)
            } else {
                '.'
            }
        }));
        s.push('|');
        lines.push(s);
    }
    Window {
        lines,
        total,
        label: format!("{label}, {} bytes", b.len()),
    }
}

/// `s` with every character the terminal could act on replaced.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if is_print(u32::from(c)) { c } else { '·' })
        .collect()
}

/// Bytes as one short line: the text if printable, else `0x` and hex; cut at `max` columns.
pub(crate) fn show_bytes(b: &[u8], max: usize) -> String {
    let s = if !b.is_empty() && crate::values::is_printable(b) {
        b.utf8_chunks().map(|c| c.valid()).collect::<String>()
    } else if b.is_empty() {
        "\"\"".to_string()
    } else {
        let n = b.len().min(max / 2 + 1);
        format!("0x{}", crate::values::hex(&b[..n]))
    };
    if s.chars().count() > max {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// The hex dump lines `[top, top + height)` of `b`, and how many there are.
pub(crate) fn hex_lines(b: &[u8], width: usize, top: usize, height: usize) -> Window {
    hex(b, width, top, height, "hex")
}

fn first<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.first_chunk::<N>().copied()
}

#[expect(
    clippy::big_endian_bytes,
    reason = "the integer view shows both byte orders of the user's data"
)]
fn be64(a: [u8; 8]) -> u64 {
    u64::from_be_bytes(a)
}

#[expect(
    clippy::big_endian_bytes,
    reason = "the integer view shows both byte orders of the user's data"
)]
fn be32(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

#[expect(
    clippy::big_endian_bytes,
    reason = "the integer view shows both byte orders of the user's data"
)]
fn be16(a: [u8; 2]) -> u16 {
    u16::from_be_bytes(a)
}

/// Go's `binary.Uvarint`: the value and the bytes it took, `None` if malformed.
pub(crate) fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &c) in b.iter().enumerate().take(10) {
        if i == 9 && c > 1 {
            return None;
        }
        x |= u64::from(c & 0x7f) << (7 * i);
        if c < 0x80 {
            return Some((x, i + 1));
        }
    }
    None
}

fn ints(b: &[u8]) -> String {
    let mut s = format!("{} bytes\n", b.len());
    if let Some(a) = first::<8>(b) {
        let note = if b.len() > 8 { " (first 8 bytes)" } else { "" };
        let (be, le) = (be64(a), u64::from_le_bytes(a));
        let _ = writeln!(s, "u64 big-endian     {be}{note}");
        let _ = writeln!(s, "u64 little-endian  {le}");
        let _ = writeln!(s, "i64 big-endian     {}", be.cast_signed());
        let _ = writeln!(s, "i64 little-endian  {}", le.cast_signed());
    }
    if let Some(a) = first::<4>(b) {
        let _ = writeln!(s, "u32 big-endian     {}", be32(a));
        let _ = writeln!(s, "u32 little-endian  {}", u32::from_le_bytes(a));
    }
    if let Some(a) = first::<2>(b) {
        let _ = writeln!(s, "u16 big-endian     {}", be16(a));
        let _ = writeln!(s, "u16 little-endian  {}", u16::from_le_bytes(a));
    }
    match uvarint(b) {
        Some((u, n)) => {
            let i = (u >> 1).cast_signed() ^ -((u & 1).cast_signed());
            let _ = writeln!(s, "uvarint            {u} ({n} bytes)");
            let _ = writeln!(s, "varint             {i} ({n} bytes)");
        }
        None => s.push_str("varint             (not a varint)\n"),
    }
    s
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A Unix time in nanoseconds as RFC 3339 UTC, for 1970–2200; `None` outside.
pub(crate) fn rfc3339(nanos: i128) -> Option<String> {
    const LIMIT: i128 = 7_258_118_400 * 1_000_000_000; // 2200-01-01
    if !(0..LIMIT).contains(&nanos) {
        return None;
    }
    let secs = (nanos / 1_000_000_000) as i64;
    let frac = (nanos % 1_000_000_000) as u32;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    );
    if frac != 0 {
        let _ = write!(s, ".{frac:09}");
        while s.ends_with('0') {
            s.pop();
        }
    }
    s.push('Z');
    Some(s)
}

fn times(b: &[u8]) -> String {
    let mut s = String::new();
    let mut guesses: Vec<(&str, u64)> = Vec::new();
    if let Some(a) = first::<8>(b) {
        guesses.push(("u64 BE", be64(a)));
        guesses.push(("u64 LE", u64::from_le_bytes(a)));
    } else if let Some(a) = first::<4>(b) {
        guesses.push(("u32 BE", u64::from(be32(a))));
        guesses.push(("u32 LE", u64::from(u32::from_le_bytes(a))));
    }
    if let Some(n) = std::str::from_utf8(b)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
    {
        guesses.push(("decimal", n));
    }
    if guesses.is_empty() {
        return "too short for a time (needs 4 or 8 bytes, or decimal digits)".into();
    }
    for (name, n) in guesses {
        for (unit, scale) in [
            ("s", 1_000_000_000i128),
            ("ms", 1_000_000),
            ("µs", 1_000),
            ("ns", 1),
        ] {
            let shown = rfc3339(i128::from(n) * scale).unwrap_or_else(|| "-".into());
            let _ = writeln!(s, "{name:<8} as {unit:<2}  {shown}");
        }
    }
    s
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(view: View, v: &[u8], width: usize) -> Window {
        let json = pretty_json(v);
        window(view, v, json.as_deref(), width, 0, usize::MAX / 2, 2)
    }

    #[test]
    fn auto_prefers_json_then_text_then_hex() {
        let w = all(View::Auto, br#"{"a":[1,2]}"#, 40);
        assert_eq!(w.label, "auto: json");
        assert_eq!(w.lines[0], "{");
        assert_eq!(w.lines[1], "  \"a\": [");
        assert_eq!(
            all(View::Auto, b"hello\nworld", 40).lines,
            ["hello", "world"]
        );
        let h = all(View::Auto, &[0, 1, 0xff], 80);
        assert_eq!(h.label, "auto: hex, 3 bytes");
        assert!(
            h.lines[0].starts_with("00000000  00 01 ff"),
            "{:?}",
            h.lines
        );
        assert!(h.lines[0].ends_with("|...|"));
    }

    #[test]
    fn windows_keep_only_visible_lines_and_count_all() {
        let v = vec![b'a'; 1000];
        let w = window(View::Utf8, &v, None, 10, 5, 3, 0);
        assert_eq!(w.total, 100);
        assert_eq!(w.lines, ["aaaaaaaaaa"; 3]);
        let h = window(View::Hex, &vec![0u8; 1 << 20], None, 80, 65534, 10, 0);
        assert_eq!(h.total, 65536);
        assert_eq!(h.lines.len(), 2);
        assert!(h.lines[1].starts_with("000ffff0"));
    }

    #[test]
    fn quoted_and_base64_match_go() {
        assert_eq!(
            all(View::Quoted, b"a\"\x00\xff\n", 80).lines,
            [r#""a\"\x00\xff\n""#]
        );
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn integers_and_varints() {
        let w = all(View::Ints, &[0, 0, 0, 0, 0, 0, 0, 14], 80);
        assert!(
            w.lines.contains(&"u64 big-endian     14".to_string()),
            "{:?}",
            w.lines
        );
        assert!(
            w.lines
                .contains(&"u64 little-endian  1008806316530991104".to_string())
        );
        assert_eq!(uvarint(&[0xac, 0x02]), Some((300, 2)));
        assert_eq!(uvarint(&[0x80]), None);
        let v = all(View::Ints, &[3], 80);
        assert!(
            v.lines
                .contains(&"varint             -2 (1 bytes)".to_string()),
            "{:?}",
            v.lines
        );
    }

    #[test]
    fn times_in_utc() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000_123_000_000).unwrap(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            rfc3339(951_782_400 * 1_000_000_000).unwrap(),
            "2000-02-29T00:00:00Z"
        );
        assert!(rfc3339(-1).is_none());
        let w = all(View::Time, &1_700_000_000u64.to_le_bytes(), 80);
        assert!(
            w.lines
                .iter()
                .any(|l| l == "u64 LE   as s   2023-11-14T22:13:20Z"),
            "{:?}",
            w.lines
        );
    }

    #[test]
    fn json_tree_folds_by_level() {
        let v = br#"{"a":{"b":[1,2]},"c":"\u001b[31m"}"#;
        let open = window(View::JsonTree, v, None, 80, 0, 100, 9);
        assert_eq!(open.lines[0], "▾ {} 2 keys");
        assert!(
            open.lines.iter().any(|l| l == "        0: 1"),
            "{:?}",
            open.lines
        );
        // An escape sequence inside a string never reaches the terminal.
        assert!(open.lines.iter().all(|l| !l.contains('\u{1b}')));
        assert_eq!(open.lines[1], "  ▾ \"a\": {} 1 keys");
        let folded = window(View::JsonTree, v, None, 80, 0, 100, 1);
        assert_eq!(folded.lines[1], "  ▸ \"a\": {…} 1 keys");
    }

    #[test]
    fn a_known_length_gives_the_same_window() {
        let mut v: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        v.extend_from_slice(&[0xff, 0, b'"', 0xe2, 0x82]);
        for view in ALL_VIEWS {
            for (w, top, h) in [(40, 0, 10), (13, 777, 7), (80, 100_000, 5)] {
                let (full, k) = window_known(view, &v, None, (w, top, h), 2, None);
                let (again, k2) = window_known(view, &v, None, (w, top, h), 2, Some(k));
                assert_eq!(full, again, "{view:?} {w} {top}");
                assert_eq!(k, k2);
            }
        }
    }
}
