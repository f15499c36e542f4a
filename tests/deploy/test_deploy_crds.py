"""ArgoCD Application and Tinkerbell Hardware/Template/Workflow against
JSON Schemas written from their upstream CRDs (tests/deploy/schemas/)."""
from __future__ import annotations

import jsonschema
import pytest
import yaml
from jsonschema import Draft202012Validator

from deploy_helpers import REPO, load_schema, load_yaml_docs

TINK = REPO / "deploy" / "tinkerbell"
ARGO_APP = REPO / "deploy" / "gitops" / "argocd-app.yaml"

SCHEMA_FOR_KIND = {
    "Hardware": "tinkerbell-hardware.schema.json",
    "Template": "tinkerbell-template.schema.json",
    "Workflow": "tinkerbell-workflow.schema.json",
}


def validator(schema_name: str) -> Draft202012Validator:
    schema = load_schema(schema_name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def tink_docs() -> list[dict]:
    docs = []
    for path in sorted(TINK.glob("*.yaml")):
        docs.extend(load_yaml_docs(path))
    return docs


def by_kind(kind: str) -> list[dict]:
    return [d for d in tink_docs() if d["kind"] == kind]


# --- ArgoCD ---------------------------------------------------------------

def test_argocd_application_matches_crd_schema():
    (app,) = load_yaml_docs(ARGO_APP)
    validator("argocd-application.schema.json").validate(app)


def test_argocd_application_syncs_baremetal_overlay_automatically():
    (app,) = load_yaml_docs(ARGO_APP)
    spec = app["spec"]
    assert spec["source"]["path"] == "k8s/overlays/baremetal"
    assert (REPO / spec["source"]["path"] / "kustomization.yaml").is_file()
    assert spec["source"]["targetRevision"] == "main"
    assert spec["destination"]["namespace"] == "histo"
    policy = spec["syncPolicy"]
    assert policy["automated"]["prune"] is True
    assert policy["automated"]["selfHeal"] is True
    assert "CreateNamespace=true" in policy["syncOptions"]
    backoff = policy["retry"]["backoff"]
    assert policy["retry"]["limit"] >= 1 and backoff["factor"] >= 2


def test_argocd_schema_rejects_a_typo():
    (app,) = load_yaml_docs(ARGO_APP)
    app["spec"]["syncPolicy"]["automated"]["selfheal"] = True
    with pytest.raises(jsonschema.ValidationError):
        validator("argocd-application.schema.json").validate(app)


# --- Tinkerbell -----------------------------------------------------------

@pytest.mark.parametrize("doc", tink_docs(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_tinkerbell_objects_match_crd_schemas(doc):
    validator(SCHEMA_FOR_KIND[doc["kind"]]).validate(doc)


def test_one_hardware_per_server_keyed_by_mac():
    hardware = by_kind("Hardware")
    assert len(hardware) == 3
    macs = [hw["spec"]["interfaces"][0]["dhcp"]["mac"] for hw in hardware]
    assert len(set(macs)) == 3
    for hw in hardware:
        iface = hw["spec"]["interfaces"][0]
        assert iface["netboot"] == {"allowPXE": True, "allowWorkflow": True}
        assert hw["spec"]["disks"] == [{"device": "/dev/nvme0n1"}]
        assert hw["spec"]["metadata"]["instance"]["operating_system"]["version"] == "22.04"
        assert hw["spec"]["userData"].startswith("#cloud-config")


def test_template_streams_ubuntu_2204_to_nvme_then_kexecs():
    (template,) = by_kind("Template")
    data = yaml.safe_load(template["spec"]["data"])
    validator("tinkerbell-template-data.schema.json").validate(data)
    actions = [a for task in data["tasks"] for a in task["actions"]]
    kinds = [a["image"].split("/")[-1].split(":")[0] for a in actions]
    assert kinds[0] == "image2disk" and kinds[-1] == "kexec"
    assert "writefile" in kinds
    image2disk = actions[0]["environment"]
    assert image2disk["DEST_DISK"] == "/dev/nvme0n1"
    assert "jammy" in image2disk["IMG_URL"]
    paths = [a["environment"]["DEST_PATH"] for a in actions if "writefile" in a["image"]]
    assert any(p.startswith("/etc/netplan/") for p in paths)
    assert any(p.startswith("/etc/cloud/") for p in paths)
    for action in actions[1:]:
        disk = action["environment"].get("DEST_DISK") or action["environment"].get("BLOCK_DEVICE")
        assert disk.startswith("/dev/nvme0n1p"), action["name"]


def test_workflows_reference_existing_hardware_and_template():
    hardware = {hw["metadata"]["name"]: hw for hw in by_kind("Hardware")}
    templates = {t["metadata"]["name"] for t in by_kind("Template")}
    workflows = by_kind("Workflow")
    assert len(workflows) == len(hardware)
    for wf in workflows:
        spec = wf["spec"]
        assert spec["templateRef"] in templates
        hw = hardware[spec["hardwareRef"]]
        assert spec["hardwareMap"]["device_1"] == hw["spec"]["interfaces"][0]["dhcp"]["mac"]


# --- Prometheus Operator (k8s/components/monitoring) -----------------------

MONITORS = REPO / "k8s" / "components" / "monitoring" / "servicemonitors.yaml"


@pytest.mark.parametrize("doc", load_yaml_docs(MONITORS), ids=lambda d: d["metadata"]["name"])
def test_service_monitors_match_the_crd_and_find_a_metrics_port(doc, overlay):
    validator("servicemonitor.schema.json").validate(doc)
    _, rendered = overlay
    wanted = doc["spec"]["selector"]["matchLabels"]
    services = [d for d in rendered if d["kind"] == "Service"
                and all(d["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]
    for endpoint in doc["spec"]["endpoints"]:
        assert any(p.get("name") == endpoint["port"] for s in services for p in s["spec"]["ports"]), (
            f"{doc['metadata']['name']}: no selected Service has a port named {endpoint['port']}")


def test_service_monitor_schema_rejects_a_typo():
    doc = load_yaml_docs(MONITORS)[0]
    doc["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        validator("servicemonitor.schema.json").validate(doc)
