"""Publishing to a three-node Garage cluster that loses nodes mid-upload
(issue #26, part 1). The tool talks to node 0 through the fault proxy,
whose rule acts on the nodes the moment part 2 of the upload arrives, so
every test hits the middle of a multipart upload, every time.

- One node lost (not the endpoint): Garage's write quorum is 2 of 3, so the
  publish succeeds; the row matches the object, which reads back whole
  while the node is down and through that node once it is back.
- Two lost: the publish fails within its deadlines (exit 4), no row; the
  abort cannot reach a quorum either, and the message names the upload;
  once the nodes are back, `cleanup` removes it and nothing is left.
- One paused (SIGSTOP): the request deadlines fire and retries either
  carry the publish or it fails cleanly; nothing is half-published.

The outcome is judged through boto3 against the cluster, never the tool.
"""

import hashlib
import random
import re
import threading
import time

import pytest

from conftest import TOKEN, publish_args
from faults import FaultProxy
from garage_cluster import Cluster

KEY = "dev/loader-arm64-2026-04-15.enc"
PART = 6 << 20
STORAGE = 4
# Short per-attempt deadlines, so that a lost node costs seconds, not minutes.
DEADLINES = {"PUBLISH_ARTIFACT_S3_TIMEOUT_SECONDS": "5", "ADMIN_API_TIMEOUT_SECONDS": "5"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    made = Cluster.start(tmp_path_factory.mktemp("cluster"))
    yield made
    made.stop()


@pytest.fixture(scope="module")
def proxy(cluster):
    server = FaultProxy(("127.0.0.1", cluster.nodes[0].s3_port))
    yield server
    server.stop()


@pytest.fixture
def env(cluster, proxy, admin_api_server):
    cluster.heal()
    cluster.clear()
    proxy.reset()
    admin_api_server.reset()
    return {**cluster.s3_env(), "S3_ENDPOINT": proxy.url, **DEADLINES,
            "ADMIN_API_URL": admin_api_server.url, "ADMIN_API_TOKEN": TOKEN}


def on_part_2(action):
    """A proxy rule that runs `action` once, when part 2 first arrives."""
    done = threading.Event()

    def rule(request):
        if request.is_part(2) and not done.is_set():
            done.set()
            action()
        return None
    return rule


def source(tmp_path, parts=4):
    path = tmp_path / "image.tar"
    path.write_bytes(random.Random(parts).randbytes(parts * PART - (1 << 20)))
    return path


def settles(check, within=20.0) -> bool:
    """Whether `check()` holds within `within` seconds. A node that missed a
    write while down still lists the upload as in progress until Garage's
    anti-entropy has brought it up to date (seconds): a leftover that is
    real never goes away, and fails the test all the same."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def publish(cli, env, src):
    started = time.monotonic()
    run = cli(*publish_args(src), env=env, timeout=300)
    return run, time.monotonic() - started


def test_a_lost_node_mid_upload_is_survived(cli, tmp_path, cluster, proxy, env,
                                            admin_api_server):
    proxy.reset(on_part_2(lambda: cluster.kill(2)))
    run, _ = publish(cli, env, source(tmp_path))
    assert proxy.faults == [] and cluster.nodes[2].process.poll() is not None, "not killed"
    assert run.returncode == 0, run.stderr
    [row] = [r.json() for r in admin_api_server.stored]
    down = cluster.get(KEY)
    assert hashlib.sha256(down).hexdigest() == row["sha256"] and len(down) == row["size_bytes"]
    # Judged while the node is down: the two that took the completion agree
    # that no upload is left. (Once the killed node is back, Garage 2.5 may
    # list the completed upload as in progress through it for a while,
    # from the state it missed: seen for over 20 s; not the tool's.)
    assert cluster.open_multipart_uploads() == []
    cluster.restart(2)
    assert cluster.get(KEY, 2) == down  # through the node that was down


def test_two_lost_nodes_fail_the_publish_cleanly(cli, tmp_path, cluster, proxy, env,
                                                 admin_api_server):
    proxy.reset(on_part_2(lambda: (cluster.kill(1), cluster.kill(2))))
    run, seconds = publish(cli, env, source(tmp_path))
    assert run.returncode == STORAGE, run.stderr
    assert seconds < 150, f"the publish took {seconds:.0f} s"
    assert admin_api_server.requests == []
    cluster.heal()
    time.sleep(2)  # the restarted nodes catch up on the abort that did reach one
    left = cluster.open_multipart_uploads()
    # What the abort could not remove, the message names, with what to run.
    for upload in left:
        assert upload["UploadId"] in run.stderr and "cleanup" in run.stderr, run.stderr
    assert KEY not in cluster.keys()
    cleaned = cli("cleanup", "--prefix", "dev/", "--older-than", "0s", env=cluster.s3_env())
    assert cleaned.returncode == 0, cleaned.stderr
    assert cleaned.stdout.count("aborted") == len(left), cleaned.output
    assert settles(lambda: cluster.open_multipart_uploads() == []), cleaned.output
    assert cluster.keys() == []
    print(f"two nodes lost: exit {run.returncode} after {seconds:.1f} s, "
          f"{len(left)} upload(s) left for cleanup")


def test_a_paused_node_mid_upload_ends_cleanly(cli, tmp_path, cluster, proxy, env,
                                               admin_api_server):
    def pause_for_a_while():
        cluster.pause(2)
        threading.Timer(12, cluster.resume, args=(2,)).start()

    proxy.reset(on_part_2(pause_for_a_while))
    run, seconds = publish(cli, env, source(tmp_path))
    assert seconds < 150, f"the publish took {seconds:.0f} s"
    rows = [r.json() for r in admin_api_server.stored]
    cluster.heal()
    if run.returncode == 0:
        [row] = rows
        obj = cluster.get(KEY)
        assert hashlib.sha256(obj).hexdigest() == row["sha256"]
    else:
        assert run.returncode == STORAGE and rows == [], run.stderr
        assert KEY not in cluster.keys()
        for upload in cluster.open_multipart_uploads():
            assert upload["UploadId"] in run.stderr, run.stderr
    assert not [k for k in cluster.keys() if re.search(r"\.enc\.", k) and run.returncode]
    print(f"paused node: exit {run.returncode} after {seconds:.1f} s")
