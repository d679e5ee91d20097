#!/usr/bin/env python3
"""The whole loop on one machine: publish a sample artifact to a real S3
server (Garage) and a stand-in admin API on loopback, take cdn_url, sha256
and key from the registration the admin API received, fetch the artifact
back through the cdn_url the way a loader would, and show the bytes match.
Everything it starts is stopped again, also on failure or Ctrl-C.
"""

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from admin_api import AdminApi  # noqa: E402
from garage import Garage  # noqa: E402


def binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "publish-artifact"


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(args, env) -> subprocess.CompletedProcess:
    shown = " ".join(str(a) for a in args[1:])
    print(f"$ publish-artifact {shown}", flush=True)
    done = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"publish-artifact exited with {done.returncode}")
    return done


def main() -> None:
    tool = binary()
    if not tool.exists():
        raise SystemExit(f"{tool} is missing: run `just demo` (it builds it first)")
    work = Path(tempfile.mkdtemp(prefix="publish-artifact-demo-"))
    garage = admin = None
    try:
        step("starting Garage (a real S3 server) and a stand-in admin API on loopback")
        garage = Garage.start(work / "garage")
        admin = AdminApi().start()
        print(f"S3 endpoint {garage.endpoint}, bucket {garage.bucket}; CDN stand-in {garage.cdn_base}; "
              f"admin API {admin.url}")

        step("a sample artifact: this repository's sources and a few system binaries, as a tar")
        sample = work / "sample.tar"
        with tarfile.open(sample, "w") as tar:
            for path in ["README.md", "wit", "guest/src", "host/src"]:
                tar.add(ROOT / path, arcname=path)
            for path in ["/usr/bin/openssl", "/usr/bin/python3"]:
                if Path(path).exists():
                    tar.add(path, arcname=Path(path).name)
        print(f"{sample} ({sample.stat().st_size} bytes)")

        step("publish it, with the contract's environment")
        env = dict(os.environ, **garage.s3_env(), ADMIN_API_URL=admin.url,
                   ADMIN_API_TOKEN="demo-token", CDN_PUBLIC_BASE_URL=garage.cdn_base)
        published = run([tool, "--file", sample, "--resource-name", "demo", "--dev-stage", "dev",
                         "--architecture", "amd64", "--version", "1", "--json"], env)
        receipt = json.loads(published.stdout)
        print(f"object s3://{garage.bucket}/{receipt['object_key']}, {receipt['size_bytes']} bytes")

        step("what the admin API received (the key shortened here; it is the only copy)")
        row = admin.requests[-1].json()
        print(json.dumps({**row, "encryption_key": row["encryption_key"][:8] + "..."}, indent=2))

        step("fetch it back through the cdn_url, as a loader would")
        key_file = work / "demo.key"
        key_file.touch(mode=0o600)
        key_file.write_text(row["encryption_key"])
        restored = work / "restored.tar"
        run([tool, "fetch", "--url", row["cdn_url"], "--sha256", row["sha256"], "--key-file", key_file,
             "--out", restored], os.environ)

        step("compare")
        if restored.read_bytes() != sample.read_bytes():
            raise SystemExit("the fetched artifact differs from the sample")
        print(f"byte-identical: {restored} == {sample}")

        print("""
== what to look at
- The object in the bucket is IV || AES-256-CBC(gzip(sample)); its SHA-256 is the registered sha256.
- The admin API got exactly one POST with the eight fields of the contract and the bearer token.
- fetch checked the SHA-256, the padding and the gzip trailer before the file appeared.

== against your real bucket and admin API
  export S3_ENDPOINT=... S3_ACCESS_KEY=... S3_SECRET_KEY=... S3_BUCKET=... [S3_REGION=...]
  export ADMIN_API_URL=... ADMIN_API_TOKEN=... [CDN_PUBLIC_BASE_URL=...]
  publish-artifact --file image.tar --resource-name NAME --dev-stage dev --architecture arm64 --version V --json
  publish-artifact fetch --url CDN_URL --sha256 SHA256 --key-file KEYFILE --out image.tar""")
    finally:
        if admin:
            admin.stop()
        if garage:
            garage.stop()
        subprocess.run(["rm", "-rf", str(work)])
        print("\n(stopped Garage and the admin API, removed the demo's files)")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        raise SystemExit(130)
