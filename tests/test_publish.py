"""Publishing against a real S3 server (Garage) and a real HTTP admin API."""

import hashlib
import json

import pytest

from conftest import (BLOCK, TOKEN, assert_no_secret, mixed_data, openssl_open, publish_args,
                      published,
                      sha256_hex)

KEY = "dev/loader-arm64-2026-04-15.enc"
FIELDS = {"resource_name": str, "dev_stage": str, "architecture": str, "version": str,
          "cdn_url": str, "sha256": str, "encryption_key": str, "size_bytes": int}


def publish(cli, env, path, *extra, **names):
    return cli(*publish_args(path, **names), "--json", *extra, env=env)


def registered(admin_api):
    assert len(admin_api.requests) == 1, admin_api.requests
    return admin_api.requests[0].json()


def test_happy_path(cli, tmp_path, garage, admin_api, publish_env):
    data = mixed_data(3 * BLOCK + 5, seed=11)
    src = tmp_path / "image.tar"
    src.write_bytes(data)
    run = publish(cli, publish_env, src)
    assert run.returncode == 0, run.stderr

    assert garage.keys() == published(KEY)
    obj = garage.get(KEY)
    (request,) = admin_api.requests
    assert request.path == "/internal/resources/publish"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"].startswith("application/json")
    body = request.json()
    assert set(body) == set(FIELDS)
    for field, kind in FIELDS.items():
        assert type(body[field]) is kind, field
    assert (body["resource_name"], body["dev_stage"], body["architecture"], body["version"]) == (
        "loader", "dev", "arm64", "2026-04-15")
    assert body["sha256"] == hashlib.sha256(obj).hexdigest()
    assert body["size_bytes"] == len(obj)
    assert body["cdn_url"] == f"{garage.endpoint}/{garage.bucket}/{KEY}"
    key = body["encryption_key"]
    assert len(key) == 64 and key == key.lower()
    assert openssl_open(obj, key) == data

    receipt = json.loads(run.stdout)
    assert receipt["object_key"] == KEY
    assert receipt["sha256"] == body["sha256"]
    assert receipt["size_bytes"] == len(obj)
    assert receipt["plaintext_sha256"] == sha256_hex(data)
    assert receipt["cdn_url"] == body["cdn_url"]
    assert_no_secret(run.output, key, TOKEN, garage.secret_key)
    assert not garage.open_multipart_uploads()


@pytest.mark.parametrize("base, expected", [
    ("https://cdn.example.com", "https://cdn.example.com/" + KEY),
    ("https://cdn.example.com/", "https://cdn.example.com/" + KEY),
    ("https://cdn.example.com/artifacts//", "https://cdn.example.com/artifacts/" + KEY),
])
def test_cdn_url_from_the_public_base(cli, tmp_path, admin_api, publish_env, base, expected):
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    run = publish(cli, {**publish_env, "CDN_PUBLIC_BASE_URL": base}, src)
    assert run.returncode == 0, run.stderr
    assert registered(admin_api)["cdn_url"] == expected


def test_cdn_url_without_base_and_trailing_slash_on_endpoint(cli, tmp_path, garage, admin_api,
                                                              publish_env):
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    run = publish(cli, {**publish_env, "S3_ENDPOINT": garage.endpoint + "/"}, src)
    assert run.returncode == 0, run.stderr
    assert registered(admin_api)["cdn_url"] == f"{garage.endpoint}/{garage.bucket}/{KEY}"


@pytest.mark.parametrize("path", ["v2/register", "/v2/register/"])
def test_publish_path_is_honoured(cli, tmp_path, admin_api, publish_env, path):
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    url = publish_env["ADMIN_API_URL"] + "/"
    run = publish(cli, {**publish_env, "ADMIN_API_URL": url, "ADMIN_API_PUBLISH_PATH": path}, src)
    assert run.returncode == 0, run.stderr
    assert admin_api.requests[0].path.rstrip("/") == "/v2/register"


def test_three_publishes_use_three_keys(cli, tmp_path, garage, admin_api, publish_env):
    src = tmp_path / "m.trt"
    src.write_bytes(mixed_data(200_000))
    seen = []
    for version in ("1", "2", "3"):
        run = publish(cli, publish_env, src, version=version)
        assert run.returncode == 0, run.stderr
        body = admin_api.requests[-1].json()
        obj = garage.get(f"dev/loader-arm64-{version}.enc")
        seen.append((body["encryption_key"], obj[:16], body["sha256"]))
    keys, ivs, digests = zip(*seen)
    assert len(set(keys)) == len(set(ivs)) == len(set(digests)) == 3


REQUIRED = ["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET", "ADMIN_API_URL",
            "ADMIN_API_TOKEN"]


@pytest.mark.parametrize("missing", REQUIRED)
def test_each_missing_variable_is_named(cli, tmp_path, garage, admin_api, publish_env, missing):
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    env = {k: v for k, v in publish_env.items() if k != missing}
    run = publish(cli, env, src)
    assert run.returncode == 2
    assert missing in run.stderr
    assert garage.keys() == [] and admin_api.requests == []


def test_all_missing_variables_are_named_at_once(cli, tmp_path):
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    run = publish(cli, {}, src)
    assert run.returncode == 2
    for name in REQUIRED:
        assert name in run.stderr


@pytest.mark.parametrize("flag, value", [
    ("name", "a/b"), ("name", ".."), ("stage", "dev/../main"), ("arch", "arm 64"),
    ("version", "1\n2"), ("version", ""), ("name", "x" * 129),
])
def test_unsafe_names_are_rejected_before_anything_is_sent(cli, tmp_path, garage, admin_api,
                                                           publish_env, flag, value):
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    run = publish(cli, publish_env, src, **{flag: value})
    assert run.returncode == 2, run.stderr
    assert "--" in run.stderr
    assert garage.keys() == [] and admin_api.requests == []


def test_missing_file_is_an_input_error(cli, tmp_path, garage, admin_api, publish_env):
    run = publish(cli, publish_env, tmp_path / "nope.tar")
    assert run.returncode == 3
    assert "nope.tar" in run.stderr
    assert garage.keys() == [] and admin_api.requests == []


def test_401_is_not_retried_and_the_object_is_deleted(cli, tmp_path, garage, admin_api,
                                                      publish_env):
    admin_api.reset("401")
    src = tmp_path / "m.trt"
    src.write_bytes(mixed_data(100_000))
    run = publish(cli, publish_env, src)
    assert run.returncode == 5
    assert "401" in run.stderr and "deleted" in run.stderr
    assert len(admin_api.requests) == 1
    assert garage.keys() == []
    assert_no_secret(run.output, TOKEN, garage.secret_key)


def test_503_then_200_succeeds_after_a_retry(cli, tmp_path, garage, admin_api, publish_env):
    admin_api.reset("503-then-200")
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    run = publish(cli, publish_env, src)
    assert run.returncode == 0, run.stderr
    assert len(admin_api.requests) == 2
    assert admin_api.requests[0].body == admin_api.requests[1].body
    assert json.loads(run.stdout)["registration_attempts"] == 2
    assert garage.keys() == published(KEY)


def test_500_every_time_leaves_the_bucket_as_it_was(cli, tmp_path, garage, admin_api, publish_env):
    garage.boto3().put_object(Bucket=garage.bucket, Key="dev/other.enc", Body=b"keep")
    admin_api.reset("500")
    src = tmp_path / "m.trt"
    src.write_bytes(mixed_data(2 * BLOCK))
    run = publish(cli, publish_env, src)
    assert run.returncode == 5
    assert "500" in run.stderr and "deleted" in run.stderr
    assert len(admin_api.requests) == 4
    assert garage.keys() == ["dev/other.enc"]
    assert not garage.open_multipart_uploads()


def test_a_hanging_admin_api_times_out_and_the_object_stays(cli, tmp_path, garage, admin_api,
                                                            publish_env):
    """No answer to any attempt: the row may exist, and a row without its
    object is what a loader cannot survive; so the object stays, named."""
    admin_api.reset("hang")
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    run = publish(cli, {**publish_env, "ADMIN_API_TIMEOUT_SECONDS": "0.5"}, src)
    assert run.returncode == 5
    assert "timed out" in run.stderr or "timeout" in run.stderr.lower()
    assert "may or may not" in run.stderr and KEY in run.stderr
    assert len(admin_api.requests) == 4
    assert garage.keys() == published(KEY)
    assert not garage.open_multipart_uploads()


@pytest.mark.parametrize("change, words", [
    ({"S3_SECRET_KEY": "0" * 64}, "credentials"),
    ({"S3_ACCESS_KEY": "GK000000000000000000000000"}, "credentials"),
    ({"S3_BUCKET": "no-such-bucket"}, "does not exist"),
    ({"S3_ENDPOINT": "http://127.0.0.1:9"}, "cannot reach"),
])
def test_storage_problems_are_named_and_nothing_is_posted(cli, tmp_path, garage, admin_api,
                                                          publish_env, change, words):
    src = tmp_path / "m.trt"
    src.write_bytes(b"model")
    run = publish(cli, {**publish_env, **change}, src)
    assert run.returncode == 4, run.stderr
    assert words in run.stderr
    assert admin_api.requests == []
    assert garage.keys() == []
    assert_no_secret(run.output, garage.secret_key, TOKEN)


def test_empty_file_round_trips(cli, tmp_path, garage, admin_api, publish_env):
    src = tmp_path / "empty"
    src.write_bytes(b"")
    run = publish(cli, publish_env, src)
    assert run.returncode == 0, run.stderr
    body = registered(admin_api)
    assert openssl_open(garage.get(KEY), body["encryption_key"]) == b""
    assert json.loads(run.stdout)["upload"]["method"] == "single"


def test_a_few_hundred_megabytes_go_up_in_parts(cli, tmp_path, garage, admin_api, publish_env):
    src = tmp_path / "big.tar"
    digest = hashlib.sha256()
    with open(src, "wb") as f:
        for i in range(30):
            chunk = mixed_data(10 * BLOCK, seed=100 + i)
            digest.update(chunk)
            f.write(chunk)
    run = publish(cli, publish_env, src)
    assert run.returncode == 0, run.stderr
    receipt = json.loads(run.stdout)
    assert receipt["upload"]["method"] == "multipart" and receipt["upload"]["parts"] > 1
    body = registered(admin_api)
    obj = garage.get(KEY)
    assert hashlib.sha256(obj).hexdigest() == body["sha256"]
    restored = openssl_open(obj, body["encryption_key"])
    assert hashlib.sha256(restored).hexdigest() == digest.hexdigest()
    assert not garage.open_multipart_uploads()
    src.unlink()
