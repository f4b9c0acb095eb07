//! `rbolt-raft`: run a replica of a replicated rbolt cluster, talk to a cluster as a client,
//! or watch a three-node cluster on 127.0.0.1 survive losing its leader (`demo`).

mod demo;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use rbolt_raft::node::{Node, default_config};
use rbolt_raft::types::show;
use rbolt_raft::{Client, Compare, Op, OpResult, Target, TcpNetworkFactory, Txn};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "rbolt-raft",
    version,
    about = "Replicated rbolt: a key/value store kept on several nodes by Raft"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run one node (replica) until interrupted.
    Node(NodeArgs),
    /// Set a key.
    Put {
        #[command(flatten)]
        c: ClusterArgs,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Print a key's value (linearizable read). Exits 1 if the key does not exist.
    Get {
        #[command(flatten)]
        c: ClusterArgs,
        /// The key.
        key: String,
    },
    /// Remove a key.
    Delete {
        #[command(flatten)]
        c: ClusterArgs,
        /// The key.
        key: String,
    },
    /// Print keys from START up to END (exclusive), one `key<TAB>value` per line.
    Range {
        #[command(flatten)]
        c: ClusterArgs,
        /// First key.
        start: String,
        /// End key (exclusive); all keys from START when omitted.
        end: Option<String>,
        /// Print at most this many keys (0: all).
        #[arg(long, default_value_t = 0)]
        limit: u64,
    },
    /// Compare-and-set on one key: if the condition holds, apply the change. Exits 3 if it
    /// did not hold.
    Txn(TxnArgs),
    /// Print each node's view of the cluster.
    Status {
        #[command(flatten)]
        c: ClusterArgs,
    },
    /// Start 3 node processes on 127.0.0.1, write, SIGKILL the leader, keep writing, restart
    /// it, verify every acknowledged write, and print a summary.
    Demo(demo::DemoArgs),
    /// Measure writes/s and linearizable reads/s against 3 node processes on 127.0.0.1.
    Bench(demo::BenchArgs),
}

#[derive(Args, Debug)]
struct NodeArgs {
    /// This node's id (a positive integer, unique in the cluster).
    #[arg(long)]
    id: u64,
    /// Address to listen on, e.g. 127.0.0.1:7001.
    #[arg(long)]
    addr: String,
    /// All members as ID=ADDR,ID=ADDR,… (this node included).
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// Data directory (default: ./rbolt-raft-ID).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Create the cluster from --peers. Give it to one node, once.
    #[arg(long)]
    init: bool,
}

#[derive(Args, Debug)]
struct ClusterArgs {
    /// Node addresses, any of them (the client finds the leader).
    #[arg(
        long,
        env = "RBOLT_CLUSTER",
        value_delimiter = ',',
        default_value = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"
    )]
    cluster: Vec<String>,
    /// Give up after this many seconds (elections are retried until then).
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

impl ClusterArgs {
    fn client(&self) -> Result<Client> {
        if !self.timeout.is_finite() || self.timeout <= 0.0 {
            bail!("--timeout must be a positive number of seconds");
        }
        Ok(Client::new(
            self.cluster.clone(),
            Duration::from_secs_f64(self.timeout),
        ))
    }
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("cond").required(true).multiple(false))]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(false))]
struct TxnArgs {
    #[command(flatten)]
    c: ClusterArgs,
    /// The key.
    key: String,
    /// Condition: the key holds exactly this value.
    #[arg(long, group = "cond")]
    if_value: Option<String>,
    /// Condition: the key does not exist.
    #[arg(long, group = "cond")]
    if_absent: bool,
    /// Condition: the key was last written at this log index.
    #[arg(long, group = "cond")]
    if_mod_index: Option<u64>,
    /// Change: set the key to this value.
    #[arg(long, group = "change")]
    put: Option<String>,
    /// Change: remove the key.
    #[arg(long, group = "change")]
    delete: bool,
}

fn parse_peers(peers: &[String]) -> Result<BTreeMap<u64, String>> {
    let mut out = BTreeMap::new();
    for p in peers {
        let (id, addr) = p
            .split_once('=')
            .with_context(|| format!("peer {p:?} is not ID=ADDR"))?;
        let id: u64 = id
            .parse()
            .with_context(|| format!("peer id {id:?} is not a number"))?;
        if out.insert(id, addr.to_string()).is_some() {
            bail!("peer id {id} given twice");
        }
    }
    Ok(out)
}

async fn run_node(a: NodeArgs) -> Result<()> {
    let peers = parse_peers(&a.peers)?;
    if a.init && peers.get(&a.id) != Some(&a.addr) {
        bail!("--peers must list this node as {}={}", a.id, a.addr);
    }
    let dir = a
        .dir
        .unwrap_or_else(|| PathBuf::from(format!("rbolt-raft-{}", a.id)));
    let listener = tokio::net::TcpListener::bind(&a.addr)
        .await
        .with_context(|| format!("cannot listen on {}", a.addr))?;
    let node = Arc::new(
        Node::start(a.id, &dir, default_config(), TcpNetworkFactory)
            .await
            .with_context(|| format!("cannot open {}", dir.display()))?,
    );
    eprintln!(
        "node {} listening on {} (data in {})",
        a.id,
        a.addr,
        dir.display()
    );
    let server = tokio::spawn(node.clone().serve(listener));
    if a.init && !node.raft().is_initialized().await? {
        node.initialize(&peers)
            .await
            .context("initializing the cluster")?;
        eprintln!(
            "node {}: cluster initialized with {} members",
            a.id,
            peers.len()
        );
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = server => { r??; }
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("node {}: shutting down", a.id);
    node.shutdown().await;
    Ok(())
}

fn print_prev(prev: Option<rbolt_raft::Versioned>) {
    if let Some(p) = prev {
        eprintln!(
            "previous value: {} (written at index {})",
            String::from_utf8_lossy(&p.value),
            p.mod_index
        );
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Node(a) => run_node(a).await?,
        Cmd::Put { c, key, value } => {
            let (index, prev) = c.client()?.put(key.as_bytes(), value.as_bytes()).await?;
            print_prev(prev);
            println!("OK index={index}");
        }
        Cmd::Get { c, key } => match c.client()?.get(key.as_bytes()).await? {
            Some(v) => println!("{}", String::from_utf8_lossy(&v.value)),
            None => {
                eprintln!("key not found");
                return Ok(ExitCode::from(1));
            }
        },
        Cmd::Delete { c, key } => {
            let (index, prev) = c.client()?.delete(key.as_bytes()).await?;
            if prev.is_none() {
                eprintln!("key did not exist");
            }
            println!("OK index={index}");
        }
        Cmd::Range {
            c,
            start,
            end,
            limit,
        } => {
            let end = end.unwrap_or_default();
            for (k, v) in c
                .client()?
                .range(start.as_bytes(), end.as_bytes(), limit)
                .await?
            {
                println!("{}\t{}", show(&k), String::from_utf8_lossy(&v.value));
            }
        }
        Cmd::Txn(t) => {
            let key = t.key.as_bytes().to_vec();
            let target = match (t.if_value, t.if_absent, t.if_mod_index) {
                (Some(v), _, _) => Target::Value(v.into_bytes()),
                (None, true, _) => Target::Absent,
                (None, false, Some(i)) => Target::ModIndex(i),
                _ => bail!("give one of --if-value, --if-absent, --if-mod-index"),
            };
            let op = match t.put {
                Some(v) => Op::Put {
                    key: key.clone(),
                    value: v.into_bytes(),
                },
                None => Op::Delete { key: key.clone() },
            };
            let txn = Txn {
                compare: vec![Compare { key, target }],
                success: vec![op],
                failure: vec![],
            };
            let (index, ok, results) = t.c.client()?.txn(txn).await?;
            if !ok {
                println!("compare failed index={index}");
                return Ok(ExitCode::from(3));
            }
            if let Some(OpResult::Put { prev } | OpResult::Delete { prev }) =
                results.into_iter().next()
            {
                print_prev(prev);
            }
            println!("OK index={index}");
        }
        Cmd::Status { c } => {
            let timeout = Duration::from_secs_f64(c.timeout.clamp(0.1, 60.0));
            println!(
                "{:<4} {:<10} {:>6} {:>7} {:>10} {:>10} {:>10} {:>10}  data hash",
                "id", "state", "term", "leader", "last log", "applied", "snapshot", "purged"
            );
            let mut failed = false;
            for addr in &c.cluster {
                match Client::status_of(addr, timeout).await {
                    Ok(s) => {
                        let o = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
                        println!(
                            "{:<4} {:<10} {:>6} {:>7} {:>10} {:>10} {:>10} {:>10}  {:016x}",
                            s.id,
                            s.state,
                            s.term,
                            o(s.leader),
                            o(s.last_log),
                            o(s.applied),
                            o(s.snapshot),
                            o(s.purged),
                            s.data_hash
                        );
                    }
                    Err(e) => {
                        failed = true;
                        eprintln!("{addr}: {e}");
                    }
                }
            }
            if failed {
                return Ok(ExitCode::from(1));
            }
        }
        Cmd::Demo(a) => return demo::demo(a).await,
        Cmd::Bench(a) => return demo::bench(a).await,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rbolt-raft: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rbolt-raft: {e:#}");
            ExitCode::from(1)
        }
    }
}
