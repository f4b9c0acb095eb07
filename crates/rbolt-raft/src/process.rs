//! A cluster of real node processes on 127.0.0.1, for the `demo` and `bench` commands and for
//! tests that kill nodes with SIGKILL. Each node runs `<exe> node …` with its own directory
//! and log file; children are killed when the cluster is dropped.

use crate::client::Client;
use crate::protocol::Status;
use crate::types::NodeId;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// One node process.
#[derive(Debug)]
pub struct NodeProcess {
    /// Node id.
    pub id: NodeId,
    /// Its address.
    pub addr: String,
    child: Option<Child>,
}

/// A cluster of node processes.
#[derive(Debug)]
pub struct ProcessCluster {
    exe: PathBuf,
    dir: PathBuf,
    nodes: Vec<NodeProcess>,
}

/// Picks `n` distinct free ports on 127.0.0.1.
fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

impl ProcessCluster {
    /// Starts `n` nodes of the binary `exe` with data under `dir`; node 1 initializes the
    /// cluster. Returns once a leader is elected (or after 20 s with an error).
    pub async fn start(exe: &Path, dir: &Path, n: u64) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let ports = free_ports(usize::try_from(n).unwrap_or(3))?;
        let nodes = (1..=n)
            .zip(ports)
            .map(|(id, p)| NodeProcess {
                id,
                addr: format!("127.0.0.1:{p}"),
                child: None,
            })
            .collect();
        let mut c = ProcessCluster {
            exe: exe.to_path_buf(),
            dir: dir.to_path_buf(),
            nodes,
        };
        for id in 1..=n {
            c.spawn(id)?;
        }
        c.wait_leader(Duration::from_secs(20)).await?;
        Ok(c)
    }

    /// Addresses of all nodes.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.addr.clone()).collect()
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> Option<&NodeProcess> {
        self.nodes.iter().find(|n| n.id == id)
    }

    fn peers(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("{}={}", n.id, n.addr))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts (or restarts) node `id`.
    pub fn spawn(&mut self, id: NodeId) -> io::Result<()> {
        let peers = self.peers();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("node{id}.log")))?;
        let node_dir = self.dir.join(format!("node{id}"));
        let n = self
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| io::Error::other(format!("no node {id}")))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("node")
            .arg("--id")
            .arg(id.to_string())
            .arg("--addr")
            .arg(&n.addr)
            .arg("--peers")
            .arg(&peers)
            .arg("--dir")
            .arg(&node_dir);
        if id == 1 {
            cmd.arg("--init");
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        n.child = Some(cmd.spawn()?);
        Ok(())
    }

    /// Kills node `id` with SIGKILL and waits for it to be gone.
    pub async fn kill(&mut self, id: NodeId) -> io::Result<()> {
        let n = self
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| io::Error::other(format!("no node {id}")))?;
        if let Some(mut c) = n.child.take() {
            c.start_kill()?;
            c.wait().await?;
        }
        Ok(())
    }

    /// Status of every running node that answers within `timeout`.
    pub async fn statuses(&self, timeout: Duration) -> Vec<Status> {
        let mut out = Vec::new();
        for n in self.nodes.iter().filter(|n| n.child.is_some()) {
            if let Ok(s) = Client::status_of(&n.addr, timeout).await {
                out.push(s);
            }
        }
        out
    }

    /// Waits until a running node reports itself leader; returns its id.
    pub async fn wait_leader(&self, limit: Duration) -> io::Result<NodeId> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(s) = self
                .statuses(Duration::from_millis(500))
                .await
                .into_iter()
                .find(|s| s.leader == Some(s.id))
            {
                return Ok(s.id);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no leader elected in time",
        ))
    }

    /// Waits until every running node has applied the same index and holds the same data;
    /// returns the common data hash.
    pub async fn wait_converged(&self, limit: Duration) -> io::Result<u64> {
        let end = Instant::now() + limit;
        let running = self.nodes.iter().filter(|n| n.child.is_some()).count();
        let mut last = Vec::new();
        while Instant::now() < end {
            let st = self.statuses(Duration::from_millis(500)).await;
            if st.len() == running
                && st
                    .iter()
                    .all(|s| s.applied == st[0].applied && s.data_hash == st[0].data_hash)
            {
                return Ok(st[0].data_hash);
            }
            last = st;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("replicas did not converge: {last:?}"),
        ))
    }

    /// Kills every node.
    pub async fn stop(&mut self) {
        let ids: Vec<NodeId> = self.nodes.iter().map(|n| n.id).collect();
        for id in ids {
            let _ = self.kill(id).await;
        }
    }
}
