//! A replica: the raft instance over the rbolt log store and state machine of one directory,
//! the client-facing operations (writes through the log, linearizable reads through the
//! read index), and the TCP server that answers peers and clients.

use crate::log_store::LogStore;
use crate::protocol::{
    ClientReply, ClientRequest, Message, Reply, Status, read_frame, write_frame,
};
use crate::state_machine::{Raft, SnapshotImage, StateMachine};
use crate::types::{NodeId, Request, TypeConfig, Vote};
use openraft::async_runtime::WatchReceiver;
use openraft::network::NetSnapshot;
use openraft::storage::Snapshot;
use openraft::{BasicNode, Config, RaftNetworkFactory, ReadPolicy, SnapshotPolicy};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncWriteExt, BufStream};
use tokio::net::{TcpListener, TcpStream};

/// File name of the raft log inside a node directory.
pub const LOG_FILE: &str = "raft-log.db";

/// Raft timing and log retention used by the binary: heartbeats every 100 ms, elections
/// after 400–800 ms of silence (processes share CPUs, so leave room for scheduling
/// delays), a snapshot every 10,000 entries.
pub fn default_config() -> Config {
    Config {
        cluster_name: "rbolt".to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 400,
        election_timeout_max: 800,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(10_000),
        max_in_snapshot_log_to_keep: 1_000,
        ..Config::default()
    }
}

/// One replica.
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    dir: PathBuf,
    raft: Raft,
    sm: StateMachine,
    log: LogStore,
    incoming: AtomicU64,
}

impl Node {
    /// Opens the node stored in `dir` (creating it if new) and starts raft.
    pub async fn start<N>(id: NodeId, dir: &Path, config: Config, network: N) -> io::Result<Node>
    where
        N: RaftNetworkFactory<TypeConfig>,
        N::Network: NetSnapshot<TypeConfig, SnapshotData = SnapshotImage>,
    {
        Self::start_with(id, dir, config, network, rbolt::Options::new()).await
    }

    /// Like [`Node::start`], with explicit rbolt options for the log file.
    pub async fn start_with<N>(
        id: NodeId,
        dir: &Path,
        config: Config,
        network: N,
        log_options: rbolt::Options,
    ) -> io::Result<Node>
    where
        N: RaftNetworkFactory<TypeConfig>,
        N::Network: NetSnapshot<TypeConfig, SnapshotData = SnapshotImage>,
    {
        std::fs::create_dir_all(dir)?;
        let d = dir.to_path_buf();
        let (log, sm) = tokio::task::spawn_blocking(move || {
            Ok::<_, io::Error>((
                LogStore::open_with(d.join(LOG_FILE), log_options)?,
                StateMachine::open(&d)?,
            ))
        })
        .await
        .map_err(io::Error::other)??;
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        );
        let raft = Raft::new(id, config, network, log.clone(), sm.clone())
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Node {
            id,
            dir: dir.to_path_buf(),
            raft,
            sm,
            log,
            incoming: AtomicU64::new(0),
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The raft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The latest raft metrics (role, term, log and apply progress).
    pub fn metrics(&self) -> openraft::RaftMetrics<TypeConfig> {
        self.raft.metrics().borrow_watched().clone()
    }

    /// The state machine.
    pub fn state_machine(&self) -> &StateMachine {
        &self.sm
    }

    /// The log store.
    pub fn log_store(&self) -> &LogStore {
        &self.log
    }

    /// Makes this node the first member of a new cluster with `members` (id → address).
    /// Run it once, on one node, when the cluster is created.
    pub async fn initialize(&self, members: &BTreeMap<NodeId, String>) -> io::Result<()> {
        let m: BTreeMap<NodeId, BasicNode> = members
            .iter()
            .map(|(id, a)| (*id, BasicNode::new(a)))
            .collect();
        self.raft
            .initialize(m)
            .await
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Answers one client request.
    pub async fn handle(&self, req: ClientRequest) -> ClientReply {
        match req {
            ClientRequest::Write(r) => self.write(r).await,
            ClientRequest::Get { key } => match self.read_index().await {
                Ok(read_index) => {
                    let sm = self.sm.clone();
                    match tokio::task::spawn_blocking(move || sm.get(&key)).await {
                        Ok(Ok(value)) => ClientReply::Value { value, read_index },
                        Ok(Err(e)) => ClientReply::Error(e.to_string()),
                        Err(e) => ClientReply::Error(e.to_string()),
                    }
                }
                Err(r) => r,
            },
            ClientRequest::Range { start, end, limit } => match self.read_index().await {
                Ok(read_index) => {
                    let sm = self.sm.clone();
                    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                    match tokio::task::spawn_blocking(move || sm.range(&start, &end, limit)).await {
                        Ok(Ok(rows)) => ClientReply::Rows { rows, read_index },
                        Ok(Err(e)) => ClientReply::Error(e.to_string()),
                        Err(e) => ClientReply::Error(e.to_string()),
                    }
                }
                Err(r) => r,
            },
            ClientRequest::Status => match self.status().await {
                Ok(s) => ClientReply::Status(s),
                Err(e) => ClientReply::Error(e.to_string()),
            },
        }
    }

    fn not_leader(
        &self,
        f: Option<&openraft::errors::ForwardToLeader<TypeConfig>>,
    ) -> Option<ClientReply> {
        let f = f?;
        Some(ClientReply::NotLeader {
            leader: f
                .leader_id
                .zip(f.leader_node.as_ref().map(|n| n.addr.clone())),
        })
    }

    /// Replicates and applies a write.
    pub async fn write(&self, req: Request) -> ClientReply {
        match self.raft.client_write(req).await {
            Ok(resp) => ClientReply::Written(resp.data),
            Err(e) => self
                .not_leader(e.forward_to_leader())
                .unwrap_or_else(|| ClientReply::Error(e.to_string())),
        }
    }

    /// Confirms leadership with a quorum and waits until everything committed before the
    /// call is applied; returns the log index reads will reflect.
    async fn read_index(&self) -> Result<u64, ClientReply> {
        match self.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
            Ok(id) => Ok(id.index()),
            Err(e) => Err(self
                .not_leader(e.forward_to_leader())
                .unwrap_or_else(|| ClientReply::Error(e.to_string()))),
        }
    }

    /// This node's view of the cluster.
    pub async fn status(&self) -> io::Result<Status> {
        let m = self.metrics();
        let sm = self.sm.clone();
        let data_hash = tokio::task::spawn_blocking(move || sm.data_hash())
            .await
            .map_err(io::Error::other)??;
        Ok(Status {
            id: self.id,
            state: format!("{:?}", m.state),
            term: m.current_term,
            leader: m.current_leader,
            last_log: m.last_log_index,
            applied: m.last_applied.map(|l| l.index),
            snapshot: m.snapshot.map(|l| l.index),
            purged: m.purged.map(|l| l.index),
            voters: m.membership_config.membership().voter_ids().collect(),
            data_hash,
        })
    }

    /// Stops raft. The files close when the last handle is dropped.
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }

    /// Serves peers and clients on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            let node = self.clone();
            tokio::spawn(async move {
                // A broken connection only ends that connection.
                let _ = node.connection(stream).await;
            });
        }
    }

    async fn connection(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        let mut conn = BufStream::new(stream);
        while let Some(msg) = read_frame::<_, Message>(&mut conn).await? {
            let reply = match msg {
                Message::Append { to, req } => Reply::Append(match self.check_to(to) {
                    Ok(()) => self
                        .raft
                        .append_entries(req)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                }),
                Message::Vote { to, req } => Reply::Vote(match self.check_to(to) {
                    Ok(()) => self.raft.vote(req).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                }),
                Message::SnapshotBegin {
                    to,
                    vote,
                    meta,
                    len,
                } => Reply::Snapshot(
                    self.receive_snapshot(&mut conn, to, vote, meta, len)
                        .await?,
                ),
                Message::SnapshotChunk(_) | Message::SnapshotEnd { .. } => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "snapshot data outside a transfer",
                    ));
                }
                Message::Client(req) => Reply::Client(self.handle(req).await),
            };
            write_frame(&mut conn, &reply).await?;
        }
        Ok(())
    }

    fn check_to(&self, to: NodeId) -> Result<(), String> {
        if to == self.id {
            Ok(())
        } else {
            Err(format!("this is node {}, not node {to}", self.id))
        }
    }

    async fn receive_snapshot(
        &self,
        conn: &mut BufStream<TcpStream>,
        to: NodeId,
        vote: Vote,
        meta: crate::types::SnapshotMeta,
        len: u64,
    ) -> io::Result<Result<openraft::raft::SnapshotResponse<TypeConfig>, String>> {
        let n = self.incoming.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join("snapshots").join(format!("incoming-{n}.tmp"));
        let mut file = tokio::fs::File::create(&path).await?;
        let mut crc = crc32fast::Hasher::new();
        let mut got = 0u64;
        let sent_crc = loop {
            match read_frame::<_, Message>(conn).await? {
                Some(Message::SnapshotChunk(c)) => {
                    got += c.len() as u64;
                    if got > len {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "snapshot longer than announced",
                        ));
                    }
                    crc.update(&c);
                    file.write_all(&c).await?;
                }
                Some(Message::SnapshotEnd { crc }) => break crc,
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "snapshot transfer interrupted",
                    ));
                }
            }
        };
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let result = if let Err(e) = self.check_to(to) {
            Err(e)
        } else if got != len || crc.finalize() != sent_crc {
            Err(format!(
                "snapshot image damaged in transit ({got} of {len} bytes)"
            ))
        } else {
            match SnapshotImage::open(&path) {
                Ok(image) => self
                    .raft
                    .install_full_snapshot(
                        vote,
                        Snapshot {
                            meta,
                            snapshot: image,
                        },
                    )
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        };
        let _ = tokio::fs::remove_file(&path).await;
        Ok(result)
    }
}
