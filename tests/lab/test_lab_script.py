"""scripts/lab's own behaviour: what it says without root, and its refusals
of unknown faults, servers and roles (checked on the running lab)."""

import subprocess

from lab_harness import LAB


def test_without_root_it_says_it_needs_root(tmp_path):
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(LAB), "up"],
                          capture_output=True, text=True, timeout=30, env={"HISTO_LAB_DIR": str(tmp_path / "lab")})
    assert proc.returncode == 1
    assert "needs root" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, "one clear line"
    assert not (tmp_path / "lab").exists(), "nothing made"


def test_the_host_firewall_lets_the_lab_bridge_forward(lab):
    """Docker sets FORWARD's policy to DROP and sends bridged traffic through
    it: the lab accepts its own bridge's traffic, in DOCKER-USER where Docker
    made that chain. (That the servers reach each other at all is what every
    other lab test relies on.)"""
    forward = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True, timeout=10).stdout
    docker_user = subprocess.run(["iptables", "-S", "DOCKER-USER"], capture_output=True, text=True, timeout=10)
    rules = lab.firewall_rules()
    if docker_user.returncode == 0:
        assert any("-A DOCKER-USER" in r and f"-i {lab.prefix}-br" in r for r in rules), rules
    elif "-P FORWARD DROP" in forward:
        assert any("-A FORWARD" in r for r in rules), rules


def test_bad_chaos_arguments_are_refused_clearly(lab):
    for args, message in [
        (["chaos", "meteor"], "unknown fault 'meteor'"),
        (["chaos", "partition", "s9"], "unknown server 's9'"),
        (["chaos", "kill", "dragon", "s1"], "unknown role 'dragon'"),
        (["chaos", "kill", "master", "s3"], "no master runs on s3"),
        (["up"], "already up"),
    ]:
        proc = subprocess.run([str(LAB), *args], env=lab.env, capture_output=True, text=True, timeout=30)
        assert proc.returncode != 0, args
        assert message in proc.stderr, (args, proc.stderr)
