//! rbolt's integration tests: one binary, one module per theme. Every database is a
//! `TempDb`, consistency-checked when the test ends.
#![allow(
    clippy::big_endian_bytes,
    reason = "big-endian integers make keys that sort numerically"
)]

mod api;
mod boundary;
mod concurrency;
mod model;
