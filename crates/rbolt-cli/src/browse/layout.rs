//! Where each pane goes for a terminal size: side by side from 100 columns, stacked below.
//! Shared by the drawing code and the state machine (which needs page heights for paging).

use ratatui::layout::{Constraint, Direction, Layout, Rect};

/// Columns from which the panes sit side by side.
pub(crate) const WIDE: u16 = 100;

/// The screen's areas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Areas {
    pub(crate) header: Rect,
    pub(crate) tree: Rect,
    pub(crate) keys: Rect,
    pub(crate) inspector: Rect,
    /// The message or prompt line.
    pub(crate) status: Rect,
    /// Key hints.
    pub(crate) hints: Rect,
}

pub(crate) fn areas(size: Rect) -> Areas {
    let [header, body, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(size);
    let (dir, c) = if size.width >= WIDE {
        (
            Direction::Horizontal,
            [
                Constraint::Percentage(22),
                Constraint::Percentage(33),
                Constraint::Percentage(45),
            ],
        )
    } else {
        (
            Direction::Vertical,
            [
                Constraint::Percentage(25),
                Constraint::Percentage(35),
                Constraint::Percentage(40),
            ],
        )
    };
    let [tree, keys, inspector] = Layout::default().direction(dir).constraints(c).areas(body);
    Areas {
        header,
        tree,
        keys,
        inspector,
        status,
        hints,
    }
}

/// Rows inside a bordered pane.
pub(crate) fn inner_height(r: Rect) -> usize {
    usize::from(r.height.saturating_sub(2)).max(1)
}

/// Columns inside a bordered pane.
pub(crate) fn inner_width(r: Rect) -> usize {
    usize::from(r.width.saturating_sub(2)).max(1)
}
