"""A three-node Garage cluster on loopback: three processes, one zone each,
`replication_factor = 3`, so a write needs two of the three nodes (Garage's
quorum). Node 0 is the endpoint the tests talk to; `kill`, `pause`
(SIGSTOP), `resume` and `restart` act on any node. Short RPC timeouts keep
a lost node from holding a test for long.
"""

import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from garage import BUCKET, REGION, Garage, free_port


@dataclass
class Node:
    config: Path
    rpc_port: int
    s3_port: int
    log: Path
    process: subprocess.Popen = None

    def start(self) -> None:
        out = open(self.log, "ab")
        self.process = subprocess.Popen(["garage", "-c", str(self.config), "server"],
                                        stdout=out, stderr=subprocess.STDOUT)

    def cli(self, *args) -> str:
        run = subprocess.run(["garage", "-c", str(self.config), *args],
                             capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            raise RuntimeError(f"garage {' '.join(args)} failed: {run.stderr}")
        return run.stdout


@dataclass
class Cluster:
    workdir: Path
    nodes: list
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    bucket: str = BUCKET
    region: str = REGION

    @classmethod
    def start(cls, workdir: Path, size: int = 3) -> "Cluster":
        secret = secrets.token_hex(32)
        ports = [(free_port(), free_port()) for _ in range(size)]
        peers = ", ".join(f'"127.0.0.1:{rpc}"' for rpc, _ in ports)
        nodes = []
        for i, (rpc, s3) in enumerate(ports):
            folder = workdir / f"node{i}"
            folder.mkdir(parents=True)
            config = folder / "garage.toml"
            config.write_text(f"""metadata_dir = "{folder}/meta"
data_dir = "{folder}/data"
db_engine = "sqlite"
replication_factor = {size}
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secret}"
rpc_timeout_msec = 5000
rpc_ping_timeout_msec = 2000

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"
""")
            node = Node(config, rpc, s3, folder / "garage.log")
            node.start()
            nodes.append(node)
        cluster = cls(workdir, nodes)
        try:
            cluster._configure(peers)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _configure(self, peers: str) -> None:
        first = self.nodes[0]
        ids = []
        for node in self.nodes:
            deadline = time.monotonic() + 30
            while True:
                try:
                    ids.append(node.cli("node", "id", "-q").strip())
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        for full in ids[1:]:
            first.cli("node", "connect", full)
        for i, full in enumerate(ids):
            first.cli("layout", "assign", "-z", f"zone{i}", "-c", "1G", full.split("@")[0])
        first.cli("layout", "apply", "--version", "1")
        first.cli("bucket", "create", BUCKET)
        created = first.cli("key", "create", "tests")
        self.access_key = re.search(r"Key ID:\s+(\S+)", created).group(1)
        self.secret_key = re.search(r"Secret key:\s+(\S+)", created).group(1)
        first.cli("bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", "tests")
        for node in range(len(self.nodes)):
            self.wait_for_s3(node)
        self.wait_connected()

    # --- what a test does to the nodes ------------------------------------

    def kill(self, i: int) -> None:
        self.nodes[i].process.kill()
        self.nodes[i].process.wait()

    def pause(self, i: int) -> None:
        self.nodes[i].process.send_signal(signal.SIGSTOP)

    def resume(self, i: int) -> None:
        self.nodes[i].process.send_signal(signal.SIGCONT)

    def restart(self, i: int) -> None:
        if self.nodes[i].process.poll() is None:
            self.kill(i)
        self.nodes[i].start()
        self.wait_for_s3(i)

    def heal(self) -> None:
        """Every node running and answering again."""
        for i, node in enumerate(self.nodes):
            if node.process.poll() is None:
                self.resume(i)
            else:
                self.restart(i)
        for i in range(len(self.nodes)):
            self.wait_for_s3(i)
        self.wait_connected()

    def wait_connected(self, within: float = 60) -> None:
        """Until node 0 has heard from every node (`garage status` names
        each one's host, `?` until it has), so a test starts whole."""
        deadline = time.monotonic() + within
        while True:
            status = self.nodes[0].cli("status")
            rows = [line for line in status.splitlines() if re.match(r"^[0-9a-f]{16} ", line)]
            if "FAILED" not in status and len(rows) == len(self.nodes) \
                    and all(line.split()[1] != "?" for line in rows):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not come together:\n{status}")
            time.sleep(0.3)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process and node.process.poll() is None:
                node.process.send_signal(signal.SIGCONT)
                node.process.kill()
                node.process.wait()

    # --- S3 -----------------------------------------------------------------

    def endpoint(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.nodes[i].s3_port}"

    def s3_env(self, i: int = 0) -> dict:
        return {"S3_ENDPOINT": self.endpoint(i), "S3_ACCESS_KEY": self.access_key,
                "S3_SECRET_KEY": self.secret_key, "S3_BUCKET": self.bucket,
                "S3_REGION": self.region}

    def boto3(self, i: int = 0):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint(i),
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region,
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 2},
                                          connect_timeout=5, read_timeout=20))

    def wait_for_s3(self, i: int) -> None:
        client = self.boto3(i)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.list_objects_v2(Bucket=self.bucket)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    # The same views of the bucket as the one-node Garage's, through node `i`.
    def keys(self, i: int = 0) -> list:
        return Garage.keys(self._view(i))

    def open_multipart_uploads(self, i: int = 0) -> list:
        return Garage.open_multipart_uploads(self._view(i))

    def get(self, key: str, i: int = 0) -> bytes:
        return Garage.get(self._view(i), key)

    def clear(self) -> None:
        Garage.clear(self._view(0))

    def _view(self, i: int):
        cluster = self

        class View:  # what Garage's bucket helpers need of `self`
            bucket = cluster.bucket
            keys, get = Garage.keys, Garage.get
            open_multipart_uploads = Garage.open_multipart_uploads

            def boto3(self):
                return cluster.boto3(i)
        return View()
