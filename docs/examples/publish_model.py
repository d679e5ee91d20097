#!/usr/bin/env python3
"""Publish a trained model from a training service.

    pip install publish-artifact
    python3 publish_model.py out/detector.trt detector arm64 2026-04-15

The S3 and admin API settings and secrets come from the environment the
service already runs with (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
S3_BUCKET, ADMIN_API_URL, ADMIN_API_TOKEN); they never go on a command line.
A failed publish leaves nothing behind, so the failures that can pass (S3 or
the admin API down) are retried; the others are raised at once.
"""

import sys
import time
from typing import List, Mapping, Optional

import publish_artifact
from publish_artifact import PublishArtifactError, Receipt


def publish_model(path: str, resource_name: str, architecture: str, version: str,
                  dev_stage: str = "main", attempts: int = 3, backoff_seconds: float = 30.0,
                  env: Optional[Mapping[str, str]] = None) -> Receipt:
    """Publishes `path`; retries storage and registration failures."""
    attempt = 1
    while True:
        try:
            return publish_artifact.publish(
                path, resource_name=resource_name, dev_stage=dev_stage,
                architecture=architecture, version=version, env=env,
            )
        except PublishArtifactError as err:
            if not err.retryable or attempt >= attempts:
                raise
            print(f"publish failed ({err.kind}: {err}); retrying in "
                  f"{backoff_seconds * attempt:.0f} s", file=sys.stderr)
            time.sleep(backoff_seconds * attempt)
            attempt += 1


def main(argv: List[str]) -> int:
    model, name, architecture, version = argv[1:5]
    try:
        receipt = publish_model(model, name, architecture, version)
    except PublishArtifactError as err:
        print(f"not published ({err.kind}): {err}", file=sys.stderr)
        return err.exit_code if err.exit_code and err.exit_code > 0 else 1
    print(f"published {receipt.object_key} ({receipt.size_bytes} bytes, sha256 "
          f"{receipt.sha256}) at {receipt.cdn_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
