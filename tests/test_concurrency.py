"""Many publishes at once against Garage (issue #26, part 3).

- Racers: four publishes of one version at once. Garage ignores
  If-None-Match, so more than one can write the key; the ETag check before
  the row (store::upload::check_stored) must leave exactly one row, and
  every publish that says it succeeded must have a row naming the object
  that is stored. The losers exit 8 and leave the winner's bytes.
- Load: sixteen publishes of different versions at once through the fault
  proxy, which answers `503 SlowDown` in Garage's stead to a share of the
  requests: every one is published, every row matches its object, and no
  multipart upload is left (boto3, straight to Garage, is the judge).

The batch's wall time and each process's peak RSS are printed (not
asserted: this machine's two cores are shared).
"""

import hashlib
import itertools
import os
import random
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import publish_args
from faults import FaultProxy, Hold, SlowDown

EXISTS = 8
PART = 6 << 20


def write_random(path, size, seed):
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def run_all(cli, jobs):
    """Starts every (args, env) at once; returns [(exit code, stderr, peak
    RSS in MiB)] in order, and the wall time of the batch."""
    started = time.monotonic()
    procs = []
    for i, (args, env) in enumerate(jobs):
        err = tempfile.TemporaryFile("w+")
        proc = subprocess.Popen([str(cli.binary), *map(str, args)], env=cli.env(env),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        procs.append((proc, err))
    results = []
    for proc, err in procs:
        deadline = time.monotonic() + 300
        while True:  # wait4 for this child's own rusage, with a deadline
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("a publish did not end within 300 s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        results.append((proc.returncode, err.read(), usage.ru_maxrss / 1024))
        err.close()
    return results, time.monotonic() - started


def report(capsys, record_property, what, results, wall):
    rss = [r[2] for r in results]
    line = (f"\n{what}: {len(results)} processes, batch wall time {wall:.1f} s, peak RSS "
            f"min {min(rss):.0f} / max {max(rss):.0f} MiB per process")
    record_property("wall_seconds", round(wall, 2))
    record_property("peak_rss_mib", [round(r) for r in rss])
    with capsys.disabled():
        print(line)


def stored_sha(garage, key):
    return hashlib.sha256(garage.get(key)).hexdigest()


@pytest.fixture
def proxy(garage):
    server = FaultProxy(("127.0.0.1", garage.s3_port))
    yield server
    server.stop()


def completion(request) -> bool:
    return request.method == "POST" and "uploadId" in request.query


@pytest.mark.parametrize("together", [False, True], ids=["free", "completing-together"])
def test_four_racers_on_one_version_leave_exactly_one_row(
        cli, tmp_path, garage, admin_api, publish_env, proxy, capsys, record_property, together):
    """`free`: four start at once and the HEAD checks sort most of them out.
    `completing-together`: the proxy holds each completion until all four
    have sent theirs, so all four pass their HEAD check and all four write
    the key: only the ETag check before the row can leave a single row."""
    key = "dev/loader-arm64-race.enc"
    barrier = threading.Barrier(4, timeout=30)
    proxy.reset(lambda r: Hold(barrier) if together and completion(r) else None)
    env = {**publish_env, "S3_ENDPOINT": proxy.url}
    srcs = [write_random(tmp_path / f"racer-{i}.tar", PART + (1 << 20), seed=10 * together + i)
            for i in range(4)]
    jobs = [([*publish_args(src, version="race")], env) for src in srcs]
    results, wall = run_all(cli, jobs)
    codes = [code for code, _, _ in results]
    assert all(code in (0, EXISTS) for code in codes), results
    rows = [r.json() for r in admin_api.stored]
    assert len(rows) == 1, (codes, rows)
    assert codes.count(0) == 1, (codes, [err for _, err, _ in results])
    # The winner's row names the stored object, and so do its sidecars.
    assert rows[0]["sha256"] == stored_sha(garage, key)
    assert garage.get(key + ".sha256").split()[0].decode() == rows[0]["sha256"]
    assert garage.open_multipart_uploads() == []
    for code, err, _ in results:
        if code == EXISTS:
            assert ("already published" in err or "won the race" in err
                    or "another publish's object" in err), err
    by_etag = sum("another publish's object" in err for _, err, _ in results)
    if together:
        # All four sent their completion past their HEAD check. Garage
        # refuses the completion of an upload older than one completed
        # (NoSuchUpload), but not of one older than none yet: mostly one or
        # two losers write the key, and only the ETag check stops them (not
        # asserted: which completes first is Garage's to decide; without the
        # check, this case registered two rows and deleted the winner's
        # object in every run tried but one).
        assert len([r for r in proxy.requests if completion(r)]) == 4
    record_property("winners", codes.count(0))
    record_property("stopped_by_etag", by_etag)
    report(capsys, record_property,
           f"race ({'together' if together else 'free'}): exits {codes}, {by_etag} by ETag",
           results, wall)


def test_sixteen_publishes_at_once_through_slowdowns(
        cli, tmp_path, garage, admin_api, publish_env, proxy, capsys, record_property):
    # Every fourth request the proxy sees, on its first attempt only, is
    # answered 503 SlowDown: a share of everything (HEADs, parts,
    # completions, sidecars), and no request is refused twice in a row.
    counter, lock = itertools.count(), threading.Lock()

    def rule(request):
        with lock:
            n = next(counter)
        return SlowDown() if request.attempt == 1 and n % 4 == 0 else None

    proxy.reset(rule)
    env = {**publish_env, "S3_ENDPOINT": proxy.url}
    # Half single PUTs, half two-part multipart uploads.
    sizes = [(1 << 20) if i % 2 else PART + (1 << 20) for i in range(16)]
    srcs = [write_random(tmp_path / f"load-{i}.tar", size, seed=1000 + i)
            for i, size in enumerate(sizes)]
    jobs = [([*publish_args(src, version=f"load-{i}")], env) for i, src in enumerate(srcs)]
    results, wall = run_all(cli, jobs)
    assert [code for code, _, _ in results] == [0] * 16, [err for _, err, _ in results]
    assert len(proxy.faults) >= 16
    rows = {r.json()["version"]: r.json() for r in admin_api.stored}
    assert sorted(rows) == sorted(f"load-{i}" for i in range(16))
    for version, row in rows.items():
        key = f"dev/loader-arm64-{version}.enc"
        obj = garage.get(key)
        assert hashlib.sha256(obj).hexdigest() == row["sha256"] and len(obj) == row["size_bytes"]
    assert garage.open_multipart_uploads() == []
    record_property("slowdowns", len(proxy.faults))
    report(capsys, record_property,
           f"16 publishes through {len(proxy.faults)} SlowDowns", results, wall)
