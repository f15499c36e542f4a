//! The YAML parts of the replay, parsed with serde_norway: Tinkerbell's
//! Hardware, Template and Workflow objects, the Ansible playbook and its
//! roles, the Kubernetes steps those roles take, and ArgoCD's sync of the
//! kustomize base.

use anyhow::Context;
use serde::Deserialize;
use serde_norway::Value;

use crate::replay::{Phase, Replay, shorten};

const HARDWARE: &str = "deploy/tinkerbell/hardware.yaml";
const TEMPLATE: &str = "deploy/tinkerbell/template.yaml";
const WORKFLOW: &str = "deploy/tinkerbell/workflow.yaml";
const PLAYBOOK: &str = "deploy/ansible/playbook.yml";
const GROUP_VARS: &str = "deploy/ansible/group_vars/all.yml";
const APP: &str = "deploy/gitops/argocd-app.yaml";
const KUSTOMIZATION: &str = "k8s/base/kustomization.yaml";

/// The non-empty documents of a (multi-document) YAML text.
fn documents(text: &str, rel: &str) -> anyhow::Result<Vec<Value>> {
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(doc).with_context(|| format!("cannot parse {rel}"))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

fn read_docs(r: &Replay, rel: &str) -> anyhow::Result<Vec<Value>> {
    documents(&r.read(rel)?, rel)
}

/// The value at `path` (mapping keys, or list indices as numbers).
fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| match key.parse::<usize>() {
        Ok(i) => v.get(i),
        Err(_) => v.get(*key),
    })
}

/// A scalar at `path` as text; empty when absent.
fn text(value: &Value, path: &[&str]) -> String {
    match at(value, path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn list<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path).and_then(Value::as_sequence).map_or(&[], Vec::as_slice)
}

/// The objects of a manifest file: (kind, metadata.name).
fn objects(docs: &[Value]) -> Vec<(String, String)> {
    docs.iter()
        .filter(|d| d.get("kind").is_some())
        .map(|d| (text(d, &["kind"]), text(d, &["metadata", "name"])))
        .collect()
}

pub fn tinkerbell(r: &mut Replay) -> anyhow::Result<()> {
    for hw in read_docs(r, HARDWARE)? {
        let (name, dhcp) = (text(&hw, &["metadata", "name"]), ["spec", "interfaces", "0", "dhcp"]);
        let mac = text(&hw, &[&dhcp[..], &["mac"]].concat());
        let ip = text(&hw, &[&dhcp[..], &["ip", "address"]].concat());
        let pxe = text(&hw, &["spec", "interfaces", "0", "netboot", "allowPXE"]);
        r.push(
            Phase::Tinkerbell,
            HARDWARE,
            format!("Hardware {name}: MAC {mac}, IP {ip}, allowPXE {pxe}: Smee DHCP → iPXE → HookOS"),
        );
    }
    for template in read_docs(r, TEMPLATE)? {
        let name = text(&template, &["metadata", "name"]);
        // The workflow itself is YAML inside the object's `spec.data`.
        let data = documents(&text(&template, &["spec", "data"]), TEMPLATE)?;
        for task in data.iter().flat_map(|d| list(d, &["tasks"])) {
            for action in list(task, &["actions"]) {
                let (action, image) = (text(action, &["name"]), text(action, &["image"]));
                r.push(Phase::Tinkerbell, TEMPLATE, format!("template {name}: action {action} ({image})"));
            }
        }
    }
    for workflow in read_docs(r, WORKFLOW)? {
        let name = text(&workflow, &["metadata", "name"]);
        let template = text(&workflow, &["spec", "templateRef"]);
        let hardware = text(&workflow, &["spec", "hardwareRef"]);
        r.push(
            Phase::Tinkerbell,
            WORKFLOW,
            format!("Workflow {name}: {template} on {hardware}, netboot toggled off after install"),
        );
    }
    Ok(())
}

fn tasks_file(role: &str) -> String {
    format!("deploy/ansible/roles/{role}/tasks/main.yml")
}

/// The names of a task file's top-level tasks.
fn task_names(r: &Replay, role: &str) -> anyhow::Result<Vec<String>> {
    let file = tasks_file(role);
    Ok(read_docs(r, &file)?
        .iter()
        .flat_map(|d| d.as_sequence().cloned().unwrap_or_default())
        .map(|t| text(&t, &["name"]))
        .collect())
}

/// Replays the playbook's plays and roles; returns the roles in order.
pub fn ansible(r: &mut Replay) -> anyhow::Result<Vec<String>> {
    let mut all_roles = Vec::new();
    for play in read_docs(r, PLAYBOOK)?.iter().flat_map(|d| d.as_sequence().cloned().unwrap_or_default()) {
        let (name, hosts) = (text(&play, &["name"]), text(&play, &["hosts"]));
        r.push(Phase::Ansible, PLAYBOOK, format!("PLAY [{name}] hosts: {hosts}"));
        for role in list(&play, &["roles"]) {
            let role = match role {
                Value::String(s) => s.clone(),
                other => text(other, &["role"]),
            };
            let names = task_names(r, &role)?;
            let summary = shorten(&names.join(" · "), 150);
            r.push(Phase::Ansible, &tasks_file(&role), format!("role {role} ({} tasks): {summary}", names.len()));
            all_roles.push(role);
        }
    }
    Ok(all_roles)
}

pub fn kubernetes(r: &mut Replay, roles: &[String]) -> anyhow::Result<()> {
    let vars = read_docs(r, GROUP_VARS)?.into_iter().next().unwrap_or(Value::Null);
    let var = |k: &str| Some(text(&vars, &[k])).filter(|v| !v.is_empty()).unwrap_or_else(|| k.to_owned());
    for role in roles {
        for task in task_names(r, role)? {
            let lower = task.to_lowercase();
            let message = if lower.contains("kubeadm init") {
                format!(
                    "{task}: Kubernetes v{}, pod network {}, service network {}",
                    var("kubernetes_version"),
                    var("pod_network_cidr"),
                    var("service_cidr")
                )
            } else if lower.contains("kubeadm join") {
                format!("{task} (one worker at a time)")
            } else if lower.contains("tigera") || lower.contains("configure calico") {
                format!("{task}: Calico {}", var("calico_version"))
            } else if lower.starts_with("install argocd") {
                format!("{task} {}", var("argocd_version"))
            } else if lower.starts_with("install metrics-server") {
                format!("{task} {}", var("metrics_server_version"))
            } else if lower.contains("be ready") || lower.contains("local-path provisioner") {
                task.clone()
            } else {
                continue;
            };
            r.push(Phase::Kubernetes, &tasks_file(role), message);
        }
    }
    Ok(())
}

pub fn argocd(r: &mut Replay) -> anyhow::Result<()> {
    let app = read_docs(r, APP)?.into_iter().next().context("no Application")?;
    let field = |path: &[&str]| text(&app, path);
    r.push(
        Phase::Argocd,
        APP,
        format!(
            "Application {}: {} @ {}, path {} → namespace {}",
            field(&["metadata", "name"]),
            field(&["spec", "source", "repoURL"]),
            field(&["spec", "source", "targetRevision"]),
            field(&["spec", "source", "path"]),
            field(&["spec", "destination", "namespace"]),
        ),
    );
    let options: Vec<String> =
        list(&app, &["spec", "syncPolicy", "syncOptions"]).iter().map(|o| text(o, &[])).collect();
    r.push(
        Phase::Argocd,
        APP,
        format!(
            "syncPolicy automated: prune {}, selfHeal {}; {}",
            field(&["spec", "syncPolicy", "automated", "prune"]),
            field(&["spec", "syncPolicy", "automated", "selfHeal"]),
            options.join(", ")
        ),
    );
    let kustomization = read_docs(r, KUSTOMIZATION)?.into_iter().next().context("no Kustomization")?;
    let files: Vec<String> = list(&kustomization, &["resources"]).iter().map(|f| text(f, &[])).collect();
    r.push(Phase::Argocd, KUSTOMIZATION, format!("kustomize build: {}", files.join(", ")));
    let mut synced = 0;
    for file in files {
        let source = format!("k8s/base/{file}");
        let objects = objects(&read_docs(r, &source)?);
        synced += objects.len();
        let (policies, workloads): (Vec<_>, Vec<_>) = objects.into_iter().partition(|(k, _)| k == "NetworkPolicy");
        for (kind, name) in workloads {
            r.push(Phase::Argocd, &source, format!("sync {kind}/{name}: Synced"));
        }
        if !policies.is_empty() {
            let names: Vec<String> = policies.into_iter().map(|(_, n)| n).collect();
            r.push(Phase::Argocd, &source, format!("sync NetworkPolicy × {}: {}", names.len(), names.join(", ")));
        }
    }
    r.push(Phase::Argocd, APP, format!("Sync complete: {synced} objects Synced, application Healthy"));
    Ok(())
}
