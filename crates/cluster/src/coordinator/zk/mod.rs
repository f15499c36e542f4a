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

mod config;
mod membership;
mod nodes;
mod session;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions};

pub use config::{JOBS_RETAINED, Role, ZkConfig, ZkError};
use nodes::{JobNode, MasterNode, WorkerNode, version};
use session::Change;

use crate::coordinator::Coordinator;
use crate::events::{ConnectionState, CoordinatorKind, Event, EventBus, now};
use crate::link::WorkerLink;
use crate::member::MasterInfo;
use crate::record::JobRecord;
use crate::scheduler::WorkerSource;

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
        self.events.publish(Event::connection(CoordinatorKind::ZooKeeper, state));
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
        let states = futures::stream::unfold(client.state_watcher(), |mut watcher| async {
            let state = watcher.changed().await;
            Some((state, watcher))
        });
        let closing = || self.closing.load(Ordering::SeqCst);
        session::follow(self.config.session_timeout, states, closing, |change| match change {
            Change::Report(state) => self.set_state(state),
            Change::Lost => {
                self.leading.store(false, Ordering::SeqCst);
                self.set_state(ConnectionState::Lost);
            }
        })
        .await;
    }
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
        let node = JobNode::of(record);
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
