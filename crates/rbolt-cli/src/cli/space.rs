//! Flags of the space and forensics commands (`map`, `analyze`, `doctor`, `salvage`) and the
//! `--meta`/`--no-lock` pair every read command takes.

use clap::{Args, ValueEnum};
use std::ffi::OsString;

/// Which snapshot a read command reads, and whether it takes the file lock.
#[derive(Clone, Copy, Debug, Default, Args)]
pub(crate) struct ReadFrom {
    /// Read the tree as of meta page 0 or 1 instead of the newer valid one. The file is then
    /// read page by page with pread, not through the database engine.
    #[arg(long, value_name = "0|1", value_parser = clap::value_parser!(u64).range(0..=1))]
    pub(crate) meta: Option<u64>,
    /// Do not take the file lock, to look at a file another process has open (read-only,
    /// page by page with pread; a commit in progress may show as damage).
    #[arg(long)]
    pub(crate) no_lock: bool,
}

impl ReadFrom {
    /// Whether the command must read through pread instead of the engine.
    pub(crate) fn raw(&self) -> bool {
        self.meta.is_some() || self.no_lock
    }
}

/// When to colour terminal output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    /// Colour when stdout is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub(crate) struct MapArgs {
    #[command(flatten)]
    pub(crate) pos: crate::cli::Positional,
    /// Cells per row.
    #[arg(long, default_value_t = 64, value_name = "W")]
    pub(crate) width: u32,
    /// Most rows before cells start to stand for several pages each.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub(crate) rows: u32,
    /// Pages per cell (default: 1, or as many as it takes to fit --rows).
    #[arg(long, value_name = "N")]
    pub(crate) per_cell: Option<u64>,
    /// Also write the map as an SVG picture, with a tooltip per cell.
    #[arg(long, value_name = "OUT")]
    pub(crate) svg: Option<OsString>,
    /// Colour and Unicode glyphs on a terminal; plain glyphs otherwise.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) color: Color,
    #[command(flatten)]
    pub(crate) from: ReadFrom,
}

#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    #[command(flatten)]
    pub(crate) pos: crate::cli::Positional,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also write the fill histogram and bucket sizes as an SVG picture.
    #[arg(long, value_name = "OUT")]
    pub(crate) svg: Option<OsString>,
    #[command(flatten)]
    pub(crate) from: ReadFrom,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    pub(crate) pos: crate::cli::Positional,
    /// Apply the fixes to a copy (needs -o); the file itself is never changed.
    #[arg(long)]
    pub(crate) apply: bool,
    /// The repaired copy to create.
    #[arg(short, long, value_name = "OUT")]
    pub(crate) output: Option<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct SalvageArgs {
    #[command(flatten)]
    pub(crate) pos: crate::cli::Positional,
    /// The fresh database to write what is recovered into (must not exist).
    #[arg(short, long, value_name = "OUT")]
    pub(crate) output: Option<OsString>,
    /// Also read every page of the file and recover pairs from any leaf page with a valid
    /// header, reachable or not.
    #[arg(long)]
    pub(crate) from_page_scan: bool,
    /// Write the report to this file instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<OsString>,
    #[command(flatten)]
    pub(crate) from: ReadFrom,
}

pub(crate) const MAP_ABOUT: &str = "\
Map draws the file one cell per page (or per N pages on big files, as the first line says): \
meta, freelist, branch, leaf shaded by how full it is, overflow, free, pending free (still \
reachable from the previous meta page), past the high-water mark, and in red the pages that \
are neither reachable nor free, or that cannot be read. The last line says how much of the \
file is free, the largest free run, and where the free tail starts: a big free share means \
`rbolt compact` would shrink the file.

On a terminal the cells are Unicode blocks in colour; in a pipe or with NO_COLOR they are \
ASCII letters, with a legend line either way. --svg also writes an SVG picture with a \
tooltip per cell (page, kind, bucket, fill). The file is read page by page with pread, so \
damaged files and files another process holds can be mapped.

Example:
  rbolt map app.db --width 64 --svg app-map.svg";

pub(crate) const ANALYZE_ABOUT: &str = "\
Analyze reports where the space of a bbolt file goes, as sqlite3_analyzer does for SQLite. \
For each bucket (by path): its pages, overflow pages, share of the file, payload bytes (keys \
and values), unused bytes in its pages, tree depth, whether it is stored inline in its \
parent, and its key and value sizes (min/avg/max). Then how full leaf and branch pages are \
(10% bins), the free runs by length, and an estimate of the size `rbolt compact` would \
produce (within a few percent).

--json prints all of it as one JSON object; --svg also draws the histograms and the biggest \
buckets. The file is read page by page with pread, without the engine.

Example:
  rbolt analyze app.db
  rbolt analyze --json app.db | jq '.compact_estimate'";

pub(crate) const DOCTOR_ABOUT: &str = "\
Doctor validates both meta pages, checks the whole tree, and sorts what it finds into kinds \
of damage: a bad meta page, freelist damage, unreachable pages, corrupt branch or leaf pages, \
pages referenced twice, keys out of order, bad bucket headers. It then prints the `rbolt \
surgery` commands that repair the file, each on a copy of the one before: revert-meta-page or \
copy-page for a bad meta, clear-page-elements to cut damaged subtrees out of their parents, \
freelist abandon and rebuild for the freelist. Cutting a subtree loses its pairs, so salvage \
first.

With --apply -o OUT it runs those commands, leaving FILE untouched, and checks OUT. Exit \
code: 0 for a healthy file (or, with --apply, a repaired copy that checks clean), 1 \
otherwise. The file is read page by page with pread, so files the engine refuses to open \
can be diagnosed.

Example:
  rbolt doctor app.db
  rbolt doctor app.db --apply -o fixed.db";

pub(crate) const SALVAGE_ABOUT: &str = "\
Salvage copies every key/value pair that can still be read from FILE into a fresh database \
OUT (which must not exist), under the same bucket paths. It walks the tree from the active \
meta page (or --meta), skipping subtrees whose pages cannot be decoded; with no valid meta \
page it walks from the newer one that still decodes. With --from-page-scan it also reads \
every page the walk did not reach, free and unreachable ones included, and copies the pairs \
of each page that is a well-formed leaf into the bucket lost+found/<page id> (free pages \
hold older versions of pairs: look before merging them back).

A report goes to stderr (or --report FILE): pages read, pairs recovered from the tree and \
from lost pages, what was skipped and why, and pairs the copy refused. OUT is checked before \
it is put in place. The file is read page by page with pread, never through the engine.

Example:
  rbolt salvage broken.db -o recovered.db --from-page-scan";
