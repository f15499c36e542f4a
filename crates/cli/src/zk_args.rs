//! The ZooKeeper flags shared by `master`, `worker` and `equalize --zk`.

use std::time::Duration;

use anyhow::{Result, bail};
use histo_cluster::ZkConfig;

/// How to reach the cluster's ZooKeeper.
#[derive(clap::Args, Debug)]
pub struct ZkArgs {
    /// ZooKeeper ensemble, `host:port[,host:port...]`.
    #[arg(long, env = "HISTO_ZK", value_name = "HOSTS")]
    pub zk: Option<String>,

    /// Root znode of this cluster.
    #[arg(long, env = "HISTO_ZK_ROOT", default_value = "/histo", value_name = "PATH")]
    pub zk_root: String,

    /// ZooKeeper session timeout: after it, a lost connection is a lost
    /// session (ephemeral nodes gone, leadership given up).
    #[arg(long, env = "HISTO_ZK_SESSION_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub zk_session_timeout: Duration,

    /// Digest credentials `USER:PASSWORD`: every znode histo creates is then
    /// readable and writable by that identity only.
    #[arg(long, env = "HISTO_ZK_AUTH", value_name = "USER:PASSWORD", hide_env_values = true)]
    pub zk_auth: Option<String>,
}

impl ZkArgs {
    /// The configuration, if `--zk` was given.
    pub fn config(&self) -> Result<Option<ZkConfig>> {
        let Some(hosts) = &self.zk else { return Ok(None) };
        if self.zk_auth.as_ref().is_some_and(|a| !a.contains(':')) {
            bail!("--zk-auth must be USER:PASSWORD");
        }
        Ok(Some(ZkConfig {
            hosts: hosts.clone(),
            root: self.zk_root.clone(),
            session_timeout: self.zk_session_timeout,
            auth: self.zk_auth.clone(),
            rpc_token: None,
        }))
    }

    /// The configuration; `--zk` is required.
    pub fn required(&self, command: &str) -> Result<ZkConfig> {
        match self.config()? {
            Some(c) => Ok(c),
            None => bail!("histo {command} needs --zk HOSTS (or HISTO_ZK)"),
        }
    }
}
