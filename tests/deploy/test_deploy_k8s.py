"""Rendered kustomize overlays: the invariants the deployment relies on.

(Schema validation of the same output with kubernetes-validate --strict runs
in scripts/validate-deploy.)"""
from __future__ import annotations

import pytest

from deploy_helpers import REPO, load_yaml_docs

POD_KINDS = {"Deployment", "StatefulSet"}


def index(docs):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def pod_workloads(docs):
    return [d for d in docs if d["kind"] in POD_KINDS]


def test_every_object_in_histo_namespace_with_labels(overlay):
    _, docs = overlay
    for d in docs:
        meta = d["metadata"]
        if d["kind"] != "Namespace":
            assert meta.get("namespace") == "histo", (d["kind"], meta["name"])
        labels = meta.get("labels", {})
        if d["kind"] != "NetworkPolicy":
            assert labels.get("app.kubernetes.io/part-of") == "histo", (d["kind"], meta["name"])
            assert "app.kubernetes.io/name" in labels, (d["kind"], meta["name"])


def test_namespace_enforces_restricted_pod_security(overlay):
    _, docs = overlay
    ns = index(docs)[("Namespace", "histo")]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_pods_meet_the_restricted_standard(overlay):
    _, docs = overlay
    for w in pod_workloads(docs):
        pod = w["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert sc["runAsUser"] >= 10000, c["name"]
            assert set(c["resources"]["requests"]) == {"cpu", "memory"}
            assert set(c["resources"]["limits"]) == {"cpu", "memory"}
            assert "livenessProbe" in c and "readinessProbe" in c, c["name"]
            assert ":" in c["image"] and not c["image"].endswith(":latest")


def test_zookeeper_ensemble(overlay):
    name, docs = overlay
    objs = index(docs)
    sts = objs[("StatefulSet", "zookeeper")]
    expected = {"laptop": 1, "baremetal": 3}[name]
    assert sts["spec"]["replicas"] == expected
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["serviceName"] == "zookeeper-headless"
    assert len(sts["spec"]["volumeClaimTemplates"]) == 2
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert len(env["ZOO_SERVERS"].split()) == expected
    assert set(env["ZOO_4LW_COMMANDS_WHITELIST"].split(",")) >= {"ruok", "srvr"}
    assert "ZK_SERVER_HEAP" in env
    assert "ruok" in " ".join(c["livenessProbe"]["exec"]["command"])
    assert "srvr" in " ".join(c["readinessProbe"]["exec"]["command"])
    anti = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert objs[("PodDisruptionBudget", "zookeeper")]["spec"]["maxUnavailable"] == 1
    headless = objs[("Service", "zookeeper-headless")]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {p["port"] for p in headless["ports"]} == {2181, 2888, 3888, 7000}
    assert objs[("Service", "zookeeper-client")]["spec"]["ports"][0]["port"] == 2181
    if name == "baremetal":
        for vct in sts["spec"]["volumeClaimTemplates"]:
            assert vct["spec"]["storageClassName"] == "local-path"


def test_masters_workers_and_service(overlay):
    _, docs = overlay
    objs = index(docs)
    master = objs[("Deployment", "histo-master")]
    assert master["spec"]["replicas"] == 2
    (mc,) = master["spec"]["template"]["spec"]["containers"]
    assert mc["args"][:5] == ["master", "--zk", "zookeeper-client:2181", "--listen", "0.0.0.0:8080"]
    # Masters register an address others can dial, not 0.0.0.0.
    assert mc["args"][mc["args"].index("--advertise") + 1] == "$(POD_IP):8080"
    pod_ip = next(e for e in mc["env"] if e["name"] == "POD_IP")
    assert pod_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert mc["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert mc["readinessProbe"]["httpGet"]["path"] == "/readyz"

    worker = objs[("Deployment", "histo-worker")]
    assert "replicas" not in worker["spec"], "the HPA owns the worker count"
    (wc,) = worker["spec"]["template"]["spec"]["containers"]
    assert wc["args"] == ["worker", "--zk", "zookeeper-client:2181", "--listen", "0.0.0.0:7070",
                          "--advertise", "$(POD_IP):7070"]
    assert {"POD_IP"} <= {e["name"] for e in wc["env"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert wc[probe]["grpc"]["port"] == 7070

    for c in (mc, wc):
        env = {e["name"]: e for e in c["env"]}
        assert env["HISTO_TOKEN_FILE"]["value"] == "/var/run/secrets/histo/token"
        assert "value" not in env.get("HISTO_TOKEN", {}), "no literal token in manifests"

    hpa = objs[("HorizontalPodAutoscaler", "histo-worker")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "histo-worker"
    assert hpa["minReplicas"] >= 1 and hpa["maxReplicas"] > hpa["minReplicas"]

    svc = objs[("Service", "master-service")]["spec"]
    assert svc["sessionAffinity"] == "ClientIP"
    assert svc["ports"][0]["port"] == 80 and svc["ports"][0]["targetPort"] == "http"
    assert {"containerPort": 8080, "name": "http", "protocol": "TCP"} in mc["ports"]


def test_no_secret_objects_are_committed(overlay):
    _, docs = overlay
    assert not [d for d in docs if d["kind"] == "Secret"]


ZK = {"app.kubernetes.io/name": "zookeeper"}
MASTER = {"app.kubernetes.io/name": "histo", "app.kubernetes.io/component": "master"}
WORKER = {"app.kubernetes.io/name": "histo", "app.kubernetes.io/component": "worker"}
OTHER = {"app.kubernetes.io/name": "something-else"}


def _permits(policies, pod_labels, port, peer_labels, direction="Ingress"):
    """Does a policy let pods with `pod_labels` take (Ingress) or open
    (Egress) TCP `port` from or to pods with `peer_labels` in the namespace?
    Default deny: only a rule naming the port (or none) and selecting the
    peer (or every peer) allows it."""
    def selects(sel, labels):
        return all(labels.get(k) == v for k, v in sel.get("matchLabels", {}).items())

    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for p in policies:
        if not selects(p["spec"]["podSelector"], pod_labels) or direction not in p["spec"]["policyTypes"]:
            continue
        for rule in p["spec"].get(rules_key, []):
            ports = {x["port"] for x in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            peers = rule.get(peers_key)
            if peers is None or any("podSelector" in t and "namespaceSelector" not in t
                                    and selects(t["podSelector"], peer_labels) for t in peers):
                return True
    return False


def _allowed(policies, pod_labels, port, peer_labels):
    return _permits(policies, pod_labels, port, peer_labels, "Ingress")


def _egress_allowed(policies, pod_labels, port, peer_labels):
    return _permits(policies, pod_labels, port, peer_labels, "Egress")


def test_network_policies_limit_egress(overlay):
    _, docs = overlay
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    zk, master, worker, other = ZK, MASTER, WORKER, OTHER
    assert _egress_allowed(policies, master, 2181, zk)
    assert _egress_allowed(policies, master, 7070, worker)
    assert _egress_allowed(policies, worker, 2181, zk)
    assert _egress_allowed(policies, zk, 2888, zk) and _egress_allowed(policies, zk, 3888, zk)
    # What no one needs, no one may do.
    assert not _egress_allowed(policies, worker, 7070, worker), "workers do not call workers"
    assert not _egress_allowed(policies, worker, 8080, master), "workers do not call masters"
    assert not _egress_allowed(policies, zk, 2181, master)
    for pod in (master, worker, zk):
        assert not _egress_allowed(policies, pod, 443, other), pod
        assert not _egress_allowed(policies, pod, 5432, other), pod


def test_network_policies(overlay):
    _, docs = overlay
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deny = index(docs)[("NetworkPolicy", "default-deny-all")]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    zk, master, worker, other = ZK, MASTER, WORKER, OTHER
    assert _allowed(policies, zk, 2181, master)
    assert _allowed(policies, zk, 2181, worker)
    assert not _allowed(policies, zk, 2181, other)
    assert _allowed(policies, zk, 2888, zk) and _allowed(policies, zk, 3888, zk)
    assert not _allowed(policies, zk, 2888, master)
    assert _allowed(policies, worker, 7070, master)
    assert not _allowed(policies, worker, 7070, worker)
    assert not _allowed(policies, worker, 7070, other)
    assert _allowed(policies, master, 8080, other)
    # Metrics are apart, and not for everyone.
    assert not _allowed(policies, master, 9090, other)
    assert not _allowed(policies, zk, 7000, other) and not _allowed(policies, zk, 7000, master)


def test_metrics_are_served_apart_for_the_monitoring_namespace_only(overlay):
    _, docs = overlay
    objs = index(docs)
    (mc,) = objs[("Deployment", "histo-master")]["spec"]["template"]["spec"]["containers"]
    assert mc["args"][mc["args"].index("--metrics-listen") + 1] == "0.0.0.0:9090"
    assert {"containerPort": 9090, "name": "metrics", "protocol": "TCP"} in mc["ports"]
    assert objs[("Service", "histo-metrics")]["spec"]["ports"][0]["targetPort"] == "metrics"
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    opened = {}
    for p in policies:
        for rule in p["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if peer.get("namespaceSelector", {}).get("matchLabels") == monitoring:
                    opened.setdefault(p["metadata"]["name"], set()).update(x["port"] for x in rule["ports"])
    assert opened == {"histo-master": {9090}, "zookeeper-clients-and-peers": {7000}}, opened


def test_base_sources_exist():
    base = REPO / "k8s" / "base"
    for name in ("zookeeper.yaml", "app.yaml", "networkpolicies.yaml", "namespace.yaml"):
        assert load_yaml_docs(base / name), name


def test_rendered_objects_pass_strict_kubernetes_schema(overlay):
    import kubernetes_validate

    _, docs = overlay
    for d in docs:
        kubernetes_validate.validate(d, "1.35.0", strict=True)


def test_strict_schema_validation_is_not_a_no_op(overlay):
    import copy

    import kubernetes_validate

    _, docs = overlay
    master = copy.deepcopy(next(d for d in docs if d["metadata"]["name"] == "histo-master"))
    master["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(master, "1.35.0", strict=True)
