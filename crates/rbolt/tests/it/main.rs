//! rbolt's integration tests: one binary, one module per theme. Every database is a
//! `TempDb`, consistency-checked when the test ends.
#![allow(
    clippy::big_endian_bytes,
    reason = "big-endian integers make keys that sort numerically"
)]

mod api;
mod api_errors;
mod api_range;
mod boundary;
mod bucket_open;
mod check_detects;
mod concurrency;
mod deep_writes;
mod hardening;
mod model;
mod open_twice;
mod ops_backup;
mod ops_batch;
mod ops_common;
mod ops_compact;
mod ops_freelist;
mod ops_len;
mod ops_move;
mod ops_shrink;
mod ops_stats;
mod poisoning;
mod typed;
