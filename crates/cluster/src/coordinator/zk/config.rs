//! How a process reaches ZooKeeper ([`ZkConfig`]), what it is there
//! ([`Role`]), and why ZooKeeper could not be used ([`ZkError`]).

use std::time::Duration;

use crate::token::Token;

/// Job summaries the leader keeps under `/jobs`.
pub const JOBS_RETAINED: usize = 500;

/// How to reach ZooKeeper.
#[derive(Clone, Debug)]
pub struct ZkConfig {
    /// `host:port[,host:port...]`.
    pub hosts: String,
    /// Root znode, e.g. `/histo`.
    pub root: String,
    /// Session timeout (the server may adjust it).
    pub session_timeout: Duration,
    /// Digest credentials `user:password`; when set, every node created is
    /// readable and writable by that identity only.
    pub auth: Option<String>,
    /// The cluster's token, presented to workers' RPC (masters and
    /// `histo equalize --zk`); workers that have it demand it.
    pub rpc_token: Option<Token>,
}

/// What this process is in the cluster.
#[derive(Clone, Debug)]
pub enum Role {
    /// A master whose HTTP API listens at `address`.
    Master {
        /// `host:port` of the HTTP API.
        address: String,
    },
    /// One job's master (`histo equalize --zk`): finds workers, is not
    /// registered and does not stand for leader.
    Client,
    /// A worker whose RPC listens at `address`, running `slots` tasks at once.
    Worker {
        /// `host:port` of the RPC.
        address: String,
        /// Tasks at once.
        slots: usize,
    },
}

/// Why ZooKeeper could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    /// Connecting failed.
    #[error("cannot connect to ZooKeeper at {hosts}: {source}")]
    Connect {
        /// The hosts.
        hosts: String,
        /// Why.
        source: zookeeper_client::Error,
    },
    /// An operation failed.
    #[error("ZooKeeper {op} {path} failed: {source}")]
    Op {
        /// What was done.
        op: &'static str,
        /// On which node.
        path: String,
        /// Why.
        source: zookeeper_client::Error,
    },
    /// The root is not an absolute path.
    #[error("invalid ZooKeeper root '{0}': must start with / and not end with /")]
    Root(String),
}
