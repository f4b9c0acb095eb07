//! Integration tests of the `rbolt` binary: one module per subcommand, plus the fixtures they
//! share, bbolt-compatibility of errors and flags, Go-checked quoting, lock timeouts and
//! progress bars in a real terminal.
//!
//! Expected outputs are insta snapshots (`snapshots/`), written from bbolt's documented
//! output and reviewed by eye. Every snapshot holds the exit code, stdout and the first line
//! of stderr.

mod analyze;
mod backup;
mod bench;
mod browse;
mod buckets;
mod check;
mod compact;
mod delete;
mod diff;
mod doctor;
mod dump;
mod errors;
mod export;
mod fixtures;
mod forensic_hostile;
mod get;
mod hostile;
mod import;
mod info;
mod inspect;
mod keys;
mod lock;
mod ls;
mod map;
mod mkbucket;
mod mvbucket;
mod page;
mod page_item;
mod pages;
mod progress;
mod put;
mod quoting;
mod rmbucket;
mod roundtrip;
mod salvage;
mod seq;
mod snapshot_reads;
mod stats;
mod surgery;
mod tree;
mod written;
