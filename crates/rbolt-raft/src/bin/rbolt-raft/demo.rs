//! `demo` and `bench`: a three-process cluster on 127.0.0.1 started from this binary.

use anyhow::{Context, Result, bail};
use clap::Args;
use rbolt_raft::Client;
use rbolt_raft::process::ProcessCluster;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Writes before and after the leader is killed.
    #[arg(long, default_value_t = 300)]
    writes: u64,
    /// Keep node data here instead of a temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// Numbers of concurrent clients to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    clients: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Keep node data here instead of a temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn workdir(dir: Option<PathBuf>) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    match dir {
        Some(d) => Ok((d, None)),
        None => {
            let t = tempfile::Builder::new().prefix("rbolt-raft-").tempdir()?;
            Ok((t.path().to_path_buf(), Some(t)))
        }
    }
}

async fn write_batch(
    client: &mut Client,
    from: u64,
    to: u64,
    acked: &mut Vec<u64>,
) -> (u64, Duration) {
    let mut failed = 0;
    let mut worst = Duration::ZERO;
    for i in from..to {
        let t = Instant::now();
        match client
            .put(
                format!("demo/{i:06}").as_bytes(),
                format!("value-{i}").as_bytes(),
            )
            .await
        {
            Ok(_) => acked.push(i),
            Err(_) => failed += 1,
        }
        worst = worst.max(t.elapsed());
    }
    (failed, worst)
}

pub(crate) async fn demo(a: DemoArgs) -> Result<ExitCode> {
    let exe = std::env::current_exe()?;
    let (dir, _tmp) = workdir(a.dir)?;
    eprintln!(
        "starting 3 nodes on 127.0.0.1 (data and logs in {})",
        dir.display()
    );
    let mut cluster = ProcessCluster::start(&exe, &dir, 3)
        .await
        .context("starting the cluster")?;
    let mut client = Client::new(cluster.addrs(), Duration::from_secs(10));
    let mut acked = Vec::new();
    let (f1, _) = write_batch(&mut client, 0, a.writes, &mut acked).await;
    let leader = cluster.wait_leader(Duration::from_secs(10)).await?;
    eprintln!(
        "wrote {} keys; killing leader node {leader} with SIGKILL",
        acked.len()
    );
    cluster.kill(leader).await?;
    let t = Instant::now();
    let (f2, worst) = write_batch(&mut client, a.writes, 2 * a.writes, &mut acked).await;
    let during = t.elapsed();
    let new_leader = cluster.wait_leader(Duration::from_secs(10)).await?;
    eprintln!("node {new_leader} took over; restarting node {leader}");
    cluster.spawn(leader)?;
    let hash = cluster.wait_converged(Duration::from_secs(30)).await?;
    let mut wrong = 0;
    for &i in &acked {
        let got = client.get(format!("demo/{i:06}").as_bytes()).await?;
        if got.map(|v| v.value) != Some(format!("value-{i}").into_bytes()) {
            wrong += 1;
        }
    }
    cluster.stop().await;
    println!("rbolt-raft demo: 3 node processes on 127.0.0.1");
    println!(
        "  writes acknowledged      {} of {}",
        acked.len(),
        2 * a.writes
    );
    println!("  writes not acknowledged  {}", f1 + f2);
    println!("  leader killed            node {leader} (SIGKILL), new leader node {new_leader}");
    println!(
        "  slowest write in failover {:.0} ms; {} writes after the kill took {:.2} s",
        worst.as_secs_f64() * 1e3,
        a.writes,
        during.as_secs_f64()
    );
    println!(
        "  node {leader} restarted; all 3 replicas applied the same log (data hash {hash:016x})"
    );
    println!(
        "  acknowledged writes read back linearizably: {} correct, {wrong} wrong or missing",
        acked.len() - wrong
    );
    if wrong > 0 {
        println!("FAILED");
        return Ok(ExitCode::from(1));
    }
    println!("OK");
    Ok(ExitCode::SUCCESS)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

async fn load(
    addrs: &[String],
    clients: usize,
    secs: u64,
    value_size: usize,
    reads: bool,
) -> Result<(f64, f64, f64, u64)> {
    let end = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let addrs = addrs.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(addrs, Duration::from_secs(10));
            let value = vec![b'x'; value_size];
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = 0u64;
            while Instant::now() < end {
                let key = format!("bench/{c:03}/{:04}", i % 1000);
                let t = Instant::now();
                let ok = if reads {
                    client.get(key.as_bytes()).await.is_ok()
                } else {
                    client.put(key.as_bytes(), &value).await.is_ok()
                };
                if ok {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    Ok((
        all.len() as f64 / elapsed,
        pct(&all, 0.5),
        pct(&all, 0.99),
        errors,
    ))
}

pub(crate) async fn bench(a: BenchArgs) -> Result<ExitCode> {
    if a.clients.contains(&0) || a.seconds == 0 {
        bail!("--clients and --seconds must be positive");
    }
    let exe = std::env::current_exe()?;
    let (dir, _tmp) = workdir(a.dir)?;
    eprintln!("starting 3 nodes on 127.0.0.1 (data in {})", dir.display());
    let mut cluster = ProcessCluster::start(&exe, &dir, 3)
        .await
        .context("starting the cluster")?;
    let addrs = cluster.addrs();
    println!(
        "3 node processes on 127.0.0.1, durable (fdatasync per commit), {}-byte values, {} s per row",
        a.value_size, a.seconds
    );
    println!(
        "{:<22} {:>8} {:>12} {:>9} {:>9} {:>7}",
        "workload", "clients", "ops/s", "p50 ms", "p99 ms", "errors"
    );
    for &c in &a.clients {
        let (rate, p50, p99, err) = load(&addrs, c, a.seconds, a.value_size, false).await?;
        println!(
            "{:<22} {:>8} {:>12.0} {:>9.2} {:>9.2} {:>7}",
            "put", c, rate, p50, p99, err
        );
    }
    for &c in &a.clients {
        let (rate, p50, p99, err) = load(&addrs, c, a.seconds, a.value_size, true).await?;
        println!(
            "{:<22} {:>8} {:>12.0} {:>9.2} {:>9.2} {:>7}",
            "get (read index)", c, rate, p50, p99, err
        );
    }
    cluster.stop().await;
    Ok(ExitCode::SUCCESS)
}
