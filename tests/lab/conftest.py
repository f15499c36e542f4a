"""Fixtures of the fault tests: `scripts/lab up` once for the session
(three network-namespace servers, a 3-node ZooKeeper ensemble, two masters,
three workers) and `scripts/lab down` at the end. After every test the lab
is healed (rules removed, links up, stopped processes started) and the next
waits until the cluster is whole again, so tests don't depend on one another."""

import os
import subprocess

import pytest
from PIL import Image

from lab_harness import MASTER_PNG_FLAGS, Lab
from support.images import low_contrast_gray


@pytest.fixture(scope="session")
def lab_session(histo_bin, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the chaos lab needs root (network namespaces, veth, iptables): run the tests as root")
    lab = Lab(histo_bin, tmp_path_factory.mktemp("lab"))
    lab.run("down")  # a lab left over by an interrupted run
    lab.run("up")
    try:
        lab.wait_whole()
        yield lab
    finally:
        lab.run("down")
        assert lab.firewall_rules() == [], "`scripts/lab down` removes its firewall rules"


@pytest.fixture
def lab(lab_session):
    """The lab, whole before the test and healed after it."""
    lab_session.wait_whole()
    yield lab_session
    lab_session.heal()


@pytest.fixture(scope="session")
def image(histo_bin, tmp_path_factory):
    """A 3000x3000 low-contrast gray PNG (9 strips) and the bytes local
    `histo equalize` makes of it: every job's output must be these."""
    tmp = tmp_path_factory.mktemp("image")
    src, dst = tmp / "in.png", tmp / "out.png"
    Image.fromarray(low_contrast_gray(3000, 3000, seed=11)).save(src, compress_level=1)
    subprocess.run([str(histo_bin), "equalize", str(src), "-o", str(dst), *MASTER_PNG_FLAGS], check=True, timeout=60)
    return src.read_bytes(), dst.read_bytes()


