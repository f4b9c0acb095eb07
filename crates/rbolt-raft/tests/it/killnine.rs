//! Three real node processes on 127.0.0.1 under concurrent clients while a nemesis kills
//! nodes with SIGKILL (the leader half of the time) and restarts them. Every operation is
//! recorded and the history must be linearizable; afterwards all replicas must hold the same
//! data. `RBOLT_RAFT_SOAK_SECS` lengthens the run (default 15 s); `RBOLT_RAFT_SEED` replays
//! a schedule.

use crate::lincheck::{Kind, Op, Verdict, check};
use rbolt_raft::process::ProcessCluster;
use rbolt_raft::{Client, ClientError, Compare, Op as KvOp, Target, Txn};
use rbolt_testkit::rng::Rng;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEYS: u64 = 6;
const CLIENTS: u64 = 5;

fn key(k: u64) -> Vec<u8> {
    format!("key{k}").into_bytes()
}

fn parse(v: &[u8]) -> u64 {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("every stored value is a write id")
}

async fn client_loop(
    addrs: Vec<String>,
    c: u64,
    seed: u64,
    start: Instant,
    end: Instant,
    history: Arc<Mutex<Vec<Op>>>,
) -> (u64, u64) {
    let mut rng = Rng::new(seed ^ (c + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut client = Client::new(addrs, Duration::from_secs(3));
    let mut last_seen = vec![None; KEYS as usize];
    let (mut done, mut unknown) = (0, 0);
    let mut seq = 0u64;
    let now = || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
    while Instant::now() < end {
        let k = rng.next_u64() % KEYS;
        seq += 1;
        let id = (c + 1) * 1_000_000 + seq;
        let call = now();
        let dice = rng.next_u64() % 100;
        let kind = if dice < 45 {
            match client.put(&key(k), id.to_string().as_bytes()).await {
                Ok(_) => Ok(Kind::Put(id)),
                Err(ClientError::Timeout(_)) => Err(Kind::Put(id)),
                Err(e) => panic!("put failed: {e}"),
            }
        } else if dice < 55 {
            match client.delete(&key(k)).await {
                Ok(_) => Ok(Kind::Delete),
                Err(ClientError::Timeout(_)) => Err(Kind::Delete),
                Err(e) => panic!("delete failed: {e}"),
            }
        } else if dice < 75 {
            let expect: Option<u64> = last_seen[k as usize];
            let target = expect.map_or(Target::Absent, |v| {
                Target::Value(v.to_string().into_bytes())
            });
            let txn = Txn {
                compare: vec![Compare {
                    key: key(k),
                    target,
                }],
                success: vec![KvOp::Put {
                    key: key(k),
                    value: id.to_string().into_bytes(),
                }],
                failure: vec![],
            };
            match client.txn(txn).await {
                Ok((_, ok, _)) => Ok(Kind::Cas {
                    expect,
                    new: id,
                    ok: Some(ok),
                }),
                Err(ClientError::Timeout(_)) => Err(Kind::Cas {
                    expect,
                    new: id,
                    ok: None,
                }),
                Err(e) => panic!("txn failed: {e}"),
            }
        } else {
            match client.get(&key(k)).await {
                Ok(v) => {
                    let v = v.map(|v| parse(&v.value));
                    last_seen[k as usize] = v;
                    Ok(Kind::Get(v))
                }
                Err(ClientError::Timeout(_)) => Err(Kind::Get(None)),
                Err(e) => panic!("get failed: {e}"),
            }
        };
        let op = match kind {
            Ok(kind) => {
                done += 1;
                Op {
                    key: k,
                    call,
                    ret: now(),
                    kind,
                }
            }
            Err(kind) => {
                unknown += 1;
                Op {
                    key: k,
                    call,
                    ret: u64::MAX,
                    kind,
                }
            }
        };
        history.lock().unwrap().push(op);
    }
    (done, unknown)
}

#[test]
fn kill_nine_under_concurrent_clients_stays_linearizable() {
    let secs: u64 = std::env::var("RBOLT_RAFT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let seed: u64 = std::env::var("RBOLT_RAFT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    println!("RBOLT_RAFT_SEED={seed} RBOLT_RAFT_SOAK_SECS={secs}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let exe = std::path::Path::new(env!("CARGO_BIN_EXE_rbolt-raft"));
        let mut cluster = ProcessCluster::start(exe, tmp.path(), 3).await.unwrap();
        let history = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let end = start + Duration::from_secs(secs);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(client_loop(
                    cluster.addrs(),
                    c,
                    seed,
                    start,
                    end,
                    history.clone(),
                ))
            })
            .collect();
        let mut rng = Rng::new(seed);
        let mut kills = 0;
        while Instant::now() + Duration::from_secs(4) < end {
            tokio::time::sleep(Duration::from_millis(1500 + rng.next_u64() % 1500)).await;
            let victim = if rng.next_u64().is_multiple_of(2) {
                cluster
                    .wait_leader(Duration::from_secs(5))
                    .await
                    .unwrap_or(1)
            } else {
                1 + rng.next_u64() % 3
            };
            cluster.kill(victim).await.unwrap();
            kills += 1;
            tokio::time::sleep(Duration::from_millis(500 + rng.next_u64() % 1000)).await;
            cluster.spawn(victim).unwrap();
        }
        let mut done = 0;
        let mut unknown = 0;
        for c in clients {
            let (d, u) = c.await.unwrap();
            done += d;
            unknown += u;
        }
        // Final reads after the dust settles are part of the history too.
        cluster
            .wait_converged(Duration::from_secs(30))
            .await
            .unwrap();
        let mut reader = Client::new(cluster.addrs(), Duration::from_secs(10));
        for k in 0..KEYS {
            let call = u64::try_from(start.elapsed().as_nanos()).unwrap();
            let v = reader.get(&key(k)).await.unwrap().map(|v| parse(&v.value));
            let ret = u64::try_from(start.elapsed().as_nanos()).unwrap();
            history.lock().unwrap().push(Op {
                key: k,
                call,
                ret,
                kind: Kind::Get(v),
            });
        }
        cluster.stop().await;
        let history = history.lock().unwrap().clone();
        println!("{kills} kills, {done} operations completed, {unknown} with unknown outcome");
        assert!(kills >= 2, "the nemesis did not run");
        assert!(
            done > 50 * secs / 15,
            "too little progress: {done} operations"
        );
        let verdict = check(&history, Duration::from_secs(30));
        assert_eq!(
            verdict,
            Verdict::Ok,
            "history of {} operations is not linearizable (seed {seed})",
            history.len()
        );
    });
}
