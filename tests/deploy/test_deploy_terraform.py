"""Terraform: parse every .tf file with python-hcl2 and check the wiring.

The server layer is a module with a small interface (output `nodes`), and
the variable `server_provider` selects where the servers come from. These
tests check properties of that wiring rather than restating file contents:
every accepted `server_provider` value leads to servers (a module or
`own_servers`), the default is one of them, the default instantiates no
module it does not use, and `versions.tf` declares exactly the providers the
root module needs. Where a `terraform` binary is installed, the variables'
validation rules are also run for real (no provider is downloaded).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from deploy_helpers import REPO

TF = REPO / "deploy" / "terraform"
MODULES = TF / "modules"
ARCHIVE = TF / "archive"
REQUIRED_ROOT_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")
NODE_FIELDS = {"name", "public_ip", "private_ip"}

# `count = var.server_provider == "<value>" ? 1 : 0`, as python-hcl2 renders it.
SELECTED_BY = re.compile(r'^\$\{var\.server_provider == "([^"]+)" \? 1 : 0\}$')
# `var.server_provider == "own" ? var.own_servers : []` inside local.nodes.
OWN_SERVERS_IN_NODES = re.compile(r'var\.server_provider == "own" \? var\.own_servers : \[\]')
ALLOWED_VALUES = re.compile(r"contains\(\[([^\]]*)\],\s*var\.server_provider\)")


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


def resources(parsed: dict, kind: str = "resource") -> dict[tuple[str, str], dict]:
    out = {}
    for block in parsed.get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                out[(rtype, name)] = body
    return out


def required_providers(parsed: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for terraform in parsed.get("terraform", []):
        for req in terraform.get("required_providers", []):
            for name, spec in req.items():
                if not name.startswith("__"):
                    out[name] = one(spec)
    return out


def provider_of(resource_type: str) -> str:
    """Terraform's implied provider: the resource type's first word."""
    return resource_type.split("_", 1)[0]


def server_module_dirs() -> list[Path]:
    return sorted(p.parent for base in (MODULES, ARCHIVE) for p in base.glob("*/main.tf"))


@pytest.fixture(scope="module")
def root():
    return parse_dir(TF)


@pytest.fixture(scope="module")
def variables(root):
    return blocks(root, "variable")


@pytest.fixture(scope="module")
def allowed(variables) -> list[str]:
    condition = one(one(variables["server_provider"]["validation"])["condition"])
    match = ALLOWED_VALUES.search(condition)
    assert match, f"server_provider validation is not a contains([...]) list: {condition}"
    values = re.findall(r"""['"]([^'"]+)['"]""", match.group(1))
    assert values, condition
    return values


@pytest.fixture(scope="module")
def nodes_expr(root) -> str:
    return one(blocks(root, "locals")["nodes"])


@pytest.fixture(scope="module")
def called_modules(root) -> dict[str, dict]:
    """Each root `module` call: its source directory and the value selecting it."""
    out = {}
    for name, call in blocks(root, "module").items():
        count = one(call.get("count"))
        match = SELECTED_BY.match(str(count)) if count is not None else None
        out[name] = {
            "dir": (TF / one(call["source"])).resolve(),
            "selected_by": match.group(1) if match else None,
        }
    return out


def wiring(value: str, called_modules: dict, nodes_expr: str) -> list[str]:
    """What produces the servers when server_provider = value."""
    found = [
        f"module.{name}"
        for name, call in called_modules.items()
        if call["selected_by"] == value and f"module.{name}[*].nodes" in nodes_expr
    ]
    if value == "own" and OWN_SERVERS_IN_NODES.search(nodes_expr):
        found.append("var.own_servers")
    return found


def test_every_tf_file_parses():
    files = [f for f in sorted(TF.rglob("*.tf")) if ".terraform" not in f.parts]
    assert files
    for tf in files:
        with tf.open(encoding="utf-8") as fh:
            assert isinstance(hcl2.load(fh), dict), tf


def test_root_layout():
    for name in REQUIRED_ROOT_FILES:
        assert (TF / name).is_file(), name
    assert (TF / "templates" / "inventory.ini.tftpl").is_file()
    assert (TF / "templates" / "cloud-init.yaml.tftpl").is_file()


def test_every_allowed_provider_value_leads_to_servers(allowed, called_modules, nodes_expr):
    for value in allowed:
        assert len(wiring(value, called_modules, nodes_expr)) == 1, (
            f"server_provider = {value!r} must select exactly one module (count on server_provider, "
            f"nodes in local.nodes) or own_servers; found {wiring(value, called_modules, nodes_expr)}"
        )


def test_default_provider_is_allowed_and_wired(variables, allowed, called_modules, nodes_expr):
    default = one(variables["server_provider"]["default"])
    assert default in allowed
    assert wiring(default, called_modules, nodes_expr)


def test_every_module_call_is_selected_by_an_allowed_value(allowed, called_modules, nodes_expr):
    for name, call in called_modules.items():
        assert call["selected_by"] in allowed, f"module.{name} is not switched by server_provider"
        assert f"module.{name}[*].nodes" in nodes_expr, f"module.{name} does not feed local.nodes"
        assert call["dir"].is_relative_to(MODULES.resolve()), f"module.{name} calls {call['dir']}"
        assert (call["dir"] / "main.tf").is_file(), name


def test_the_default_instantiates_no_module_it_does_not_use(root, variables, called_modules, nodes_expr):
    default = one(variables["server_provider"]["default"])
    instantiated = []
    for name, call in blocks(root, "module").items():
        count = one(call.get("count"))
        count = None if count is None else str(count)
        # Without `count = var.server_provider == "x" ? 1 : 0` a module (and
        # its provider's credentials) is needed whatever server_provider is.
        assert count is not None and SELECTED_BY.match(count), f"module.{name}: count = {count!r}"
        if SELECTED_BY.match(count).group(1) == default:
            instantiated.append(f"module.{name}")
    assert instantiated == [w for w in wiring(default, called_modules, nodes_expr) if w.startswith("module.")]


def test_own_servers_have_the_module_node_shape(variables):
    own = variables["own_servers"]
    fields = set(re.findall(r"'(\w+)': '\$\{string\}'", one(own["type"])))
    assert fields == NODE_FIELDS
    assert one(own["default"]) in ([], None)
    assert one(own.get("validation")), "own_servers needs validation rules"


def test_versions_declare_exactly_the_providers_the_root_module_uses(root, called_modules):
    used = {provider_of(rtype) for rtype, _ in resources(root)}
    used |= {provider_of(rtype) for rtype, _ in resources(root, "data")}
    for call in called_modules.values():
        used |= set(required_providers(parse_dir(call["dir"])))
    declared = required_providers(root)
    assert set(declared) == used, f"declared {sorted(declared)}, used {sorted(used)}"
    configured = set(blocks(root, "provider"))
    assert configured <= set(declared), configured - set(declared)
    for name, spec in declared.items():
        assert spec["version"].startswith("~>"), name
    assert one(blocks(root, "terraform")["required_version"]).startswith(">=")


def test_archived_modules_are_documented_and_not_called(called_modules):
    archived = sorted(p for p in ARCHIVE.iterdir() if p.is_dir()) if ARCHIVE.is_dir() else []
    for directory in archived:
        readme = directory / "README.md"
        assert readme.is_file() and readme.read_text(encoding="utf-8").strip(), directory
        assert all(call["dir"] != directory.resolve() for call in called_modules.values()), directory


@pytest.mark.parametrize("module_dir", server_module_dirs(), ids=lambda p: p.relative_to(TF).as_posix())
def test_server_modules_share_the_nodes_interface(module_dir):
    module = parse_dir(module_dir)
    outputs = blocks(module, "output")
    assert set(outputs) == {"nodes"}
    value = one(outputs["nodes"]["value"])
    for field in NODE_FIELDS:
        assert field in value, (module_dir.name, field)
    inputs = set(blocks(module, "variable"))
    assert {"name_prefix", "node_count", "ssh_public_key", "tags", "user_data"} <= inputs
    assert required_providers(module), "module must declare required_providers"


def test_alternative_provider_is_a_real_bare_metal_resource():
    module = parse_dir(MODULES / "phoenixnap")
    server = resources(module)[("pnap_server", "histo_node")]
    assert one(server["count"]) == "${var.node_count}"
    assert "cloud_init" in server
    assert required_providers(module)["pnap"]["source"] == "phoenixnap/pnap"


def test_outputs_and_ansible_inventory(root):
    outputs = blocks(root, "output")
    assert {"nodes", "public_ips", "private_ips"} <= set(outputs)
    for name in ("nodes", "public_ips", "private_ips", "control_plane_ip"):
        assert "local.nodes" in one(outputs[name]["value"]), name
    inventory = resources(root)[("local_file", "ansible_inventory")]
    assert "inventory.ini.tftpl" in one(inventory["content"])
    assert "local.nodes" in one(inventory["content"])
    assert one(inventory["file_permission"]) == "0600"
    # No inventory without hosts (the default `own` with an empty own_servers).
    precondition = one(one(one(inventory["lifecycle"])["precondition"])["condition"])
    assert "length(local.nodes) > 0" in precondition
    template = (TF / "templates" / "inventory.ini.tftpl").read_text(encoding="utf-8")
    for group in ("[control_plane]", "[workers]", "[k8s_cluster:children]"):
        assert group in template


def test_no_credentials_in_terraform():
    for tf in TF.rglob("*.tf"):
        text = tf.read_text(encoding="utf-8")
        assert not re.search(r"(auth_token|client_secret)\s*=\s*\"[^\"]+\"", text), tf


# --- the variables' validation rules, run by terraform itself ---------------

@pytest.fixture(scope="module")
def plan_variables(tmp_path_factory):
    """`terraform plan` on variables.tf alone (no provider, works offline)."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform binary; validation rules checked only by parsing")
    work = tmp_path_factory.mktemp("tfvars")
    shutil.copy(TF / "variables.tf", work / "variables.tf")
    (work / "outputs.tf").write_text('output "servers" { value = length(var.own_servers) }\n', encoding="utf-8")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([terraform, f"-chdir={work}", *args, "-no-color"],
                              capture_output=True, text=True, env=env, timeout=120)

    init = run("init", "-backend=false")
    assert init.returncode == 0, init.stdout + init.stderr
    return lambda *args: run("plan", *args)


def test_the_tfvars_example_passes_validation(plan_variables):
    result = plan_variables(f"-var-file={TF / 'terraform.tfvars.example'}")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("bad, message", [
    ('server_provider=equinix-metal', "server_provider must be one of"),
    ('own_servers=[{name="histo-1",public_ip="300.0.0.1",private_ip="10.20.0.11"}]', "must be IPv4"),
    ('own_servers=[{name="histo-1",public_ip="203.0.113.11",private_ip="histo-1.lan"}]', "must be IPv4"),
    ('own_servers=[{name="histo-1",public_ip="203.0.113.11",private_ip="10.20.0.11"},'
     '{name="histo-1",public_ip="203.0.113.12",private_ip="10.20.0.12"}]', "must be unique"),
    ('own_servers=[{name="Histo_1",public_ip="203.0.113.11",private_ip="10.20.0.11"}]', "lowercase hostname"),
])
def test_bad_variables_are_rejected(plan_variables, bad, message):
    result = plan_variables("-var", bad)
    assert result.returncode != 0, result.stdout
    assert message in " ".join((result.stdout + result.stderr).split()), result.stderr
