"""A single-node Garage (a real S3 server) on loopback, for tests and the demo.

`Garage.start(workdir)` writes a config, starts `garage server`, lays out the
one node, creates a bucket and a key with read/write/owner rights, and makes
the bucket a website under the global alias `localhost`, so that Garage's web
endpoint serves `http://localhost:<web_port>/<object key>`: a CDN stand-in.
`stop()` ends the server. Nothing outside `workdir` is touched.
"""

import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REGION = "garage"
BUCKET = "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Garage:
    workdir: Path
    s3_port: int
    web_port: int
    config: Path
    process: subprocess.Popen
    bucket: str = BUCKET
    region: str = REGION
    access_key: str = ""
    secret_key: str = field(default="", repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def cdn_base(self) -> str:
        return f"http://localhost:{self.web_port}"

    def cli(self, *args: str) -> str:
        run = subprocess.run(
            ["garage", "-c", str(self.config), *args], capture_output=True, text=True
        )
        if run.returncode != 0:
            raise RuntimeError(f"garage {' '.join(args)} failed: {run.stderr}")
        return run.stdout

    def s3_env(self) -> dict:
        """The S3 part of the contract's environment."""
        return {
            "S3_ENDPOINT": self.endpoint,
            "S3_ACCESS_KEY": self.access_key,
            "S3_SECRET_KEY": self.secret_key,
            "S3_BUCKET": self.bucket,
            "S3_REGION": self.region,
        }

    def boto3(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}),
        )

    @classmethod
    def start(cls, workdir: Path) -> "Garage":
        if shutil.which("garage") is None:
            raise RuntimeError("garage is not installed: run scripts/setup.sh")
        workdir.mkdir(parents=True, exist_ok=True)
        rpc, s3, web, admin = (free_port() for _ in range(4))
        config = workdir / "garage.toml"
        config.write_text(
            f"""metadata_dir = "{workdir}/meta"
data_dir = "{workdir}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secrets.token_hex(32)}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"

[s3_web]
bind_addr = "127.0.0.1:{web}"
root_domain = ".web.garage.localhost"
index = "index.html"

[admin]
api_bind_addr = "127.0.0.1:{admin}"
admin_token = "{secrets.token_hex(16)}"
"""
        )
        log = open(workdir / "garage.log", "wb")
        process = subprocess.Popen(
            ["garage", "-c", str(config), "server"], stdout=log, stderr=subprocess.STDOUT
        )
        garage = cls(workdir, s3, web, config, process)
        try:
            garage._configure()
        except BaseException:
            garage.stop()
            raise
        return garage

    def _configure(self) -> None:
        deadline = time.monotonic() + 30
        while True:  # until the server answers on its RPC port
            try:
                self.cli("status")
                break
            except RuntimeError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        node = self.cli("node", "id", "-q").strip().split("@")[0]
        self.cli("layout", "assign", "-z", "dc1", "-c", "1G", node)
        self.cli("layout", "apply", "--version", "1")
        self.cli("bucket", "create", BUCKET)
        created = self.cli("key", "create", "tests")
        self.access_key = re.search(r"Key ID:\s+(\S+)", created).group(1)
        self.secret_key = re.search(r"Secret key:\s+(\S+)", created).group(1)
        self.cli("bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", "tests")
        self.cli("bucket", "website", "--allow", BUCKET)
        self.cli("bucket", "alias", BUCKET, "localhost")
        self._wait_for_s3()

    def _wait_for_s3(self) -> None:
        client = self.boto3()
        deadline = time.monotonic() + 30
        while True:
            try:
                client.head_bucket(Bucket=self.bucket)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # What the bucket holds, for assertions.
    def keys(self) -> list:
        listed = self.boto3().list_objects_v2(Bucket=self.bucket)
        return sorted(obj["Key"] for obj in listed.get("Contents", []))

    def open_multipart_uploads(self) -> list:
        listed = self.boto3().list_multipart_uploads(Bucket=self.bucket)
        return listed.get("Uploads", [])

    def get(self, key: str) -> bytes:
        return self.boto3().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def clear(self) -> None:
        client = self.boto3()
        for key in self.keys():
            client.delete_object(Bucket=self.bucket, Key=key)
        for upload in self.open_multipart_uploads():
            client.abort_multipart_upload(
                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
