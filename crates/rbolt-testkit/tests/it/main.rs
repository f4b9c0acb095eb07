//! rbolt-testkit's integration tests, one binary.

mod crash;
mod faults;
mod interop;
mod regressions;
