"""Issue 27's rough edges, through the release binary against Garage: logs a
person can read (ours at debug, the SDK's only when named, no colour off a
terminal) and S3 refusals without stray spaces."""

import re

from conftest import BLOCK, mixed_data, publish_args


def test_debug_logs_are_ours_and_plain(cli, tmp_path, publish_env):
    src = tmp_path / "image.tar"
    src.write_bytes(mixed_data(BLOCK + 5, seed=27))
    env = {**publish_env, "PUBLISH_ARTIFACT_LOG": "debug"}
    run = cli(*publish_args(src), env=env)
    assert run.returncode == 0, run.stderr
    assert "S3.HeadBucket" not in run.stderr and "rpc.method" not in run.stderr
    assert "\x1b[" not in run.stderr
    named = cli(*publish_args(src, version="2026-04-16"),
                env={**env, "PUBLISH_ARTIFACT_LOG": "debug,aws_smithy_runtime=debug"})
    assert named.returncode == 0, named.stderr
    assert len(named.stderr.splitlines()) > len(run.stderr.splitlines())


def test_a_refused_request_has_no_stray_space(cli, tmp_path, publish_env):
    src = tmp_path / "image.tar"
    src.write_bytes(mixed_data(100, seed=28))
    env = {**publish_env, "S3_SECRET_KEY": "0" * 64}
    run = cli(*publish_args(src), env=env)
    assert run.returncode != 0
    assert "HTTP 403" in run.stderr
    assert not re.search(r"HTTP \d{3} \)", run.stderr), run.stderr
