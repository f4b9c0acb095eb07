//! The browser's state machine: every input (a key, a resize, a job's message) changes the
//! state and yields at most one [`Effect`] for the caller to carry out (quit, suspend, copy,
//! start or cancel a job). Reads go through [`Data`]; nothing here touches the terminal, so
//! every key is unit-tested against a fixture database.

use super::data::{BucketPath, Data};
use super::jobs::{Hit, JobMsg, JobSpec, PageRow};
use super::keylist::KeyList;
use super::layout::{Areas, areas, inner_height};
use super::tree::Tree;
use super::views::{ALL_VIEWS, View};
use crate::error::CliError;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;

/// What the caller must do after an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    None,
    Quit,
    /// Restore the terminal, stop the process (Ctrl-Z), and take the terminal back on resume.
    Suspend,
    /// Put these bytes on the terminal's clipboard (OSC 52).
    Copy(Vec<u8>),
    Start(JobSpec),
    /// Stop the running job.
    Cancel,
}

/// Which pane keys go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Focus {
    Tree,
    Keys,
    Inspector,
}

/// What the middle pane lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Browse,
    Pages,
    Search,
    Check,
}

/// A question on the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ask {
    Seek,
    Goto,
    Search,
    Export(BucketPath),
    SaveValue(BucketPath, Vec<u8>),
    EditValue(BucketPath, Vec<u8>),
    NewKey(BucketPath),
    NewValue(BucketPath, Vec<u8>),
    NewBucket(BucketPath),
    MoveTo(BucketPath, Vec<u8>),
    Confirm(super::data::Edit),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prompt {
    pub(crate) ask: Ask,
    pub(crate) text: String,
}

/// What the inspector shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Nothing,
    Bucket(BucketPath),
    Value(BucketPath, Vec<u8>),
    Page(u64),
    Stats,
}

/// A scrollable list of things found by a job.
#[derive(Clone, Debug)]
pub(crate) struct Found<T> {
    pub(crate) items: Vec<T>,
    pub(crate) cursor: usize,
    pub(crate) top: usize,
}

impl<T> Default for Found<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            cursor: 0,
            top: 0,
        }
    }
}

impl<T> Found<T> {
    fn step(&mut self, delta: isize, page: usize) {
        if self.items.is_empty() {
            return;
        }
        let last = self.items.len() - 1;
        self.cursor = self.cursor.saturating_add_signed(delta).min(last);
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if self.cursor >= self.top + page {
            self.top = self.cursor + 1 - page;
        }
    }

    pub(crate) fn selected(&self) -> Option<&T> {
        self.items.get(self.cursor)
    }
}

/// The inspector's settings.
#[derive(Clone, Debug, Default)]
pub(crate) struct Inspector {
    pub(crate) view: View,
    pub(crate) scroll: usize,
    /// JSON tree levels open.
    pub(crate) fold: usize,
    /// Show the key's bytes rather than the value's.
    pub(crate) key: bool,
    /// Show the bucket statistics even for a large bucket.
    pub(crate) stats: bool,
}

/// A running job as the screen shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Running {
    pub(crate) name: &'static str,
    pub(crate) done: u64,
    pub(crate) total: Option<u64>,
}

/// A value's JSON rendering, by snapshot, bucket and key.
pub(crate) type JsonCache = ((u64, BucketPath, Vec<u8>), Option<String>);

/// See [`App::view_cache`].
pub(crate) type ViewCache = (
    ((u64, BucketPath, Vec<u8>), View, usize, usize),
    super::views::Known,
);

/// Everything on screen.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) size: Rect,
    pub(crate) focus: Focus,
    pub(crate) mode: Mode,
    pub(crate) tree: Tree,
    pub(crate) keys: KeyList,
    pub(crate) inspector: Inspector,
    pub(crate) prompt: Option<Prompt>,
    /// The status line: a message and whether it is an error.
    pub(crate) message: Option<(String, bool)>,
    pub(crate) help: bool,
    /// Lines the help screen is scrolled by (it may not fit a small terminal).
    pub(crate) help_scroll: u16,
    pub(crate) pages: Found<PageRow>,
    /// A page to select once the page map reaches it.
    pub(crate) pending_page: Option<u64>,
    pub(crate) pages_done: bool,
    pub(crate) hits: Found<Hit>,
    pub(crate) problems: Found<(Option<u64>, String)>,
    pub(crate) stats: Option<rbolt::BucketStats>,
    /// The inspector shows `stats` (from `S` to the next key).
    pub(crate) stats_open: bool,
    pub(crate) job: Option<Running>,
    /// The selected value pretty-printed as JSON (or not JSON), by snapshot, bucket and key.
    pub(crate) json_cache: Option<JsonCache>,
    /// What the first full pass over the selected value learnt (its length in lines…), by
    /// snapshot, bucket, key, view, width and fold.
    pub(crate) view_cache: Option<ViewCache>,
    /// The last bucket's facts, by snapshot, path and whether statistics were asked for.
    pub(crate) bucket_cache: Option<((u64, BucketPath, bool), super::data::BucketInfo)>,
}

pub(crate) const READ_ONLY: &str = "read-only: restart with --write to edit";

impl App {
    /// The initial screen: the root expanded, and the keys of `start` (a bucket path from the
    /// command line) selected.
    pub(crate) fn new(data: &Data, size: Rect, start: &[Vec<u8>]) -> Result<Self, CliError> {
        let tree = Tree::new(data)?;
        let mut app = Self {
            size,
            focus: Focus::Tree,
            mode: Mode::Browse,
            tree,
            keys: KeyList::new(vec![], 1),
            inspector: Inspector {
                fold: 2,
                ..Inspector::default()
            },
            prompt: None,
            message: None,
            help: false,
            help_scroll: 0,
            pages: Found::default(),
            pending_page: None,
            pages_done: false,
            hits: Found::default(),
            problems: Found::default(),
            stats: None,
            stats_open: false,
            job: None,
            json_cache: None,
            view_cache: None,
            bucket_cache: None,
        };
        app.resize(size);
        if !start.is_empty() {
            match app.tree.reveal(data, start)? {
                Some(i) => {
                    app.tree.cursor = i;
                    app.focus = Focus::Keys;
                }
                None => return Err(CliError::msg("bucket not found")),
            }
        }
        app.load_keys(data)?;
        Ok(app)
    }

    pub(crate) fn areas(&self) -> Areas {
        areas(self.size)
    }

    /// Rows of the middle pane.
    pub(crate) fn list_page(&self) -> usize {
        inner_height(self.areas().keys)
    }

    pub(crate) fn resize(&mut self, size: Rect) {
        self.size = size;
        let page = self.list_page();
        self.keys.set_page(page);
        self.tree.scroll_into_view(inner_height(self.areas().tree));
    }

    fn load_keys(&mut self, data: &Data) -> Result<(), CliError> {
        self.keys = KeyList::new(self.tree.bucket(), self.list_page());
        self.inspector.scroll = 0;
        self.keys.first(data)
    }

    /// What the inspector shows now.
    pub(crate) fn target(&self) -> Target {
        match self.mode {
            Mode::Pages => match self.pending_page {
                Some(id) => Target::Page(id),
                None => self
                    .pages
                    .selected()
                    .map_or(Target::Nothing, |p| Target::Page(p.id)),
            },
            Mode::Check => match self.problems.selected() {
                Some((Some(id), _)) => Target::Page(*id),
                _ => Target::Nothing,
            },
            Mode::Search => match self.hits.selected() {
                Some(h) if h.is_bucket => {
                    let mut p = h.bucket.clone();
                    p.push(h.key.clone());
                    Target::Bucket(p)
                }
                Some(h) => Target::Value(h.bucket.clone(), h.key.clone()),
                None => Target::Nothing,
            },
            Mode::Browse if self.stats_open => Target::Stats,
            Mode::Browse => match (self.focus, self.keys.selected()) {
                (Focus::Tree, _) | (_, None) => Target::Bucket(self.tree.bucket()),
                (_, Some(r)) if r.bucket => {
                    let mut p = self.keys.bucket.clone();
                    p.push(r.key.clone());
                    Target::Bucket(p)
                }
                (_, Some(r)) => Target::Value(self.keys.bucket.clone(), r.key.clone()),
            },
        }
    }

    pub(crate) fn say(&mut self, s: impl Into<String>) {
        self.message = Some((s.into(), false));
    }

    pub(crate) fn fail(&mut self, s: impl Into<String>) {
        self.message = Some((s.into(), true));
    }

    /// Handles a key. Errors from the database end up on the status line, never as a panic.
    pub(crate) fn on_key(&mut self, data: &mut Data, k: KeyEvent) -> Effect {
        if k.kind == ratatui::crossterm::event::KeyEventKind::Release {
            return Effect::None;
        }
        match self.key_inner(data, k) {
            Ok(e) => e,
            Err(e) => {
                self.fail(e.to_string());
                Effect::None
            }
        }
    }

    fn key_inner(&mut self, data: &mut Data, k: KeyEvent) -> Result<Effect, CliError> {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && k.code == KeyCode::Char('c') {
            return Ok(Effect::Quit);
        }
        if ctrl && k.code == KeyCode::Char('z') {
            return Ok(Effect::Suspend);
        }
        if self.prompt.is_some() {
            return self.prompt_key(data, k);
        }
        if self.help {
            match k.code {
                KeyCode::Char('j') | KeyCode::Down => self.help_scroll += 1,
                KeyCode::Char('k') | KeyCode::Up => {
                    self.help_scroll = self.help_scroll.saturating_sub(1);
                }
                _ => self.help = false,
            }
            return Ok(Effect::None);
        }
        if k.code != KeyCode::Esc {
            self.message = None;
        }
        // The statistics stay up until the next key.
        self.stats_open = false;
        let page = self.list_page() as isize;
        match (k.code, ctrl) {
            (KeyCode::Char('q'), false) => return Ok(Effect::Quit),
            (KeyCode::Esc, _) => {
                // Search and export stop; the page map, check and statistics finish on their
                // own (Esc still leaves their screen).
                if self
                    .job
                    .as_ref()
                    .is_some_and(|j| matches!(j.name, "search" | "export"))
                {
                    return Ok(Effect::Cancel);
                }
                if self.mode != Mode::Browse {
                    self.mode = Mode::Browse;
                    self.inspector.scroll = 0;
                }
                // Never quits: Esc is pressed to dismiss things; q quits.
                self.message = None;
            }
            (KeyCode::Char('u' | 'c' | 'n' | 'N'), false) if self.mode == Mode::Pages => {
                self.page_link(data, k.code)?;
            }
            (KeyCode::Char('n' | 'N'), false) if self.mode == Mode::Browse => {
                if self.hits.items.is_empty() {
                    self.fail("no search results: f searches");
                } else {
                    let page = self.list_page();
                    self.hits
                        .step(if k.code == KeyCode::Char('n') { 1 } else { -1 }, page);
                    let h = self.hits.items[self.hits.cursor].clone();
                    self.go(data, &h.bucket, Some(&h.key))?;
                    self.say(format!(
                        "match {} of {}",
                        self.hits.cursor + 1,
                        self.hits.items.len()
                    ));
                }
            }
            (KeyCode::Char('?'), _) => {
                self.help = true;
                self.help_scroll = 0;
            }
            (KeyCode::Tab, _) => self.cycle_focus(true),
            (KeyCode::BackTab, _) => self.cycle_focus(false),
            (KeyCode::Char('j') | KeyCode::Down, false) => self.step(data, 1)?,
            (KeyCode::Char('k') | KeyCode::Up, false) => self.step(data, -1)?,
            (KeyCode::PageDown, _) | (KeyCode::Char('f'), true) => self.step(data, page)?,
            (KeyCode::PageUp, _) | (KeyCode::Char('b'), true) => self.step(data, -page)?,
            (KeyCode::Char('d'), true) => self.step(data, page / 2)?,
            (KeyCode::Char('u'), true) => self.step(data, -page / 2)?,
            (KeyCode::Char('g') | KeyCode::Home, false) => self.ends(data, false)?,
            (KeyCode::Char('G') | KeyCode::End, _) => self.ends(data, true)?,
            (KeyCode::Char('J'), _) => self.scroll_inspector(1),
            (KeyCode::Char('K'), _) => self.scroll_inspector(-1),
            (KeyCode::Char('l') | KeyCode::Right | KeyCode::Enter, false) => {
                return self.enter(data);
            }
            (KeyCode::Char('h') | KeyCode::Left, false) => self.back(data)?,
            (KeyCode::Char('v'), false) => self.set_view(self.inspector.view.next()),
            (KeyCode::Char('V'), _) => {
                self.inspector.key = !self.inspector.key;
                self.inspector.scroll = 0;
                self.say(if self.inspector.key {
                    "inspecting the key"
                } else {
                    "inspecting the value"
                });
            }
            (KeyCode::Char(c @ '1'..='9'), false) => {
                self.set_view(ALL_VIEWS[c as usize - '1' as usize]);
            }
            (KeyCode::Char('+'), _) => self.inspector.fold += 1,
            (KeyCode::Char('-'), _) => self.inspector.fold = self.inspector.fold.saturating_sub(1),
            (KeyCode::Char('/'), false) => self.ask(Ask::Seek, ""),
            (KeyCode::Char(':'), _) => self.ask(Ask::Goto, ""),
            (KeyCode::Char('f'), false) | (KeyCode::Char('/' | '_' | '7'), true) => {
                self.ask(Ask::Search, "");
            }
            (KeyCode::Char('P'), _) => return Ok(self.pages_mode(None)),
            (KeyCode::Char('o'), false) => return self.jump_to_leaf(data),
            (KeyCode::Char('S'), _) => {
                self.stats = None;
                self.mode = Mode::Browse;
                self.stats_open = true;
                return Ok(self.start(JobSpec::Stats));
            }
            (KeyCode::Char('C'), _) => {
                self.problems = Found::default();
                self.mode = Mode::Check;
                self.focus = Focus::Keys;
                return Ok(self.start(JobSpec::Check));
            }
            (KeyCode::Char('X'), _) => {
                let b = self.current_bucket();
                let name = b
                    .last()
                    .map_or("root".into(), |n| super::views::show_bytes(n, 40));
                let file: String = name
                    .chars()
                    .map(|c| {
                        if c.is_alphanumeric() || c == '-' || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                self.ask(Ask::Export(b), &format!("{file}.jsonl"));
            }
            (KeyCode::Char('x'), false) => match self.target() {
                Target::Value(b, k) => self.ask(Ask::SaveValue(b, k), "value.bin"),
                _ => self.fail("x saves a value: select a key that holds one"),
            },
            (KeyCode::Char('y'), false) => {
                let (b, k) = (self.keys.bucket.clone(), self.selected_key());
                let v = data.with_value(&b, &k, |v| v.map(<[u8]>::to_vec))?;
                return Ok(self.copy(v.as_deref()));
            }
            (KeyCode::Char('Y'), _) => {
                let k = self.selected_key();
                return Ok(self.copy(Some(&k)));
            }
            (KeyCode::Char('r'), true) => {
                data.refresh()?;
                self.after_change(data)?;
                self.say(format!("reloaded: txid {}", data.header().txid));
            }
            (KeyCode::Char('e' | 'p' | 'b' | 'D' | 'm'), false) if !data.writable() => {
                self.fail(READ_ONLY)
            }
            (KeyCode::Char('e'), false) => self.edit_value(data)?,
            (KeyCode::Char('p'), false) if self.current_bucket().is_empty() => {
                self.fail("the top level holds only buckets: b creates one");
            }
            (KeyCode::Char('p'), false) => self.ask(Ask::NewKey(self.current_bucket()), ""),
            (KeyCode::Char('b'), false) => self.ask(Ask::NewBucket(self.current_bucket()), ""),
            (KeyCode::Char('D'), _) => self.confirm_delete(),
            (KeyCode::Char('m'), false) => match self.keys.selected() {
                Some(r) if r.bucket && self.mode == Mode::Browse && self.focus != Focus::Tree => {
                    let k = r.key.clone();
                    self.ask(Ask::MoveTo(self.keys.bucket.clone(), k), "/");
                }
                _ => self.fail("m moves a bucket: select a sub-bucket in the key list"),
            },
            _ => {}
        }
        Ok(Effect::None)
    }

    /// The bucket new keys and buckets go into.
    pub(crate) fn current_bucket(&self) -> BucketPath {
        if self.focus == Focus::Tree {
            self.tree.bucket()
        } else {
            self.keys.bucket.clone()
        }
    }

    fn selected_key(&self) -> Vec<u8> {
        self.keys
            .selected()
            .map(|r| r.key.clone())
            .unwrap_or_default()
    }

    fn copy(&mut self, v: Option<&[u8]>) -> Effect {
        const MAX: usize = 1 << 20;
        match v {
            Some(v) if v.len() <= MAX => {
                self.say(format!("copied {} bytes to the clipboard", v.len()));
                Effect::Copy(v.to_vec())
            }
            Some(v) => {
                self.fail(format!(
                    "{} bytes is too much for the clipboard (1 MiB at most); x saves it to a file",
                    v.len()
                ));
                Effect::None
            }
            None => {
                self.fail("nothing to copy: select a key that holds a value");
                Effect::None
            }
        }
    }

    pub(crate) fn ask(&mut self, ask: Ask, text: &str) {
        self.prompt = Some(Prompt {
            ask,
            text: text.to_string(),
        });
    }

    fn set_view(&mut self, v: View) {
        self.inspector.view = v;
        self.inspector.scroll = 0;
        self.inspector.stats = v == View::Bucket;
        self.say(format!("view: {}", v.name()));
    }

    fn cycle_focus(&mut self, fwd: bool) {
        self.focus = match (self.focus, fwd) {
            (Focus::Tree, true) | (Focus::Inspector, false) => Focus::Keys,
            (Focus::Keys, true) | (Focus::Tree, false) => Focus::Inspector,
            (Focus::Inspector, true) | (Focus::Keys, false) => Focus::Tree,
        };
    }

    fn scroll_inspector(&mut self, d: isize) {
        self.inspector.scroll = self.inspector.scroll.saturating_add_signed(d);
    }

    fn step(&mut self, data: &Data, d: isize) -> Result<(), CliError> {
        let page = self.list_page();
        if self.focus == Focus::Inspector {
            self.scroll_inspector(d);
            return Ok(());
        }
        match (self.mode, self.focus) {
            (Mode::Browse, Focus::Tree) => {
                let last = self.tree.nodes.len() - 1;
                let before = self.tree.cursor;
                self.tree.cursor = self.tree.cursor.saturating_add_signed(d).min(last);
                self.tree.scroll_into_view(inner_height(self.areas().tree));
                if self.tree.cursor != before {
                    self.load_keys(data)?;
                }
            }
            (Mode::Browse, _) => {
                self.keys.move_by(data, d)?;
                self.inspector.scroll = 0;
            }
            (Mode::Pages, _) => {
                self.pending_page = None;
                self.pages.step(d, page);
            }
            (Mode::Search, _) => self.hits.step(d, page),
            (Mode::Check, _) => self.problems.step(d, page),
        }
        if self.mode != Mode::Browse {
            self.inspector.scroll = 0;
        }
        Ok(())
    }

    fn ends(&mut self, data: &Data, end: bool) -> Result<(), CliError> {
        if self.focus == Focus::Inspector {
            self.inspector.scroll = if end { usize::MAX / 2 } else { 0 };
            return Ok(());
        }
        if self.mode == Mode::Browse && self.focus == Focus::Keys {
            self.inspector.scroll = 0;
            return if end {
                self.keys.last(data)
            } else {
                self.keys.first(data)
            };
        }
        self.step(data, if end { isize::MAX / 2 } else { isize::MIN / 2 })
    }

    /// `l`/Enter: open a bucket, or look at a value.
    fn enter(&mut self, data: &Data) -> Result<Effect, CliError> {
        match (self.mode, self.focus) {
            (_, Focus::Inspector) => {}
            (Mode::Browse, Focus::Tree) => {
                let i = self.tree.cursor;
                if self.tree.nodes[i].more {
                    self.fail("the tree lists 1,000 sub-buckets and reads 100,000 keys at most: use : to go to a bucket by name");
                } else if self.tree.nodes[i].expanded {
                    self.focus = Focus::Keys;
                } else {
                    self.tree.expand(data, i)?;
                }
            }
            (Mode::Browse, _) => match self.keys.selected() {
                Some(r) if r.bucket => {
                    let mut p = self.keys.bucket.clone();
                    p.push(r.key.clone());
                    self.open_bucket(data, &p)?;
                }
                Some(_) => self.focus = Focus::Inspector,
                None => {}
            },
            (Mode::Pages, _) => self.focus = Focus::Inspector,
            (Mode::Search, _) => {
                if let Some(h) = self.hits.selected().cloned() {
                    self.mode = Mode::Browse;
                    self.go(data, &h.bucket, Some(&h.key))?;
                }
            }
            (Mode::Check, _) => match self.problems.selected() {
                Some((Some(id), _)) => {
                    let id = *id;
                    return Ok(self.pages_mode(Some(id)));
                }
                _ => self.fail("this problem names no page"),
            },
        }
        Ok(Effect::None)
    }

    /// Shows bucket `path` in the tree and its keys in the list.
    pub(crate) fn open_bucket(&mut self, data: &Data, path: &[Vec<u8>]) -> Result<(), CliError> {
        match self.tree.reveal(data, path)? {
            Some(i) => {
                self.tree.cursor = i;
                self.tree.scroll_into_view(inner_height(self.areas().tree));
                self.load_keys(data)?;
            }
            None => {
                // Past the tree's listing limit: list its keys anyway.
                self.keys = KeyList::new(path.to_vec(), self.list_page());
                self.keys.first(data)?;
            }
        }
        self.focus = Focus::Keys;
        Ok(())
    }

    /// Goes to `bucket`, with the cursor on `key` (or the first key ≥ it) when given.
    pub(crate) fn go(
        &mut self,
        data: &Data,
        bucket: &[Vec<u8>],
        key: Option<&[u8]>,
    ) -> Result<(), CliError> {
        self.open_bucket(data, bucket)?;
        if let Some(k) = key {
            self.keys.seek(data, k)?;
        }
        Ok(())
    }

    /// `h`: back to the parent bucket (or pane).
    fn back(&mut self, data: &Data) -> Result<(), CliError> {
        match (self.mode, self.focus) {
            (Mode::Browse, Focus::Inspector)
            | (Mode::Pages | Mode::Search | Mode::Check, Focus::Inspector) => {
                self.focus = Focus::Keys;
            }
            (Mode::Browse, Focus::Tree) => {
                let i = self.tree.cursor;
                if self.tree.nodes[i].expanded && i != 0 {
                    self.tree.collapse(i);
                } else if let Some(p) = self.tree.parent(i) {
                    self.tree.cursor = p;
                    self.load_keys(data)?;
                }
            }
            (Mode::Browse, _) => {
                let mut p = self.keys.bucket.clone();
                match p.pop() {
                    Some(name) => {
                        self.open_bucket(data, &p)?;
                        self.keys.seek(data, &name)?;
                    }
                    None => self.focus = Focus::Tree,
                }
            }
            _ => {
                self.mode = Mode::Browse;
            }
        }
        Ok(())
    }

    pub(crate) fn start(&mut self, spec: JobSpec) -> Effect {
        if let Some(j) = &self.job {
            self.fail(format!("{} is still running (Esc stops it)", j.name));
            return Effect::None;
        }
        self.job = Some(Running {
            name: spec.name(),
            done: 0,
            total: None,
        });
        self.say(format!("{} running… (Esc cancels)", spec.name()));
        Effect::Start(spec)
    }

    /// Re-reads the tree and the key list after the snapshot changed.
    pub(crate) fn after_change(&mut self, data: &Data) -> Result<(), CliError> {
        self.tree.rebuild(data)?;
        if !data.is_bucket(&self.keys.bucket) {
            self.keys = KeyList::new(self.tree.bucket(), self.list_page());
        }
        self.keys.reload(data)?;
        self.pages_done = false;
        self.pages = Found::default();
        Ok(())
    }

    /// A message from the running job.
    pub(crate) fn on_job(&mut self, m: JobMsg) {
        match m {
            JobMsg::Progress(done, total) => {
                if let Some(j) = &mut self.job {
                    j.done = done;
                    j.total = total;
                }
            }
            JobMsg::Hit(h) => self.hits.items.push(h),
            JobMsg::Problem(id, text) => self.problems.items.push((id, text)),
            JobMsg::Pages(rows) => {
                self.pages.items.extend(rows);
                self.select_pending_page();
            }
            JobMsg::Stats(s) => self.stats = Some(s),
            JobMsg::Done(r) => {
                let map = self.job.as_ref().is_some_and(|j| j.name == "page map");
                self.job = None;
                if map {
                    self.pages_done = r.is_ok();
                    self.select_pending_page();
                    // The pane's title has the count; keep what the user asked for on the
                    // status line.
                    if r.is_ok() {
                        if self
                            .message
                            .as_ref()
                            .is_some_and(|m| m.0.ends_with("(Esc cancels)"))
                        {
                            self.message = None;
                        }
                        return;
                    }
                }
                match r {
                    Ok(s) => self.say(s),
                    Err(e) => self.fail(e),
                }
            }
        }
    }
}
