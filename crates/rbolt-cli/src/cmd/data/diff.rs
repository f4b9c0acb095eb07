//! `rbolt diff A B [BUCKET...]`: both files walked in key order side by side, one line per
//! difference. Memory is one pair of iterators per nesting level, never a bucket's contents.
//! Exit status as diff(1): 0 equal, 1 different, 2 trouble.

use super::{names, walk_path};
use crate::Ctx;
use crate::cli::data::DiffArgs;
use crate::error::CliError;
use crate::source::{open_read_only, path_arg};
use crate::values::Format;
use rbolt::{Bucket, Item, Iter};
use std::cmp::Ordering;
use std::io::Write;

/// One side of a level: the bucket, its walk and the entry the walk stands on.
struct Side<'tx> {
    bucket: Bucket<'tx>,
    iter: Iter<'tx>,
    cur: Option<Item<'tx>>,
}

impl<'tx> Side<'tx> {
    fn new(bucket: Bucket<'tx>) -> Result<Self, CliError> {
        let mut iter = bucket.iter();
        let cur = iter.next().transpose()?;
        Ok(Self { bucket, iter, cur })
    }

    fn advance(&mut self) -> Result<(), CliError> {
        self.cur = self.iter.next().transpose()?;
        Ok(())
    }

    fn sub(&self, name: &[u8]) -> Result<Bucket<'tx>, CliError> {
        self.bucket
            .bucket(name)?
            .ok_or_else(|| CliError::msg("sub-bucket vanished"))
    }
}

struct Level<'a, 'b> {
    path: Vec<Vec<u8>>,
    a: Side<'a>,
    b: Side<'b>,
}

struct Printer<'o> {
    out: &'o mut dyn Write,
    fmt: Format,
    brief: bool,
    values: bool,
    differ: bool,
}

impl Printer<'_> {
    fn path(&self, path: &[Vec<u8>]) -> Result<Vec<u8>, CliError> {
        let mut s = Vec::new();
        for (i, n) in path.iter().enumerate() {
            if i > 0 {
                s.push(b'/');
            }
            s.extend(self.fmt.format(n)?);
        }
        Ok(s)
    }

    /// With `--values`: a tab and the value, or both values joined by ` -> `.
    fn vals(&self, a: Option<&[u8]>, b: Option<&[u8]>) -> Result<Vec<u8>, CliError> {
        let mut n = Vec::new();
        if !self.values || self.brief {
            return Ok(n);
        }
        for (i, v) in [a, b].into_iter().flatten().enumerate() {
            n.extend_from_slice(if i == 0 { b"\t" } else { b" -> " });
            n.extend(self.fmt.format(v)?);
        }
        Ok(n)
    }

    /// `SIGN PATH KEY` for a key, `SIGN PATH/NAME/` for a bucket, then `note`.
    fn line(
        &mut self,
        sign: u8,
        path: &[Vec<u8>],
        key: &[u8],
        bucket: bool,
        note: &[u8],
    ) -> Result<(), CliError> {
        self.differ = true;
        if self.brief {
            return Ok(());
        }
        let mut l = vec![sign, b' '];
        if bucket {
            let mut full = path.to_vec();
            full.push(key.to_vec());
            l.extend(self.path(&full)?);
            l.push(b'/');
        } else {
            l.extend(self.path(path)?);
            l.push(b' ');
            l.extend(self.fmt.format(key)?);
        }
        l.extend_from_slice(note);
        l.push(b'\n');
        self.out.write_all(&l)?;
        Ok(())
    }
}

pub(crate) fn run(a: &DiffArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    match compare(a, ctx, out) {
        Ok(false) => Ok(()),
        Ok(true) => Err(CliError::exit(1)),
        Err(e) if e.is_broken_pipe() => Err(e),
        Err(e) => Err(e.with_code(2)),
    }
}

/// Prints the differences; true when there are any.
fn compare(a: &DiffArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<bool, CliError> {
    let path = names(&a.buckets, a.bucket_format)?;
    let fmt = Format::parse(&a.format);
    let da = open_read_only(path_arg(&a.a), ctx.timeout)?;
    let db = open_read_only(path_arg(&a.b), ctx.timeout)?;
    let (ta, tb) = (da.begin_read()?, db.begin_read()?);
    let mut p = Printer {
        out,
        fmt,
        brief: a.brief,
        values: a.values,
        differ: false,
    };
    let (ra, rb) = (walk_path(&ta, &path), walk_path(&tb, &path));
    let (ba, bb) = match (ra, rb) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), Err(_)) => return Err(e),
        (Ok(_), Err(_)) | (Err(_), Ok(_)) => {
            let (parent, name) = path.split_at(path.len() - 1);
            let sign = if walk_path(&ta, &path).is_ok() {
                b'-'
            } else {
                b'+'
            };
            p.line(sign, parent, &name[0], true, b"")?;
            return Ok(true);
        }
    };
    if ba.sequence() != bb.sequence() && !path.is_empty() {
        let (parent, name) = path.split_at(path.len() - 1);
        let note = format!(" sequence {} -> {}", ba.sequence(), bb.sequence());
        p.line(b'~', parent, &name[0], true, note.as_bytes())?;
    }
    let mut stack = vec![Level {
        path,
        a: Side::new(ba)?,
        b: Side::new(bb)?,
    }];
    while let Some(top) = stack.last_mut() {
        if a.brief && p.differ {
            break;
        }
        let (ka, kb) = (top.a.cur, top.b.cur);
        let order = match (ka, kb) {
            (None, None) => {
                stack.pop();
                continue;
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((x, _)), Some((y, _))) => x.cmp(y),
        };
        match (order, ka, kb) {
            (Ordering::Less, Some((k, v)), _) => {
                let note = p.vals(v, None)?;
                p.line(b'-', &top.path, k, v.is_none(), &note)?;
                top.a.advance()?;
            }
            (Ordering::Greater, _, Some((k, v))) => {
                let note = p.vals(v, None)?;
                p.line(b'+', &top.path, k, v.is_none(), &note)?;
                top.b.advance()?;
            }
            (_, Some((k, va)), Some((_, vb))) => {
                if let (None, None) = (va, vb) {
                    let (sa, sb) = (top.a.sub(k)?, top.b.sub(k)?);
                    if sa.sequence() != sb.sequence() {
                        let note = format!(" sequence {} -> {}", sa.sequence(), sb.sequence());
                        p.line(b'~', &top.path, k, true, note.as_bytes())?;
                    }
                    let mut path = top.path.clone();
                    path.push(k.to_vec());
                    top.a.advance()?;
                    top.b.advance()?;
                    stack.push(Level {
                        path,
                        a: Side::new(sa)?,
                        b: Side::new(sb)?,
                    });
                    continue;
                }
                match (va, vb) {
                    (Some(x), Some(y)) if x != y => {
                        let note = p.vals(Some(x), Some(y))?;
                        p.line(b'~', &top.path, k, false, &note)?;
                    }
                    (None, Some(_)) => {
                        p.line(b'~', &top.path, k, false, b" (bucket in A, value in B)")?;
                    }
                    (Some(_), None) => {
                        p.line(b'~', &top.path, k, false, b" (value in A, bucket in B)")?;
                    }
                    _ => {}
                }
                top.a.advance()?;
                top.b.advance()?;
            }
            // The order was computed from these very entries.
            _ => return Err(CliError::msg("diff: inconsistent walk")),
        }
    }
    if a.brief && p.differ {
        writeln!(
            p.out,
            "{} and {} differ",
            path_arg(&a.a).display(),
            path_arg(&a.b).display()
        )?;
    }
    Ok(p.differ)
}
