//! The status-line prompts: typing, incremental seek, and what each question does with its
//! answer (goto, search, export, the edits and their confirmations).

use super::data::{BucketPath, Data, Edit};
use super::jobs::JobSpec;
use super::state::{App, Ask, Effect, Focus, Mode, Target};
use super::views::show_bytes;
use crate::error::CliError;
use ratatui::crossterm::event::{KeyCode, KeyEvent};

/// Bytes typed by the user: `0x…` is hex, anything else is the text's UTF-8 bytes.
pub(crate) fn parse_bytes(s: &str) -> Result<Vec<u8>, String> {
    match s.strip_prefix("0x") {
        Some(h) => crate::values::unhex(h.as_bytes()).map_err(|e| e.to_string()),
        None => Ok(s.as_bytes().to_vec()),
    }
}

/// A bucket path typed as `a/b/c` (each name as in [`parse_bytes`]); `/` alone is the root.
pub(crate) fn parse_path(s: &str) -> Result<BucketPath, String> {
    s.split('/')
        .filter(|p| !p.is_empty())
        .map(parse_bytes)
        .collect()
}

/// The question the prompt shows.
pub(crate) fn question(ask: &Ask) -> String {
    let path = |p: &BucketPath| {
        if p.is_empty() {
            "/".to_string()
        } else {
            p.iter()
                .map(|n| show_bytes(n, 24))
                .collect::<Vec<_>>()
                .join("/")
        }
    };
    match ask {
        Ask::Seek => "seek (prefix, 0x… for hex): ".into(),
        Ask::Goto => "go to (bucket/path[/key], 0x…, #page): ".into(),
        Ask::Search => "search keys and values for (text or 0x…): ".into(),
        Ask::Export(b) => format!("export {} as JSON lines to file: ", path(b)),
        Ask::SaveValue(_, k) => format!("save the value of {} to file: ", show_bytes(k, 24)),
        Ask::EditValue(_, k) => format!("value of {} (0x… for hex): ", show_bytes(k, 24)),
        Ask::NewKey(b) => format!("new key in {}: ", path(b)),
        Ask::NewValue(_, k) => format!("value of {} (0x… for hex): ", show_bytes(k, 24)),
        Ask::NewBucket(b) => format!("new bucket in {}: ", path(b)),
        Ask::MoveTo(_, k) => format!(
            "move bucket {} into (path, / for the top): ",
            show_bytes(k, 24)
        ),
        Ask::Confirm(e) => match e {
            Edit::Delete { key, .. } => format!("delete key {}? (y/N) ", show_bytes(key, 24)),
            Edit::DeleteBucket { name, .. } => {
                format!(
                    "delete bucket {} and everything in it? (y/N) ",
                    show_bytes(name, 24)
                )
            }
            _ => "sure? (y/N) ".into(),
        },
    }
}

impl App {
    pub(crate) fn prompt_key(&mut self, data: &mut Data, k: KeyEvent) -> Result<Effect, CliError> {
        let Some(p) = self.prompt.as_mut() else {
            return Ok(Effect::None);
        };
        if let Ask::Confirm(edit) = &p.ask {
            let edit = edit.clone();
            self.prompt = None;
            if k.code == KeyCode::Char('y') || k.code == KeyCode::Char('Y') {
                self.apply(data, &edit)?;
            } else {
                self.message = Some(("cancelled".into(), false));
            }
            return Ok(Effect::None);
        }
        match k.code {
            KeyCode::Esc => {
                self.prompt = None;
                return Ok(Effect::None);
            }
            KeyCode::Enter => {
                let p = self
                    .prompt
                    .take()
                    .unwrap_or_else(|| unreachable!("checked above"));
                return self.submit(data, p.ask, p.text);
            }
            KeyCode::Backspace => {
                p.text.pop();
            }
            KeyCode::Char(c) => p.text.push(c),
            _ => return Ok(Effect::None),
        }
        // Seek moves as you type.
        if let Some(p) = &self.prompt
            && p.ask == Ask::Seek
        {
            let text = p.text.clone();
            match parse_bytes(&text) {
                Ok(b) => {
                    self.keys.seek(data, &b)?;
                    self.focus = Focus::Keys;
                    self.message = None;
                }
                Err(e) if text.len() > 2 => self.message = Some((e, true)),
                Err(_) => {}
            }
        }
        Ok(Effect::None)
    }

    fn submit(&mut self, data: &mut Data, ask: Ask, text: String) -> Result<Effect, CliError> {
        let bytes = match &ask {
            Ask::Seek | Ask::Goto | Ask::Export(_) | Ask::SaveValue(..) | Ask::MoveTo(..) => {
                Ok(vec![])
            }
            _ => parse_bytes(&text),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                self.message = Some((e, true));
                return Ok(Effect::None);
            }
        };
        match ask {
            Ask::Seek => {}
            Ask::Goto => return self.goto(data, &text),
            Ask::Search => {
                if bytes.is_empty() {
                    return Ok(Effect::None);
                }
                self.hits = Default::default();
                self.mode = Mode::Search;
                self.focus = Focus::Keys;
                let bucket = self.current_bucket();
                return Ok(self.start(JobSpec::Search {
                    bucket,
                    pattern: bytes,
                }));
            }
            Ask::Export(bucket) => {
                if text.is_empty() {
                    return Ok(Effect::None);
                }
                return Ok(self.start(JobSpec::Export {
                    bucket,
                    file: text.into(),
                }));
            }
            Ask::SaveValue(b, k) => {
                let r =
                    data.with_value(&b, &k, |v| std::fs::write(&text, v.unwrap_or_default()))?;
                match r {
                    Ok(()) => self.message = Some((format!("saved the value to {text}"), false)),
                    Err(e) => self.message = Some((format!("{text}: {}", CliError::from(e)), true)),
                }
            }
            Ask::EditValue(bucket, key) | Ask::NewValue(bucket, key) => {
                self.apply(
                    data,
                    &Edit::Put {
                        bucket,
                        key,
                        value: bytes,
                    },
                )?;
            }
            Ask::NewKey(b) => {
                if bytes.is_empty() {
                    self.message = Some(("a key cannot be empty".into(), true));
                } else {
                    self.ask(Ask::NewValue(b, bytes), "");
                }
            }
            Ask::NewBucket(parent) => {
                self.apply(
                    data,
                    &Edit::CreateBucket {
                        parent,
                        name: bytes,
                    },
                )?;
            }
            Ask::MoveTo(from, name) => match parse_path(&text) {
                Ok(to) => self.apply(data, &Edit::MoveBucket { from, name, to })?,
                Err(e) => self.message = Some((e, true)),
            },
            Ask::Confirm(_) => {}
        }
        Ok(Effect::None)
    }

    /// `e`: asks for a value's new bytes, prefilled with the old ones when short.
    pub(crate) fn edit_value(&mut self, data: &Data) -> Result<(), CliError> {
        let Target::Value(b, k) = self.target() else {
            self.message = Some(("e edits a value: select a key that holds one".into(), true));
            return Ok(());
        };
        let text = data.with_value(&b, &k, |v| {
            let v = v.unwrap_or_default();
            if super::views::is_text(v)
                && v.len() <= 4096
                && !v.starts_with(b"0x")
                && !v.contains(&b'\n')
            {
                Ok(String::from_utf8_lossy(v).into_owned())
            } else if v.len() <= 2048 {
                Ok(format!("0x{}", crate::values::hex(v)))
            } else {
                Err(format!("{} bytes is too large to edit here", v.len()))
            }
        })?;
        match text {
            Ok(t) => self.ask(Ask::EditValue(b, k), &t),
            Err(e) => self.message = Some((e, true)),
        }
        Ok(())
    }

    /// `D`: asks before deleting the selected key or bucket.
    pub(crate) fn confirm_delete(&mut self) {
        use super::data::Edit;
        if self.mode != Mode::Browse || self.focus == Focus::Tree {
            self.message = Some((
                "D deletes the selected key or bucket of the key list".into(),
                true,
            ));
            return;
        }
        let Some(r) = self.keys.selected() else {
            self.message = Some(("nothing to delete".into(), true));
            return;
        };
        let (bucket, key) = (self.keys.bucket.clone(), r.key.clone());
        let edit = if r.bucket {
            Edit::DeleteBucket {
                parent: bucket,
                name: key,
            }
        } else {
            Edit::Delete { bucket, key }
        };
        self.ask(Ask::Confirm(edit), "");
    }

    /// Runs an edit in one write transaction and shows the result.
    fn apply(&mut self, data: &mut Data, edit: &Edit) -> Result<(), CliError> {
        if !data.writable() {
            self.message = Some((super::state::READ_ONLY.into(), true));
            return Ok(());
        }
        let r = data.apply(edit);
        self.after_change(data)?;
        match r {
            Ok(()) => {
                let done = match edit {
                    Edit::Put { key, .. } => {
                        self.keys.seek(data, key)?;
                        format!("put {}", show_bytes(key, 40))
                    }
                    Edit::Delete { key, .. } => format!("deleted key {}", show_bytes(key, 40)),
                    Edit::CreateBucket { parent, name } => {
                        let mut p = parent.clone();
                        p.push(name.clone());
                        self.open_bucket(data, &p)?;
                        format!("created bucket {}", show_bytes(name, 40))
                    }
                    Edit::DeleteBucket { name, .. } => {
                        format!("deleted bucket {}", show_bytes(name, 40))
                    }
                    Edit::MoveBucket { name, to, .. } => {
                        let mut p = to.clone();
                        p.push(name.clone());
                        self.open_bucket(data, to)?;
                        self.keys.seek(data, name)?;
                        format!(
                            "moved bucket {} to /{}",
                            show_bytes(name, 40),
                            parse_path_show(to)
                        )
                    }
                };
                self.message = Some((done, false));
            }
            Err(e) => self.message = Some((e.to_string(), true)),
        }
        Ok(())
    }

    /// `:` — a bucket path with an optional key at the end, a key of the current bucket
    /// (`0x…` or text), or a page (`#137`).
    fn goto(&mut self, data: &Data, text: &str) -> Result<Effect, CliError> {
        let text = text.trim();
        if let Some(id) = text.strip_prefix('#') {
            return Ok(match id.parse::<u64>() {
                Ok(id) => self.pages_mode(Some(id)),
                Err(_) => {
                    self.message = Some((format!("not a page id: {id}"), true));
                    Effect::None
                }
            });
        }
        let path = match parse_path(text) {
            Ok(p) => p,
            Err(e) => {
                self.message = Some((e, true));
                return Ok(Effect::None);
            }
        };
        self.mode = Mode::Browse;
        let mut n = path.len();
        while n > 0 && !data.is_bucket(&path[..n]) {
            n -= 1;
        }
        match path.len() - n {
            0 => self.go(data, &path, None)?,
            1 if n == 0 && path.len() == 1 && !self.keys.bucket.is_empty() => {
                // Not a top-level bucket: a key of the bucket on screen.
                let b = self.keys.bucket.clone();
                self.go(data, &b, Some(&path[0]))?;
            }
            1 => self.go(data, &path[..n], Some(&path[n]))?,
            _ => {
                self.message = Some((format!("no bucket {}", show_bytes(&path[n], 40)), true));
            }
        }
        Ok(Effect::None)
    }
}

fn parse_path_show(p: &[Vec<u8>]) -> String {
    p.iter()
        .map(|n| show_bytes(n, 24))
        .collect::<Vec<_>>()
        .join("/")
}
