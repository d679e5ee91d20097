"""`fetch` (the loader's side) and `verify`: objects back to the exact bytes,
through a flaky HTTP server, Garage's web endpoint and the S3 API."""

import json
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import BLOCK, mixed_data, publish_args


class ObjectServer:
    """Serves one object over HTTP. `mode`: `ok`, `drop-once` (the first
    response stops halfway and the connection is closed), `ignore-range`
    (drops once, then answers every request with the whole object), `slow`
    (16 KiB every 50 ms; `sent` counts the bytes)."""

    def __init__(self, obj: bytes, mode: str = "ok"):
        self.obj, self.mode = obj, mode
        self.ranges = []
        self.sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path != "/artifact.enc":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                requested = self.headers.get("Range")
                server.ranges.append(requested)
                first = len(server.ranges) == 1
                start = 0
                if requested and server.mode != "ignore-range":
                    start = int(requested.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(server.obj) - 1}/{len(server.obj)}")
                else:
                    self.send_response(200)
                body = server.obj[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if first and server.mode in ("drop-once", "ignore-range"):
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if server.mode == "slow":
                    for at in range(0, len(body), 16 << 10):
                        self.wfile.write(body[at:at + (16 << 10)])
                        self.wfile.flush()
                        server.sent += 16 << 10
                        time.sleep(0.05)
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http.server_address[1]}/artifact.enc"

    def stop(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def sealed(cli, tmp_path):
    data = mixed_data(3 * BLOCK + 321, seed=21)
    src = tmp_path / "model.trt"
    src.write_bytes(data)
    run = cli("seal", "--file", src, "--out", tmp_path / "obj.enc", "--key-out", tmp_path / "key")
    assert run.returncode == 0, run.stderr
    return data, (tmp_path / "obj.enc").read_bytes(), tmp_path / "key", json.loads(run.stdout)["sha256"]


def fetch(cli, tmp_path, url, sha, key, env=None):
    out = tmp_path / "restored"
    run = cli("fetch", "--url", url, "--sha256", sha, "--key-file", key, "--out", out, env=env)
    return run, out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_a_fetch_and_leaves_no_output(cli, tmp_path, sealed, sig):
    _, obj, key, sha = sealed
    server = ObjectServer(obj, "slow")
    try:
        before = set(tmp_path.iterdir())
        process = subprocess.Popen(
            [str(cli.binary), "fetch", "--url", server.url, "--sha256", sha, "--key-file", str(key),
             "--out", str(tmp_path / "restored")],
            env=cli.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 30
        while server.sent < (256 << 10):
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        assert set(tmp_path.iterdir()) != before, "the output's temporary file should exist by now"
        sent = time.monotonic()
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 128 + sig, stderr
        assert time.monotonic() - sent < 5
        assert set(tmp_path.iterdir()) == before, "a partial output was left"
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["ok", "drop-once", "ignore-range"])
def test_fetch_by_url_survives_a_dropped_connection(cli, tmp_path, sealed, mode):
    data, obj, key, sha = sealed
    server = ObjectServer(obj, mode)
    try:
        run, out = fetch(cli, tmp_path, server.url, sha, key)
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == data
    if mode == "ok":
        assert server.ranges == [None]
    else:
        assert len(server.ranges) == 2 and server.ranges[0] is None
        # The retry asked to resume where the cut happened, not from zero.
        assert server.ranges[1].startswith("bytes=") and server.ranges[1] != "bytes=0-"
        assert "resumed 1 time" in run.stderr


def flip(obj, at):
    b = bytearray(obj)
    b[at] ^= 1
    return bytes(b)


@pytest.mark.parametrize("case", ["flipped byte", "wrong key", "wrong sha256", "truncated"])
def test_fetch_refuses_bad_objects_and_writes_nothing(cli, tmp_path, sealed, case):
    _, obj, key, sha = sealed
    if case == "flipped byte":
        obj = flip(obj, len(obj) // 3)
    elif case == "truncated":
        obj = obj[: len(obj) // 2]
    elif case == "wrong sha256":
        sha = "0" * 64
    elif case == "wrong key":
        key = tmp_path / "other.key"
        key.write_text("ab" * 32)
    server = ObjectServer(obj)
    try:
        run, out = fetch(cli, tmp_path, server.url, sha, key)
    finally:
        server.stop()
    assert run.returncode == 6, run.stderr
    assert "cannot open" in run.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_fetch_reads_the_key_from_the_environment(cli, tmp_path, sealed):
    data, obj, key, sha = sealed
    server = ObjectServer(obj)
    try:
        out = tmp_path / "restored"
        run = cli("fetch", "--url", server.url, "--sha256", sha, "--out", out,
                  env={"PUBLISH_ARTIFACT_KEY": key.read_text().strip()})
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == data


def test_fetch_of_a_missing_object_is_a_storage_error(cli, tmp_path, sealed):
    _, obj, key, sha = sealed
    server = ObjectServer(obj)
    try:
        run, out = fetch(cli, tmp_path, server.url.replace("artifact", "nothing"), sha, key)
    finally:
        server.stop()
    assert run.returncode == 4, run.stderr
    assert "404" in run.stderr
    assert not out.exists()


def test_verify_checks_and_compares(cli, tmp_path, sealed):
    data, obj, key, sha = sealed
    path = tmp_path / "obj.enc"
    original = tmp_path / "model.trt"
    run = cli("verify", "--file", path, "--sha256", sha, "--key-file", key, "--against", original)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["plaintext_size_bytes"] == len(data)
    different = tmp_path / "different"
    different.write_bytes(data[:1000] + b"X" + data[1001:])
    run = cli("verify", "--file", path, "--sha256", sha, "--key-file", key, "--against", different)
    assert run.returncode == 6 and "byte 1000" in run.stderr
    longer = tmp_path / "longer"
    longer.write_bytes(data + b"!")
    run = cli("verify", "--file", path, "--sha256", sha, "--key-file", key, "--against", longer)
    assert run.returncode == 6 and "longer" in run.stderr
    run = cli("verify", "--file", path, "--sha256", "1" * 64, "--key-file", key)
    assert run.returncode == 6


def test_publish_then_fetch_through_the_cdn_and_by_object_key(cli, tmp_path, garage, admin_api,
                                                              publish_env):
    data = mixed_data(2 * BLOCK + 77, seed=5)
    src = tmp_path / "image.tar"
    src.write_bytes(data)
    env = {**publish_env, "CDN_PUBLIC_BASE_URL": garage.cdn_base}
    run = cli(*publish_args(src), env=env)
    assert run.returncode == 0, run.stderr
    body = admin_api.requests[0].json()
    key = tmp_path / "key"
    key.write_text(body["encryption_key"])
    key.chmod(0o600)

    by_url, out = fetch(cli, tmp_path, body["cdn_url"], body["sha256"], key)
    assert by_url.returncode == 0, by_url.stderr
    assert body["cdn_url"].startswith(garage.cdn_base)
    assert out.read_bytes() == data

    out2 = tmp_path / "by-key"
    object_key = "dev/loader-arm64-2026-04-15.enc"
    by_key = cli("fetch", "--object-key", object_key, "--sha256", body["sha256"],
                 "--key-file", key, "--out", out2, env=garage.s3_env())
    assert by_key.returncode == 0, by_key.stderr
    assert out2.read_bytes() == data
