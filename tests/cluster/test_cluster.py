"""The distributed job on a real ZooKeeper and real worker processes: same
bytes as the local job, and the failures the cluster must survive."""

import json
import os
import re
import signal
import subprocess
import time

import cv2
import numpy as np
import pytest
import requests
from conftest import SESSION_TIMEOUT_S

from support.images import gray16, low_contrast_color, low_contrast_gray
from support.process import wait_until


def write(tmp_path, name, img):
    path = tmp_path / name
    assert cv2.imwrite(str(path), img)
    return path


def local_bytes(histo_bin, src, dst, *extra):
    subprocess.run([histo_bin, "equalize", src, "-o", dst, *extra], check=True, timeout=120)
    return dst.read_bytes()


CASES = {
    "gray global": (lambda: low_contrast_gray(900, 700, 1), "out.png", []),
    "colour luma": (lambda: low_contrast_color(800, 600, 2), "out.png", []),
    "colour clahe": (lambda: low_contrast_color(700, 500, 3), "out.png", ["--method", "clahe", "--tiles", "6x4"]),
    "rgb to jpeg": (lambda: low_contrast_color(500, 400, 4), "out.jpg", ["--mode", "rgb"]),
    "colour hsv": (lambda: low_contrast_color(610, 430, 7), "out.png", ["--mode", "hsv"]),
    "colour lab clahe": (lambda: low_contrast_color(530, 470, 8), "out.png",
                         ["--mode", "lab", "--method", "clahe", "--tiles", "5x3"]),
    "16-bit gray": (lambda: gray16(600, 500, 5), "out.png", []),
}


@pytest.mark.parametrize("case", CASES)
def test_distributed_output_is_byte_identical_to_local(cluster, histo_bin, kazoo_client, tmp_path, case):
    make, out_name, extra = CASES[case]
    cluster.worker()
    cluster.worker()
    zk = kazoo_client()
    workers = wait_until(lambda: zk.get_children("/histo/workers") if zk.exists("/histo/workers") else [], 10,
                         "two workers")
    wait_until(lambda: len(zk.get_children("/histo/workers")) == 2, 10, "two workers")
    info = json.loads(zk.get(f"/histo/workers/{workers[0]}")[0])
    assert info["slots"] == 2 and info["address"].startswith("127.0.0.1:")
    src = write(tmp_path, "in.png", make())
    proc = cluster.equalize(src, tmp_path / f"zk-{out_name}", *extra)
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / f"zk-{out_name}").read_bytes() == local_bytes(histo_bin, src, tmp_path / out_name, *extra)
    jobs = zk.get_children("/histo/jobs")
    assert len(jobs) == 1
    assert json.loads(zk.get(f"/histo/jobs/{jobs[0]}")[0])["state"] == "done"


def test_matching_on_workers_is_byte_identical_to_local(cluster, histo_bin, tmp_path):
    """With --zk the reference is one more map phase on the workers (the
    master sums counts, as for the input); the output is the local engine's."""
    cluster.worker()
    cluster.worker()
    src = write(tmp_path, "in.png", low_contrast_color(900, 700, 21))
    ref = write(tmp_path, "ref.png", low_contrast_color(1100, 800, 22)[::-1] // 2 + 60)
    for extra in (["--match", ref], ["--match", ref, "--mode", "rgb"]):
        proc = cluster.equalize(src, tmp_path / "zk.png", *extra)
        assert proc.returncode == 0, proc.stderr.decode()
        assert (tmp_path / "zk.png").read_bytes() == local_bytes(histo_bin, src, tmp_path / "local.png", *extra)


def test_masks_on_workers_are_byte_identical_to_local(cluster, histo_bin, tmp_path):
    """The mask is streamed and split with the image: each strip's map counts
    its inside pixels, and `inside` strips carry their mask to the apply."""
    cluster.worker()
    cluster.worker()
    src = write(tmp_path, "in.png", low_contrast_gray(1700, 1300, 23))  # three strips
    yy, xx = np.mgrid[:1700, :1300]
    mask = write(tmp_path, "mask.png", (((yy - 900) ** 2 + (xx - 500) ** 2 < 600**2) * 255).astype(np.uint8))
    colour = write(tmp_path, "colour.png", low_contrast_color(1700, 1300, 24))
    for image, extra in [
        (src, []),
        (src, ["--mask-apply", "inside"]),
        (src, ["--method", "clahe", "--tiles", "7x5"]),
        (src, ["--method", "clahe", "--mask-apply", "inside"]),
        (colour, ["--mode", "lab", "--method", "clahe", "--mask-apply", "inside"]),
    ]:
        proc = cluster.equalize(image, tmp_path / "zk.png", "--mask", mask, *extra)
        assert proc.returncode == 0, proc.stderr.decode()
        want = local_bytes(histo_bin, image, tmp_path / "local.png", "--mask", mask, *extra)
        assert (tmp_path / "zk.png").read_bytes() == want, extra
    # Other strip sizes: the same bytes again, local and on the workers.
    for rows in ("5", "97"):
        extra = ["--method", "clahe", "--mask-apply", "inside", "--strip-rows", rows]
        proc = cluster.equalize(src, tmp_path / "zk.png", "--mask", mask, *extra)
        assert proc.returncode == 0, proc.stderr.decode()
        want = local_bytes(histo_bin, src, tmp_path / "local.png", "--mask", mask, *extra)
        assert (tmp_path / "zk.png").read_bytes() == want, rows
    small = write(tmp_path, "small.png", np.ones((10, 10), np.uint8))
    proc = cluster.equalize(src, tmp_path / "bad.png", "--mask", small)
    assert proc.returncode == 2 and b"a mask must have the image's size" in proc.stderr
    assert not (tmp_path / "bad.png").exists()


def test_a_batch_on_workers_is_byte_identical_to_local(cluster, histo_bin, tmp_path):
    cluster.worker()
    cluster.worker()
    images = [write(tmp_path, f"img{i}.png", low_contrast_color(400 + 50 * i, 300, 30 + i)) for i in range(4)]
    proc = cluster.equalize(images[0], None, *images[1:], "--out-dir", tmp_path / "zk", "--jobs", "2",
                            "--mode", "lab")
    assert proc.returncode == 0, proc.stderr.decode()
    for image in images:
        want = local_bytes(histo_bin, image, tmp_path / "local.png", "--mode", "lab")
        assert (tmp_path / "zk" / image.name).read_bytes() == want, image.name
    # One shared table: each image counted on the workers, then applied there.
    shared = ["--out-dir", tmp_path / "zk-shared", "--shared-table"]
    proc = cluster.equalize(images[0], None, *images[1:], *shared)
    assert proc.returncode == 0, proc.stderr.decode()
    subprocess.run([histo_bin, "equalize", *images, "--out-dir", tmp_path / "local-shared", "--shared-table"],
                   check=True, timeout=120)
    for image in images:
        want = (tmp_path / "local-shared" / image.name).read_bytes()
        assert (tmp_path / "zk-shared" / image.name).read_bytes() == want, image.name


def slow_job_image(tmp_path):
    # ~24 strips: long enough, with slow workers, to be disturbed mid-job.
    return write(tmp_path, "big.png", low_contrast_color(2400, 3400, 6))


def test_killed_worker_tasks_run_elsewhere(cluster, histo_bin, tmp_path):
    victims = [cluster.worker("--chaos-task-delay", "150ms", slots=1) for _ in range(3)]
    src = slow_job_image(tmp_path)
    job = subprocess.Popen([histo_bin, "equalize", src, "-o", tmp_path / "zk.png", *cluster.common()],
                           stderr=subprocess.PIPE)
    time.sleep(1.0)
    assert job.poll() is None, "the job should still be running"
    victims[0].signal(signal.SIGKILL)
    _, err = job.communicate(timeout=120)
    assert job.returncode == 0, err.decode()
    assert (tmp_path / "zk.png").read_bytes() == local_bytes(histo_bin, src, tmp_path / "local.png")


def test_hung_worker_is_backed_up(cluster, histo_bin, tmp_path):
    hung = cluster.worker("--chaos-task-delay", "100ms", slots=1)
    cluster.worker("--chaos-task-delay", "100ms", slots=1)
    src = slow_job_image(tmp_path)
    started = time.monotonic()
    job = subprocess.Popen([histo_bin, "equalize", src, "-o", tmp_path / "zk.png", *cluster.common()],
                           stderr=subprocess.PIPE)
    time.sleep(0.8)
    hung.signal(signal.SIGSTOP)  # alive, connected, silent
    try:
        _, err = job.communicate(timeout=120)
    finally:
        hung.signal(signal.SIGCONT)
    assert job.returncode == 0, err.decode()
    # Backups, not the 20 s deadline, finished the job.
    assert time.monotonic() - started < 15
    assert (tmp_path / "zk.png").read_bytes() == local_bytes(histo_bin, src, tmp_path / "local.png")


def test_no_workers_fails_fast_with_a_clear_error(cluster, tmp_path):
    src = write(tmp_path, "in.png", low_contrast_gray(200, 200, 7))
    started = time.monotonic()
    proc = cluster.equalize(src, tmp_path / "out.png", timeout=30)
    assert proc.returncode == 3
    assert proc.stderr.decode().strip().splitlines() == [
        f"histo: error: cannot equalize {src}: no workers are available"]
    assert time.monotonic() - started < 10
    assert not (tmp_path / "out.png").exists()


def test_every_worker_gone_mid_job_fails_fast(cluster, histo_bin, tmp_path):
    only = cluster.worker("--chaos-task-delay", "200ms", slots=1)
    src = slow_job_image(tmp_path)
    job = subprocess.Popen([histo_bin, "equalize", src, "-o", tmp_path / "zk.png", *cluster.common()],
                           stderr=subprocess.PIPE)
    time.sleep(1.0)
    only.signal(signal.SIGKILL)
    _, err = job.communicate(timeout=30)
    assert job.returncode == 3, err.decode()
    assert "no workers are available" in err.decode()


def test_jobs_on_known_workers_continue_while_suspended(cluster, histo_bin, tmp_path):
    cluster.worker("--chaos-task-delay", "100ms", slots=2)
    cluster.worker("--chaos-task-delay", "100ms", slots=2)
    src = slow_job_image(tmp_path)
    job = subprocess.Popen([histo_bin, "equalize", src, "-o", tmp_path / "zk.png", *cluster.common()],
                           stderr=subprocess.PIPE)
    time.sleep(1.0)
    assert job.poll() is None
    cluster.zk.stop()
    _, err = job.communicate(timeout=120)
    assert job.returncode == 0, err.decode()
    assert (tmp_path / "zk.png").read_bytes() == local_bytes(histo_bin, src, tmp_path / "local.png")


def test_zookeeper_outage_suspends_loses_and_heals(cluster, kazoo_client):
    master = cluster.master()
    worker = cluster.worker()
    master.wait_for(r"ZooKeeper Connection: OK", 10)
    offset = len(master.output())
    cluster.zk.stop()
    down = time.monotonic()
    after = master.wait_for(r"WARNING: SUSPENDED", SESSION_TIMEOUT_S + 2, offset)
    suspended_after = time.monotonic() - down
    after = master.wait_for(r"ERROR: LOST", SESSION_TIMEOUT_S * 2 + 2, after)
    assert time.monotonic() - down >= SESSION_TIMEOUT_S
    worker.wait_for(r"WARNING: SUSPENDED", 5)
    cluster.zk.start()
    master.wait_for(r"RECONNECTED.*|ZooKeeper Connection: OK", 20, after)
    master.wait_for(r"Leader election: OK", 20, after)
    zk = kazoo_client()
    wait_until(lambda: len(zk.get_children("/histo/workers")) == 1, 20, "the worker to register again")
    wait_until(lambda: len(zk.get_children("/histo/masters")) == 1, 20, "the master to register again")
    wait_until(lambda: zk.exists("/histo/leader"), 20, "a leader")
    # Connection loss is noticed within the client's connection timeout
    # (2/5 of the session timeout) plus a ping interval.
    assert suspended_after < SESSION_TIMEOUT_S * 2 / 5 + 2


def test_leader_failover_within_the_session_timeout(cluster, kazoo_client):
    first = cluster.master()
    first.wait_for(r"Leader election: OK", 10)
    second = cluster.master()
    zk = kazoo_client()
    leader = json.loads(zk.get("/histo/leader")[0])["id"]
    assert f"histo master {leader} joined" in first.output()
    assert len(zk.get_children("/histo/election")) == 2
    killed = time.monotonic()
    first.signal(signal.SIGKILL)
    second.wait_for(r"Leader election: OK", SESSION_TIMEOUT_S + 5)
    assert time.monotonic() - killed < SESSION_TIMEOUT_S + 3
    new_leader = json.loads(zk.get("/histo/leader")[0])["id"]
    assert new_leader != leader and f"histo master {new_leader} joined" in second.output()


def test_graceful_master_exit_hands_over_at_once(cluster, kazoo_client):
    first = cluster.master()
    first.wait_for(r"Leader election: OK", 10)
    second = cluster.master()
    first.signal(signal.SIGTERM)
    second.wait_for(r"Leader election: OK", 3)
    zk = kazoo_client()
    assert len(zk.get_children("/histo/masters")) == 1


def test_zookeeper_acls_deny_another_identity(cluster, histo_bin, kazoo_client, tmp_path):
    from kazoo.exceptions import NoAuthError

    auth = ["--zk-auth", "histo:s3cret", "--zk-root", "/secure"]
    cluster.worker(*auth)
    owner = kazoo_client(auth="histo:s3cret")
    wait_until(lambda: owner.exists("/secure/workers") and owner.get_children("/secure/workers"), 10, "the worker")
    worker_id = owner.get_children("/secure/workers")[0]
    acl, _ = owner.get_acls(f"/secure/workers/{worker_id}")
    assert [(a.id.scheme, a.perms) for a in acl] == [("digest", 31)]
    stranger = kazoo_client()
    with pytest.raises(NoAuthError):
        stranger.get(f"/secure/workers/{worker_id}")
    with pytest.raises(NoAuthError):
        stranger.create("/secure/workers/intruder", b"{}", ephemeral=True)
    intruder = kazoo_client(auth="mallory:guess")
    with pytest.raises(NoAuthError):
        intruder.get_children("/secure/workers")
    # The rightful identity can run jobs.
    src = write(tmp_path, "in.png", low_contrast_gray(300, 300, 8))
    proc = cluster.equalize(src, tmp_path / "out.png", *auth)
    assert proc.returncode == 0, proc.stderr.decode()
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(out, cv2.equalizeHist(low_contrast_gray(300, 300, 8)))


def test_submit_fails_over_to_the_other_master(cluster, histo_bin, tmp_path):
    from conftest import TOKEN

    first = cluster.master()
    first.wait_for(r"Leader election: OK", 10)
    second = cluster.master()
    cluster.worker()
    src = write(tmp_path, "in.png", low_contrast_color(400, 300, 9))
    # Masters answer at `histo master`'s PNG settings (level 1, Sub), not `equalize`'s (5, adaptive).
    want = local_bytes(histo_bin, src, tmp_path / "local.png", "--png-level", "1", "--png-filter", "sub")
    env = {"HISTO_TOKEN": TOKEN}
    submit = [histo_bin, "submit", src, "--server", f"{first.url},{second.url}"]
    ok = subprocess.run([*submit, "-o", tmp_path / "a.png"], capture_output=True, timeout=60,
                        env={**os.environ, **env})
    assert ok.returncode == 0, ok.stderr.decode()
    assert (tmp_path / "a.png").read_bytes() == want
    first.signal(signal.SIGKILL)
    again = subprocess.run([*submit, "-o", tmp_path / "b.png"], capture_output=True, timeout=60,
                           env={**os.environ, **env})
    assert again.returncode == 0, again.stderr.decode()
    assert (tmp_path / "b.png").read_bytes() == want
    wrong = subprocess.run([*submit[:-2], "--server", second.url, "-o", tmp_path / "c.png"], capture_output=True,
                           timeout=60, env={**os.environ, "HISTO_TOKEN": "wrong-token-000000000"})
    assert wrong.returncode == 1
    assert "401" in wrong.stderr.decode() and not (tmp_path / "c.png").exists()


def test_a_worker_answers_the_standard_grpc_health_protocol(cluster, histo_bin):
    """Workers serve gRPC only: `histo healthcheck --grpc` (the image's
    health check for them) asks their standard health service."""
    worker = cluster.worker()
    address = re.search(r"listening on ([^\s,]+)", worker.output()).group(1)
    check = [histo_bin, "healthcheck", "--grpc", address, "--timeout", "2s"]
    ok = subprocess.run(check, capture_output=True, text=True, timeout=20)
    assert ok.returncode == 0, ok.stderr
    worker.kill()
    gone = subprocess.run(check, capture_output=True, text=True, timeout=20)
    assert gone.returncode == 1
    assert gone.stderr.startswith("histo: error: unhealthy") and len(gone.stderr.strip().splitlines()) == 1, gone.stderr


def test_a_master_without_workers_stays_ready_and_says_it_is_degraded(cluster):
    """Readiness is the master's own: its dashboard must stay reachable
    through the outages it shows. No worker is `degraded` on /healthz;
    only a coordinator it cannot use makes it unready."""
    master = cluster.master()
    get = lambda path: requests.get(master.url + path, timeout=5)  # noqa: E731
    assert get("/readyz").status_code == 200
    assert get("/healthz").json() == {"status": "degraded", "coordinator": "CONNECTED", "workers": 0}
    cluster.worker()
    wait_until(lambda: get("/healthz").json()["status"] == "ok", 15, "the worker to be seen")
    cluster.zk.stop()
    wait_until(lambda: get("/readyz").status_code == 503, SESSION_TIMEOUT_S + 10, "unready without ZooKeeper")
    assert get("/healthz").status_code == 200, "still alive"


def test_a_worker_with_the_cluster_token_refuses_calls_without_it(cluster, tmp_path):
    worker = cluster.worker(env={"HISTO_TOKEN": "cluster-secret-7c2e"})
    src = write(tmp_path, "in.png", low_contrast_gray(400, 300, 2))
    ok = cluster.equalize(src, tmp_path / "ok.png", env={"HISTO_TOKEN": "cluster-secret-7c2e"})
    assert ok.returncode == 0, ok.stderr.decode()
    for name, env in [("wrong", {"HISTO_TOKEN": "not-the-secret"}), ("none", {})]:
        refused = cluster.equalize(src, tmp_path / f"{name}.png", env=env)
        assert refused.returncode == 3, (name, refused.stderr.decode())
        assert not (tmp_path / f"{name}.png").exists(), "no partial output"
    worker.wait_for(r"refused a worker RPC call without the cluster's token", 5)
    assert "cluster-secret-7c2e" not in worker.output() and "not-the-secret" not in worker.output()


def test_streamed_tiff_on_workers_is_byte_identical_to_local(cluster, histo_bin, tmp_path):
    """A striped or tiled TIFF is read band by band on the master and written
    strip by strip as the workers' strips come back: the same bytes as the
    local engine for any strip size."""
    import tifffile

    cluster.worker()
    cluster.worker()
    gray, colour = low_contrast_gray(1300, 900, 41), gray16(700, 500, 42)
    tiled = tmp_path / "tiled.tif"
    tifffile.imwrite(tiled, gray, tile=(128, 96), compression="zlib")
    striped = tmp_path / "striped.tif"
    tifffile.imwrite(striped, np.dstack([colour, colour[::-1], colour[:, ::-1]]), rowsperstrip=33)
    for image, extra in [(tiled, []), (tiled, ["--method", "clahe"]), (striped, ["--mode", "rgb"])]:
        for rows in ([], ["--strip-rows", "7"], ["--strip-rows", "250"]):
            proc = cluster.equalize(image, tmp_path / "zk.tif", *extra, *rows)
            assert proc.returncode == 0, proc.stderr.decode()
            want = local_bytes(histo_bin, image, tmp_path / "local.tif", *extra, *rows)
            assert (tmp_path / "zk.tif").read_bytes() == want, (image.name, extra, rows)


def test_streamed_jpeg_on_workers_is_byte_identical_to_local(cluster, histo_bin, tmp_path):
    """A baseline or progressive JPEG is decoded row by row on the master and
    written row by row as the workers' strips come back: the same bytes as
    the local engine for any strip size."""
    cluster.worker()
    cluster.worker()
    colour = low_contrast_color(700, 900, 43)
    for progressive in (0, 1):
        image = tmp_path / f"in{progressive}.jpg"
        cv2.imwrite(str(image), colour, [cv2.IMWRITE_JPEG_PROGRESSIVE, progressive])
        for rows in ([], ["--strip-rows", "9"], ["--strip-rows", "300"]):
            proc = cluster.equalize(image, tmp_path / "zk.jpg", *rows)
            assert proc.returncode == 0, proc.stderr.decode()
            want = local_bytes(histo_bin, image, tmp_path / "local.jpg", *rows)
            assert (tmp_path / "zk.jpg").read_bytes() == want, (progressive, rows)
