//! The bucket tree: the visible nodes in order, each bucket's children read only when it is
//! expanded (at most [`CHILD_LIMIT`] of them; `:` goes to any other).

use super::data::{BucketPath, Data};
use crate::error::CliError;

/// Sub-buckets listed under one node.
pub(crate) const CHILD_LIMIT: usize = 1000;

/// A line of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// Empty for the root.
    pub(crate) path: BucketPath,
    pub(crate) expanded: bool,
    /// Not a bucket: the "more…" line after [`CHILD_LIMIT`] children.
    pub(crate) more: bool,
}

impl Node {
    pub(crate) fn depth(&self) -> usize {
        self.path.len()
    }
}

/// The expanded part of the bucket tree and the selected line.
#[derive(Clone, Debug)]
pub(crate) struct Tree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) cursor: usize,
    pub(crate) top: usize,
}

impl Tree {
    /// The root, expanded.
    pub(crate) fn new(data: &Data) -> Result<Self, CliError> {
        let mut t = Self {
            nodes: vec![Node {
                path: vec![],
                expanded: false,
                more: false,
            }],
            cursor: 0,
            top: 0,
        };
        t.expand(data, 0)?;
        Ok(t)
    }

    pub(crate) fn selected(&self) -> &Node {
        &self.nodes[self.cursor]
    }

    /// The bucket whose keys the key list shows: the selected node, or for a "more…" line
    /// its parent.
    pub(crate) fn bucket(&self) -> BucketPath {
        self.selected().path.clone()
    }

    /// Reads node `i`'s children and shows them below it.
    pub(crate) fn expand(&mut self, data: &Data, i: usize) -> Result<(), CliError> {
        let n = &self.nodes[i];
        if n.expanded || n.more {
            return Ok(());
        }
        let path = n.path.clone();
        let (names, more) = data.child_buckets(&path, CHILD_LIMIT)?;
        let mut kids: Vec<Node> = names
            .into_iter()
            .map(|name| {
                let mut p = path.clone();
                p.push(name);
                Node {
                    path: p,
                    expanded: false,
                    more: false,
                }
            })
            .collect();
        if more {
            let mut p = path.clone();
            p.push(Vec::new());
            kids.push(Node {
                path: p,
                expanded: false,
                more: true,
            });
        }
        self.nodes[i].expanded = true;
        self.nodes.splice(i + 1..i + 1, kids);
        Ok(())
    }

    /// Hides node `i`'s descendants.
    pub(crate) fn collapse(&mut self, i: usize) {
        let depth = self.nodes[i].depth();
        let end = self.nodes[i + 1..]
            .iter()
            .position(|n| n.depth() <= depth)
            .map_or(self.nodes.len(), |p| i + 1 + p);
        self.nodes.drain(i + 1..end);
        self.nodes[i].expanded = false;
        if self.cursor > i && self.cursor < end {
            self.cursor = i;
        }
    }

    /// Index of the node for `path`, expanding its ancestors (and reading their children) as
    /// needed; `None` if it is not a bucket or is beyond the listed children.
    pub(crate) fn reveal(
        &mut self,
        data: &Data,
        path: &[Vec<u8>],
    ) -> Result<Option<usize>, CliError> {
        let mut i = 0;
        for depth in 1..=path.len() {
            self.expand(data, i)?;
            let want = &path[..depth];
            match self.nodes[i + 1..]
                .iter()
                .take_while(|n| n.depth() >= depth)
                .position(|n| !n.more && n.path == want)
            {
                Some(p) => i = i + 1 + p,
                None => return Ok(None),
            }
        }
        Ok(Some(i))
    }

    /// Index of the parent of node `i`.
    pub(crate) fn parent(&self, i: usize) -> Option<usize> {
        let d = self.nodes[i].depth();
        self.nodes[..i].iter().rposition(|n| n.depth() < d)
    }

    /// Re-reads every expanded node's children (after an edit), keeping the selection when
    /// its bucket still exists.
    pub(crate) fn rebuild(&mut self, data: &Data) -> Result<(), CliError> {
        let selected = self.selected().path.clone();
        let open: Vec<BucketPath> = self
            .nodes
            .iter()
            .filter(|n| n.expanded)
            .map(|n| n.path.clone())
            .collect();
        *self = Self::new(data)?;
        for p in open.iter().filter(|p| !p.is_empty()) {
            if let Some(i) = self.reveal(data, p)? {
                self.expand(data, i)?;
            }
        }
        let mut p = selected;
        loop {
            if let Some(i) = self.reveal(data, &p)? {
                self.cursor = i;
                break;
            }
            p.pop();
        }
        Ok(())
    }

    pub(crate) fn scroll_into_view(&mut self, page: usize) {
        let page = page.max(1);
        if self.cursor < self.top {
            self.top = self.cursor;
        } else if self.cursor >= self.top + page {
            self.top = self.cursor + 1 - page;
        }
    }
}
