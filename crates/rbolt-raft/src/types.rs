//! The replicated data model: the openraft type configuration, the commands that go through
//! the log ([`Request`], [`Op`], [`Txn`]), what applying them returns ([`Response`]), and the
//! compact binary codec every stored or transmitted value uses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;

openraft::declare_raft_types!(
    /// The openraft type configuration of rbolt-raft: node ids are `u64`, nodes carry their
    /// TCP address, log entries carry a [`Request`] and applying one yields a [`Response`].
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// A node id.
pub type NodeId = u64;
/// A log id (leader id + index).
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
/// A vote.
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
/// A log entry.
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
/// Membership as stored by the state machine.
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;

/// A command replicated through the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `(client id, sequence)` for exactly-once execution of retried writes: a request whose
    /// sequence is not above the client's last applied one is not executed again.
    pub session: Option<(u64, u64)>,
    /// What to do.
    pub op: Op,
}

/// One change to the key space.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Set `key` to `value`.
    Put {
        /// Key (non-empty).
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// Remove `key` (no error if absent).
    Delete {
        /// Key.
        key: Vec<u8>,
    },
    /// Compare-and-set over any number of keys, atomically.
    Txn(Txn),
}

/// A transaction: if every comparison holds, run `success`, otherwise `failure`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Conditions, all of which must hold.
    pub compare: Vec<Compare>,
    /// Ops run when all conditions hold.
    pub success: Vec<Op>,
    /// Ops run otherwise.
    pub failure: Vec<Op>,
}

/// A condition on one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The key.
    pub key: Vec<u8>,
    /// What it must be.
    pub target: Target,
}

/// The expected state of a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The key does not exist.
    Absent,
    /// The key holds exactly this value.
    Value(Vec<u8>),
    /// The key was last written by the log entry with this index.
    ModIndex(u64),
}

/// A stored value with the index of the log entry that wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned {
    /// The value.
    pub value: Vec<u8>,
    /// Log index of the write that produced it.
    pub mod_index: u64,
}

/// What applying one op did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// A put; the previous value, if any.
    Put {
        /// Value before the put.
        prev: Option<Versioned>,
    },
    /// A delete; the value removed, if any.
    Delete {
        /// Value before the delete.
        prev: Option<Versioned>,
    },
    /// A transaction.
    Txn {
        /// Whether all comparisons held.
        succeeded: bool,
        /// Results of the ops that ran.
        results: Vec<OpResult>,
    },
}

/// The answer to an applied log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// An entry without a client op (blank or membership).
    None,
    /// The op ran at `index`.
    Done {
        /// Log index of the entry.
        index: u64,
        /// Its result.
        result: OpResult,
    },
    /// The op was rejected without effect (an invalid key, for instance).
    Rejected {
        /// Log index of the entry.
        index: u64,
        /// Why.
        reason: String,
    },
    /// The session's sequence number was older than the last one applied: a late duplicate,
    /// not executed.
    Stale {
        /// Log index of the entry.
        index: u64,
    },
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            Op::Put { key, value } => write!(f, "put {} ({} bytes)", show(key), value.len()),
            Op::Delete { key } => write!(f, "delete {}", show(key)),
            Op::Txn(t) => write!(
                f,
                "txn ({} compares, {}/{} ops)",
                t.compare.len(),
                t.success.len(),
                t.failure.len()
            ),
        }
    }
}

/// Shows a key as text when it is printable ASCII, else as hex.
pub fn show(bytes: &[u8]) -> String {
    if !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_graphic()) {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Version byte in front of every encoded value, so formats can evolve.
const CODEC_VERSION: u8 = 1;

/// Encodes `v` as `[version][postcard bytes]`.
pub fn encode<T: Serialize>(v: &T) -> io::Result<Vec<u8>> {
    let mut out = vec![CODEC_VERSION];
    postcard::to_io(v, &mut out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(out)
}

/// Decodes what [`encode`] wrote; rejects unknown versions and trailing garbage.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> io::Result<T> {
    match bytes.split_first() {
        Some((&CODEC_VERSION, rest)) => {
            let (v, tail) = postcard::take_from_bytes(rest)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if tail.is_empty() {
                Ok(v)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "trailing bytes after value",
                ))
            }
        }
        Some((v, _)) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown encoding version {v}"),
        )),
        None => Err(io::Error::new(io::ErrorKind::InvalidData, "empty value")),
    }
}

/// Turns an rbolt error into the `io::Error` openraft's storage traits speak.
pub(crate) fn io_err(e: rbolt::Error) -> io::Error {
    match e {
        rbolt::Error::Io(e) => e,
        e => io::Error::other(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trips_and_rejects_bad_bytes() {
        let r = Request {
            session: Some((7, 9)),
            op: Op::Put {
                key: b"k".to_vec(),
                value: vec![0, 255],
            },
        };
        let bytes = encode(&r).unwrap();
        assert_eq!(decode::<Request>(&bytes).unwrap(), r);
        let mut bad = bytes.clone();
        bad[0] = 99;
        assert!(decode::<Request>(&bad).is_err());
        let mut long = bytes;
        long.push(0);
        assert!(decode::<Request>(&long).is_err());
        assert!(decode::<Request>(&[]).is_err());
    }
}
