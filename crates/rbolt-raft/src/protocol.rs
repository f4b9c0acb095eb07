//! The wire protocol: length-prefixed frames (`u32` big-endian length, then the encoded
//! message) over TCP, and the messages that travel in them — raft RPCs between nodes and
//! client requests. One request and one reply at a time per connection.

use crate::types::{
    NodeId, Request, Response, SnapshotMeta, TypeConfig, Versioned, Vote, decode, encode,
};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest frame accepted; a bigger length prefix means a broken or hostile peer.
pub const MAX_FRAME: usize = 64 << 20;
/// Snapshot images travel in chunks of this size.
pub const SNAPSHOT_CHUNK: usize = 1 << 20;

/// A message to a node.
#[derive(Debug, Serialize, Deserialize)]
pub enum Message {
    /// Raft log replication; `to` is the node the sender means to reach.
    Append {
        /// Intended receiver.
        to: NodeId,
        /// The RPC.
        req: AppendEntriesRequest<TypeConfig>,
    },
    /// A vote request.
    Vote {
        /// Intended receiver.
        to: NodeId,
        /// The RPC.
        req: VoteRequest<TypeConfig>,
    },
    /// Start of a snapshot transfer; `len` bytes follow in [`Message::SnapshotChunk`]s.
    SnapshotBegin {
        /// Intended receiver.
        to: NodeId,
        /// The leader's vote.
        vote: Vote,
        /// What the image holds.
        meta: SnapshotMeta,
        /// Image length in bytes.
        len: u64,
    },
    /// Part of a snapshot image (not answered).
    SnapshotChunk(Vec<u8>),
    /// End of a snapshot image, with the CRC-32 of all its bytes.
    SnapshotEnd {
        /// CRC-32 of the image.
        crc: u32,
    },
    /// A client request.
    Client(ClientRequest),
}

/// A reply from a node.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// Answer to [`Message::Append`].
    Append(Result<AppendEntriesResponse<TypeConfig>, String>),
    /// Answer to [`Message::Vote`].
    Vote(Result<VoteResponse<TypeConfig>, String>),
    /// Answer to a whole snapshot transfer.
    Snapshot(Result<SnapshotResponse<TypeConfig>, String>),
    /// Answer to [`Message::Client`].
    Client(ClientReply),
}

/// What a client asks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ClientRequest {
    /// Replicate and apply a write.
    Write(Request),
    /// Read one key, linearizably.
    Get {
        /// The key.
        key: Vec<u8>,
    },
    /// Read keys in `[start, end)` linearizably (`end` empty: no bound; `limit` 0: all).
    Range {
        /// First key.
        start: Vec<u8>,
        /// End (exclusive).
        end: Vec<u8>,
        /// Maximum number of keys.
        limit: u64,
    },
    /// This node's view of the cluster.
    Status,
}

/// What a node answers a client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ClientReply {
    /// The write was committed and applied.
    Written(Response),
    /// The value of a key, read at `read_index`.
    Value {
        /// The value, if the key exists.
        value: Option<Versioned>,
        /// Log index the read reflects.
        read_index: u64,
    },
    /// Keys of a range, read at `read_index`.
    Rows {
        /// Pairs in key order.
        rows: Vec<(Vec<u8>, Versioned)>,
        /// Log index the read reflects.
        read_index: u64,
    },
    /// Node status.
    Status(Status),
    /// This node is not the leader; ask `leader` (id and address) if known.
    NotLeader {
        /// The leader, if known.
        leader: Option<(NodeId, String)>,
    },
    /// The request failed on this node; the outcome of a write is unknown.
    Error(String),
}

/// A node's view of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// This node.
    pub id: NodeId,
    /// Leader, follower, candidate or learner.
    pub state: String,
    /// Current term.
    pub term: u64,
    /// Known leader.
    pub leader: Option<NodeId>,
    /// Index of the last log entry.
    pub last_log: Option<u64>,
    /// Index of the last applied entry.
    pub applied: Option<u64>,
    /// Index of the last snapshot.
    pub snapshot: Option<u64>,
    /// Index up to which the log was purged.
    pub purged: Option<u64>,
    /// Voting members.
    pub voters: Vec<NodeId>,
    /// Hash of the key space and sessions.
    pub data_hash: u64,
}

/// Writes one frame.
pub async fn write_frame<W, T>(w: &mut W, msg: &T) -> io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
    T: Serialize,
{
    let body = encode(msg)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "message larger than the frame limit",
        ));
    }
    w.write_all(&frame_len(body.len())).await?;
    w.write_all(&body).await?;
    w.flush().await
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub async fn read_frame<R, T>(r: &mut R) -> io::Result<Option<T>>
where
    R: tokio::io::AsyncRead + Unpin,
    T: for<'de> Deserialize<'de>,
{
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = parse_len(len);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    decode(&body).map(Some)
}

#[expect(
    clippy::big_endian_bytes,
    reason = "network byte order for the frame length"
)]
fn frame_len(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

#[expect(
    clippy::big_endian_bytes,
    reason = "network byte order for the frame length"
)]
fn parse_len(b: [u8; 4]) -> usize {
    usize::try_from(u32::from_be_bytes(b)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_reject_oversized_lengths() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &ClientRequest::Get { key: b"k".to_vec() })
            .await
            .unwrap();
        let got: ClientRequest = read_frame(&mut buf.as_slice()).await.unwrap().unwrap();
        assert!(matches!(got, ClientRequest::Get { key } if key == b"k"));
        assert!(
            read_frame::<_, ClientRequest>(&mut &[][..])
                .await
                .unwrap()
                .is_none()
        );
        let hostile = [0xff, 0xff, 0xff, 0xff, 1];
        assert!(
            read_frame::<_, ClientRequest>(&mut &hostile[..])
                .await
                .is_err()
        );
    }
}
