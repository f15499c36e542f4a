//! What a master follows in ZooKeeper while its session lives: the workers
//! (as links the scheduler uses), the masters and the leader, and its own
//! candidacy in the leader election, with the leader's housekeeping.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use zookeeper_client::{Client, CreateMode, LockOptions, LockPrefix};

use super::nodes::{LeaderNode, MasterNode, WorkerNode};
use super::{JOBS_RETAINED, ZooKeeper};
use crate::events::{Event, Health};
use crate::link::WorkerLink;
use crate::member::{MasterInfo, WorkerInfo};

impl ZooKeeper {
    /// Keeps the worker cache in step with `/workers`. On a connection
    /// problem the cache stays as it was and the watch is set again.
    pub(super) async fn watch_workers(self: Arc<Self>, client: Client) {
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
        match WorkerLink::remote(info.clone(), self.config.rpc_token.as_ref()) {
            Ok(link) => Arc::new(link),
            Err(e) => {
                tracing::warn!(worker = %info.id, "{e}");
                Arc::new(WorkerLink::remote(WorkerInfo { address: "0.0.0.0:1".into(), ..info }, None).expect("valid"))
            }
        }
    }

    pub(super) async fn watch_masters(self: Arc<Self>, client: Client) {
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
    pub(super) async fn elect(self: Arc<Self>, client: Client) {
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
        self.events.publish(Event::health(Health::Leader { id: self.id.clone() }));
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
