"""Placeholders in deploy/: example values are marked, keys are never committed.

- No file under deploy/ holds SSH key material (a public key such as
  `ssh-ed25519 AAAA...`, or a private key block). An example key committed
  as if real ends up in authorized_keys; keys come from the operator's key
  file or a variable (terraform: ssh_public_key_path; Tinkerbell: substituted
  at apply time, docs/DEPLOY.md).
- In the example files, every line that holds an example address, MAC or
  placeholder token sits under a `REPLACE:` note (on that line or earlier in
  the same block of lines).
- Every file with `REPLACE` placeholders (Markdown aside), and every
  `REPLACE_WITH_*` token, is named in docs/DEPLOY.md, so the operator has one
  list of what to change.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy_helpers import REPO

DEPLOY = REPO / "deploy"
DOC = REPO / "docs" / "DEPLOY.md"

# The example files an operator copies or applies and must edit first.
EXAMPLE_FILES = (
    "deploy/terraform/terraform.tfvars.example",
    "deploy/ansible/inventory/hosts.example.ini",
    "deploy/tinkerbell/hardware.yaml",
    "deploy/tinkerbell/workflow.yaml",
    "deploy/tinkerbell/template.yaml",
)

KEY_TYPES = (
    r"ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(?:256|384|521)"
    r"|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com"
)
# Key type, then the base64 blob, which always starts with AAAA.
PUBLIC_KEY = re.compile(rf"(?<![\w-])(?:{KEY_TYPES})\s+AAAA[0-9A-Za-z+/]{{8,}}")
PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")

IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
MAC = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:])")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
TOKEN = re.compile(r"\bREPLACE_WITH_[A-Z0-9_]+\b")
NOT_PLACEHOLDERS = {"0.0.0.0", "127.0.0.1"}
MARKER = "REPLACE:"


def deploy_text_files() -> list[Path]:
    files = []
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or ".terraform" in path.parts or path.suffix == ".tfstate":
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        files.append(path)
    return files


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def placeholder_values(line: str) -> list[str]:
    found = [ip for ip in IPV4.findall(line) if ip not in NOT_PLACEHOLDERS]
    return found + MAC.findall(line) + UUID.findall(line) + TOKEN.findall(line)


def unmarked_placeholders(text: str) -> list[tuple[int, str]]:
    """Lines holding a placeholder with no REPLACE: note on them or above them
    in the same block (blocks end at blank lines and YAML `---`)."""
    unmarked, marked = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.strip() == "---":
            marked = False
            continue
        marked = marked or MARKER in line
        if placeholder_values(line) and not marked:
            unmarked.append((number, line.strip()))
    return unmarked


def test_the_deploy_tree_is_scanned():
    names = {rel(p) for p in deploy_text_files()}
    assert set(EXAMPLE_FILES) <= names
    assert any(n.endswith(".tf") for n in names) and any(n.endswith(".yml") for n in names)


def test_no_ssh_key_material_under_deploy():
    found = []
    for path in deploy_text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if PUBLIC_KEY.search(line) or PRIVATE_KEY.search(line):
                found.append(f"{rel(path)}:{number}: {line.strip()[:60]}")
    assert not found, "SSH key material committed (take keys from a file or variable):\n" + "\n".join(found)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_example_files_mark_their_placeholders(name):
    text = (REPO / name).read_text(encoding="utf-8")
    assert MARKER in text, f"{name} has no '# {MARKER}' note"
    unmarked = unmarked_placeholders(text)
    assert not unmarked, f"{name}: example values without a {MARKER} note:\n" + "\n".join(
        f"  line {n}: {line}" for n, line in unmarked
    )


def test_every_placeholder_is_documented_in_deploy_md():
    doc = DOC.read_text(encoding="utf-8")
    missing = []
    for path in deploy_text_files():
        if path.suffix == ".md":
            continue  # documentation that talks about the markers, not a placeholder
        text = path.read_text(encoding="utf-8")
        if MARKER in text or TOKEN.search(text):
            if rel(path) not in doc:
                missing.append(rel(path))
        missing += [f"{rel(path)}: {token}" for token in sorted(set(TOKEN.findall(text))) if token not in doc]
    assert not missing, "placeholders not listed in docs/DEPLOY.md:\n" + "\n".join(missing)


def test_the_placeholder_checks_catch_what_they_look_for():
    # The detectors themselves, on known input, so a broken regex cannot make
    # the checks above pass vacuously.
    key_type = "ssh-" + "ed25519"  # split so this file holds no key literal
    assert PUBLIC_KEY.search(f"  - {key_type} AAAAC3NzaC1lZDI1NTE5AAAAIExample operator@histo")
    assert not PUBLIC_KEY.search(f"  - {key_type.upper()}_KEY_GOES_HERE")
    assert unmarked_placeholders("[workers]\nhisto-2 ansible_host=203.0.113.12\n") == [
        (2, "histo-2 ansible_host=203.0.113.12")
    ]
    assert unmarked_placeholders("# REPLACE: yours\nhisto-2 ansible_host=203.0.113.12\n") == []
    assert unmarked_placeholders("# REPLACE: yours\n\nmac: \"b4:96:91:a0:00:01\"\n") == [
        (3, 'mac: "b4:96:91:a0:00:01"')
    ]
    assert unmarked_placeholders('version: "1.35.9-1.1"\nbind: 0.0.0.0\n') == []
