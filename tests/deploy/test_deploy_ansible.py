"""Ansible: the playbook does what the cluster needs, with FQCN modules and
idempotency guards (ansible-lint and --syntax-check run in
scripts/validate-deploy)."""
from __future__ import annotations

from pathlib import Path

import yaml

from deploy_helpers import REPO

ANSIBLE = REPO / "deploy" / "ansible"


def tasks(role: str) -> list[dict]:
    return yaml.safe_load((ANSIBLE / "roles" / role / "tasks" / "main.yml").read_text(encoding="utf-8"))


def all_tasks() -> list[tuple[str, dict]]:
    out = []
    for path in sorted((ANSIBLE / "roles").glob("*/tasks/*.yml")):
        out.extend((path.parent.parent.name, t) for t in yaml.safe_load(path.read_text(encoding="utf-8")))
    return out


def module_of(task: dict) -> str:
    skip = {"name", "when", "register", "changed_when", "failed_when", "loop", "notify", "vars",
            "environment", "delegate_to", "no_log", "become", "tags"}
    (module,) = [k for k in task if k not in skip]
    return module


def test_layout():
    for name in ("playbook.yml", "ansible.cfg", "inventory/hosts.example.ini", "group_vars/all.yml"):
        assert (ANSIBLE / name).is_file(), name


def test_every_task_is_named_and_uses_fqcn():
    for role, task in all_tasks():
        assert task.get("name"), role
        assert "." in module_of(task), (role, task["name"])


def test_commands_are_guarded_for_idempotency():
    for role, task in all_tasks():
        module = module_of(task)
        if module in ("ansible.builtin.command", "ansible.builtin.shell"):
            args = task[module] if isinstance(task[module], dict) else {}
            assert "changed_when" in task or "creates" in args, (role, task["name"])


def test_kubernetes_is_pinned_from_pkgs_k8s_io_and_held():
    group_vars = yaml.safe_load((ANSIBLE / "group_vars" / "all.yml").read_text(encoding="utf-8"))
    minor, version = group_vars["kubernetes_minor"], group_vars["kubernetes_version"]
    # The apt repository (minor), kubeadm's version and the package pin agree.
    assert version.startswith(minor + "."), (minor, version)
    assert group_vars["kubernetes_package_version"].startswith(version + "-")
    text = (ANSIBLE / "roles" / "kubernetes_packages" / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert "pkgs.k8s.io/core:/stable:/v{{ kubernetes_minor }}" in text
    hold = [t for t in tasks("kubernetes_packages") if "ansible.builtin.dpkg_selections" in t]
    assert hold and hold[0]["ansible.builtin.dpkg_selections"]["selection"] == "hold"


def test_node_preparation():
    text = (ANSIBLE / "roles" / "base_os" / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert "swapoff -a" in text and "/etc/fstab" in text
    defaults = yaml.safe_load((ANSIBLE / "roles" / "base_os" / "defaults" / "main.yml").read_text(encoding="utf-8"))
    assert set(defaults["base_os_kernel_modules"]) == {"overlay", "br_netfilter"}
    assert defaults["base_os_sysctls"]["net.ipv4.ip_forward"] == "1"
    containerd = (ANSIBLE / "roles" / "containerd" / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert "SystemdCgroup = true" in containerd


def test_cluster_bootstrap_join_addons_and_backup():
    init = [t for t in tasks("control_plane") if t["name"].startswith("Initialise the control plane")]
    assert init and init[0]["ansible.builtin.command"]["creates"] == "{{ cluster_kubeconfig }}"
    join = "\n".join(str(t) for t in tasks("worker_join"))
    assert "--print-join-command" in join and "kubelet.conf" in join
    addons = "\n".join(str(t) for t in tasks("cluster_addons"))
    for needle in ("metrics-server", "local-path", "is-default-class", "ArgoCD", "argocd-app.yaml"):
        assert needle in addons, needle
    control_plane = "\n".join(str(t) for t in tasks("control_plane"))
    assert "tigera-operator" in control_plane  # Calico CNI
    backup = Path(ANSIBLE / "roles" / "etcd_backup" / "templates" / "etcd-snapshot.timer.j2").read_text(encoding="utf-8")
    assert "OnCalendar=" in backup


def test_playbook_order():
    plays = yaml.safe_load((ANSIBLE / "playbook.yml").read_text(encoding="utf-8"))
    roles = [r["role"] for p in plays for r in p["roles"]]
    assert roles.index("control_plane") < roles.index("worker_join") < roles.index("cluster_addons")
