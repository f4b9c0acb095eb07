//! Replicated rbolt: a key/value store kept identical on several machines by
//! [openraft](https://docs.rs/openraft), with rbolt files as the raft log and the state
//! machine.
//!
//! - [`LogStore`] keeps the raft log, the vote and the purge point in one rbolt file; every
//!   append is durable before openraft counts it.
//! - [`StateMachine`] keeps the key space in a second file; each batch of applied entries
//!   commits in one rbolt transaction together with the last applied log id, the membership
//!   and the client sessions. Snapshots are images of that file.
//!
//! See `docs/replication.md` for the guarantees and how nodes behave when things fail.

#![forbid(unsafe_code)]

pub mod client;
mod kv;
pub mod log_store;
pub mod network;
pub mod node;
pub mod process;
pub mod protocol;
pub mod router;
pub mod state_machine;
pub mod types;

pub use client::{Client, ClientError};
pub use log_store::LogStore;
pub use network::TcpNetworkFactory;
pub use node::Node;
pub use state_machine::{SnapshotImage, StateMachine};
pub use types::{Compare, Op, OpResult, Request, Response, Target, Txn, TypeConfig, Versioned};
