//! One page decoded for the pages mode: its header, then its elements (leaf pairs, branch
//! children, meta fields or freelist ids), then a hex dump, all as a window of lines read
//! straight from the file, so it works on pages the engine would refuse.

use super::views::{Window, hex_lines, show_bytes};
use crate::raw::RawFile;
use rbolt_format::{
    BRANCH_PAGE, BUCKET_LEAF_FLAG, BranchPage, FREELIST_PAGE, LEAF_PAGE, LeafPage, META_PAGE, Meta,
    decode_freelist,
};
use std::fmt::Write as _;

/// The decoded part of page `id`: one line per fact or element, plus the children it points
/// to (for a branch page).
pub(crate) fn describe(raw: &RawFile, id: u64) -> (Vec<String>, Vec<u64>, Vec<u8>) {
    let (h, bytes) = match raw.read_page(id) {
        Ok(p) => p,
        Err(e) => return (vec![format!("page {id}: {e}")], vec![], vec![]),
    };
    let mut lines = vec![format!(
        "page {id}: {}, {} items, overflow {}",
        h.type_name(),
        h.count,
        h.overflow
    )];
    let mut children = Vec::new();
    let err = |e: rbolt_format::FormatError| format!("  error: {e}");
    if h.flags & META_PAGE != 0 {
        match Meta::decode_unverified(&bytes) {
            Ok(m) => {
                let valid = Meta::decode(&bytes).map_or_else(|e| e.to_string(), |_| "ok".into());
                lines.extend([
                    format!("  version   {}", m.version),
                    format!("  page size {}", m.page_size),
                    format!(
                        "  root      page {} (sequence {})",
                        m.root.root, m.root.sequence
                    ),
                    format!("  freelist  page {}", m.freelist.get() as i64),
                    format!("  hwm       {}", m.pgid),
                    format!("  txid      {}", m.txid),
                    format!("  checksum  {:016x} ({valid})", m.checksum),
                ]);
            }
            Err(e) => lines.push(format!("  {e}")),
        }
    } else if h.flags & LEAF_PAGE != 0 {
        match LeafPage::new(&bytes) {
            Ok(l) => {
                for i in 0..l.len() {
                    match l.entry(i) {
                        Ok((flags, k, v)) => {
                            let what = if flags & BUCKET_LEAF_FLAG != 0 {
                                format!("bucket ({} bytes)", v.len())
                            } else {
                                format!("{} ({} bytes)", show_bytes(v, 32), v.len())
                            };
                            lines.push(format!("  {i:>4} {} = {what}", show_bytes(k, 40)));
                        }
                        Err(e) => lines.push(err(e)),
                    }
                }
            }
            Err(e) => lines.push(err(e)),
        }
    } else if h.flags & BRANCH_PAGE != 0 {
        match BranchPage::new(&bytes) {
            Ok(b) => {
                for i in 0..b.len() {
                    match (b.key(i), b.child(i)) {
                        (Ok(k), Ok(c)) => {
                            children.push(c.get());
                            lines.push(format!("  {i:>4} {} → page {c}", show_bytes(k, 40)));
                        }
                        (Err(e), _) | (_, Err(e)) => lines.push(err(e)),
                    }
                }
            }
            Err(e) => lines.push(err(e)),
        }
    } else if h.flags & FREELIST_PAGE != 0 {
        match decode_freelist(&bytes) {
            Ok(ids) => {
                let mut s = format!("  {} free ids:", ids.len());
                for x in ids.iter().take(200) {
                    let _ = write!(s, " {x}");
                }
                if ids.len() > 200 {
                    s.push_str(" …");
                }
                lines.push(s);
            }
            Err(e) => lines.push(err(e)),
        }
    }
    lines.push(String::new());
    (lines, children, bytes)
}

/// Page `id` as a window of lines: [`describe`] then the hex dump of the whole span.
pub(crate) fn window(raw: &RawFile, id: u64, width: usize, top: usize, height: usize) -> Window {
    let (head, _, bytes) = describe(raw, id);
    let hex_total = hex_lines(&bytes, width, 0, 0).total;
    let mut lines: Vec<String> = head.iter().skip(top).take(height).cloned().collect();
    if lines.len() < height {
        let hex_top = top.saturating_sub(head.len());
        let h = hex_lines(&bytes, width, hex_top, height - lines.len());
        lines.extend(h.lines);
    }
    Window {
        lines,
        total: head.len() + hex_total,
        label: format!("page {id}"),
    }
}
