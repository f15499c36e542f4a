//! `histo master`: a long-running cluster master. It registers under
//! `/masters`, stands for leader, and runs jobs on the registered workers.

use std::net::SocketAddr;

use anyhow::Result;
use histo_cluster::cluster::Admission;
use histo_cluster::{Cluster, EventBus, Role};

use crate::shutdown;
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
}

/// Runs `histo master` until SIGINT/SIGTERM.
pub async fn run(args: Args) -> Result<()> {
    let config = args.zk.required("master")?;
    let address = args.advertise.unwrap_or_else(|| args.listen.to_string());
    let cluster = Cluster::zookeeper(config, Role::Master { address }, Admission::default(), EventBus::new()).await?;
    println!("histo master {} joined the cluster", cluster.id());
    shutdown::signal().await;
    cluster.close().await;
    Ok(())
}
