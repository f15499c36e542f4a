//! `histo worker`: serves map and apply tasks over gRPC, registered in
//! ZooKeeper so masters find it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use histo_cluster::member::new_member_id;
use histo_cluster::worker::{DEFAULT_HELD_BYTES, WorkerCore};
use histo_cluster::{Role, ZooKeeper, rpc};

use crate::shutdown;
use crate::token_args::TokenArgs;
use crate::zk_args::ZkArgs;

/// Arguments of `histo worker`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    zk: ZkArgs,

    /// Address the RPC listens on (port 0 picks a free one).
    #[arg(long, env = "HISTO_LISTEN", default_value = "127.0.0.1:7070")]
    listen: SocketAddr,

    /// Address masters reach this worker at, `HOST:PORT` (default: the
    /// listening address; required when listening on all interfaces).
    #[arg(long, env = "HISTO_ADVERTISE", value_name = "HOST:PORT")]
    advertise: Option<String>,

    /// Tasks run at once (default: one per core).
    #[arg(long, env = "HISTO_SLOTS")]
    slots: Option<usize>,

    /// Chaos knob: wait this long before every task (e.g. `200ms`), to make
    /// jobs long enough to disturb in experiments.
    #[arg(long, env = "HISTO_CHAOS_TASK_DELAY", value_parser = humantime::parse_duration)]
    chaos_task_delay: Option<std::time::Duration>,

    /// Most bytes of strips kept between map and apply.
    #[arg(long, env = "HISTO_MAX_HELD_BYTES", default_value_t = DEFAULT_HELD_BYTES)]
    max_held_bytes: usize,

    /// The cluster's token: with one, the RPC refuses calls that do not
    /// present it (masters and `equalize --zk` present theirs).
    #[command(flatten)]
    token: TokenArgs,
}

/// Runs `histo worker` until SIGINT/SIGTERM.
pub async fn run(args: Args) -> Result<()> {
    let config = args.zk.required("worker")?;
    let token = args.token.read()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let address = match args.advertise {
        Some(a) => a,
        None if local.ip().is_unspecified() => {
            bail!("listening on all interfaces: give --advertise HOST:PORT so masters can reach this worker")
        }
        None => local.to_string(),
    };
    let slots = args.slots.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let id = new_member_id("worker");
    let core = WorkerCore::new(id.clone(), slots, args.max_held_bytes);
    let core = Arc::new(core.with_task_delay(args.chaos_task_delay.unwrap_or_default()));
    let zk = ZooKeeper::start(
        config,
        id.clone(),
        Role::Worker { address: address.clone(), slots },
        histo_server::logged_bus(),
    )
    .await?;
    println!("histo worker {id} listening on {local}, advertised as {address}, {slots} slots");
    rpc::serve(listener, core, token, shutdown::signal()).await.context("worker RPC failed")?;
    zk.close().await;
    Ok(())
}
