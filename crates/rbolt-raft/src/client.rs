//! The client: talks to any node of a cluster over TCP, follows leader redirects, and retries
//! through elections and dead nodes until its deadline. Writes carry a session (a random
//! client id and a sequence number per operation), so a write retried after a lost reply is
//! applied once.

use crate::protocol::{
    ClientReply, ClientRequest, Message, Reply, Status, read_frame, write_frame,
};
use crate::types::{Op, OpResult, Request, Response, Txn, Versioned};
use std::io;
use std::time::{Duration, Instant};
use tokio::io::BufStream;
use tokio::net::TcpStream;

/// Why a client call failed.
#[derive(Debug)]
pub enum ClientError {
    /// No node answered successfully before the deadline. For a write, whether it was applied
    /// is unknown.
    Timeout(String),
    /// The cluster refused the operation (an empty key, for instance); it had no effect.
    Rejected(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Timeout(last) => {
                write!(f, "no answer from the cluster in time (last error: {last})")
            }
            ClientError::Rejected(why) => write!(f, "rejected: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A connection to a cluster. One operation at a time; make several clients for
/// concurrency.
#[derive(Debug)]
pub struct Client {
    nodes: Vec<String>,
    next: usize,
    leader: Option<String>,
    conn: Option<(String, BufStream<TcpStream>)>,
    client_id: u64,
    seq: u64,
    timeout: Duration,
}

fn random_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

impl Client {
    /// A client for the nodes at `nodes` (any of them; it finds the leader). Each operation
    /// gives up after `timeout`.
    pub fn new(nodes: Vec<String>, timeout: Duration) -> Self {
        Self {
            nodes,
            next: 0,
            leader: None,
            conn: None,
            client_id: random_id(),
            seq: 0,
            timeout,
        }
    }

    /// The address of the node last known to lead.
    pub fn leader(&self) -> Option<&str> {
        self.leader.as_deref()
    }

    async fn once(
        &mut self,
        addr: &str,
        req: &ClientRequest,
        left: Duration,
    ) -> io::Result<ClientReply> {
        if self.conn.as_ref().is_none_or(|(a, _)| a != addr) {
            let s = tokio::time::timeout(left, TcpStream::connect(addr))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            s.set_nodelay(true)?;
            self.conn = Some((addr.to_string(), BufStream::new(s)));
        }
        let Some((_, conn)) = self.conn.as_mut() else {
            return Err(io::Error::other("not connected"));
        };
        let res = tokio::time::timeout(left, async {
            write_frame(conn, &Message::Client(req.clone())).await?;
            read_frame::<_, Reply>(conn).await?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::UnexpectedEof, "node closed the connection")
            })
        })
        .await;
        match res {
            Ok(Ok(Reply::Client(r))) => Ok(r),
            Ok(Ok(_)) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unexpected reply",
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out")),
        }
    }

    /// Sends `req` until a node gives a definite answer or the deadline passes.
    pub async fn call(&mut self, req: ClientRequest) -> Result<ClientReply, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let mut last = String::from("no node tried");
        let mut pause = Duration::from_millis(20);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout(last));
            }
            let addr = match &self.leader {
                Some(a) => a.clone(),
                None => {
                    self.next = (self.next + 1) % self.nodes.len().max(1);
                    self.nodes
                        .get(self.next)
                        .cloned()
                        .ok_or_else(|| ClientError::Timeout("no nodes given".into()))?
                }
            };
            // One attempt may not use the whole budget, so a hung node is left in time.
            let attempt = (deadline - now).min(Duration::from_secs(2));
            match self.once(&addr, &req, attempt).await {
                Ok(ClientReply::NotLeader {
                    leader: Some((_, a)),
                }) if a != addr => {
                    last = format!("{addr} is not the leader");
                    self.leader = Some(a);
                    continue;
                }
                Ok(ClientReply::NotLeader { .. }) => last = format!("{addr} knows no leader"),
                Ok(ClientReply::Error(e)) => last = format!("{addr}: {e}"),
                Ok(r) => {
                    self.leader = Some(addr);
                    return Ok(r);
                }
                Err(e) => {
                    self.conn = None;
                    last = format!("{addr}: {e}");
                }
            }
            self.leader = None;
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Runs `op` through the log; returns its result and the log index it was applied at.
    pub async fn write(&mut self, op: Op) -> Result<(u64, OpResult), ClientError> {
        self.seq += 1;
        let req = Request {
            session: Some((self.client_id, self.seq)),
            op,
        };
        match self.call(ClientRequest::Write(req)).await? {
            ClientReply::Written(Response::Done { index, result }) => Ok((index, result)),
            ClientReply::Written(Response::Rejected { reason, .. }) => {
                Err(ClientError::Rejected(reason))
            }
            other => Err(ClientError::Rejected(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    /// Sets `key` to `value`; returns the log index of the write and the previous value.
    pub async fn put(
        &mut self,
        key: &[u8],
        value: &[u8],
    ) -> Result<(u64, Option<Versioned>), ClientError> {
        match self
            .write(Op::Put {
                key: key.to_vec(),
                value: value.to_vec(),
            })
            .await?
        {
            (i, OpResult::Put { prev }) => Ok((i, prev)),
            (_, other) => Err(ClientError::Rejected(format!(
                "unexpected result {other:?}"
            ))),
        }
    }

    /// Removes `key`; returns the log index and the removed value.
    pub async fn delete(&mut self, key: &[u8]) -> Result<(u64, Option<Versioned>), ClientError> {
        match self.write(Op::Delete { key: key.to_vec() }).await? {
            (i, OpResult::Delete { prev }) => Ok((i, prev)),
            (_, other) => Err(ClientError::Rejected(format!(
                "unexpected result {other:?}"
            ))),
        }
    }

    /// Runs a transaction; returns the log index, whether the comparisons held, and results.
    pub async fn txn(&mut self, txn: Txn) -> Result<(u64, bool, Vec<OpResult>), ClientError> {
        match self.write(Op::Txn(txn)).await? {
            (i, OpResult::Txn { succeeded, results }) => Ok((i, succeeded, results)),
            (_, other) => Err(ClientError::Rejected(format!(
                "unexpected result {other:?}"
            ))),
        }
    }

    /// Reads `key` linearizably.
    pub async fn get(&mut self, key: &[u8]) -> Result<Option<Versioned>, ClientError> {
        match self.call(ClientRequest::Get { key: key.to_vec() }).await? {
            ClientReply::Value { value, .. } => Ok(value),
            other => Err(ClientError::Rejected(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    /// Reads keys in `[start, end)` linearizably (`end` empty: no bound; `limit` 0: all).
    pub async fn range(
        &mut self,
        start: &[u8],
        end: &[u8],
        limit: u64,
    ) -> Result<Vec<(Vec<u8>, Versioned)>, ClientError> {
        match self
            .call(ClientRequest::Range {
                start: start.to_vec(),
                end: end.to_vec(),
                limit,
            })
            .await?
        {
            ClientReply::Rows { rows, .. } => Ok(rows),
            other => Err(ClientError::Rejected(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }

    /// Asks one node (not the leader) for its status.
    pub async fn status_of(addr: &str, timeout: Duration) -> io::Result<Status> {
        let mut c = Client::new(vec![addr.to_string()], timeout);
        match c.once(addr, &ClientRequest::Status, timeout).await? {
            ClientReply::Status(s) => Ok(s),
            other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
        }
    }
}
