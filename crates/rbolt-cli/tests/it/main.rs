//! Integration tests of the `rbolt` binary: one module per subcommand, plus the fixtures they
//! share, bbolt-compatibility of errors and flags, Go-checked quoting, lock timeouts and
//! progress bars in a real terminal.
//!
//! Expected outputs are insta snapshots (`snapshots/`), written from bbolt's documented
//! output and reviewed by eye. Every snapshot holds the exit code, stdout and the first line
//! of stderr.

mod analyze;
mod bench;
mod buckets;
mod check;
mod compact;
mod doctor;
mod dump;
mod errors;
mod fixtures;
mod forensic_hostile;
mod get;
mod hostile;
mod info;
mod inspect;
mod keys;
mod lock;
mod map;
mod page;
mod page_item;
mod pages;
mod progress;
mod quoting;
mod salvage;
mod snapshot_reads;
mod stats;
mod surgery;
