//! Integration tests of rbolt-raft: openraft's storage suite, storage crash and fault
//! behaviour, in-process clusters, the linearizability checker and real processes.

mod cli;
mod cluster;
mod killnine;
mod lincheck;
mod storage;
mod suite;
