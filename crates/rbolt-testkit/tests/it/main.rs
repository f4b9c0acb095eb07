//! rbolt-testkit's integration tests, one binary.

mod crash;
mod faults;
mod hostile;
mod interop;
mod killnine;
mod regressions;
mod stress;
