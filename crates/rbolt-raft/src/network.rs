//! The raft transport between nodes over TCP: one connection per openraft client (the
//! replication, heartbeat and snapshot streams each get their own), reconnected after any
//! error. Every RPC names the node it means to reach, and a node refuses RPCs meant for
//! another, so a misconfigured address cannot join two clusters. Snapshot images are streamed
//! in chunks with a CRC over the whole image.

use crate::protocol::{Message, Reply, SNAPSHOT_CHUNK, read_frame, write_frame};
use crate::state_machine::{SnapshotData, SnapshotImage};
use crate::types::{NodeId, TypeConfig, Vote};
use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, OptionalSend, RaftNetworkV2};
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::Duration;
use tokio::io::BufStream;
use tokio::net::TcpStream;

/// Creates [`TcpNetwork`] clients for openraft.
#[derive(Clone, Debug, Default)]
pub struct TcpNetworkFactory;

impl RaftNetworkFactory<TypeConfig> for TcpNetworkFactory {
    type Network = TcpNetwork;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> TcpNetwork {
        TcpNetwork {
            target,
            addr: node.addr.clone(),
            conn: None,
        }
    }
}

/// A connection to one peer, opened on first use.
#[derive(Debug)]
pub struct TcpNetwork {
    target: NodeId,
    addr: String,
    conn: Option<BufStream<TcpStream>>,
}

fn unreachable(e: &io::Error) -> RPCError<TypeConfig> {
    RPCError::Unreachable(Unreachable::new(e))
}

impl TcpNetwork {
    async fn connect(
        &mut self,
        ttl: Duration,
    ) -> Result<&mut BufStream<TcpStream>, RPCError<TypeConfig>> {
        if self.conn.is_none() {
            let s = tokio::time::timeout(ttl, TcpStream::connect(&self.addr))
                .await
                .map_err(|_| {
                    unreachable(&io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connect timed out",
                    ))
                })?
                .map_err(|e| unreachable(&e))?;
            s.set_nodelay(true).map_err(|e| unreachable(&e))?;
            self.conn = Some(BufStream::new(s));
        }
        self.conn
            .as_mut()
            .ok_or_else(|| unreachable(&io::Error::other("no connection")))
    }

    async fn call(&mut self, msg: Message, ttl: Duration) -> Result<Reply, RPCError<TypeConfig>> {
        let conn = self.connect(ttl).await?;
        let res = tokio::time::timeout(ttl, async {
            write_frame(conn, &msg).await?;
            read_frame::<_, Reply>(conn)
                .await?
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed"))
        })
        .await;
        match res {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.conn = None;
                Err(RPCError::Network(NetworkError::new(&e)))
            }
            Err(_) => {
                self.conn = None;
                Err(RPCError::Network(NetworkError::new(&io::Error::new(
                    io::ErrorKind::TimedOut,
                    "rpc timed out",
                ))))
            }
        }
    }

    async fn send_snapshot(
        &mut self,
        vote: Vote,
        snapshot: SnapshotData,
        ttl: Duration,
    ) -> io::Result<Reply> {
        let to = self.target;
        let conn = match self.connect(ttl).await {
            Ok(c) => c,
            Err(e) => return Err(io::Error::new(io::ErrorKind::NotConnected, e.to_string())),
        };
        let SnapshotImage { file, len, .. } = snapshot.snapshot;
        write_frame(
            conn,
            &Message::SnapshotBegin {
                to,
                vote,
                meta: snapshot.meta,
                len,
            },
        )
        .await?;
        let mut crc = crc32fast::Hasher::new();
        let mut off = 0u64;
        let file = std::sync::Arc::new(file);
        while off < len {
            let n =
                usize::try_from((len - off).min(SNAPSHOT_CHUNK as u64)).unwrap_or(SNAPSHOT_CHUNK);
            let f = file.clone();
            let chunk = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; n];
                f.read_exact_at(&mut buf, off).map(|()| buf)
            })
            .await
            .map_err(io::Error::other)??;
            crc.update(&chunk);
            write_frame(conn, &Message::SnapshotChunk(chunk)).await?;
            off += n as u64;
        }
        write_frame(
            conn,
            &Message::SnapshotEnd {
                crc: crc.finalize(),
            },
        )
        .await?;
        read_frame::<_, Reply>(conn)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed"))
    }
}

fn remote(msg: String) -> RPCError<TypeConfig> {
    RPCError::Unreachable(Unreachable::new(&io::Error::other(msg)))
}

fn unexpected() -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(&io::Error::new(
        io::ErrorKind::InvalidData,
        "unexpected reply",
    )))
}

impl RaftNetworkV2<TypeConfig> for TcpNetwork {
    type SnapshotData = SnapshotImage;

    async fn append_entries(
        &mut self,
        req: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(
                Message::Append {
                    to: self.target,
                    req,
                },
                option.hard_ttl(),
            )
            .await?
        {
            Reply::Append(r) => r.map_err(remote),
            _ => Err(unexpected()),
        }
    }

    async fn vote(
        &mut self,
        req: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(
                Message::Vote {
                    to: self.target,
                    req,
                },
                option.hard_ttl(),
            )
            .await?
        {
            Reply::Vote(r) => r.map_err(remote),
            _ => Err(unexpected()),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: SnapshotData,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        // The whole transfer gets a generous deadline: images can be large.
        let ttl = option.hard_ttl().max(Duration::from_secs(60));
        let res = tokio::select! {
            closed = cancel => {
                self.conn = None;
                return Err(StreamingError::Closed(closed));
            }
            res = tokio::time::timeout(ttl, self.send_snapshot(vote, snapshot, option.hard_ttl())) => res,
        };
        let reply = match res {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                self.conn = None;
                return Err(StreamingError::Unreachable(Unreachable::new(&e)));
            }
            Err(_) => {
                self.conn = None;
                let e = io::Error::new(io::ErrorKind::TimedOut, "snapshot transfer timed out");
                return Err(StreamingError::Unreachable(Unreachable::new(&e)));
            }
        };
        match reply {
            Reply::Snapshot(Ok(r)) => Ok(r),
            Reply::Snapshot(Err(e)) => Err(StreamingError::Unreachable(Unreachable::new(
                &io::Error::other(e),
            ))),
            _ => Err(StreamingError::Network(NetworkError::new(&io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected reply",
            )))),
        }
    }
}
