//! `rbolt ls` (a cursor walk over one bucket, bounded by `--limit`) and `rbolt tree` (the
//! bucket hierarchy). Both keep only one iterator per nesting level in memory.

use super::{arg_bytes, names, walk_path};
use crate::Ctx;
use crate::cli::data::{LsArgs, TreeArgs};
use crate::error::CliError;
use crate::source::{open_read_only, path_arg};
use crate::values::Format;
use rbolt::{Bucket, Item};
use std::io::Write;
use std::ops::Bound;

type Entries<'tx> = Box<dyn Iterator<Item = rbolt::Result<Item<'tx>>> + 'tx>;

fn entries<'tx>(b: Bucket<'tx>, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, rev: bool) -> Entries<'tx> {
    let it = b.range((lo, hi));
    if rev {
        Box::new(it.rev())
    } else {
        Box::new(it)
    }
}

/// The smallest key above every key starting with `p`, if there is one.
fn prefix_end(p: &[u8]) -> Option<Vec<u8>> {
    let mut end = p.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The key range `--prefix` and `--start` select.
fn bounds(
    prefix: Option<Vec<u8>>,
    start: Option<Vec<u8>>,
    reverse: bool,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let (mut lo, mut hi) = match prefix {
        Some(p) => {
            let end = prefix_end(&p);
            (
                Bound::Included(p),
                end.map_or(Bound::Unbounded, Bound::Excluded),
            )
        }
        None => (Bound::Unbounded, Bound::Unbounded),
    };
    if let Some(s) = start {
        if reverse {
            let tighter = match &hi {
                Bound::Excluded(e) => s < *e,
                _ => true,
            };
            if tighter {
                hi = Bound::Included(s);
            }
        } else {
            let tighter = match &lo {
                Bound::Included(l) => s > *l,
                _ => true,
            };
            if tighter {
                lo = Bound::Included(s);
            }
        }
    }
    (lo, hi)
}

/// `rbolt ls FILE [BUCKET...]`: the bucket's entries in key order, sub-buckets with a
/// trailing `/`; the top level when no bucket is given.
pub(crate) fn ls(a: &LsArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let t = &a.target;
    let names = names(&t.buckets, t.bucket_format)?;
    let prefix = a
        .prefix
        .as_deref()
        .map(|p| arg_bytes(p, a.key_format.into()))
        .transpose()?;
    let start = a
        .start
        .as_deref()
        .map(|s| arg_bytes(s, a.key_format.into()))
        .transpose()?;
    let fmt = Format::parse(&a.format);
    let db = open_read_only(path_arg(&t.file), ctx.timeout)?;
    let tx = db.begin_read()?;
    let top = walk_path(&tx, &names)?;
    let (lo, hi) = bounds(prefix, start, a.reverse);
    let mut budget = a.limit.unwrap_or(u64::MAX);
    // One frame per level being listed: the bucket and where its walk stands.
    let mut stack: Vec<(Bucket<'_>, Entries<'_>)> = vec![(top, entries(top, lo, hi, a.reverse))];
    while budget > 0 {
        let Some((b, it)) = stack.last_mut() else {
            break;
        };
        let Some(item) = it.next() else {
            stack.pop();
            continue;
        };
        let (k, v) = item?;
        let b = *b;
        budget -= 1;
        for _ in 1..stack.len() {
            out.write_all(b"  ")?;
        }
        out.write_all(&fmt.format(k)?)?;
        match v {
            None => {
                out.write_all(b"/\n")?;
                if a.recursive {
                    let sub = b
                        .bucket(k)?
                        .ok_or_else(|| CliError::msg("sub-bucket vanished"))?;
                    let all = entries(sub, Bound::Unbounded, Bound::Unbounded, a.reverse);
                    stack.push((sub, all));
                }
            }
            Some(v) if a.values => {
                out.write_all(b"\t")?;
                fmt.writeln(out, v)?;
            }
            Some(_) => out.write_all(b"\n")?,
        }
    }
    Ok(())
}

/// Keys with values directly in `b`, and their bytes.
fn tally(b: Bucket<'_>) -> Result<(u64, u64), CliError> {
    let (mut n, mut bytes) = (0u64, 0u64);
    for item in b.iter() {
        if let (k, Some(v)) = item? {
            n += 1;
            bytes += (k.len() + v.len()) as u64;
        }
    }
    Ok((n, bytes))
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `rbolt tree FILE`: every bucket, indented two spaces per level, with `--counts` and
/// `--sizes` of its own keys.
pub(crate) fn tree(a: &TreeArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let fmt = Format::parse(&a.format);
    let max_depth = a.depth.unwrap_or(usize::MAX);
    if max_depth == 0 {
        return Ok(());
    }
    let db = open_read_only(path_arg(&a.file), ctx.timeout)?;
    let tx = db.begin_read()?;
    let top = walk_path(&tx, &[])?;
    let mut stack: Vec<(Bucket<'_>, rbolt::Iter<'_>)> = vec![(top, top.iter())];
    while let Some((b, it)) = stack.last_mut() {
        let Some(item) = it.next() else {
            stack.pop();
            continue;
        };
        let (name, None) = item? else { continue };
        let sub = b
            .bucket(name)?
            .ok_or_else(|| CliError::msg("sub-bucket vanished"))?;
        for _ in 1..stack.len() {
            out.write_all(b"  ")?;
        }
        out.write_all(&fmt.format(name)?)?;
        out.write_all(b"/")?;
        if a.counts || a.sizes {
            let (n, bytes) = tally(sub)?;
            let mut parts = Vec::new();
            if a.counts {
                parts.push(plural(n, "key", "keys"));
            }
            if a.sizes {
                parts.push(plural(bytes, "byte", "bytes"));
            }
            write!(out, " ({})", parts.join(", "))?;
        }
        out.write_all(b"\n")?;
        if stack.len() < max_depth {
            stack.push((sub, sub.iter()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_carries_past_ff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn start_narrows_the_prefix_range_only_inward() {
        let (lo, hi) = bounds(Some(b"k".to_vec()), Some(b"a".to_vec()), false);
        assert_eq!(
            (lo, hi),
            (
                Bound::Included(b"k".to_vec()),
                Bound::Excluded(b"l".to_vec())
            )
        );
        let (lo, hi) = bounds(Some(b"k".to_vec()), Some(b"k5".to_vec()), true);
        assert_eq!(
            (lo, hi),
            (
                Bound::Included(b"k".to_vec()),
                Bound::Included(b"k5".to_vec())
            )
        );
        let (_, hi) = bounds(Some(b"k".to_vec()), Some(b"z".to_vec()), true);
        assert_eq!(hi, Bound::Excluded(b"l".to_vec()));
    }
}
