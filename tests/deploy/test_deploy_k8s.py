"""Rendered kustomize overlays: the invariants the deployment relies on.

(Schema validation of the same output with kubernetes-validate --strict runs
in scripts/validate-deploy too; there, as here, only the kinds that have a
hand-written schema in tests/deploy/schemas skip kubernetes-validate, and are
checked against that schema instead.)"""
from __future__ import annotations

import jsonschema
import pytest
from jsonschema import Draft202012Validator

from deploy_helpers import REPO, SCHEMAS, load_schema, load_yaml_docs

KUBERNETES_VERSION = "1.35.0"
INGRESS = REPO / "k8s" / "components" / "ingress"

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
# The ingress-nginx controller's pods, as its upstream manifest labels them.
INGRESS_CONTROLLER = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
HISTO_NS = "histo"


def _selects(sel, labels):
    """A label selector (matchLabels only: histo uses no matchExpressions, and
    refusing them keeps this evaluator from silently misreading one)."""
    assert "matchExpressions" not in sel, sel
    return all(labels.get(k) == v for k, v in sel.get("matchLabels", {}).items())


def _peer_matches(peer, peer_labels, peer_ns, policy_ns):
    """NetworkPolicy peer semantics: podSelector alone = pods of the policy's
    namespace; namespaceSelector alone = every pod of the selected namespaces
    (namespaces carry kubernetes.io/metadata.name); both in one peer = those
    pods in those namespaces. ipBlock peers never select pods."""
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer:
        in_namespace = _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": peer_ns})
    else:
        in_namespace = peer_ns == policy_ns
    return in_namespace and _selects(peer.get("podSelector", {}), peer_labels)


def _permits(policies, pod_labels, port, peer_labels, direction="Ingress", peer_ns=HISTO_NS):
    """Does a policy let pods with `pod_labels` (in histo) take (Ingress) or
    open (Egress) TCP `port` from or to pods with `peer_labels` in namespace
    `peer_ns`? Default deny: only a rule naming the port (or none) and
    selecting the peer (or every peer) allows it."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for p in policies:
        if not _selects(p["spec"]["podSelector"], pod_labels) or direction not in p["spec"]["policyTypes"]:
            continue
        policy_ns = p["metadata"].get("namespace", HISTO_NS)
        for rule in p["spec"].get(rules_key, []):
            ports = {x["port"] for x in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            peers = rule.get(peers_key)
            if peers is None or any(_peer_matches(t, peer_labels, peer_ns, policy_ns) for t in peers):
                return True
    return False


def _allowed(policies, pod_labels, port, peer_labels, peer_ns=HISTO_NS):
    return _permits(policies, pod_labels, port, peer_labels, "Ingress", peer_ns)


def _egress_allowed(policies, pod_labels, port, peer_labels):
    return _permits(policies, pod_labels, port, peer_labels, "Egress")


def test_network_policies_limit_egress(overlay):
    _, docs = overlay
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert _egress_allowed(policies, MASTER, 2181, ZK)
    assert _egress_allowed(policies, MASTER, 7070, WORKER)
    assert _egress_allowed(policies, WORKER, 2181, ZK)
    assert _egress_allowed(policies, ZK, 2888, ZK) and _egress_allowed(policies, ZK, 3888, ZK)
    # What no one needs, no one may do.
    assert not _egress_allowed(policies, WORKER, 7070, WORKER), "workers do not call workers"
    assert not _egress_allowed(policies, WORKER, 8080, MASTER), "workers do not call masters"
    assert not _egress_allowed(policies, ZK, 2181, MASTER)
    for pod in (MASTER, WORKER, ZK):
        assert not _egress_allowed(policies, pod, 443, OTHER), pod
        assert not _egress_allowed(policies, pod, 5432, OTHER), pod


def test_network_policies(overlay):
    _, docs = overlay
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deny = index(docs)[("NetworkPolicy", "default-deny-all")]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert _allowed(policies, ZK, 2181, MASTER)
    assert _allowed(policies, ZK, 2181, WORKER)
    assert not _allowed(policies, ZK, 2181, OTHER)
    assert _allowed(policies, ZK, 2888, ZK) and _allowed(policies, ZK, 3888, ZK)
    assert not _allowed(policies, ZK, 2888, MASTER)
    assert _allowed(policies, WORKER, 7070, MASTER)
    assert not _allowed(policies, WORKER, 7070, WORKER)
    assert not _allowed(policies, WORKER, 7070, OTHER)
    # The API and dashboard: from the ingress controller only (port-forward
    # bypasses NetworkPolicy; nothing in the cluster calls the masters).
    assert _allowed(policies, MASTER, 8080, INGRESS_CONTROLLER, peer_ns="ingress-nginx")
    assert not _allowed(policies, MASTER, 8080, OTHER)
    assert not _allowed(policies, MASTER, 8080, WORKER) and not _allowed(policies, MASTER, 8080, ZK)
    assert not _allowed(policies, MASTER, 8080, INGRESS_CONTROLLER), "same labels, wrong namespace"
    assert not _allowed(policies, MASTER, 8080, OTHER, peer_ns="ingress-nginx"), "not the controller"
    assert not _allowed(policies, MASTER, 8080, INGRESS_CONTROLLER, peer_ns="default")
    assert not _allowed(policies, MASTER, 9090, INGRESS_CONTROLLER, peer_ns="ingress-nginx")
    # Metrics are apart, and not for everyone.
    assert _allowed(policies, MASTER, 9090, OTHER, peer_ns="monitoring")
    assert not _allowed(policies, MASTER, 9090, OTHER)
    assert not _allowed(policies, ZK, 7000, OTHER) and not _allowed(policies, ZK, 7000, MASTER)


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


def test_the_policy_evaluator_reads_peers_as_kubernetes_does():
    # The evaluator itself, on known input, so the checks above cannot pass
    # because it misreads a peer.
    def policy(peer):
        return [{"metadata": {"namespace": HISTO_NS},
                 "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                          "ingress": [{"from": [peer], "ports": [{"port": 80}]}]}}]

    only_ns = policy({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}}})
    assert _allowed(only_ns, MASTER, 80, OTHER, peer_ns="web")
    assert not _allowed(only_ns, MASTER, 80, OTHER)
    assert not _allowed(only_ns, MASTER, 81, OTHER, peer_ns="web")
    only_pods = policy({"podSelector": {"matchLabels": OTHER}})
    assert _allowed(only_pods, MASTER, 80, OTHER)
    assert not _allowed(only_pods, MASTER, 80, OTHER, peer_ns="web"), "podSelector alone: own namespace"
    both = policy({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "web"}},
                   "podSelector": {"matchLabels": OTHER}})
    assert _allowed(both, MASTER, 80, OTHER, peer_ns="web")
    assert not _allowed(both, MASTER, 80, WORKER, peer_ns="web")
    assert not _allowed(both, MASTER, 80, OTHER)
    every_ns = policy({"namespaceSelector": {}})
    assert _allowed(every_ns, MASTER, 80, WORKER, peer_ns="anywhere")
    assert not _allowed(policy({"ipBlock": {"cidr": "0.0.0.0/0"}}), MASTER, 80, OTHER)


# --- Ingress and TLS (k8s/components/ingress, bare metal only) -------------

def test_ingress_serves_the_masters_over_tls_only(overlay):
    name, docs = overlay
    objs = index(docs)
    ingresses = [d for d in docs if d["kind"] == "Ingress"]
    if name == "laptop":
        assert not ingresses and not [d for d in docs if d["kind"] == "Issuer"], "laptop: port-forward only"
        return
    (ing,) = ingresses
    spec, notes = ing["spec"], ing["metadata"]["annotations"]
    assert spec["ingressClassName"] == "nginx"
    (tls,) = spec["tls"]
    hosts = [r["host"] for r in spec["rules"]]
    assert hosts and set(hosts) == set(tls["hosts"]), "every host has the certificate"
    # The certificate comes from a namespaced Issuer deployed beside it.
    assert "cert-manager.io/cluster-issuer" not in notes
    issuer = objs[("Issuer", notes["cert-manager.io/issuer"])]
    assert issuer["metadata"]["namespace"] == ing["metadata"]["namespace"]
    assert tls["secretName"]
    # Every path reaches master-service on a port it has.
    svc = objs[("Service", "master-service")]["spec"]
    for rule in spec["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "master-service"
            assert backend["port"]["number"] in {p["port"] for p in svc["ports"]}
    # HTTP redirects to HTTPS; uploads up to the masters' limit; Socket.IO
    # connections outlive the default 60 s and stay on one master.
    assert notes["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    assert notes["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    assert notes["nginx.ingress.kubernetes.io/proxy-body-size"] == "65m"
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(notes[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600, timeout
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/session-cookie-secure"] == "true"
    # No snippet annotations (arbitrary nginx configuration, CVE-2021-25742).
    assert not [k for k in notes if "snippet" in k]


def test_the_acme_alternative_is_valid_and_lets_its_solver_in():
    # Not in the component's resources by default (kustomization.yaml says
    # why), so it is checked here on its own.
    docs = load_yaml_docs(INGRESS / "issuer-letsencrypt.yaml")
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Issuer", "NetworkPolicy"}
    validate_object(kinds["Issuer"])
    validate_object(kinds["NetworkPolicy"])
    acme = kinds["Issuer"]["spec"]["acme"]
    assert acme["solvers"][0]["http01"]["ingress"]["ingressClassName"] == "nginx"
    solver = {"acme.cert-manager.io/http01-solver": "true"}
    policies = [kinds["NetworkPolicy"]]
    assert _allowed(policies, solver, 8089, INGRESS_CONTROLLER, peer_ns="ingress-nginx")
    assert not _allowed(policies, solver, 8089, OTHER)
    assert not _allowed(policies, MASTER, 8089, INGRESS_CONTROLLER, peer_ns="ingress-nginx")
    listed = load_yaml_docs(INGRESS / "kustomization.yaml")[0]["resources"]
    assert "issuer-letsencrypt.yaml" not in listed


# --- Schema validation of the rendered objects ------------------------------

def hand_written_schemas() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> schema file, for each schema in tests/deploy/schemas
    that pins both with `const`: the CRD kinds Kubernetes' own schemas lack."""
    found = {}
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        props = load_schema(path.name).get("properties", {})
        api, kind = props.get("apiVersion", {}).get("const"), props.get("kind", {}).get("const")
        if api and kind:
            found[(api, kind)] = path.name
    return found


def validate_object(doc: dict) -> None:
    """A kind with a hand-written schema against that schema; every other kind
    against Kubernetes' own, strictly (unknown fields rejected). A kind with
    neither fails (kubernetes_validate.SchemaNotFoundError)."""
    import kubernetes_validate

    schema = hand_written_schemas().get((doc["apiVersion"], doc["kind"]))
    if schema is None:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        return
    validator = Draft202012Validator(load_schema(schema), format_checker=Draft202012Validator.FORMAT_CHECKER)
    validator.validate(doc)


def test_rendered_objects_pass_strict_kubernetes_schema(overlay):
    _, docs = overlay
    for d in docs:
        validate_object(d)


def test_only_kinds_with_a_hand_written_schema_skip_kubernetes_validate():
    import kubernetes_validate

    assert set(hand_written_schemas()) == {
        ("argoproj.io/v1alpha1", "Application"),
        ("cert-manager.io/v1", "Issuer"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("tinkerbell.org/v1alpha1", "Hardware"),
        ("tinkerbell.org/v1alpha1", "Template"),
        ("tinkerbell.org/v1alpha1", "Workflow"),
    }
    # A CRD kind without a schema of its own is not waved through.
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                   "metadata": {"name": "histo-tls", "namespace": "histo"}, "spec": {"secretName": "histo-tls"}}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate_object(certificate)


def test_issuer_schema_rejects_a_typo(overlay):
    import copy

    name, docs = overlay
    issuers = [d for d in docs if d["kind"] == "Issuer"]
    if name == "laptop":
        assert not issuers
        return
    issuer = copy.deepcopy(issuers[0])
    validate_object(issuer)
    issuer["spec"]["selfsigned"] = issuer["spec"].pop("selfSigned")
    with pytest.raises(jsonschema.ValidationError):
        validate_object(issuer)
    acme = load_yaml_docs(INGRESS / "issuer-letsencrypt.yaml")[0]
    acme["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClass"] = "nginx"
    with pytest.raises(jsonschema.ValidationError):
        validate_object(acme)
    both = copy.deepcopy(issuers[0])
    both["spec"]["ca"] = {"secretName": "histo-ca"}
    with pytest.raises(jsonschema.ValidationError):
        validate_object(both)


def test_strict_schema_validation_is_not_a_no_op(overlay):
    import copy

    import kubernetes_validate

    _, docs = overlay
    master = copy.deepcopy(next(d for d in docs if d["metadata"]["name"] == "histo-master"))
    master["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_object(master)
