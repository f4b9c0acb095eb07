//! In-process clusters on the router: elections, partitions, restarts, snapshot install to a
//! lagging node (also after a crash in the middle of an install), and a node whose log
//! cannot sync.

use rbolt::storage::Storage;
use rbolt_raft::node::{Node, default_config};
use rbolt_raft::protocol::ClientReply;
use rbolt_raft::router::Router;
use rbolt_raft::{Op, OpResult, Request, Response};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn config() -> openraft::Config {
    openraft::Config {
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        ..default_config()
    }
}

struct Cluster {
    _tmp: tempfile::TempDir,
    router: Router,
    config: openraft::Config,
    nodes: BTreeMap<u64, Arc<Node>>,
}

impl Cluster {
    async fn start(n: u64, config: openraft::Config) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = Cluster {
            _tmp: tmp,
            router: Router::new(),
            config,
            nodes: BTreeMap::new(),
        };
        for id in 1..=n {
            c.boot(id).await;
        }
        let members = (1..=n).map(|i| (i, format!("node-{i}"))).collect();
        c.nodes[&1].initialize(&members).await.unwrap();
        c
    }

    fn dir(&self, id: u64) -> PathBuf {
        self._tmp.path().join(format!("n{id}"))
    }

    async fn boot(&mut self, id: u64) {
        let dir = self.dir(id);
        let node = Node::start(id, &dir, self.config.clone(), self.router.network(id))
            .await
            .unwrap();
        self.router.add(id, node.raft().clone(), dir);
        self.nodes.insert(id, Arc::new(node));
    }

    async fn crash(&mut self, id: u64) {
        self.router.remove(id);
        let node = self.nodes.remove(&id).unwrap();
        node.shutdown().await;
        drop(node);
    }

    async fn leader(&self, among: &[u64]) -> u64 {
        wait(Duration::from_secs(10), "a leader", || async {
            for &id in among {
                let Some(n) = self.nodes.get(&id) else {
                    continue;
                };
                let m = n.metrics();
                if m.current_leader == Some(id) && m.state == openraft::ServerState::Leader {
                    return Some(id);
                }
            }
            None
        })
        .await
    }

    /// Writes `key=value` through whichever node leads, retrying through elections.
    async fn put(&self, among: &[u64], key: &str, value: &str, seq: u64) -> u64 {
        let req = Request {
            session: Some((42, seq)),
            op: Op::Put {
                key: key.into(),
                value: value.into(),
            },
        };
        wait(Duration::from_secs(10), "a write", || async {
            let l = self.leader(among).await;
            match self.nodes[&l].write(req.clone()).await {
                ClientReply::Written(Response::Done { index, .. }) => Some(index),
                _ => None,
            }
        })
        .await
    }

    async fn converged(&self, ids: &[u64]) -> u64 {
        wait(Duration::from_secs(15), "replicas to converge", || async {
            let applied: Vec<_> = ids
                .iter()
                .map(|i| self.nodes[i].metrics().last_applied)
                .collect();
            if applied.iter().any(|a| *a != applied[0]) {
                return None;
            }
            let hashes: Vec<u64> = ids
                .iter()
                .map(|i| self.nodes[i].state_machine().data_hash().unwrap())
                .collect();
            hashes.iter().all(|h| *h == hashes[0]).then_some(hashes[0])
        })
        .await
    }

    async fn stop(mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            self.crash(id).await;
        }
    }
}

async fn wait<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn value_of(node: &Node, key: &str) -> Option<Vec<u8>> {
    node.state_machine()
        .get(key.as_bytes())
        .unwrap()
        .map(|v| v.value)
}

#[test]
fn isolated_leader_is_replaced_and_no_acknowledged_write_is_lost() {
    rt().block_on(async {
        let c = Cluster::start(3, config()).await;
        let all = [1, 2, 3];
        for i in 0..30 {
            c.put(&all, &format!("k{i}"), "before", i + 1).await;
        }
        let old = c.leader(&all).await;
        c.router.isolate(old, &all);
        let rest: Vec<u64> = all.iter().copied().filter(|&i| i != old).collect();
        // The isolated leader cannot confirm a read index without a quorum.
        let read = tokio::time::timeout(
            Duration::from_secs(3),
            c.nodes[&old].handle(rbolt_raft::protocol::ClientRequest::Get {
                key: b"k0".to_vec(),
            }),
        )
        .await;
        assert!(
            !matches!(read, Ok(ClientReply::Value { .. })),
            "isolated leader served a linearizable read: {read:?}"
        );
        for i in 0..30 {
            c.put(&rest, &format!("k{i}"), "after", 100 + i).await;
        }
        assert_ne!(c.leader(&rest).await, old);
        c.router.heal();
        c.converged(&all).await;
        for id in all {
            for i in 0..30 {
                assert_eq!(
                    value_of(&c.nodes[&id], &format!("k{i}")).as_deref(),
                    Some(&b"after"[..]),
                    "node {id} k{i}"
                );
            }
        }
        c.stop().await;
    });
}

#[test]
fn crashed_follower_restarts_and_catches_up_from_its_files() {
    rt().block_on(async {
        let mut c = Cluster::start(3, config()).await;
        let all = [1, 2, 3];
        c.put(&all, "a", "1", 1).await;
        let l = c.leader(&all).await;
        let victim = *all.iter().find(|&&i| i != l).unwrap();
        c.crash(victim).await;
        let rest: Vec<u64> = all.iter().copied().filter(|&i| i != victim).collect();
        for i in 0..50 {
            c.put(&rest, &format!("k{i}"), "v", 10 + i).await;
        }
        c.boot(victim).await;
        c.converged(&all).await;
        assert_eq!(
            value_of(&c.nodes[&victim], "k49").as_deref(),
            Some(&b"v"[..])
        );
        // A retried write (same session and sequence) is answered from the session table.
        let leader = &c.nodes[&c.leader(&all).await];
        let again = leader
            .write(Request {
                session: Some((42, 59)),
                op: Op::Put {
                    key: b"k49".to_vec(),
                    value: b"other".to_vec(),
                },
            })
            .await;
        assert!(
            matches!(
                again,
                ClientReply::Written(Response::Done {
                    result: OpResult::Put { prev: None },
                    ..
                })
            ),
            "{again:?}"
        );
        // An older sequence is a late duplicate and is not run at all.
        let late = leader
            .write(Request {
                session: Some((42, 10)),
                op: Op::Put {
                    key: b"k0".to_vec(),
                    value: b"other".to_vec(),
                },
            })
            .await;
        assert!(
            matches!(late, ClientReply::Written(Response::Stale { .. })),
            "{late:?}"
        );
        c.converged(&all).await;
        assert_eq!(
            value_of(&c.nodes[&victim], "k49").as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(
            value_of(&c.nodes[&victim], "k0").as_deref(),
            Some(&b"v"[..])
        );
        c.stop().await;
    });
}

fn snapshot_config() -> openraft::Config {
    openraft::Config {
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(50),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..config()
    }
}

/// Leaves what a crash in the middle of a snapshot install leaves: a half-copied image and a
/// half-written replacement of `sm.db`.
fn leave_interrupted_install(dir: &Path) {
    std::fs::write(dir.join("sm.db.installing"), b"half a database").unwrap();
    std::fs::write(
        dir.join("snapshots").join("incoming-7.tmp"),
        vec![0u8; 5000],
    )
    .unwrap();
}

#[test]
fn lagging_node_installs_a_snapshot_even_after_a_crash_mid_install() {
    rt().block_on(async {
        let mut c = Cluster::start(3, snapshot_config()).await;
        let all = [1, 2, 3];
        c.put(&all, "first", "x", 1).await;
        let l = c.leader(&all).await;
        let lag = *all.iter().find(|&&i| i != l).unwrap();
        c.crash(lag).await;
        let rest: Vec<u64> = all.iter().copied().filter(|&i| i != lag).collect();
        for i in 0..200 {
            c.put(&rest, &format!("k{i:03}"), &format!("v{i}"), 10 + i)
                .await;
        }
        let leader = &c.nodes[&c.leader(&rest).await];
        leader.raft().trigger().snapshot().await.unwrap();
        wait(
            Duration::from_secs(10),
            "leader snapshot and purge",
            || async {
                let m = leader.metrics();
                (m.snapshot.is_some() && m.purged.is_some_and(|p| p.index > 5)).then_some(())
            },
        )
        .await;
        leave_interrupted_install(&c.dir(lag));
        c.boot(lag).await;
        let hash = c.converged(&all).await;
        let m = c.nodes[&lag].metrics();
        assert!(
            m.snapshot.is_some_and(|s| s.index > 5),
            "lagging node did not install a snapshot: {:?}",
            m.snapshot
        );
        assert!(!c.dir(lag).join("sm.db.installing").exists());
        let db = c.nodes[&lag].state_machine().db();
        assert!(db.view(|tx| Ok(tx.check())).unwrap().is_empty());
        assert_eq!(
            value_of(&c.nodes[&lag], "k199").as_deref(),
            Some(&b"v199"[..])
        );
        // Writes keep applying on top of the installed image.
        c.put(&all, "after", "y", 1000).await;
        assert_ne!(c.converged(&all).await, hash);
        assert_eq!(
            value_of(&c.nodes[&lag], "after").as_deref(),
            Some(&b"y"[..])
        );
        c.stop().await;
    });
}

#[derive(Debug)]
struct FailingSync {
    inner: Box<dyn Storage>,
    broken: Arc<AtomicBool>,
}

impl Storage for FailingSync {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            Err(io::Error::from_raw_os_error(5))
        } else {
            self.inner.sync_data()
        }
    }
    fn sync_all(&self) -> io::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            Err(io::Error::from_raw_os_error(5))
        } else {
            self.inner.sync_all()
        }
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

#[test]
fn failed_log_fsync_stops_the_node_from_acknowledging() {
    rt().block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        let broken = Arc::new(AtomicBool::new(false));
        let b = broken.clone();
        let opts = rbolt::Options::new().wrap_storage(Arc::new(move |inner| {
            Box::new(FailingSync {
                inner,
                broken: b.clone(),
            })
        }));
        let router = Router::new();
        let node = Node::start_with(1, &dir, config(), router.network(1), opts)
            .await
            .unwrap();
        router.add(1, node.raft().clone(), dir.clone());
        node.initialize(&BTreeMap::from([(1, "n1".to_string())]))
            .await
            .unwrap();
        let put = |seq: u64, v: &str| Request {
            session: Some((1, seq)),
            op: Op::Put {
                key: b"k".to_vec(),
                value: v.as_bytes().to_vec(),
            },
        };
        let ok = wait(Duration::from_secs(10), "a healthy write", || async {
            match node.write(put(1, "acked")).await {
                ClientReply::Written(Response::Done { index, .. }) => Some(index),
                _ => None,
            }
        })
        .await;
        assert!(ok > 0);
        broken.store(true, Ordering::SeqCst);
        for seq in 2..5 {
            let r =
                tokio::time::timeout(Duration::from_secs(2), node.write(put(seq, "lost"))).await;
            assert!(
                !matches!(r, Ok(ClientReply::Written(_))),
                "write acknowledged although the log cannot sync: {r:?}"
            );
        }
        router.remove(1);
        node.shutdown().await;
        drop(node);
        // Reopened on a healthy disk, the acknowledged write is there.
        let node = Node::start(1, &dir, config(), router.network(1))
            .await
            .unwrap();
        wait(Duration::from_secs(10), "recovery", || async {
            node.metrics()
                .last_applied
                .is_some_and(|a| a.index >= ok)
                .then_some(())
        })
        .await;
        assert_eq!(value_of(&node, "k").as_deref(), Some(&b"acked"[..]));
        node.shutdown().await;
    });
}
