"""The training guide's Python example, run against the test servers."""

import importlib.util

import pytest

from conftest import ROOT, mixed_data, openssl_open


def load_example():
    path = ROOT / "docs" / "examples" / "publish_model.py"
    spec = importlib.util.spec_from_file_location("publish_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_example_publishes_a_model(cli, tmp_path, garage, admin_api, publish_env):
    example = load_example()
    model = tmp_path / "detector.trt"
    data = mixed_data(1_500_000, seed=9)
    model.write_bytes(data)
    receipt = example.publish_model(model, "detector", "arm64", "2026-04-15",
                                    binary=str(cli.binary), env=cli.env(publish_env))
    assert receipt["object_key"] == "main/detector-arm64-2026-04-15.enc"
    row = admin_api.requests[-1].json()
    assert row["sha256"] == receipt["sha256"]
    assert openssl_open(garage.get(receipt["object_key"]), row["encryption_key"]) == data


def test_the_guide_example_reports_failure_classes(cli, tmp_path, garage, admin_api, publish_env):
    example = load_example()
    model = tmp_path / "detector.trt"
    model.write_bytes(b"weights")
    admin_api.reset("401")
    with pytest.raises(example.PublishError) as failure:
        example.publish_model(model, "detector", "arm64", "1", binary=str(cli.binary),
                              env=cli.env(publish_env))
    assert failure.value.kind == "registration" and failure.value.retryable
    with pytest.raises(example.PublishError) as failure:
        example.publish_model(tmp_path / "missing.trt", "detector", "arm64", "1",
                              binary=str(cli.binary), env=cli.env(publish_env))
    assert failure.value.kind == "input" and not failure.value.retryable
