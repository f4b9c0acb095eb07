//! An in-process transport for deterministic tests: RPCs call the target node's raft handle
//! directly. Links can be cut one way or both (partitions) and nodes removed (crashes);
//! snapshot images are copied into the receiver's directory as a network transfer would.

use crate::state_machine::{Raft, SnapshotData, SnapshotImage};
use crate::types::{NodeId, TypeConfig, Vote};
use openraft::errors::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::storage::Snapshot;
use openraft::{BasicNode, OptionalSend, RaftNetworkV2};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Default)]
struct Inner {
    nodes: BTreeMap<NodeId, (Raft, PathBuf)>,
    /// Directed links that drop every message.
    cut: BTreeSet<(NodeId, NodeId)>,
}

/// The shared switchboard of an in-process cluster.
#[derive(Clone, Debug, Default)]
pub struct Router {
    inner: Arc<Mutex<Inner>>,
    copies: Arc<AtomicU64>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The network factory node `from` gives openraft.
    pub fn network(&self, from: NodeId) -> RouterNetworkFactory {
        RouterNetworkFactory {
            from,
            router: self.clone(),
        }
    }

    /// Makes node `id` (stored in `dir`) reachable.
    pub fn add(&self, id: NodeId, raft: Raft, dir: PathBuf) {
        self.lock().nodes.insert(id, (raft, dir));
    }

    /// Makes node `id` unreachable, as if it had crashed.
    pub fn remove(&self, id: NodeId) {
        self.lock().nodes.remove(&id);
    }

    /// Cuts every link between `id` and the others, both ways.
    pub fn isolate(&self, id: NodeId, all: &[NodeId]) {
        let mut g = self.lock();
        for &o in all {
            if o != id {
                g.cut.insert((id, o));
                g.cut.insert((o, id));
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.lock().cut.clear();
    }

    fn target(&self, from: NodeId, to: NodeId) -> Result<(Raft, PathBuf), io::Error> {
        let g = self.lock();
        if g.cut.contains(&(from, to)) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("link {from}->{to} is cut"),
            ));
        }
        g.nodes.get(&to).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("node {to} is down"),
            )
        })
    }

    fn reply_ok(&self, from: NodeId, to: NodeId) -> Result<(), io::Error> {
        if self.lock().cut.contains(&(to, from)) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("reply {to}->{from} lost"),
            ));
        }
        Ok(())
    }
}

/// Creates [`RouterNetwork`]s for one node.
#[derive(Clone, Debug)]
pub struct RouterNetworkFactory {
    from: NodeId,
    router: Router,
}

impl RaftNetworkFactory<TypeConfig> for RouterNetworkFactory {
    type Network = RouterNetwork;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> RouterNetwork {
        RouterNetwork {
            from: self.from,
            to: target,
            router: self.router.clone(),
        }
    }
}

/// One node's link to another through the [`Router`].
#[derive(Debug)]
pub struct RouterNetwork {
    from: NodeId,
    to: NodeId,
    router: Router,
}

fn unreachable(e: impl std::fmt::Display) -> RPCError<TypeConfig> {
    RPCError::Unreachable(Unreachable::new(&io::Error::other(e.to_string())))
}

impl RaftNetworkV2<TypeConfig> for RouterNetwork {
    type SnapshotData = SnapshotImage;

    async fn append_entries(
        &mut self,
        req: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let (raft, _) = self
            .router
            .target(self.from, self.to)
            .map_err(unreachable)?;
        let resp = raft.append_entries(req).await.map_err(unreachable)?;
        self.router
            .reply_ok(self.from, self.to)
            .map_err(unreachable)?;
        Ok(resp)
    }

    async fn vote(
        &mut self,
        req: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let (raft, _) = self
            .router
            .target(self.from, self.to)
            .map_err(unreachable)?;
        let resp = raft.vote(req).await.map_err(unreachable)?;
        self.router
            .reply_ok(self.from, self.to)
            .map_err(unreachable)?;
        Ok(resp)
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: SnapshotData,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let stream_err = |e: io::Error| StreamingError::Unreachable(Unreachable::new(&e));
        let (raft, dir) = self.router.target(self.from, self.to).map_err(stream_err)?;
        let n = self.router.copies.fetch_add(1, Ordering::Relaxed);
        let path = dir.join("snapshots").join(format!("routed-{n}.tmp"));
        let src = snapshot.snapshot;
        let dst = path.clone();
        let copy = tokio::task::spawn_blocking(move || -> io::Result<SnapshotImage> {
            let mut from = &src.file;
            let mut to = std::fs::File::create(&dst)?;
            std::io::Seek::rewind(&mut from)?;
            std::io::copy(&mut from, &mut to)?;
            to.sync_all()?;
            SnapshotImage::open(dst)
        });
        let image = tokio::select! {
            closed = cancel => return Err(StreamingError::Closed(closed)),
            r = copy => r.map_err(io::Error::other).and_then(|r| r).map_err(stream_err)?,
        };
        let res = raft
            .install_full_snapshot(
                vote,
                Snapshot {
                    meta: snapshot.meta,
                    snapshot: image,
                },
            )
            .await;
        let _ = std::fs::remove_file(&path);
        let resp = res.map_err(|e| stream_err(io::Error::other(e.to_string())))?;
        self.router
            .reply_ok(self.from, self.to)
            .map_err(stream_err)?;
        Ok(resp)
    }
}
