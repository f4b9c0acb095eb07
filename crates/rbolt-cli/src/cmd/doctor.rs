//! `rbolt doctor FILE [--apply -o OUT]`: validates both meta pages, checks the tree, sorts
//! the damage into kinds, and prints the `rbolt surgery` commands that repair it; with
//! `--apply` it runs them on a copy (never on FILE) and checks the copy. Reads through pread,
//! so it works on files the engine refuses to open.

use super::exact;
use super::surgery;
use crate::cli::Positional;
use crate::cli::space::DoctorArgs;
use crate::cli::surgery::{Base, ClearElementsArgs, CopyPageArgs, FreelistCmd, SurgeryCmd};
use crate::error::CliError;
use crate::raw::RawFile;
use crate::source::{check_source, path_arg};
use crate::walk::{Kind, Link, Problem};
use rbolt_format::PGID_NO_FREELIST;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One repair step: a surgery command.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fix {
    RevertMeta,
    CopyMeta { from: u64, to: u64 },
    ClearElement { page: u64, index: usize },
    AbandonFreelist,
    RebuildFreelist,
}

impl Fix {
    /// The command line, reading `src` and writing `dst`.
    fn command(&self, src: &Path, dst: &Path) -> String {
        let (s, d) = (shell(src), shell(dst));
        match self {
            Fix::RevertMeta => format!("rbolt surgery revert-meta-page {s} --output {d}"),
            Fix::CopyMeta { from, to } => format!(
                "rbolt surgery copy-page {s} --output {d} --from-page {from} --to-page {to}"
            ),
            Fix::ClearElement { page, index } => format!(
                "rbolt surgery clear-page-elements {s} --output {d} --pageId {page} --from-index {index} --to-index {}",
                index + 1
            ),
            Fix::AbandonFreelist => format!("rbolt surgery freelist abandon {s} --output {d}"),
            Fix::RebuildFreelist => format!("rbolt surgery freelist rebuild {s} --output {d}"),
        }
    }

    /// The same command, to run.
    fn surgery(&self, src: &Path, dst: &Path) -> SurgeryCmd {
        let base = || Base {
            pos: Positional {
                args: vec![OsString::from(src)],
            },
            output: Some(OsString::from(dst)),
        };
        match *self {
            Fix::RevertMeta => SurgeryCmd::RevertMetaPage(base()),
            Fix::CopyMeta { from, to } => SurgeryCmd::CopyPage(CopyPageArgs {
                base: base(),
                from_page: Some(from),
                to_page: Some(to),
            }),
            Fix::ClearElement { page, index } => SurgeryCmd::ClearPageElements(ClearElementsArgs {
                base: base(),
                page_id: Some(page),
                from_index: Some(index as i64),
                to_index: Some(index as i64 + 1),
            }),
            Fix::AbandonFreelist => SurgeryCmd::Freelist(FreelistCmd::Abandon(base())),
            Fix::RebuildFreelist => SurgeryCmd::Freelist(FreelistCmd::Rebuild(base())),
        }
    }
}

/// A path as a shell word.
fn shell(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-/+:@%".contains(&c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The damage kinds, as doctor names them.
fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::BadPage => "corrupt branch/leaf page",
        Kind::BadBucket => "bad bucket header or inline bucket",
        Kind::SharedPage => "page referenced twice",
        Kind::KeyOrder => "keys out of order",
        Kind::Freelist => "freelist damage",
        Kind::Unreachable => "unreachable pages (neither used nor free)",
    }
}

/// The element to remove so that a bad page (or bucket) is no longer referenced: the last
/// link into it, moved up while removing it would leave a branch empty. `None` when the
/// damage is at the top of the tree.
fn cut(via: &[Link]) -> Option<usize> {
    (0..via.len())
        .rev()
        // An inline bucket's elements live inside its host's element: cut the host's.
        .find(|&i| !via[i].inline && via[i].count > 1)
}

/// What is wrong and how to repair it.
struct Diagnosis {
    lines: Vec<String>,
    fixes: Vec<Fix>,
    /// Damage surgery cannot repair (both metas bad, a bad root page).
    hopeless: bool,
}

fn diagnose(raw: &RawFile, bar: &indicatif::ProgressBar) -> Result<Diagnosis, CliError> {
    let mut lines = Vec::new();
    let mut fixes = Vec::new();
    let [m0, m1] = raw.metas()?;
    for (i, m) in [m0, m1].iter().enumerate() {
        match (&m.valid, m.meta) {
            (Ok(()), Some(meta)) => lines.push(format!(
                "meta page {i}: valid (txid {}, root {}, hwm {})",
                meta.txid.0, meta.root.root.0, meta.pgid.0
            )),
            (Err(e), _) => lines.push(format!("meta page {i}: INVALID: {e}")),
            (Ok(()), None) => lines.push(format!("meta page {i}: INVALID")),
        }
    }
    let good = |m: &crate::raw::MetaSlot| m.checked();
    match (good(&m0), good(&m1)) {
        (Some(_), Some(_)) => {}
        (None, None) => {
            lines.push("bad meta: neither meta page is valid; surgery cannot help".into());
            return Ok(Diagnosis {
                lines,
                fixes,
                hopeless: true,
            });
        }
        (g0, _) => {
            let (bad, ok) = if g0.is_some() { (1u64, 0u64) } else { (0, 1) };
            let slots = [m0, m1];
            let ok_txid = slots[ok as usize].meta.map_or(0, |m| m.txid.0);
            let bad_txid = slots[bad as usize].meta.map(|m| m.txid.0);
            lines.push(format!("bad meta: meta page {bad} is invalid"));
            // A torn last commit leaves the newer meta bad: go back to the older one,
            // which revert-meta-page does. Otherwise copy the good meta over the bad.
            if bad_txid.is_some_and(|t| t > ok_txid) {
                fixes.push(Fix::RevertMeta);
            } else {
                fixes.push(Fix::CopyMeta { from: ok, to: bad });
            }
        }
    }
    let (_, meta) = raw.snapshot(None)?;
    let problems = crate::walk::check_with(raw, &meta, None, Some(bar));
    let mut kinds: Vec<(Kind, usize, String)> = Vec::new();
    for p in &problems {
        match kinds.iter_mut().find(|k| k.0 == p.kind) {
            Some(k) => k.1 += 1,
            None => kinds.push((p.kind, 1, p.to_string())),
        }
    }
    kinds.sort();
    for (k, n, first) in &kinds {
        lines.push(format!("{}: {n} (first: {first})", kind_name(*k)));
    }
    let mut cuts: BTreeSet<(u64, usize)> = BTreeSet::new();
    let mut hopeless = false;
    let mut freelist = false;
    for p in &problems {
        match p.kind {
            Kind::Freelist | Kind::Unreachable => freelist = true,
            _ => match cut(&p.via) {
                Some(i) => {
                    cuts.insert((p.via[i].page, p.via[i].index));
                }
                None => {
                    hopeless = true;
                    lines.push(format!(
                        "cannot repair by surgery: {p} (the root of the tree)"
                    ));
                }
            },
        }
    }
    // A cut inside a subtree another cut removes is moot.
    let moot = |p: &Problem, at: usize| {
        p.via[..at]
            .iter()
            .any(|l| cuts.contains(&(l.page, l.index)))
    };
    let needed: BTreeSet<(u64, usize)> = problems
        .iter()
        .filter(|p| !matches!(p.kind, Kind::Freelist | Kind::Unreachable))
        .filter_map(|p| {
            cut(&p.via)
                .filter(|&i| !moot(p, i))
                .map(|i| (p.via[i].page, p.via[i].index))
        })
        .collect();
    // Higher indexes first, so each cut leaves the next one's index in place.
    let mut ordered: Vec<(u64, usize)> = needed.into_iter().collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    for (page, index) in &ordered {
        fixes.push(Fix::ClearElement {
            page: *page,
            index: *index,
        });
    }
    if freelist || !ordered.is_empty() {
        if meta.freelist.0 != PGID_NO_FREELIST.0 || !fixes.is_empty() {
            fixes.push(Fix::AbandonFreelist);
        }
        fixes.push(Fix::RebuildFreelist);
    }
    if !ordered.is_empty() {
        lines.push(format!(
            "removing {} damaged subtree(s) loses the pairs in them: run `rbolt salvage` first to keep what can be read",
            ordered.len()
        ));
    }
    Ok(Diagnosis {
        lines,
        fixes,
        hopeless,
    })
}

pub(crate) fn run(a: &DoctorArgs, ctx: &crate::Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    exact(&a.pos.args, 1)?;
    let path = path_arg(&a.pos.args[0]);
    if a.apply && a.output.is_none() {
        return Err(CliError::usage("--apply needs -o/--output OUT"));
    }
    check_source(path)?;
    let raw = RawFile::open_lenient(path)?;
    let bar = ctx.progress.bar(raw.pages(), "pages");
    bar.set_prefix("check");
    let d = diagnose(&raw, &bar)?;
    bar.finish_and_clear();
    for l in &d.lines {
        writeln!(out, "{l}")?;
    }
    if d.fixes.is_empty() && !d.hopeless {
        writeln!(out, "healthy: both meta pages valid, check OK")?;
        return Ok(());
    }
    if d.hopeless {
        writeln!(
            out,
            "no surgery repairs this file; recover its pairs with:\n  rbolt salvage {} -o recovered.db --from-page-scan",
            shell(path)
        )?;
    }
    let dst = match &a.output {
        Some(o) => PathBuf::from(o),
        None => with_suffix(path, ".fixed"),
    };
    let steps = plan(path, &dst, &d.fixes);
    if !d.fixes.is_empty() {
        writeln!(out, "repair, on a copy:")?;
        for (fix, src, to) in &steps {
            writeln!(out, "  {}", fix.command(src, to))?;
        }
    }
    if !a.apply {
        return Err(CliError::msg("the database is damaged"));
    }
    if d.fixes.is_empty() {
        return Err(CliError::msg("nothing to apply"));
    }
    if dst.symlink_metadata().is_ok() {
        return Err(CliError::msg(format!(
            "output file {} already exists",
            dst.display()
        )));
    }
    apply(&steps, out)?;
    let raw = RawFile::open_lenient(&dst)?;
    let (_, meta) = raw.snapshot(None)?;
    let problems = crate::walk::check(&raw, &meta, None);
    if problems.is_empty() {
        writeln!(out, "{}: OK", dst.display())?;
        Ok(())
    } else {
        for p in &problems {
            writeln!(out, "{}: {p}", dst.display())?;
        }
        Err(CliError::msg(format!(
            "the repaired copy still has {} problems",
            problems.len()
        )))
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Each fix with the file it reads and the file it writes: a chain of copies from FILE
/// through `OUT.step1`, `OUT.step2`… to OUT.
fn plan(src: &Path, dst: &Path, fixes: &[Fix]) -> Vec<(Fix, PathBuf, PathBuf)> {
    let mut cur = src.to_path_buf();
    let mut steps = Vec::new();
    for (i, f) in fixes.iter().enumerate() {
        let to = if i + 1 == fixes.len() {
            dst.to_path_buf()
        } else {
            with_suffix(dst, &format!(".step{}", i + 1))
        };
        steps.push((f.clone(), cur.clone(), to.clone()));
        cur = to;
    }
    steps
}

/// Runs the steps, removing the intermediate copies (and a half-made result on failure).
fn apply(steps: &[(Fix, PathBuf, PathBuf)], out: &mut dyn Write) -> Result<(), CliError> {
    let mut made: Vec<PathBuf> = Vec::new();
    let mut res = Ok(());
    for (fix, src, to) in steps {
        writeln!(out, "$ {}", fix.command(src, to))?;
        let r = surgery::run(fix.surgery(src, to), "rbolt", out);
        made.push(to.clone());
        if let Err(e) = r {
            res = Err(CliError::msg(format!("{}: {e}", fix.command(src, to))));
            break;
        }
    }
    let last = steps.last().map(|s| s.2.clone());
    for m in &made {
        if Some(m) != last.as_ref() || res.is_err() {
            let _ = std::fs::remove_file(m);
        }
    }
    res
}
