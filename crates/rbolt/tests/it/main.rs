//! rbolt's integration tests: one binary, one module per theme. Every database is a
//! `TempDb`, consistency-checked when the test ends.

mod api;
mod boundary;
mod concurrency;
mod model;
