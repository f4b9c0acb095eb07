//! `rbolt bench`'s flags: bbolt's, including the Go profiler ones it accepts and ignores.

use clap::Args;

/// bbolt's bench flags (all of them; the Go profiler ones are accepted and ignored).
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    pub(crate) pos: crate::cli::Positional,
    /// When the profile runs: rw, r or w (Go profiles only; see --cpuprofile)
    #[arg(long, default_value = "rw", value_name = "string")]
    pub(crate) profile_mode: String,
    /// seq, rnd, seq-nest or rnd-nest
    #[arg(long, default_value = "seq", value_name = "string")]
    pub(crate) write_mode: String,
    /// seq or rnd
    #[arg(long, default_value = "seq", value_name = "string")]
    pub(crate) read_mode: String,
    /// Number of keys to write
    #[arg(
        long,
        default_value_t = 1000,
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub(crate) count: i64,
    /// Keys per write transaction (0: all in one)
    #[arg(
        long,
        default_value_t = 0,
        value_name = "int",
        allow_negative_numbers = true
    )]
    pub(crate) batch_size: i64,
    /// Key size in bytes (at least 4: keys are big-endian 32-bit numbers)
    #[arg(long, default_value_t = 8, value_name = "int")]
    pub(crate) key_size: usize,
    /// Value size in bytes
    #[arg(long, default_value_t = 32, value_name = "int")]
    pub(crate) value_size: usize,
    /// Go CPU profile file (not available in rbolt; ignored with a warning)
    #[arg(long, default_value = "", value_name = "string")]
    pub(crate) cpuprofile: String,
    /// Go heap profile file (not available in rbolt; ignored with a warning)
    #[arg(long, default_value = "", value_name = "string")]
    pub(crate) memprofile: String,
    /// Go block profile file (not available in rbolt; ignored with a warning)
    #[arg(long, default_value = "", value_name = "string")]
    pub(crate) blockprofile: String,
    /// Bucket fill percent
    #[arg(long, default_value_t = rbolt::DEFAULT_FILL_PERCENT, value_name = "float64")]
    pub(crate) fill_percent: f64,
    /// Do not fsync commits
    #[arg(long)]
    pub(crate) no_sync: bool,
    /// Keep the database file and print its path
    #[arg(long)]
    pub(crate) work: bool,
    /// Database file (a temporary one by default)
    #[arg(long, default_value = "", value_name = "string")]
    pub(crate) path: String,
    /// Print results in Go's testing.B format
    #[arg(long)]
    pub(crate) gobench_output: bool,
    /// Set page size in bytes.
    #[arg(long, default_value_t = 4096, value_name = "int")]
    pub(crate) page_size: usize,
    /// Set initial mmap size in bytes for database file.
    #[arg(long, default_value_t = 0, value_name = "int")]
    pub(crate) initial_mmap_size: u64,
}
