//! Flags of the data commands, which read and change keys, values and buckets rather than
//! pages: `ls`, `tree`, `put`, `delete`, `mkbucket`, `rmbucket`, `mvbucket`, `seq`, `backup`,
//! `diff`, `export` and `import`.

use super::BucketFormat;
use clap::{Args, Subcommand, ValueEnum};
use std::ffi::OsString;

/// How a key or value given on the command line is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ArgFormat {
    /// The argument's bytes as they are.
    #[default]
    Raw,
    /// Lower-case or upper-case hex, for binary data.
    Hex,
}

impl From<ArgFormat> for BucketFormat {
    fn from(f: ArgFormat) -> Self {
        match f {
            ArgFormat::Raw => BucketFormat::Raw,
            ArgFormat::Hex => BucketFormat::Hex,
        }
    }
}

/// A file and a bucket path inside it, with the way the names are spelled.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The database file.
    #[arg(value_name = "FILE")]
    pub(crate) file: OsString,
    /// Bucket names, outermost first.
    #[arg(value_name = "BUCKET")]
    pub(crate) buckets: Vec<OsString>,
    /// How bucket arguments are read: raw bytes, or hex for binary names.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
}

#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Only keys starting with these bytes.
    #[arg(long, value_name = "P")]
    pub(crate) prefix: Option<OsString>,
    /// Start at this key (or the next one after it; the one before it with --reverse).
    #[arg(long, value_name = "K")]
    pub(crate) start: Option<OsString>,
    /// Print at most N lines.
    #[arg(short = 'n', long, value_name = "N")]
    pub(crate) limit: Option<u64>,
    /// Walk from the last key down.
    #[arg(long)]
    pub(crate) reverse: bool,
    /// List sub-buckets' contents too, indented under them.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    /// Print each value after its key, separated by a tab.
    #[arg(long)]
    pub(crate) values: bool,
    /// Output format of keys and values: auto|ascii-encoded|hex|bytes|redacted
    #[arg(short, long, default_value = "auto")]
    pub(crate) format: String,
    /// How --prefix and --start are read: raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) key_format: ArgFormat,
}

#[derive(Debug, Args)]
pub(crate) struct TreeArgs {
    /// The database file.
    #[arg(value_name = "FILE")]
    pub(crate) file: OsString,
    /// Show buckets down to this nesting level (1: top-level buckets only).
    #[arg(long, value_name = "N")]
    pub(crate) depth: Option<usize>,
    /// Show each bucket's number of keys (sub-buckets not included).
    #[arg(long)]
    pub(crate) counts: bool,
    /// Show each bucket's key and value bytes (sub-buckets not included).
    #[arg(long)]
    pub(crate) sizes: bool,
    /// Output format of bucket names: auto|ascii-encoded|hex|bytes|redacted
    #[arg(short, long, default_value = "auto")]
    pub(crate) format: String,
}

/// What every write command takes.
#[derive(Debug, Args)]
pub(crate) struct WriteOpts {
    /// Do everything, then roll back: print what would happen and write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// FILE BUCKET... KEY [VALUE | -]: a VALUE of `-` is read from stdin.
    #[arg(value_name = "ARGS", required = true)]
    pub(crate) args: Vec<OsString>,
    /// Read the value from this file (then the last argument is the key).
    #[arg(long, value_name = "F")]
    pub(crate) value_file: Option<OsString>,
    /// Create missing buckets along the path, and the database file if it does not exist.
    #[arg(short = 'p', long)]
    pub(crate) create_buckets: bool,
    /// Leave an existing key as it is.
    #[arg(long)]
    pub(crate) if_absent: bool,
    /// How bucket arguments are read: raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
    /// How the key argument is read: raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) key_format: ArgFormat,
    /// How the value argument is read (not --value-file or stdin): raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) value_format: ArgFormat,
    #[command(flatten)]
    pub(crate) write: WriteOpts,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// FILE BUCKET... KEY
    #[arg(value_name = "ARGS", required = true)]
    pub(crate) args: Vec<OsString>,
    /// A missing key is not an error.
    #[arg(long)]
    pub(crate) missing_ok: bool,
    /// How bucket arguments are read: raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
    /// How the key argument is read: raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) key_format: ArgFormat,
    #[command(flatten)]
    pub(crate) write: WriteOpts,
}

#[derive(Debug, Args)]
pub(crate) struct MkbucketArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Create missing parents too (and the database file if it does not exist), and accept
    /// a bucket that exists.
    #[arg(short, long)]
    pub(crate) parents: bool,
    #[command(flatten)]
    pub(crate) write: WriteOpts,
}

#[derive(Debug, Args)]
pub(crate) struct RmbucketArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Delete a bucket that is not empty, with everything in it.
    #[arg(short, long)]
    pub(crate) recursive: bool,
    #[command(flatten)]
    pub(crate) write: WriteOpts,
}

#[derive(Debug, Args)]
pub(crate) struct MvbucketArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// The destination parent bucket's path; with no names, the top level.
    #[arg(long, value_name = "DST", num_args = 0.., required = true)]
    pub(crate) to: Vec<OsString>,
    /// Create missing destination buckets.
    #[arg(short, long)]
    pub(crate) parents: bool,
    #[command(flatten)]
    pub(crate) write: WriteOpts,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SeqCmd {
    /// Print a bucket's sequence number.
    Get(Target),
    /// Set a bucket's sequence number: seq set FILE BUCKET... N
    Set(SeqSetArgs),
    /// Increment a bucket's sequence number and print the new value.
    Next(SeqNextArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SeqSetArgs {
    /// FILE BUCKET... N
    #[arg(value_name = "ARGS", required = true)]
    pub(crate) args: Vec<OsString>,
    /// How bucket arguments are read: raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
    #[command(flatten)]
    pub(crate) write: WriteOpts,
}

#[derive(Debug, Args)]
pub(crate) struct SeqNextArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    #[command(flatten)]
    pub(crate) write: WriteOpts,
}

#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The database file.
    #[arg(value_name = "FILE")]
    pub(crate) file: OsString,
    /// The copy to create; it must not exist.
    #[arg(short, long, value_name = "DEST", required = true)]
    pub(crate) output: OsString,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The first database.
    #[arg(value_name = "A")]
    pub(crate) a: OsString,
    /// The second database.
    #[arg(value_name = "B")]
    pub(crate) b: OsString,
    /// Compare only this bucket (a path, outermost first).
    #[arg(value_name = "BUCKET")]
    pub(crate) buckets: Vec<OsString>,
    /// How bucket arguments are read: raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
    /// Output format of names and keys: auto|ascii-encoded|hex|bytes|redacted
    #[arg(short, long, default_value = "auto")]
    pub(crate) format: String,
    /// Print only whether the files differ.
    #[arg(short = 's', long)]
    pub(crate) brief: bool,
    /// Print values too: after a tab, and `OLD -> NEW` for a changed key.
    #[arg(long)]
    pub(crate) values: bool,
}

/// The dump formats of `export` and `import`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum DumpFormat {
    /// One JSON object per line: a bucket with its sequence, or a key and value.
    #[default]
    Jsonl,
    /// LMDB's `mdb_dump` format (Berkeley DB's `db_dump`), bytes in hex.
    Mdb,
    /// `mdb_dump -p`: printable bytes as they are, others as `\xx`.
    MdbPrint,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// The dump format.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: DumpFormat,
    /// Write the dump here instead of stdout.
    #[arg(short, long, value_name = "OUT")]
    pub(crate) output: Option<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The database to load into; created when missing.
    #[arg(value_name = "FILE")]
    pub(crate) file: OsString,
    /// The dump format (`mdb` reads `mdb-print` sections too).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: DumpFormat,
    /// Read the dump from this file instead of stdin.
    #[arg(short, long, value_name = "IN")]
    pub(crate) input: Option<OsString>,
    /// Leave keys that exist as they are (and sequences of buckets that exist).
    #[arg(long)]
    pub(crate) no_overwrite: bool,
    /// Commit after this much key and value data: a byte count with an optional KiB, MiB or
    /// GiB suffix.
    #[arg(long, default_value = "64MiB", value_name = "SIZE")]
    pub(crate) tx_max_size: String,
    /// How full to fill pages when they split, 0.1 to 1.0 (1.0 packs sorted input tightly).
    #[arg(long, value_name = "F")]
    pub(crate) fill_percent: Option<f64>,
}
