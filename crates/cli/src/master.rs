//! `histo master`: a long-running cluster master. It registers under
//! `/masters`, stands for leader, runs jobs on the registered workers, and
//! serves the HTTP API and dashboard (the same server as `histo serve`).

use std::net::SocketAddr;

use anyhow::{Result, bail};
use histo_cluster::Admission;
use histo_cluster::{Cluster, Role, ZkConfig};

use crate::serve::{ServerArgs, run_server};
use crate::zk_args::ZkArgs;

/// Arguments of `histo master`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    zk: ZkArgs,

    /// Address the HTTP API and dashboard listen on.
    #[arg(long, env = "HISTO_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Address clients reach this master at, `HOST:PORT` (default: the
    /// listening address).
    #[arg(long, env = "HISTO_ADVERTISE", value_name = "HOST:PORT")]
    advertise: Option<String>,

    #[command(flatten)]
    server: ServerArgs,
}

/// Runs `histo master` until SIGINT/SIGTERM.
pub async fn run(args: Args) -> Result<()> {
    let Some(token) = args.server.token.read()? else {
        bail!("histo master needs the token all masters share: set HISTO_TOKEN or --token-file")
    };
    // The same token authenticates this master to the workers' RPC.
    let config = ZkConfig { rpc_token: Some(token.clone()), ..args.zk.required("master")? };
    let address = args.advertise.clone().unwrap_or_else(|| args.listen.to_string());
    let events = histo_server::logged_bus();
    let cluster = Cluster::zookeeper(config, Role::Master { address }, Admission::default(), events).await?;
    let server = args.server.config(cluster.clone(), token);
    println!("histo master {} joined the cluster", cluster.id());
    let result = run_server(args.listen, server, false, "master").await;
    cluster.close().await;
    result
}
