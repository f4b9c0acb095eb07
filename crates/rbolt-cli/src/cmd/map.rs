//! `rbolt map FILE`: a picture of the file, one cell per page (or per N pages), saying what
//! each page is — and so why the file is as big as it is and whether `compact` would help.
//! Unicode and colour on a terminal, distinct ASCII glyphs otherwise; `--svg` draws the same
//! map with a tooltip per cell. Reads through pread, so damaged files get a map too.

use super::exact;
use crate::cli::space::{Color, MapArgs};
use crate::error::CliError;
use crate::pagemap::{Class, PageMap};
use crate::raw::RawFile;
use crate::source::{check_source, path_arg};
use crate::svg::Svg;
use std::io::{IsTerminal, Write};

/// Every class in legend order.
const CLASSES: [Class; 13] = [
    Class::Meta,
    Class::Freelist,
    Class::Branch,
    Class::Leaf(0),
    Class::Leaf(1),
    Class::Leaf(2),
    Class::Leaf(3),
    Class::Overflow,
    Class::Free,
    Class::Pending,
    Class::Unused,
    Class::Unreachable,
    Class::Unreadable,
];

/// The ASCII glyph of a class, for pipes and NO_COLOR.
fn plain(c: Class) -> char {
    match c {
        Class::Meta => 'M',
        Class::Freelist => 'F',
        Class::Free => '.',
        Class::Pending => ':',
        Class::Branch => 'B',
        Class::Leaf(0) => '1',
        Class::Leaf(1) => '2',
        Class::Leaf(2) => '3',
        Class::Leaf(_) => '4',
        Class::Overflow => '=',
        Class::Unreachable => '!',
        Class::Unreadable => 'X',
        Class::Unused => '_',
    }
}

/// The Unicode glyph and ANSI SGR colour of a class, for terminals.
fn fancy(c: Class) -> (char, &'static str) {
    match c {
        Class::Meta => ('M', "1;33"),
        Class::Freelist => ('F', "1;35"),
        Class::Free => ('·', "2;37"),
        Class::Pending => ('∘', "36"),
        Class::Branch => ('▓', "34"),
        Class::Leaf(0) => ('░', "32"),
        Class::Leaf(1) => ('▒', "32"),
        Class::Leaf(2) => ('▓', "32"),
        Class::Leaf(_) => ('█', "32"),
        Class::Overflow => ('=', "32"),
        Class::Unreachable => ('!', "1;31"),
        Class::Unreadable => ('X', "1;37;41"),
        Class::Unused => ('_', "2;37"),
    }
}

/// The SVG fill colour of a class.
pub(crate) fn rgb(c: Class) -> &'static str {
    match c {
        Class::Meta => "#d4a017",
        Class::Freelist => "#a349a4",
        Class::Free => "#d4d4d4",
        Class::Pending => "#8ecae6",
        Class::Branch => "#3465a4",
        Class::Leaf(0) => "#c8e6c0",
        Class::Leaf(1) => "#8fcc80",
        Class::Leaf(2) => "#4fa83d",
        Class::Leaf(_) => "#2a7020",
        Class::Overflow => "#c2a66b",
        Class::Unreachable => "#e02020",
        Class::Unreadable => "#600000",
        Class::Unused => "#f3f3f3",
    }
}

/// The class a cell of several pages shows: damage wins (it must never be hidden), then
/// the most common class, the earlier in legend order on a tie.
fn cell_class(m: &PageMap, first: u64, n: u64) -> (Class, [u64; 13]) {
    let mut counts = [0u64; 13];
    for id in first..(first + n).min(m.pages) {
        let c = m.class(id);
        if let Some(i) = CLASSES.iter().position(|&k| k == c) {
            counts[i] += 1;
        }
    }
    // The worst damage is last in legend order.
    let damage = (0..13)
        .rev()
        .find(|&i| CLASSES[i].is_damage() && counts[i] > 0)
        .map(|i| CLASSES[i]);
    let top = damage.unwrap_or_else(|| {
        let best = (0..13).max_by_key(|&i| (counts[i], std::cmp::Reverse(i)));
        CLASSES[best.unwrap_or(0)]
    });
    (top, counts)
}

/// The last line: how much is free and where.
pub(crate) fn summary(m: &PageMap) -> String {
    let runs = m.free_runs();
    let free: u64 = runs.iter().map(|r| r.1).sum();
    let pct = if m.pages == 0 {
        0.0
    } else {
        free as f64 * 100.0 / m.pages as f64
    };
    let largest = runs.iter().max_by_key(|r| (r.1, std::cmp::Reverse(r.0)));
    let tail = runs.last().filter(|r| r.0 + r.1 == m.pages && m.pages > 0);
    let largest = match largest {
        Some((s, n)) => format!("largest free run {} at page {s}", pages(*n)),
        None => "no free run".to_string(),
    };
    let tail = match tail {
        Some((s, n)) => format!("free tail from page {s} ({})", pages(*n)),
        None => "no free tail".to_string(),
    };
    format!(
        "{pct:.1}% free ({free} of {} pages), {largest}, {tail}",
        m.pages
    )
}

pub(crate) fn run(a: &MapArgs, ctx: &crate::Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    if a.width == 0 || a.rows == 0 || a.per_cell == Some(0) {
        return Err(CliError::usage(
            "--width, --rows and --per-cell must be at least 1",
        ));
    }
    let path = path_arg(&a.pos.args[0]);
    check_source(path)?;
    // Without any meta page, the pages are still drawn, as 4 KiB pages.
    let raw = match RawFile::open_lenient(path) {
        Ok(r) => r,
        Err(_) if a.from.meta.is_none() => RawFile::assume(path, 4096)?,
        Err(e) => return Err(e),
    };
    let bar = ctx.progress.bar(raw.pages(), "pages");
    bar.set_prefix("map");
    let m = PageMap::build_with(
        &raw,
        a.from.meta,
        &mut crate::walk::Problems::default(),
        Some(&bar),
    )?;
    bar.finish_and_clear();
    let width = u64::from(a.width);
    let per = a
        .per_cell
        .unwrap_or_else(|| m.pages.div_ceil(width * u64::from(a.rows)).max(1));
    let cells = m.pages.div_ceil(per);
    let color = match a.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let snap = match (m.meta_id, m.meta) {
        (Some(id), Some(meta)) => format!("meta {id}, txid {}", meta.txid.0),
        _ => "no valid meta page: each page as its header says".to_string(),
    };
    let unit = if per == 1 {
        "1 page per cell".to_string()
    } else {
        format!("{per} pages per cell")
    };
    writeln!(
        out,
        "{}: {} pages of {} bytes ({snap}), {unit}",
        path.display(),
        m.pages,
        m.page_size
    )?;
    let label = format!("{}", cells.saturating_sub(1) * per).len();
    let mut line = String::new();
    for row in 0..cells.div_ceil(width) {
        line.clear();
        let first_cell = row * width;
        line.push_str(&format!("{:>label$} ", first_cell * per));
        let mut open: Option<&str> = None;
        for cell in first_cell..(first_cell + width).min(cells) {
            let (c, _) = cell_class(&m, cell * per, per);
            if color {
                let (g, sgr) = fancy(c);
                if open != Some(sgr) {
                    line.push_str(&format!("\x1b[0;{sgr}m"));
                    open = Some(sgr);
                }
                line.push(g);
            } else {
                line.push(plain(c));
            }
        }
        if open.is_some() {
            line.push_str("\x1b[0m");
        }
        writeln!(out, "{line}")?;
    }
    // The legend names the classes the file has; the four leaf shades share one entry.
    let (_, present) = cell_class(&m, 0, m.pages);
    let glyph = |c: Class| {
        if color {
            let (g, sgr) = fancy(c);
            format!("\x1b[{sgr}m{g}\x1b[0m")
        } else {
            plain(c).to_string()
        }
    };
    let mut legend: Vec<String> = Vec::new();
    for (&c, n) in CLASSES.iter().zip(present) {
        match c {
            Class::Leaf(0) if present[3..7].iter().any(|&n| n > 0) => {
                let shades: String = (0..4).map(|q| glyph(Class::Leaf(q))).collect();
                legend.push(format!("{shades} leaf ≤25/50/75/100% full"));
            }
            Class::Leaf(_) => {}
            _ if n > 0 => legend.push(format!("{} {}", glyph(c), c.name())),
            _ => {}
        }
    }
    writeln!(out, "{}", legend.join("  "))?;
    if let Some(svg) = &a.svg {
        write_svg(&m, per, width, cells, std::path::Path::new(svg), path)?;
    }
    writeln!(out, "{}", summary(&m))?;
    Ok(())
}

/// The tooltip of a cell.
fn tooltip(m: &PageMap, first: u64, per: u64, counts: &[u64; 13]) -> String {
    if per == 1 {
        let c = m.class(first);
        let name = if matches!(c, Class::Leaf(_)) {
            "leaf"
        } else {
            c.name()
        };
        let mut t = format!("page {first}: {name}");
        if let Some(b) = m.owner(first) {
            t.push_str(&format!(", bucket {}", bucket_name(m, b)));
        }
        if matches!(c, Class::Branch | Class::Leaf(_) | Class::Overflow) {
            t.push_str(&format!(", {}% full", m.fill(first)));
        }
        return t;
    }
    let last = (first + per).min(m.pages) - 1;
    let parts: Vec<String> = CLASSES
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{n} {}", c.name()))
        .collect();
    format!("pages {first}–{last}: {}", parts.join(", "))
}

/// A bucket's path as text, names joined by `/` (hex when not printable).
pub(crate) fn bucket_name(m: &PageMap, b: u32) -> String {
    bucket_label(&m.buckets, b)
}

/// A bucket's path as text: printable names as they are, others in hex, joined by `/`.
pub(crate) fn bucket_label(buckets: &[crate::walk::BucketInfo], b: u32) -> String {
    let path = crate::walk::bucket_path(buckets, b);
    if path.is_empty() {
        return "(root)".into();
    }
    path.iter()
        .map(|n| String::from_utf8_lossy(&crate::values::auto(n)).into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

const CELL: u64 = 10;
const GAP: u64 = 1;

fn write_svg(
    m: &PageMap,
    per: u64,
    width: u64,
    cells: u64,
    out: &std::path::Path,
    src: &std::path::Path,
) -> Result<(), CliError> {
    let rows = cells.div_ceil(width).max(1);
    let pitch = CELL + GAP;
    let top = 30;
    let grid_h = rows * pitch;
    let legend_rows = 4u64;
    let last = summary(m);
    // Wide enough for the grid, the legend and the summary line (about 7 px a character).
    let w = (width * pitch + 20)
        .max(720)
        .max(last.chars().count() as u64 * 7 + 20);
    let h = top + grid_h + 20 + legend_rows * 18 + 30;
    let mut s = Svg::create(out, w, h)?;
    s.text(
        10,
        20,
        14,
        "bold",
        &format!(
            "{}: {} pages of {} bytes, {}",
            src.display(),
            m.pages,
            m.page_size,
            if per == 1 {
                "1 page per cell".to_string()
            } else {
                format!("{per} pages per cell")
            }
        ),
    )?;
    for cell in 0..cells {
        let (c, counts) = cell_class(m, cell * per, per);
        let x = 10 + (cell % width) * pitch;
        let y = top + (cell / width) * pitch;
        s.rect_titled(
            x,
            y,
            CELL,
            CELL,
            rgb(c),
            &tooltip(m, cell * per, per, &counts),
        )?;
    }
    let ly = top + grid_h + 20;
    let col_w = (w - 20) / 4;
    for (i, &c) in CLASSES.iter().enumerate() {
        let x = 10 + (i as u64 % 4) * col_w;
        let y = ly + (i as u64 / 4) * 18;
        s.rect_titled(x, y, CELL, CELL, rgb(c), c.name())?;
        s.text(x + CELL + 5, y + CELL, 11, "normal", c.name())?;
    }
    s.text(10, h - 10, 12, "normal", &last)?;
    s.finish()
}

/// "1 page", "2 pages".
fn pages(n: u64) -> String {
    if n == 1 {
        "1 page".to_string()
    } else {
        format!("{n} pages")
    }
}
