//! One module per subcommand; this one dispatches and holds what several share (argument
//! counts, bucket paths).

mod analyze;
mod analyze_svg;
pub(crate) mod bench;
mod check;
mod compact;
mod data;
mod doctor;
mod inspect;
mod map;
mod page;
mod pages;
mod rawread;
mod read;
mod salvage;
mod stats;
pub(crate) mod surgery;

use crate::Ctx;
use crate::cli::{BucketFormat, Cmd};
use crate::error::{self, CliError};
use crate::values::unhex;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

pub(crate) fn run(
    cmd: Cmd,
    ctx: &Ctx,
    name: &'static str,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match cmd {
        Cmd::Version(_) => read::version(out),
        Cmd::Info(a) => read::info(&a, ctx, out),
        Cmd::Buckets(a) => read::buckets(&a, ctx, out),
        Cmd::Keys(a) => read::keys(&a, ctx, out),
        Cmd::Get(a) => read::get(&a, ctx, out),
        Cmd::Check(a) => check::run(&a, ctx, out),
        Cmd::Compact(a) => compact::run(&a, ctx, out),
        Cmd::Dump(a) => page::dump(&a.args, out),
        Cmd::Page(a) => page::page(&a, ctx, out),
        Cmd::PageItem(a) => page::page_item(&a, out),
        Cmd::Pages(a) => pages::run(&a, ctx, out),
        Cmd::Stats(a) => stats::run(&a, ctx, out),
        Cmd::Inspect(a) => inspect::run(&a, ctx, out),
        Cmd::Bench(a) => bench::run(&a, ctx, out),
        Cmd::Map(a) => map::run(&a, ctx, out),
        Cmd::Analyze(a) => analyze::run(&a, ctx, out),
        Cmd::Doctor(a) => doctor::run(&a, ctx, out),
        Cmd::Salvage(a) => salvage::run(&a, ctx, out),
        Cmd::Surgery(s) => surgery::run(s, name, out),
        Cmd::Browse(a) => crate::browse::run(&a, ctx),
        Cmd::Ls(a) => data::ls::ls(&a, ctx, out),
        Cmd::Tree(a) => data::ls::tree(&a, ctx, out),
        Cmd::Put(a) => data::write::put(&a, ctx, out),
        Cmd::Delete(a) => data::write::delete(&a, ctx, out),
        Cmd::Mkbucket(a) => data::write::mkbucket(&a, ctx, out),
        Cmd::Rmbucket(a) => data::write::rmbucket(&a, ctx, out),
        Cmd::Mvbucket(a) => data::write::mvbucket(&a, ctx, out),
        Cmd::Seq(c) => data::write::seq(&c, ctx, out),
        Cmd::Backup(a) => data::backup::run(&a, ctx, out),
        Cmd::Diff(a) => data::diff::run(&a, ctx, out),
        Cmd::Export(a) => data::export::run(&a, ctx, out),
        Cmd::Import(a) => data::import::run(&a, ctx, out),
        Cmd::Completion(a) => {
            let mut c = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(a.shell, &mut c, name, out);
            Ok(())
        }
    }
}

/// Cobra's `ExactArgs(n)`.
pub(crate) fn exact(args: &[OsString], n: usize) -> Result<(), CliError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(error::exact_args(n, args.len()))
    }
}

/// Cobra's `MinimumNArgs(n)`.
pub(crate) fn at_least(args: &[OsString], n: usize) -> Result<(), CliError> {
    if args.len() >= n {
        Ok(())
    } else {
        Err(error::min_args(n, args.len()))
    }
}

/// Bucket names from the command line, as raw bytes or decoded from hex.
pub(crate) fn bucket_names(args: &[OsString], f: BucketFormat) -> Result<Vec<Vec<u8>>, CliError> {
    args.iter()
        .map(|a| match f {
            BucketFormat::Raw => Ok(a.as_bytes().to_vec()),
            BucketFormat::Hex => unhex(a.as_bytes()),
        })
        .collect()
}

/// bbolt's `findLastBucket`: every name must be a bucket inside the previous one.
pub(crate) fn find_bucket<'tx, M: rbolt::Mode>(
    tx: &'tx rbolt::Tx<M>,
    names: &[Vec<u8>],
) -> Result<rbolt::Bucket<'tx, M>, CliError> {
    let not_found = || CliError::msg("bucket not found");
    let (first, rest) = names.split_first().ok_or_else(not_found)?;
    let lookup = |r: rbolt::Result<Option<rbolt::Bucket<'tx, M>>>| match r {
        Ok(Some(b)) => Ok(b),
        Ok(None) | Err(rbolt::Error::IncompatibleValue | rbolt::Error::BucketNameRequired) => {
            Err(not_found())
        }
        Err(e) => Err(e.into()),
    };
    let mut b = if first.is_empty() {
        return Err(not_found());
    } else {
        lookup(tx.bucket(first))?
    };
    for n in rest {
        if n.is_empty() {
            return Err(not_found());
        }
        b = lookup(b.bucket(n))?;
    }
    Ok(b)
}

/// bbolt's `stringToPages`: decimal page ids, empty arguments skipped.
pub(crate) fn page_ids(args: &[OsString]) -> Result<Vec<u64>, CliError> {
    args.iter()
        .filter(|a| !a.is_empty())
        .map(|a| parse_uint(a.as_bytes()))
        .collect()
}

/// Go's `strconv.ParseUint(s, 10, 64)` with its error text.
pub(crate) fn parse_uint(s: &[u8]) -> Result<u64, CliError> {
    let text = String::from_utf8_lossy(s);
    let q = crate::values::go_quote(s);
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(CliError::msg(format!(
            "strconv.ParseUint: parsing {q}: invalid syntax"
        )));
    }
    text.parse::<u64>().map_err(|_| {
        CliError::msg(format!(
            "strconv.ParseUint: parsing {q}: value out of range"
        ))
    })
}
