"""Terraform: parse every .tf file with python-hcl2 and check the topology.

The seed topology is 3 x Equinix Metal c3.small.x86 in metro ny running
Ubuntu 22.04 (ubuntu_22_04); the server layer is a module with a small
interface (output `nodes`) and a variable selects the provider.
"""
from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest

from deploy_helpers import REPO

TF = REPO / "deploy" / "terraform"
REQUIRED_ROOT_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")
SERVER_MODULES = ("equinix-metal", "phoenixnap")


def one(value):
    """python-hcl2 wraps attribute values in one-element lists; unwrap them."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def parse_dir(directory: Path) -> dict:
    merged: dict[str, list] = {}
    for tf in sorted(directory.glob("*.tf")):
        with tf.open(encoding="utf-8") as fh:
            for key, blocks in hcl2.load(fh).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


def blocks(parsed: dict, kind: str) -> dict:
    out = {}
    for block in parsed.get(kind, []):
        out.update(block)
    return out


def resources(parsed: dict) -> dict[tuple[str, str], dict]:
    out = {}
    for block in parsed.get("resource", []):
        for rtype, named in block.items():
            for name, body in named.items():
                out[(rtype, name)] = body
    return out


REF = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_]+)\}$")


def resolve(expr, variables: dict):
    """Resolve a literal or a plain ${var.x} reference to the variable default."""
    expr = one(expr)
    if isinstance(expr, str):
        m = REF.match(expr)
        if m and m.group(1) == "var":
            return one(variables[m.group(2)].get("default"))
    return expr


@pytest.fixture(scope="module")
def root():
    return parse_dir(TF)


def test_every_tf_file_parses():
    files = sorted(TF.rglob("*.tf"))
    assert len(files) >= 12, files
    for tf in files:
        with tf.open(encoding="utf-8") as fh:
            assert isinstance(hcl2.load(fh), dict), tf


def test_root_layout():
    for name in REQUIRED_ROOT_FILES:
        assert (TF / name).is_file(), name
    assert (TF / "templates" / "inventory.ini.tftpl").is_file()
    assert (TF / "templates" / "cloud-init.yaml.tftpl").is_file()


def test_seed_topology_three_c3_small_in_ny_on_ubuntu_2204(root):
    variables = blocks(root, "variable")
    equinix = blocks(root, "module")["equinix_metal"]
    assert one(equinix["source"]) == "./modules/equinix-metal"
    # The module call's inputs, resolved to the root variables' defaults.
    assert resolve(equinix["node_count"], variables) == 3
    assert resolve(equinix["plan"], variables) == "c3.small.x86"
    assert resolve(equinix["metro"], variables) == "ny"
    assert resolve(equinix["operating_system"], variables) == "ubuntu_22_04"
    assert one(variables["server_provider"]["default"]) == "equinix-metal"

    # Inside the module, the device resource is driven by those inputs.
    module = parse_dir(TF / "modules" / "equinix-metal")
    device = resources(module)[("equinix_metal_device", "histo_node")]
    assert one(device["count"]) == "${var.node_count}"
    assert one(device["plan"]) == "${var.plan}"
    assert one(device["metro"]) == "${var.metro}"
    assert one(device["operating_system"]) == "${var.operating_system}"
    assert one(device["user_data"]) == "${var.user_data}"
    assert "tags" in device
    assert one(device["project_ssh_key_ids"]) == "${equinix_metal_project_ssh_key.operator.id}"


def test_provider_is_selected_by_a_variable(root):
    variables = blocks(root, "variable")
    condition = one(one(variables["server_provider"]["validation"])["condition"])
    for choice in ("equinix-metal", "phoenixnap", "own"):
        assert choice in condition
    modules = blocks(root, "module")
    assert set(modules) == {"equinix_metal", "phoenixnap"}
    for name, call in modules.items():
        assert "var.server_provider" in one(call["count"]), name
    nodes_expr = one(blocks(root, "locals")["nodes"])
    assert "module.equinix_metal[*].nodes" in nodes_expr
    assert "module.phoenixnap[*].nodes" in nodes_expr
    assert "var.own_servers" in nodes_expr


@pytest.mark.parametrize("module_name", SERVER_MODULES)
def test_server_modules_share_the_nodes_interface(module_name):
    module = parse_dir(TF / "modules" / module_name)
    outputs = blocks(module, "output")
    assert set(outputs) == {"nodes"}
    value = one(outputs["nodes"]["value"])
    for field in ("name", "public_ip", "private_ip"):
        assert field in value, (module_name, field)
    inputs = set(blocks(module, "variable"))
    assert {"name_prefix", "node_count", "ssh_public_key", "tags", "user_data"} <= inputs
    assert blocks(module, "terraform"), "module must declare required_providers"


def test_alternative_provider_is_a_real_bare_metal_resource():
    module = parse_dir(TF / "modules" / "phoenixnap")
    server = resources(module)[("pnap_server", "histo_node")]
    assert one(server["count"]) == "${var.node_count}"
    assert "cloud_init" in server
    providers = one(one(blocks(module, "terraform")["required_providers"]))
    assert one(providers["pnap"])["source"] == "phoenixnap/pnap"


def test_outputs_and_ansible_inventory(root):
    outputs = blocks(root, "output")
    assert {"nodes", "public_ips", "private_ips"} <= set(outputs)
    inventory = resources(root)[("local_file", "ansible_inventory")]
    assert "inventory.ini.tftpl" in one(inventory["content"])
    assert one(inventory["file_permission"]) == "0600"
    template = (TF / "templates" / "inventory.ini.tftpl").read_text(encoding="utf-8")
    for group in ("[control_plane]", "[workers]", "[k8s_cluster:children]"):
        assert group in template


def test_provider_versions_are_pinned(root):
    req = one(one(blocks(root, "terraform")["required_providers"]))
    assert {"equinix", "pnap", "local"} <= set(req)
    for name, spec in req.items():
        spec = one(spec)
        assert spec["version"].startswith("~>"), name
    assert one(blocks(root, "terraform")["required_version"]).startswith(">=")


def test_no_credentials_in_terraform():
    for tf in TF.rglob("*.tf"):
        text = tf.read_text(encoding="utf-8")
        assert not re.search(r"(auth_token|client_secret)\s*=\s*\"[^\"]+\"", text), tf
