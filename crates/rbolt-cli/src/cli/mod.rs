//! The command line: every subcommand, its flags and its help text. Positional arguments are
//! raw bytes (`OsString`) and counted by the commands themselves, so the errors are bbolt's
//! ("accepts 1 arg(s), received 0") rather than clap's.

pub(crate) mod bench;
pub(crate) mod browse;
pub(crate) mod data;
pub(crate) mod space;
pub(crate) mod surgery;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;

const ABOUT: &str = "A command line tool for inspecting, checking and repairing bbolt databases";

const LONG_ABOUT: &str = "\
A command line tool for inspecting, checking and repairing bbolt databases.

rbolt reads and writes the file format of Go's bbolt (etcd, containerd, ...). Its commands, \
flags and output are bbolt's own, byte for byte, so scripts written for `bbolt` work \
unchanged; invoked as `bbolt` (or with RBOLT_COMPAT=bbolt) its errors and usage text are \
bbolt's too.

Past bbolt: read commands give up after --timeout instead of hanging on a locked file, many \
commands print JSON with --json, and long commands show a progress bar on a terminal.";

/// `rbolt`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "rbolt",
    about = ABOUT,
    long_about = LONG_ABOUT,
    disable_version_flag = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    /// How long to wait when another process holds the database's lock: a Go duration
    /// such as 500ms, 10s or 1m; 0 waits forever.
    #[arg(long, global = true, default_value = "10s", value_name = "DURATION")]
    pub(crate) timeout: String,

    /// Progress bars on stderr: auto draws them when stderr is a terminal, never turns them
    /// off.
    #[arg(long, global = true, value_enum, default_value_t = Progress::Auto)]
    pub(crate) progress: Progress,

    /// No progress bars.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,

    /// Print the version.
    #[arg(long)]
    pub(crate) version: bool,

    #[command(subcommand)]
    pub(crate) command: Option<Cmd>,
}

/// When to draw progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Progress {
    Auto,
    Never,
}

/// How bucket names given on the command line are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum BucketFormat {
    /// The argument's bytes as they are (bbolt's only way).
    #[default]
    Raw,
    /// Lower-case or upper-case hex, for binary names.
    Hex,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// print the current version of rbolt
    #[command(override_usage = "rbolt version [flags]")]
    Version(NoArgs),

    /// prints basic information about the bbolt database.
    #[command(override_usage = "rbolt info <bbolt-file> [flags]")]
    Info(Json),

    /// print a list of buckets in bbolt database
    #[command(override_usage = "rbolt buckets <bbolt-file> [flags]")]
    Buckets(BucketsArgs),

    /// print a list of keys in the given (sub)bucket in bbolt database
    #[command(override_usage = "rbolt keys <bbolt-file> <buckets> [flags]")]
    Keys(KeysArgs),

    /// get the value of a key from a (sub)bucket in a bbolt database
    #[command(override_usage = "rbolt get PATH [BUCKET..] KEY [flags]")]
    Get(GetArgs),

    /// verify integrity of bbolt database data
    #[command(override_usage = "rbolt check <bbolt-file> [flags]")]
    Check(CheckArgs),

    /// creates a compacted copy of the database from source path to the destination path,
    /// preserving the original.
    #[command(
        override_usage = "rbolt compact [options] -o <dst-bbolt-file> <src-bbolt-file> [flags]",
        long_about = "compact opens a database at source path and walks it recursively, copying \
keys as they are found from all buckets, to a newly created database at the destination path. \
The original database is left untouched."
    )]
    Compact(CompactArgs),

    /// prints a hexadecimal dump of one or more pages of bbolt database.
    #[command(override_usage = "rbolt dump <bbolt-file> pageid [pageid...] [flags]")]
    Dump(Positional),

    /// page prints one or more pages in human readable format.
    #[command(override_usage = "rbolt page <bbolt-file> [pageid...] [flags]")]
    Page(PageArgs),

    /// print a page item key and value in a bbolt database
    #[command(override_usage = "rbolt page-item [options] <bbolt-file> pageid itemid [flags]")]
    PageItem(PageItemArgs),

    /// print a list of pages in bbolt database
    #[command(
        override_usage = "rbolt pages <bbolt-file> [flags]",
        long_about = "Pages prints a table of pages with their type (meta, leaf, branch, freelist). \
Leaf and branch pages show a key count in the \"items\" column while the freelist shows the \
number of free pages in the \"items\" column.\n\nThe \"overflow\" column shows the number of \
blocks that the page spills over into. Normally there is no overflow but large keys and values \
can cause a single page to take up multiple blocks."
    )]
    Pages(Json),

    /// print stats of bbolt database
    #[command(
        override_usage = "rbolt stats <bbolt-file> [prefix] [flags]",
        long_about = "Stats walks every bucket of the database (or those whose top-level name starts \
with the prefix) and prints the page counts, tree depth and space use summed over them."
    )]
    Stats(StatsArgs),

    /// inspect the structure of the database
    #[command(override_usage = "rbolt inspect <bbolt-file> [flags]")]
    Inspect(Json),

    /// run synthetic benchmark against bbolt
    #[command(override_usage = "rbolt bench [flags]")]
    Bench(bench::BenchArgs),

    /// draw a map of the file's pages: what each one is, where the free space is
    #[command(
        override_usage = "rbolt map <bbolt-file> [--width W] [--svg OUT] [flags]",
        long_about = space::MAP_ABOUT
    )]
    Map(space::MapArgs),

    /// show where the space goes: per bucket, page fill, free runs, compaction estimate
    #[command(
        override_usage = "rbolt analyze <bbolt-file> [--json] [--svg OUT] [flags]",
        long_about = space::ANALYZE_ABOUT
    )]
    Analyze(space::AnalyzeArgs),

    /// diagnose a damaged file and print (or apply, to a copy) the surgery that repairs it
    #[command(
        override_usage = "rbolt doctor <bbolt-file> [--apply -o OUT] [flags]",
        long_about = space::DOCTOR_ABOUT
    )]
    Doctor(space::DoctorArgs),

    /// copy every pair that can still be read from a damaged file into a fresh database
    #[command(
        override_usage = "rbolt salvage <bbolt-file> -o OUT [--from-page-scan] [flags]",
        long_about = space::SALVAGE_ABOUT
    )]
    Salvage(space::SalvageArgs),

    /// surgery related commands
    #[command(subcommand, override_usage = "rbolt surgery <subcommand> [flags]")]
    Surgery(surgery::SurgeryCmd),

    /// browse a bbolt database in the terminal (read-only unless --write)
    #[command(alias = "tui", override_usage = "rbolt browse <bbolt-file> [bucket...] [flags]", long_about = browse::LONG_ABOUT)]
    Browse(browse::BrowseArgs),

    /// Generate the autocompletion script for the specified shell
    #[command(override_usage = "rbolt completion <bash|zsh|fish|powershell|elvish>")]
    Completion(CompletionArgs),

    /// list a bucket's keys (sub-buckets end in /), from a prefix or start key, up to a limit
    #[command(after_help = "Example:\n  rbolt ls app.db users --prefix user: --limit 20 --values")]
    Ls(data::LsArgs),

    /// print the bucket hierarchy, with key counts and sizes
    #[command(after_help = "Example:\n  rbolt tree app.db --counts --sizes --depth 2")]
    Tree(data::TreeArgs),

    /// set a key's value, in one write transaction
    #[command(
        override_usage = "rbolt put FILE BUCKET... KEY [VALUE | - | --value-file F]",
        after_help = "Examples:\n  rbolt put app.db users alice '{\"age\":30}'\n  rbolt put --key-format hex app.db ids 0001 - < value.bin"
    )]
    Put(data::PutArgs),

    /// delete a key, in one write transaction
    #[command(
        override_usage = "rbolt delete FILE BUCKET... KEY",
        after_help = "Example:\n  rbolt delete app.db users alice"
    )]
    Delete(data::DeleteArgs),

    /// create a bucket (with -p, its missing parents too)
    #[command(after_help = "Example:\n  rbolt mkbucket -p app.db tenants acme users")]
    Mkbucket(data::MkbucketArgs),

    /// delete a bucket (a non-empty one only with -r)
    #[command(after_help = "Example:\n  rbolt rmbucket -r app.db sessions")]
    Rmbucket(data::RmbucketArgs),

    /// move a bucket, with everything in it, under another parent bucket
    #[command(
        override_usage = "rbolt mvbucket FILE SRC... --to [DST...]",
        after_help = "Examples:\n  rbolt mvbucket app.db staging users --to prod     (staging/users -> prod/users)\n  rbolt mvbucket app.db prod users --to             (prod/users -> users)"
    )]
    Mvbucket(data::MvbucketArgs),

    /// read or change a bucket's sequence number
    #[command(
        subcommand,
        after_help = "Examples:\n  rbolt seq get app.db users\n  rbolt seq set app.db users 1000\n  rbolt seq next app.db users"
    )]
    Seq(data::SeqCmd),

    /// copy a database while others keep reading it, then check the copy
    #[command(after_help = "Example:\n  rbolt backup app.db -o /backups/app-$(date +%F).db")]
    Backup(data::BackupArgs),

    /// compare two databases key by key (exit 0 if equal, 1 if different, 2 on error)
    #[command(
        long_about = "Compare two databases key by key, walking both in key order. Each \
difference is one line: `+ PATH KEY` (only in B), `- PATH KEY` (only in A) or `~ PATH KEY` \
(changed); a whole bucket present on one side only is one line `+ PATH/`. Exit status is 0 \
when the files hold the same data, 1 when they differ and 2 on error, like diff(1).",
        after_help = "Example:\n  rbolt diff before.db after.db users"
    )]
    Diff(data::DiffArgs),

    /// write every bucket, key and value as JSON lines or in LMDB's mdb_dump format
    #[command(
        after_help = "Examples:\n  rbolt export app.db > app.jsonl\n  rbolt export --format mdb app.db | mdb_load -n app.mdb"
    )]
    Export(data::ExportArgs),

    /// load JSON lines or an mdb_dump into a database, in batched transactions
    #[command(
        after_help = "Examples:\n  rbolt import new.db < app.jsonl\n  mdb_dump -n -a app.mdb | rbolt import --format mdb new.db"
    )]
    Import(data::ImportArgs),
}

/// Positional arguments, counted by the command.
#[derive(Debug, Args)]
pub(crate) struct Positional {
    #[arg(value_name = "ARGS", num_args = 0.., hide = true)]
    pub(crate) args: Vec<OsString>,
}

/// A command that takes nothing, but counts what it got anyway.
#[derive(Debug, Args)]
pub(crate) struct NoArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
}

/// Positional arguments and `--json`.
#[derive(Debug, Args)]
pub(crate) struct Json {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// Print JSON instead of text (bytes as strings when UTF-8, else {"hex": ...}).
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) from: space::ReadFrom,
}

#[derive(Debug, Args)]
pub(crate) struct BucketsArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// Output format one of: auto|ascii-encoded|hex|bytes|redacted (default "bytes", as bbolt)
    #[arg(short, long, default_value = "bytes")]
    pub(crate) format: String,
    /// Print one JSON object per bucket.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) from: space::ReadFrom,
}

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// Output format one of: auto|ascii-encoded|hex|bytes|redacted
    #[arg(short, long, default_value = "auto")]
    pub(crate) format: String,
    /// How bucket arguments are read: raw bytes, or hex for binary names.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
    /// Print one JSON object per key.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) from: space::ReadFrom,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// Input format one of: ascii-encoded|hex
    #[arg(long, default_value = "ascii-encoded")]
    pub(crate) parse_format: String,
    /// Output format one of: auto|ascii-encoded|hex|bytes|redacted (default: auto)
    #[arg(long, default_value = "auto")]
    pub(crate) format: String,
    /// How bucket arguments are read: raw bytes, or hex for binary names.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
    /// Print a JSON object with the key and value.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) from: space::ReadFrom,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// check db integrity starting from the given page ID
    #[arg(long, default_value_t = 0, value_name = "uint")]
    pub(crate) from_page: u64,
    /// Print a JSON object with the problems found.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) from: space::ReadFrom,
}

#[derive(Debug, Args)]
pub(crate) struct CompactArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// The compacted copy to create.
    #[arg(short, long, value_name = "string")]
    pub(crate) output: Option<OsString>,
    /// Commit the copy every this many bytes of keys and values (0: one transaction).
    #[arg(
        long,
        default_value_t = 65536,
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub(crate) tx_max_size: i64,
    /// Do not fsync the copy's commits.
    #[arg(long)]
    pub(crate) no_sync: bool,
    /// Print a JSON object with both sizes.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PageArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// List all pages (up to the active meta page's high-water mark).
    #[arg(long)]
    pub(crate) all: bool,
    /// Output format one of: auto|ascii-encoded|hex|bytes|redacted. Applies to values on the
    /// leaf page.
    #[arg(long, default_value = "auto", value_name = "string")]
    pub(crate) format_value: String,
    /// Print one JSON object per page.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PageItemArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// Print only the key
    #[arg(long)]
    pub(crate) key_only: bool,
    /// Print only the value
    #[arg(long)]
    pub(crate) value_only: bool,
    /// Output format one of: auto|ascii-encoded|hex|bytes|redacted
    #[arg(long, default_value = "auto", value_name = "string")]
    pub(crate) format: String,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) pos: Positional,
    /// How the prefix argument is read: raw bytes, or hex.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) bucket_format: BucketFormat,
    /// Print the statistics as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) from: space::ReadFrom,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}
