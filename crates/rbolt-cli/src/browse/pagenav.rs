//! The pages mode's moves: entering it (the page map starts on first use), selecting a page
//! by id once the map has it, walking the B+tree (parent, child, siblings) and jumping from a
//! key to its leaf page.

use super::data::Data;
use super::jobs::JobSpec;
use super::state::{App, Effect, Focus, Found, Mode, Target};
use crate::error::CliError;
use ratatui::crossterm::event::KeyCode;

impl App {
    /// Enters the pages mode, selecting page `at` once the page map has it.
    pub(crate) fn pages_mode(&mut self, at: Option<u64>) -> Effect {
        self.mode = Mode::Pages;
        self.focus = Focus::Keys;
        self.inspector.scroll = 0;
        self.pending_page = at;
        if self.pages_done || self.job.as_ref().is_some_and(|j| j.name == "page map") {
            self.select_pending_page();
            return Effect::None;
        }
        self.pages = Found::default();
        self.start(JobSpec::PageMap)
    }

    /// Pages mode's tree walk: `u` the parent branch, `c` the first child, `n`/`N` the next
    /// and previous sibling.
    pub(crate) fn page_link(&mut self, data: &Data, code: KeyCode) -> Result<(), CliError> {
        let Some(id) = self.pages.selected().map(|p| p.id) else {
            return Ok(());
        };
        let branches = || {
            self.pages
                .items
                .iter()
                .filter(|p| p.kind == rbolt::PageType::Branch)
                .map(|p| p.id)
        };
        let to = match code {
            KeyCode::Char('c') => match data.children_of(id)?.first() {
                Some(c) => *c,
                None => {
                    self.fail(format!("page {id} has no children: not a branch page"));
                    return Ok(());
                }
            },
            _ => {
                let Some(parent) = data.parent_of(id, branches())? else {
                    self.fail(format!(
                        "no branch page points to page {id} (a bucket's root, a meta, freelist or free page)"
                    ));
                    return Ok(());
                };
                if code == KeyCode::Char('u') {
                    parent
                } else {
                    let kids = data.children_of(parent)?;
                    let i = kids.iter().position(|c| *c == id).unwrap_or(0);
                    let j = if code == KeyCode::Char('n') {
                        i + 1
                    } else {
                        i.wrapping_sub(1)
                    };
                    match kids.get(j) {
                        Some(c) => *c,
                        None => {
                            self.fail(format!(
                                "page {id} is the {} child of page {parent}",
                                if j > i { "last" } else { "first" }
                            ));
                            return Ok(());
                        }
                    }
                }
            }
        };
        self.pending_page = Some(to);
        self.select_pending_page();
        self.inspector.scroll = 0;
        self.say(format!("page {to}"));
        Ok(())
    }

    pub(crate) fn select_pending_page(&mut self) {
        let Some(id) = self.pending_page else { return };
        // The row whose span holds `id`.
        let i = self.pages.items.partition_point(|p| p.id <= id);
        if i == 0 {
            return;
        }
        let row = self.pages.items[i - 1];
        let covered = id <= row.id + u64::from(row.overflow);
        if covered || i < self.pages.items.len() {
            let page = self.list_page();
            self.pages.cursor = i - 1;
            self.pages.top = (i - 1).saturating_sub(page / 3);
            self.pending_page = None;
        }
        // Otherwise the map has not got there (or stops before it): the inspector shows the
        // page meanwhile.
    }

    /// `o`: the leaf page holding the selected key.
    pub(crate) fn jump_to_leaf(&mut self, data: &Data) -> Result<Effect, CliError> {
        let (bucket, key) = match self.target() {
            Target::Value(b, k) => (b, k),
            Target::Bucket(mut p) if !p.is_empty() => {
                let k = p.pop().unwrap_or_default();
                (p, k)
            }
            _ => {
                self.fail("o needs a key");
                return Ok(Effect::None);
            }
        };
        match data.leaf_page_of(&bucket, &key)? {
            Some(id) => {
                let e = self.pages_mode(Some(id));
                self.say(format!("leaf page {id}"));
                Ok(e)
            }
            None => {
                self.fail("the root bucket has no page of its own");
                Ok(Effect::None)
            }
        }
    }
}
