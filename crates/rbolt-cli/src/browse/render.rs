//! Drawing: the header, the three panes (tree or page map, list, inspector), the status and
//! hint lines, and the help screen. Only what is on screen is read or formatted.

use super::data::{BucketInfo, Data};
use super::jobs::PageRow;
use super::layout::{inner_height, inner_width};
use super::prompt::question;
use super::state::{App, Focus, Mode, Target};
use super::views::{self, View, show_bytes};
use crate::raw::RawFile;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use rbolt::PageType;

/// Colours, or none (`NO_COLOR`): then only bold and reverse video mark things.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Theme {
    pub(crate) color: bool,
}

impl Theme {
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    fn selected(self, focused: bool) -> Style {
        if focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }
    fn error(self) -> Style {
        if self.color {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
}

fn human(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

fn path_text(p: &[Vec<u8>]) -> String {
    let s: Vec<String> = p.iter().map(|n| show_bytes(n, 32)).collect();
    format!("/{}", s.join("/"))
}

fn pane<'a>(title: String, focused: bool, theme: Theme) -> Block<'a> {
    let b = Block::default().borders(Borders::ALL).title(title);
    if focused {
        b.border_style(theme.fg(Color::Cyan).add_modifier(Modifier::BOLD))
    } else {
        b
    }
}

/// Draws the whole screen.
pub(crate) fn draw(f: &mut Frame<'_>, app: &mut App, data: &Data, theme: Theme) {
    let a = app.areas();
    header(f, a.header, app, data, theme);
    if app.mode == Mode::Pages {
        page_map(f, a.tree, app, theme);
    } else {
        tree(f, a.tree, app, theme);
    }
    match app.mode {
        Mode::Browse => keys(f, a.keys, app, theme),
        Mode::Pages => list(f, a.keys, app, theme, Mode::Pages),
        Mode::Search => list(f, a.keys, app, theme, Mode::Search),
        Mode::Check => list(f, a.keys, app, theme, Mode::Check),
    }
    inspector(f, a.inspector, app, data, theme);
    status(f, a.status, app, theme);
    hints(f, a.hints, app);
    if app.help {
        help(f, f.area(), app);
    }
}

fn header(f: &mut Frame<'_>, r: Rect, app: &App, data: &Data, theme: Theme) {
    let h = data.header();
    let badge = if h.writable {
        Span::styled(
            " RW ",
            if theme.color {
                Style::new()
                    .bg(Color::Red)
                    .fg(Color::White)
                    .add_modifier(Modifier::BOLD)
            } else {
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            },
        )
    } else {
        Span::styled(" RO ", theme.fg(Color::Green).add_modifier(Modifier::BOLD))
    };
    let mode = match app.mode {
        Mode::Browse => "",
        Mode::Pages => "  [pages]",
        Mode::Search => "  [search]",
        Mode::Check => "  [check]",
    };
    let free = match h.free {
        Some(n) => format!(
            "  free {n} ({}%)",
            (n * 100).checked_div(h.hwm).unwrap_or(0)
        ),
        None => String::new(),
    };
    let text = format!(
        " {}  page {}  txid {}  hwm {}{free}  {}{mode} ",
        views::sanitize(&h.file),
        h.page_size,
        h.txid,
        h.hwm,
        human(h.file_size)
    );
    let line = Line::from(vec![
        badge,
        Span::styled(text, Style::new().add_modifier(Modifier::BOLD)),
    ]);
    f.render_widget(Paragraph::new(line), r);
}

fn tree(f: &mut Frame<'_>, r: Rect, app: &mut App, theme: Theme) {
    let focused = app.focus == Focus::Tree && app.mode == Mode::Browse;
    let h = inner_height(r);
    app.tree.scroll_into_view(h);
    let w = inner_width(r);
    let lines: Vec<Line<'_>> = app
        .tree
        .nodes
        .iter()
        .enumerate()
        .skip(app.tree.top)
        .take(h)
        .map(|(i, n)| {
            let pad = "  ".repeat(n.depth().saturating_sub(1));
            let text = if n.path.is_empty() {
                format!("{} / (root)", if n.expanded { "▾" } else { "▸" })
            } else if n.more {
                format!("{pad}  … listing stopped (use :)")
            } else {
                let name = show_bytes(
                    n.path.last().map_or(&[][..], |v| v),
                    w.saturating_sub(pad.len() + 2).max(4),
                );
                format!("{pad}{} {name}", if n.expanded { "▾" } else { "▸" })
            };
            let style = if i == app.tree.cursor {
                theme.selected(focused)
            } else {
                Style::new()
            };
            Line::styled(text, style)
        })
        .collect();
    let block = pane(" buckets ".into(), focused, theme);
    f.render_widget(Paragraph::new(lines).block(block), r);
}

fn keys(f: &mut Frame<'_>, r: Rect, app: &mut App, theme: Theme) {
    let focused = app.focus == Focus::Keys;
    let h = inner_height(r);
    let w = inner_width(r);
    app.keys.set_page(h);
    let k = &app.keys;
    let more_up = k.top > 0 || !k.at_start;
    let more_down = k.top + h < k.rows.len() || !k.at_end;
    let title = format!(
        " keys {}{}{}{} ",
        path_text(&k.bucket),
        if more_up || more_down { " " } else { "" },
        if more_up { "↑" } else { "" },
        if more_down { "↓" } else { "" }
    );
    let lines: Vec<Line<'_>> = if k.rows.is_empty() {
        vec![Line::styled("(empty)", theme.fg(Color::DarkGray))]
    } else {
        k.rows
            .iter()
            .enumerate()
            .skip(k.top)
            .take(h)
            .map(|(i, row)| {
                let size = if row.bucket {
                    "bucket".to_string()
                } else {
                    human(row.len as u64)
                };
                let name_w = w.saturating_sub(size.len() + 3).max(4);
                let mut name = show_bytes(&row.key, name_w);
                if row.bucket {
                    name.push('/');
                }
                let gap = w
                    .saturating_sub(Span::raw(name.as_str()).width() + size.len() + 1)
                    .max(1);
                let style = if i == k.cursor {
                    theme.selected(focused)
                } else if row.bucket {
                    theme.fg(Color::Blue).add_modifier(Modifier::BOLD)
                } else {
                    Style::new()
                };
                Line::from(vec![
                    Span::styled(format!("{name}{}", " ".repeat(gap)), style),
                    Span::styled(
                        size,
                        if i == k.cursor {
                            style
                        } else {
                            theme.fg(Color::DarkGray)
                        },
                    ),
                ])
            })
            .collect()
    };
    f.render_widget(Paragraph::new(lines).block(pane(title, focused, theme)), r);
}

fn kind_glyph(k: PageType) -> (char, Color) {
    match k {
        PageType::Meta => ('M', Color::Magenta),
        PageType::Freelist => ('F', Color::Yellow),
        PageType::Branch => ('B', Color::Cyan),
        PageType::Leaf => ('L', Color::Green),
        PageType::Free => ('.', Color::DarkGray),
        _ => ('?', Color::Red),
    }
}

/// The file as a grid: one cell per page, or per run of pages on big files.
fn page_map(f: &mut Frame<'_>, r: Rect, app: &App, theme: Theme) {
    let w = inner_width(r);
    let legend = "M meta F freelist B branch L leaf . free ~ overflow";
    let legend_h = legend.len().div_ceil(w).min(3);
    let h = inner_height(r).saturating_sub(legend_h).max(1);
    let rows = &app.pages.items;
    let last = rows.last().map_or(0, |p| p.id + 1 + u64::from(p.overflow));
    let cells = (w * h) as u64;
    let per = last.div_ceil(cells.max(1)).max(1);
    let sel = app.pages.selected().map(|p| p.id);
    let mut lines = vec![];
    let mut spans = Vec::new();
    let mut i = 0usize;
    let mut cell = 0u64;
    while cell * per < last && lines.len() <= h {
        let lo = cell * per;
        let hi = lo + per;
        // The type of the first page starting in this cell, or the span covering it.
        while i + 1 < rows.len() && rows[i + 1].id <= lo {
            i += 1;
        }
        let row: Option<&PageRow> = rows[i..]
            .iter()
            .find(|p| p.id >= lo && p.id < hi)
            .or(rows.get(i));
        let (c, color) = row.map_or(('?', Color::Red), |p| {
            if p.id < lo && p.kind != PageType::Free {
                ('~', kind_glyph(p.kind).1)
            } else {
                kind_glyph(p.kind)
            }
        });
        let mut st = theme.fg(color);
        if sel.is_some_and(|s| s >= lo && s < hi) {
            st = st.add_modifier(Modifier::REVERSED);
        }
        spans.push(Span::styled(c.to_string(), st));
        if spans.len() == w {
            lines.push(Line::from(std::mem::take(&mut spans)));
        }
        cell += 1;
    }
    if !spans.is_empty() {
        lines.push(Line::from(spans));
    }
    while lines.len() < h {
        lines.push(Line::raw(""));
    }
    let dim = Style::new().add_modifier(Modifier::DIM);
    lines.extend(
        legend
            .as_bytes()
            .chunks(w)
            .map(|c| Line::styled(String::from_utf8_lossy(c).into_owned(), dim)),
    );
    f.render_widget(
        Paragraph::new(lines).block(pane(
            format!(" page map: {last} pages, {per} a cell "),
            false,
            theme,
        )),
        r,
    );
}

fn list(f: &mut Frame<'_>, r: Rect, app: &mut App, theme: Theme, mode: Mode) {
    let focused = app.focus == Focus::Keys;
    let h = inner_height(r);
    let w = inner_width(r);
    let progress = app.job.as_ref().map(|j| match j.total {
        Some(t) if t > 0 => format!(" {} {}%", j.name, j.done * 100 / t),
        _ => format!(" {} {}…", j.name, j.done),
    });
    let running = progress.unwrap_or_default();
    let (title, cursor, top, texts): (String, usize, usize, Vec<String>) = match mode {
        Mode::Pages => {
            let l = &mut app.pages;
            clamp_top(&mut l.top, l.cursor, h);
            let texts = l.items.iter().skip(l.top).take(h).map(|p| {
                format!(
                    "{:>8}  {:<9} {:>5} items  +{}",
                    p.id,
                    p.kind.to_string(),
                    p.count,
                    p.overflow
                )
            });
            (
                format!(" pages ({}){running} ", l.items.len()),
                l.cursor,
                l.top,
                texts.collect(),
            )
        }
        Mode::Search => {
            let l = &mut app.hits;
            clamp_top(&mut l.top, l.cursor, h);
            let texts = l.items.iter().skip(l.top).take(h).map(|hit| {
                let mut p = hit.bucket.clone();
                p.push(hit.key.clone());
                format!(
                    "{}{}  {}",
                    path_text(&p),
                    if hit.is_bucket { "/" } else { "" },
                    if hit.in_value { "(value)" } else { "(key)" }
                )
            });
            (
                format!(" matches ({}){running} ", l.items.len()),
                l.cursor,
                l.top,
                texts.collect(),
            )
        }
        _ => {
            let l = &mut app.problems;
            clamp_top(&mut l.top, l.cursor, h);
            let texts = l.items.iter().skip(l.top).take(h).map(|(id, m)| match id {
                Some(id) => format!("page {id}: {}", views::sanitize(m)),
                None => views::sanitize(m),
            });
            let n = l.items.len();
            let t = if app.job.is_none() && n == 0 {
                " check: OK ".to_string()
            } else {
                format!(" problems ({n}){running} ")
            };
            (t, l.cursor, l.top, texts.collect())
        }
    };
    let lines: Vec<Line<'_>> = texts
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let t: String = t.chars().take(w).collect();
            if top + i == cursor {
                Line::styled(t, theme.selected(focused))
            } else {
                Line::raw(t)
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(pane(title, focused, theme)), r);
}

fn clamp_top(top: &mut usize, cursor: usize, h: usize) {
    if cursor < *top {
        *top = cursor;
    } else if cursor >= *top + h {
        *top = cursor + 1 - h;
    }
}

fn bucket_lines(data: &Data, app: &mut App, path: &[Vec<u8>]) -> Vec<String> {
    let mut out = vec![format!("bucket {}", path_text(path))];
    if path.is_empty() {
        let h = data.header();
        out.extend([
            format!("file       {}", data.file_path().display()),
            format!("page size  {}", h.page_size),
            format!("txid       {}", h.txid),
            format!(
                "hwm        {} pages ({})",
                h.hwm,
                human(h.hwm * h.page_size as u64)
            ),
            format!("file size  {}", human(h.file_size)),
            format!(
                "mode       {}",
                if h.writable {
                    "read-write"
                } else {
                    "read-only (shared lock)"
                }
            ),
            String::new(),
            "S: statistics of every bucket".into(),
        ]);
        return out;
    }
    let big = app.inspector.stats || app.inspector.view == View::Bucket;
    // Statistics walk the bucket: once per snapshot, not once per frame.
    let ident = (data.header().txid, path.to_vec(), big);
    let info = match &app.bucket_cache {
        Some((i, info)) if *i == ident => Ok(info.clone()),
        _ => data.bucket_info(path, big).inspect(|info| {
            app.bucket_cache = Some((ident, info.clone()));
        }),
    };
    match info {
        Ok(BucketInfo {
            sequence,
            root,
            stats,
        }) => {
            out.push(format!("sequence   {sequence}"));
            out.push(if root == 0 {
                "storage    inline (in its parent's leaf)".into()
            } else {
                format!("root page  {root}")
            });
            match stats {
                Some(s) => out.extend(stats_lines(&s, data.header().page_size)),
                None => out.push("stats      press 9 (bucket view) to walk this bucket".into()),
            }
        }
        Err(e) => out.push(format!("error: {e}")),
    }
    out
}

fn stats_lines(s: &rbolt::BucketStats, page_size: usize) -> Vec<String> {
    let pct = |used: u64, alloc: u64| (used * 100).checked_div(alloc).unwrap_or(0);
    let fill = pct(s.leaf_inuse, s.leaf_alloc);
    let bar = "█".repeat((fill / 5) as usize) + &"░".repeat(20 - (fill / 5) as usize);
    vec![
        format!("keys       {} (sub-buckets included)", s.key_n),
        format!("buckets    {} ({} inline)", s.bucket_n, s.inline_bucket_n),
        format!("depth      {}", s.depth),
        format!(
            "branch     {} pages (+{} overflow), {}% used",
            s.branch_page_n,
            s.branch_overflow_n,
            pct(s.branch_inuse, s.branch_alloc)
        ),
        format!(
            "leaf       {} pages (+{} overflow), {}% used",
            s.leaf_page_n, s.leaf_overflow_n, fill
        ),
        format!("leaf fill  {bar} {fill}%"),
        format!(
            "space      {} in pages of {page_size}",
            human(s.branch_alloc + s.leaf_alloc)
        ),
    ]
}

fn inspector(f: &mut Frame<'_>, r: Rect, app: &mut App, data: &Data, theme: Theme) {
    let focused = app.focus == Focus::Inspector;
    let h = inner_height(r);
    let w = inner_width(r);
    let target = app.target();
    let win = match &target {
        Target::Nothing => views::Window {
            lines: vec![],
            total: 0,
            label: String::new(),
        },
        Target::Stats => match &app.stats {
            Some(s) => text_window(
                stats_lines(s, data.header().page_size),
                "statistics, every bucket",
            ),
            None => text_window(
                vec!["statistics: walking every bucket…".into()],
                "statistics",
            ),
        },
        Target::Bucket(p) => text_window(bucket_lines(data, app, p), "bucket"),
        Target::Page(id) => match RawFile::open(data.file_path()) {
            Ok(raw) => super::pages::window(&raw, *id, w, app.inspector.scroll, h),
            Err(e) => text_window(vec![e.to_string()], "page"),
        },
        Target::Value(b, _) if app.inspector.view == View::Bucket => {
            text_window(bucket_lines(data, app, b), "bucket holding this key")
        }
        Target::Value(b, k) => {
            if app.inspector.key {
                let mut w0 = views::window(
                    app.inspector.view,
                    k,
                    views::pretty_json(k).as_deref(),
                    w,
                    app.inspector.scroll,
                    h,
                    app.inspector.fold,
                );
                w0.label = format!("key, {}", w0.label);
                w0
            } else {
                let view = app.inspector.view;
                let (scroll, fold) = (app.inspector.scroll, app.inspector.fold);
                let txid = data.header().txid;
                let json_cache = &mut app.json_cache;
                let view_cache = &mut app.view_cache;
                data.with_value(b, k, |v| match v {
                    None => text_window(vec!["(gone: press Ctrl-R)".into()], "value"),
                    Some(v) => {
                        let ident = (txid, b.clone(), k.clone());
                        if view == View::Auto && json_cache.as_ref().is_none_or(|c| c.0 != ident) {
                            *json_cache = Some((ident.clone(), views::pretty_json(v)));
                        }
                        let json = match json_cache {
                            Some((_, j)) if view == View::Auto => j.as_deref(),
                            _ => None,
                        };
                        // A full pass the first time; later frames stop after the window.
                        let vident = (ident, view, w, fold);
                        let known = view_cache.as_ref().filter(|c| c.0 == vident).map(|c| c.1);
                        let (win, learnt) =
                            views::window_known(view, v, json, (w, scroll, h), fold, known);
                        *view_cache = Some((vident, learnt));
                        win
                    }
                })
                .unwrap_or_else(|e| text_window(vec![e.to_string()], "value"))
            }
        }
    };
    // Keep the scroll inside the document, so K answers at once after G.
    let max = win.total.saturating_sub(h);
    let win = if app.inspector.scroll > max {
        app.inspector.scroll = max;
        match &target {
            Target::Bucket(_) | Target::Stats | Target::Nothing => win,
            _ => return inspector(f, r, app, data, theme),
        }
    } else {
        win
    };
    let pos = if win.total > h {
        format!(
            " {}-{}/{}",
            app.inspector.scroll + 1,
            (app.inspector.scroll + h).min(win.total),
            win.total
        )
    } else {
        String::new()
    };
    let title = format!(" {}{pos} ", win.label);
    // Facts about a bucket wrap; a value's views are already cut to the width.
    let wrap =
        matches!(target, Target::Bucket(_) | Target::Stats) || app.inspector.view == View::Bucket;
    let lines: Vec<Line<'_>> = win
        .lines
        .into_iter()
        .map(|l| {
            Line::raw(if wrap {
                l
            } else {
                l.chars().take(w).collect::<String>()
            })
        })
        .collect();
    let mut p = Paragraph::new(lines).block(pane(title, focused, theme));
    if wrap {
        p = p.wrap(ratatui::widgets::Wrap { trim: false });
    }
    f.render_widget(p, r);
}

fn text_window(lines: Vec<String>, label: &str) -> views::Window {
    views::Window {
        total: lines.len(),
        lines,
        label: label.to_string(),
    }
}

fn status(f: &mut Frame<'_>, r: Rect, app: &App, theme: Theme) {
    let line = if let Some(p) = &app.prompt {
        Line::from(vec![
            Span::styled(question(&p.ask), Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(views::sanitize(&p.text)),
            Span::styled("█", Style::new()),
        ])
    } else if let Some((m, err)) = &app.message {
        let m = views::sanitize(m);
        if *err {
            Line::styled(m, theme.error())
        } else {
            Line::raw(m)
        }
    } else if let Some(j) = &app.job {
        Line::raw(format!(
            "{}: {}{} (Esc cancels)",
            j.name,
            j.done,
            j.total.map(|t| format!("/{t}")).unwrap_or_default()
        ))
    } else {
        Line::raw("")
    };
    f.render_widget(Paragraph::new(line), r);
}

fn hints(f: &mut Frame<'_>, r: Rect, app: &App) {
    let text = match app.mode {
        Mode::Browse => {
            "q quit  ? help  jk move  l open  h back  / seek  : goto  v view  f search  P pages  C check  S stats  Tab pane"
        }
        Mode::Pages => {
            "Esc back  jk move  u parent  c child  n/N sibling  Enter inspect  J/K scroll  : #page  q quit"
        }
        Mode::Search => "Esc cancel/back  jk move  Enter go to  q quit",
        Mode::Check => "Esc back  jk move  Enter page  q quit",
    };
    // Whole hints only: drop those that do not fit rather than cut one in half.
    let mut shown = String::new();
    for h in text.split("  ") {
        let extra = if shown.is_empty() { 0 } else { 2 };
        if shown.chars().count() + extra + h.chars().count() > usize::from(r.width) {
            break;
        }
        if extra > 0 {
            shown.push_str("  ");
        }
        shown.push_str(h);
    }
    f.render_widget(
        Paragraph::new(Line::styled(
            shown,
            Style::new().add_modifier(Modifier::DIM),
        )),
        r,
    );
}

/// The help screen's text.
pub(crate) const HELP: &[(&str, &str)] = &[
    ("j k ↓ ↑", "move; PgDn PgUp Ctrl-F Ctrl-B by a page"),
    ("l → Enter", "open bucket / expand / inspect value"),
    ("h ←", "back to the parent bucket / collapse"),
    ("g G", "first / last"),
    ("Tab", "next pane (Shift-Tab back)"),
    ("/", "seek: jump to the first key ≥ prefix (0x… hex)"),
    (":", "go to bucket/path[/key], 0x…key or #page"),
    ("v 1-9", "next inspector view / view by number"),
    ("V", "inspect the key instead of the value"),
    ("J K + -", "scroll inspector / open or fold JSON levels"),
    (
        "f n N",
        "search keys and values here / next, previous match",
    ),
    ("P o", "pages mode / the leaf page of this key"),
    (
        "u c n N",
        "pages mode: parent, first child, next, previous sibling",
    ),
    ("C S", "check the file / statistics"),
    ("x X", "save value to a file / export bucket as JSON lines"),
    ("y Y", "copy value / key to the clipboard (OSC 52)"),
    ("e p b", "edit value / new pair / new bucket (--write)"),
    ("D m", "delete key or bucket / move bucket (--write)"),
    ("Ctrl-R", "reload the latest snapshot"),
    ("Ctrl-Z q", "suspend / quit"),
];

fn help(f: &mut Frame<'_>, area: Rect, app: &mut App) {
    let w = area.width.min(72);
    let inner = usize::from(w.saturating_sub(2)).max(1);
    let mut lines: Vec<Line<'_>> = Vec::new();
    for (k, d) in HELP {
        // Descriptions wrap under themselves, never cut.
        let room = inner.saturating_sub(13).max(8);
        let mut rest: &str = d;
        let mut first = true;
        while !rest.is_empty() {
            let cut = if rest.chars().count() <= room {
                rest.len()
            } else {
                let limit = rest.char_indices().nth(room).map_or(rest.len(), |(i, _)| i);
                rest[..limit].rfind(' ').filter(|i| *i > 0).unwrap_or(limit)
            };
            let key = if first { *k } else { "" };
            lines.push(Line::raw(format!(" {key:<11} {}", rest[..cut].trim())));
            rest = rest[cut..].trim_start();
            first = false;
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " any key closes this help",
        Style::new().add_modifier(Modifier::DIM),
    ));
    let h = (lines.len() as u16 + 2).min(area.height);
    let overflow = (lines.len() as u16 + 2).saturating_sub(h);
    app.help_scroll = app.help_scroll.min(overflow);
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(h),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, r, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(w),
        Constraint::Fill(1),
    ])
    .areas(mid);
    let title = if overflow > 0 {
        " help (j/k scroll) "
    } else {
        " help "
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((app.help_scroll, 0))
            .block(Block::default().borders(Borders::ALL).title(title)),
        r,
    );
}
