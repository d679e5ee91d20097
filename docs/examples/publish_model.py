#!/usr/bin/env python3
"""Publish a trained model with publish-artifact, from Python.

The secrets (S3 credentials, admin API token) come from the environment the
training service already runs with; they are never put on a command line.
The tool prints a JSON receipt on stdout with `--json`; its exit code says
which kind of failure happened, so the caller can decide what to do.

    python3 publish_model.py model.trt detector arm64 2026-04-15
"""

import json
import os
import subprocess
import sys

# Exit codes of publish-artifact, and what a training service should do.
FAILURES = {
    2: ("usage", "fix the call or the environment (a missing variable or a bad name); do not retry"),
    3: ("input", "the model file is missing or unreadable; check the training output"),
    4: ("storage", "S3 failed; nothing was left in the bucket; retry later or check credentials"),
    5: ("registration", "the admin API failed; the object was removed again; retry later"),
    70: ("internal", "a bug in publish-artifact; run `publish-artifact selftest` and report it"),
}


class PublishError(Exception):
    def __init__(self, code: int, stderr: str):
        self.code = code
        self.kind, self.advice = FAILURES.get(code, ("unknown", "see stderr"))
        super().__init__(f"publish-artifact failed ({self.kind}, exit {code}): "
                         f"{stderr.strip()}\nwhat to do: {self.advice}")

    @property
    def retryable(self) -> bool:
        return self.kind in ("storage", "registration")


def publish_model(path, resource_name, architecture, version, dev_stage="main",
                  binary="publish-artifact", env=None) -> dict:
    """Seals and publishes `path`; returns the receipt (object_key, cdn_url,
    sha256, size_bytes, plaintext_sha256, ...). Raises PublishError."""
    done = subprocess.run(
        [binary, "--file", str(path), "--resource-name", resource_name,
         "--dev-stage", dev_stage, "--architecture", architecture, "--version", version, "--json"],
        env=env if env is not None else os.environ,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise PublishError(done.returncode, done.stderr)
    return json.loads(done.stdout)


if __name__ == "__main__":
    model, name, arch, version = sys.argv[1:5]
    try:
        receipt = publish_model(model, name, arch, version)
    except PublishError as err:
        print(err, file=sys.stderr)
        sys.exit(err.code)
    print(f"published {receipt['object_key']} ({receipt['size_bytes']} bytes, "
          f"sha256 {receipt['sha256']}) at {receipt['cdn_url']}")
