//! The ZooKeeper coordinator: registration, discovery, leader election and
//! job records under a root znode (default `/histo`), with the connection
//! states of Apache Curator.
//!
//! ```text
//! /histo/workers/<id>     ephemeral  {"address","slots","version","started"}
//! /histo/masters/<id>     ephemeral  {"address","version","started"}
//! /histo/election/_c_...  ephemeral sequential (each candidate watches only its predecessor)
//! /histo/leader           ephemeral  {"id"}
//! /histo/jobs/<job-id>    persistent job summary; the leader keeps the newest JOBS_RETAINED
//! ```
//!
//! One task owns the session. When the connection drops it reports
//! `SUSPENDED` and keeps every cache (a master goes on using the workers it
//! knew); if the connection stays down for the session timeout it reports
//! `LOST` and gives up leadership. A new session re-registers, re-joins the
//! election and reports `RECONNECTED`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, LockOptions, LockPrefix, SessionState};

use crate::coordinator::Coordinator;
use crate::events::{ConnectionState, Event, EventBus, now};
use crate::link::WorkerLink;
use crate::member::{MasterInfo, WorkerInfo};
use crate::record::JobRecord;
use crate::scheduler::WorkerSource;

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

#[derive(Serialize, Deserialize)]
struct WorkerNode {
    address: String,
    slots: usize,
    version: String,
    started: String,
}

#[derive(Serialize, Deserialize)]
struct MasterNode {
    address: String,
    version: String,
    started: String,
}

#[derive(Serialize, Deserialize)]
struct LeaderNode {
    id: String,
}

/// The job summary stored under `/jobs`: the record without its tasks and
/// histograms.
#[derive(Serialize)]
struct JobNode<'a> {
    id: &'a str,
    state: crate::record::JobState,
    master: &'a str,
    created: &'a str,
    width: u32,
    height: u32,
    mode: &'a str,
    method: &'a str,
    format: &'a str,
    bytes_in: u64,
    bytes_out: u64,
    timings: &'a crate::record::Timings,
    error: Option<&'a str>,
}

#[derive(Default)]
struct Caches {
    workers: Vec<Arc<WorkerLink>>,
    masters: Vec<MasterInfo>,
    leader: Option<String>,
}

/// A process's membership in a ZooKeeper-coordinated cluster.
pub struct ZooKeeper {
    config: ZkConfig,
    id: String,
    role: Role,
    started: String,
    events: EventBus,
    state: Mutex<ConnectionState>,
    client: Mutex<Option<Client>>,
    caches: Mutex<Caches>,
    leading: AtomicBool,
    closing: AtomicBool,
    sessions: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ZooKeeper {
    /// Connects (failing if ZooKeeper cannot be reached within the session
    /// timeout), registers, and keeps the membership alive in the background.
    pub async fn start(config: ZkConfig, id: String, role: Role, events: EventBus) -> Result<Arc<Self>, ZkError> {
        if !config.root.starts_with('/') || (config.root.len() > 1 && config.root.ends_with('/')) {
            return Err(ZkError::Root(config.root));
        }
        let zk = Arc::new(ZooKeeper {
            config,
            id,
            role,
            started: now(),
            events,
            state: Mutex::new(ConnectionState::Suspended),
            client: Mutex::new(None),
            caches: Mutex::default(),
            leading: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            sessions: Mutex::new(None),
        });
        let client = zk.connect().await?;
        zk.prepare(&client).await?;
        zk.set_state(ConnectionState::Connected);
        let me = zk.clone();
        *zk.sessions.lock().expect("sessions lock") = Some(tokio::spawn(async move { me.run_sessions(client).await }));
        Ok(zk)
    }

    /// This process's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this master leads now.
    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    /// Leaves the cluster: deletes this process's nodes, then closes the
    /// session (which removes its election node), so others need not wait
    /// for the session timeout. Bounded: gives up after two seconds.
    pub async fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let client = self.client.lock().expect("client lock").take();
        if let Some(client) = client {
            let leave = async {
                if let Some(path) = self.member_path() {
                    let _ = client.delete(&path, None).await;
                }
                if self.is_leader() {
                    let _ = client.delete(&self.path("leader"), None).await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), leave).await;
        }
        // Dropping the last handle to the session closes it.
        let task = self.sessions.lock().expect("sessions lock").take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        // A moment for the close to go out, so others see a member leave at
        // once; a client owns no node, so nobody waits on its session.
        if !matches!(self.role, Role::Client) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn path(&self, child: &str) -> String {
        if self.config.root == "/" { format!("/{child}") } else { format!("{}/{child}", self.config.root) }
    }

    /// This process's node (none for a client).
    fn member_path(&self) -> Option<String> {
        match self.role {
            Role::Master { .. } => Some(self.path(&format!("masters/{}", self.id))),
            Role::Worker { .. } => Some(self.path(&format!("workers/{}", self.id))),
            Role::Client => None,
        }
    }

    fn acls(&self) -> Acls<'static> {
        if self.config.auth.is_some() { Acls::creator_all() } else { Acls::anyone_all() }
    }

    fn set_state(&self, state: ConnectionState) {
        *self.state.lock().expect("state lock") = state;
        self.events.publish(Event::observability("zookeeper", state.name(), state.message("ZooKeeper")));
    }

    async fn connect(&self) -> Result<Client, ZkError> {
        let mut connector = Client::connector().with_session_timeout(self.config.session_timeout);
        if let Some(auth) = &self.config.auth {
            connector = connector.with_auth("digest", auth.as_bytes());
        }
        let fut = connector.connect(&self.config.hosts);
        let client = tokio::time::timeout(self.config.session_timeout.max(Duration::from_secs(2)), fut)
            .await
            .map_err(|_| ZkError::Connect {
                hosts: self.config.hosts.clone(),
                source: zookeeper_client::Error::Timeout,
            })?
            .map_err(|source| ZkError::Connect { hosts: self.config.hosts.clone(), source })?;
        *self.client.lock().expect("client lock") = Some(client.clone());
        Ok(client)
    }

    /// Creates the tree and this process's ephemeral node.
    async fn prepare(&self, client: &Client) -> Result<(), ZkError> {
        let acls = self.acls();
        let persistent = CreateMode::Persistent.with_acls(acls);
        for dir in ["workers", "masters", "election", "jobs"] {
            let path = self.path(dir);
            match client.mkdir(&path, &persistent).await {
                Ok(()) | Err(zookeeper_client::Error::NodeExists) => {}
                Err(source) => return Err(ZkError::Op { op: "create", path, source }),
            }
        }
        let data = match &self.role {
            Role::Master { address } => serde_json::to_vec(&MasterNode {
                address: address.clone(),
                version: version(),
                started: self.started.clone(),
            }),
            Role::Worker { address, slots } => serde_json::to_vec(&WorkerNode {
                address: address.clone(),
                slots: *slots,
                version: version(),
                started: self.started.clone(),
            }),
            Role::Client => return Ok(()),
        }
        .expect("node data serializes");
        let Some(path) = self.member_path() else { return Ok(()) };
        let ephemeral = CreateMode::Ephemeral.with_acls(acls);
        // A node left by an earlier session of this process is replaced.
        let _ = client.delete(&path, None).await;
        if let Err(source) = client.create(&path, &data, &ephemeral).await {
            return Err(ZkError::Op { op: "create", path, source });
        }
        tracing::info!(node = %path, "registered in ZooKeeper");
        Ok(())
    }

    /// Runs one session after another until the process closes.
    async fn run_sessions(self: Arc<Self>, mut client: Client) {
        loop {
            let mut tasks = JoinSet::new();
            if matches!(self.role, Role::Master { .. } | Role::Client) {
                let me = self.clone();
                let c = client.clone();
                tasks.spawn(async move { me.watch_workers(c).await });
            }
            if matches!(self.role, Role::Master { .. }) {
                let me = self.clone();
                let c = client.clone();
                tasks.spawn(async move { me.watch_masters(c).await });
                let me = self.clone();
                let c = client.clone();
                tasks.spawn(async move { me.elect(c).await });
            }
            self.watch_state(&client).await;
            tasks.abort_all();
            self.leading.store(false, Ordering::SeqCst);
            if self.closing.load(Ordering::SeqCst) {
                return;
            }
            // The session is gone: start a new one, as many times as it takes.
            client = loop {
                if self.closing.load(Ordering::SeqCst) {
                    return;
                }
                match self.connect().await {
                    Ok(c) => match self.prepare(&c).await {
                        Ok(()) => break c,
                        Err(e) => tracing::warn!("cannot register again: {e}"),
                    },
                    Err(e) => tracing::warn!("{e}"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            self.set_state(ConnectionState::Reconnected);
        }
    }

    /// Follows the session's state until it ends; reports each change.
    async fn watch_state(&self, client: &Client) {
        let mut watcher = client.state_watcher();
        let mut lost_timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        let mut lost = false;
        loop {
            let changed = async {
                match &mut lost_timer {
                    Some(t) => {
                        t.as_mut().await;
                        None
                    }
                    None => std::future::pending().await,
                }
            };
            let state = tokio::select! {
                s = watcher.changed() => Some(s),
                none = changed => none,
            };
            match state {
                // Down for a whole session timeout: as Curator does, count the
                // session as lost and give up leadership.
                None => {
                    lost_timer = None;
                    lost = true;
                    self.leading.store(false, Ordering::SeqCst);
                    self.set_state(ConnectionState::Lost);
                }
                Some(SessionState::Disconnected) => {
                    self.set_state(ConnectionState::Suspended);
                    lost_timer = Some(Box::pin(tokio::time::sleep(self.config.session_timeout)));
                }
                Some(SessionState::SyncConnected) => {
                    lost_timer = None;
                    self.set_state(ConnectionState::Reconnected);
                }
                Some(SessionState::ConnectedReadOnly) => self.set_state(ConnectionState::ReadOnly),
                Some(SessionState::Expired) => {
                    if !lost {
                        self.set_state(ConnectionState::Lost);
                    }
                    return;
                }
                Some(SessionState::Closed | SessionState::AuthFailed) => {
                    if !self.closing.load(Ordering::SeqCst) {
                        self.set_state(ConnectionState::Lost);
                    }
                    return;
                }
            }
        }
    }

    /// Keeps the worker cache in step with `/workers`. On a connection
    /// problem the cache stays as it was and the watch is set again.
    async fn watch_workers(self: Arc<Self>, client: Client) {
        let dir = self.path("workers");
        loop {
            match client.list_and_watch_children(&dir).await {
                Ok((children, watcher)) => {
                    let mut links = Vec::new();
                    for id in children {
                        let Ok((data, _)) = client.get_data(&format!("{dir}/{id}")).await else { continue };
                        let Ok(node) = serde_json::from_slice::<WorkerNode>(&data) else {
                            tracing::warn!(worker = %id, "ignoring a worker node that is not histo's");
                            continue;
                        };
                        links.push(self.link_for(id, node));
                    }
                    self.caches.lock().expect("caches lock").workers = links;
                    watcher.changed().await;
                }
                Err(e) => {
                    tracing::debug!("worker watch: {e}");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    /// Reuses the existing link to a worker whose address did not change.
    fn link_for(&self, id: String, node: WorkerNode) -> Arc<WorkerLink> {
        let caches = self.caches.lock().expect("caches lock");
        if let Some(l) = caches.workers.iter().find(|l| l.id() == id && l.info().address == node.address) {
            return l.clone();
        }
        drop(caches);
        let info = WorkerInfo {
            id,
            address: node.address,
            slots: node.slots,
            busy: 0,
            version: node.version,
            started: node.started,
        };
        match WorkerLink::remote(info.clone()) {
            Ok(link) => Arc::new(link),
            Err(e) => {
                tracing::warn!(worker = %info.id, "{e}");
                Arc::new(WorkerLink::remote(WorkerInfo { address: "0.0.0.0:1".into(), ..info }).expect("valid"))
            }
        }
    }

    async fn watch_masters(self: Arc<Self>, client: Client) {
        let dir = self.path("masters");
        let leader_path = self.path("leader");
        loop {
            let result = async {
                let (children, watcher) = client.list_and_watch_children(&dir).await?;
                let mut masters = Vec::new();
                for id in children {
                    if let Ok((data, _)) = client.get_data(&format!("{dir}/{id}")).await
                        && let Ok(n) = serde_json::from_slice::<MasterNode>(&data)
                    {
                        masters.push(MasterInfo { id, address: n.address, version: n.version, started: n.started });
                    }
                }
                let leader = match client.get_data(&leader_path).await {
                    Ok((data, _)) => serde_json::from_slice::<LeaderNode>(&data).ok().map(|l| l.id),
                    Err(_) => None,
                };
                let mut caches = self.caches.lock().expect("caches lock");
                caches.masters = masters;
                caches.leader = leader;
                drop(caches);
                Ok::<_, zookeeper_client::Error>(watcher)
            }
            .await;
            match result {
                // Membership changes show quickly; the leader node is
                // re-read at least every second.
                Ok(watcher) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), watcher.changed()).await;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// Contends for leadership (each candidate waits on its predecessor
    /// only); once leading, writes `/leader` and keeps `/jobs` trimmed.
    async fn elect(self: Arc<Self>, client: Client) {
        let acls = self.acls();
        let dir = self.path("election");
        let prefix = match LockPrefix::new_curator(&dir, "latch-") {
            Ok(p) => p,
            Err(e) => return tracing::error!("bad election path {dir}: {e}"),
        };
        let lock = match client.lock(prefix, self.id.as_bytes(), LockOptions::new(acls)).await {
            Ok(l) => l,
            Err(e) => return tracing::warn!("leader election ended: {e}"),
        };
        let leader = serde_json::to_vec(&LeaderNode { id: self.id.clone() }).expect("serializes");
        let path = self.path("leader");
        let ephemeral = CreateMode::Ephemeral.with_acls(acls);
        // A stale leader node can only belong to an expired session; it goes
        // with that session, so wait for it rather than overwrite it.
        loop {
            match client.create(&path, &leader, &ephemeral).await {
                Ok(_) => break,
                Err(zookeeper_client::Error::NodeExists) => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(e) => return tracing::warn!("cannot write {path}: {e}"),
            }
        }
        self.leading.store(true, Ordering::SeqCst);
        self.caches.lock().expect("caches lock").leader = Some(self.id.clone());
        self.events.publish(Event::observability(
            "leader",
            "LEADER",
            format!("Leader election: OK ({} leads)", self.id),
        ));
        loop {
            self.trim_jobs(&client).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            if !self.is_leader() {
                break;
            }
        }
        drop(lock);
    }

    async fn trim_jobs(&self, client: &Client) {
        let dir = self.path("jobs");
        let Ok(children) = client.list_children(&dir).await else { return };
        if children.len() <= JOBS_RETAINED {
            return;
        }
        let mut aged = Vec::with_capacity(children.len());
        for id in children {
            let path = format!("{dir}/{id}");
            if let Ok(Some(stat)) = client.check_stat(&path).await {
                aged.push((stat.czxid, path));
            }
        }
        aged.sort_unstable();
        let excess = aged.len().saturating_sub(JOBS_RETAINED);
        for (_, path) in aged.into_iter().take(excess) {
            let _ = client.delete(&path, None).await;
        }
    }
}

fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

impl WorkerSource for ZooKeeper {
    fn workers(&self) -> Vec<Arc<WorkerLink>> {
        self.caches.lock().expect("caches lock").workers.clone()
    }
}

impl Coordinator for ZooKeeper {
    fn kind(&self) -> &'static str {
        "zookeeper"
    }

    fn state(&self) -> ConnectionState {
        *self.state.lock().expect("state lock")
    }

    fn masters(&self) -> Vec<MasterInfo> {
        self.caches.lock().expect("caches lock").masters.clone()
    }

    fn leader(&self) -> Option<String> {
        self.caches.lock().expect("caches lock").leader.clone()
    }

    fn record_job(&self, record: &JobRecord) -> Option<tokio::task::JoinHandle<()>> {
        let client = self.client.lock().expect("client lock").clone()?;
        let node = JobNode {
            id: record.id.as_str(),
            state: record.state,
            master: &record.master,
            created: &record.created,
            width: record.width,
            height: record.height,
            mode: &record.mode,
            method: &record.method,
            format: &record.format,
            bytes_in: record.bytes_in,
            bytes_out: record.bytes_out,
            timings: &record.timings,
            error: record.error.as_deref(),
        };
        let data = serde_json::to_vec(&node).expect("serializes");
        let path = self.path(&format!("jobs/{}", record.id));
        let options: CreateOptions<'static> = CreateMode::Persistent.with_acls(self.acls());
        Some(tokio::spawn(async move {
            if let Err(e) = client.create(&path, &data, &options).await {
                tracing::debug!("cannot record job at {path}: {e}");
            }
        }))
    }
}
