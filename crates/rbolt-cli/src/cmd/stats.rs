//! `rbolt stats FILE [PREFIX]`: bucket statistics summed over the top-level buckets whose
//! name starts with PREFIX, in bbolt's layout (tab-indented lines, its percentages and its
//! typo "Total number on inlined buckets").

use super::bucket_names;
use crate::Ctx;
use crate::cli::StatsArgs;
use crate::error::{CliError, range_args};
use crate::json;
use crate::source::{open_read_only, path_arg};
use serde_json::json;
use std::io::Write;

/// Go's `int(float32(a) * 100.0 / float32(b))`, 0 when `b` is 0.
fn percent(a: u64, b: u64) -> i64 {
    if b == 0 {
        return 0;
    }
    (a as f32 * 100.0 / b as f32) as i64
}

pub(crate) fn run(a: &StatsArgs, ctx: &Ctx, out: &mut dyn Write) -> Result<(), CliError> {
    let args = &a.pos.args;
    if !(1..=2).contains(&args.len()) {
        return Err(range_args(1, 2, args.len()));
    }
    let prefix = bucket_names(&args[1..], a.bucket_format)?
        .pop()
        .unwrap_or_default();
    let (s, count) = if a.from.raw() {
        let snap = super::rawread::open(path_arg(&args[0]), &a.from)?;
        super::rawread::stats(&snap, &prefix)?
    } else {
        engine_stats(path_arg(&args[0]), &prefix, ctx)?
    };
    if a.json {
        return json::line(
            out,
            &json!({
                "buckets": count,
                "branch_page_n": s.branch_page_n,
                "branch_overflow_n": s.branch_overflow_n,
                "leaf_page_n": s.leaf_page_n,
                "leaf_overflow_n": s.leaf_overflow_n,
                "key_n": s.key_n,
                "depth": s.depth,
                "branch_alloc": s.branch_alloc,
                "branch_inuse": s.branch_inuse,
                "leaf_alloc": s.leaf_alloc,
                "leaf_inuse": s.leaf_inuse,
                "bucket_n": s.bucket_n,
                "inline_bucket_n": s.inline_bucket_n,
                "inline_bucket_inuse": s.inline_bucket_inuse,
            }),
        );
    }
    let o = out;
    write!(o, "Aggregate statistics for {count} buckets\n\n")?;
    writeln!(o, "Page count statistics")?;
    writeln!(o, "\tNumber of logical branch pages: {}", s.branch_page_n)?;
    writeln!(
        o,
        "\tNumber of physical branch overflow pages: {}",
        s.branch_overflow_n
    )?;
    writeln!(o, "\tNumber of logical leaf pages: {}", s.leaf_page_n)?;
    writeln!(
        o,
        "\tNumber of physical leaf overflow pages: {}",
        s.leaf_overflow_n
    )?;
    writeln!(o, "Tree statistics")?;
    writeln!(o, "\tNumber of keys/value pairs: {}", s.key_n)?;
    writeln!(o, "\tNumber of levels in B+tree: {}", s.depth)?;
    writeln!(o, "Page size utilization")?;
    writeln!(
        o,
        "\tBytes allocated for physical branch pages: {}",
        s.branch_alloc
    )?;
    writeln!(
        o,
        "\tBytes actually used for branch data: {} ({}%)",
        s.branch_inuse,
        percent(s.branch_inuse, s.branch_alloc)
    )?;
    writeln!(
        o,
        "\tBytes allocated for physical leaf pages: {}",
        s.leaf_alloc
    )?;
    writeln!(
        o,
        "\tBytes actually used for leaf data: {} ({}%)",
        s.leaf_inuse,
        percent(s.leaf_inuse, s.leaf_alloc)
    )?;
    writeln!(o, "Bucket statistics")?;
    writeln!(o, "\tTotal number of buckets: {}", s.bucket_n)?;
    writeln!(
        o,
        "\tTotal number on inlined buckets: {} ({}%)",
        s.inline_bucket_n,
        percent(s.inline_bucket_n, s.bucket_n)
    )?;
    writeln!(
        o,
        "\tBytes used for inlined buckets: {} ({}%)",
        s.inline_bucket_inuse,
        percent(s.inline_bucket_inuse, s.leaf_inuse)
    )?;
    Ok(())
}

/// The stats of the active snapshot, summed over the top-level buckets matching `prefix`.
fn engine_stats(
    path: &std::path::Path,
    prefix: &[u8],
    ctx: &Ctx,
) -> Result<(rbolt::BucketStats, u64), CliError> {
    let db = open_read_only(path, ctx.timeout)?;
    let tx = db.begin_read()?;
    let mut s = rbolt::BucketStats::default();
    let mut count = 0u64;
    let mut res = Ok(());
    tx.for_each_bucket(|name, b| {
        if name.starts_with(prefix) {
            match b.stats() {
                Ok(bs) => s.add(&bs),
                Err(e) => res = Err(e),
            }
            count += 1;
        }
        Ok(())
    })?;
    res?;
    Ok((s, count))
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percent_truncates_in_float32_like_go() {
        assert_eq!(percent(137_245, 274_432), 50);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 0);
        assert_eq!(percent(2, 2), 100);
    }
}
