"""Issue 27's messages, through the release binary against Garage: a presigned
URL never printed whole (its signature and credential are a working
credential), every S3 failure one sentence naming the bucket, the key and
the cause, and a cdn_url a private bucket does not serve explained."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import BLOCK, mixed_data, publish_args
from garage import free_port

DUMP_MARKERS = ("ServiceError", "SdkBody", "raw:", "Response {")


@pytest.fixture
def stored(cli, tmp_path, garage):
    """A sealed object in the bucket at dev/stored.enc: (key file, sha256)."""
    garage.clear()
    src = tmp_path / "model.trt"
    src.write_bytes(mixed_data(BLOCK + 99, seed=271))
    run = cli("seal", "--file", src, "--out", tmp_path / "obj.enc", "--key-out", tmp_path / "key")
    assert run.returncode == 0, run.stderr
    garage.boto3().put_object(Bucket=garage.bucket, Key="dev/stored.enc",
                              Body=(tmp_path / "obj.enc").read_bytes())
    return tmp_path / "key", json.loads(run.stdout)["sha256"]


def presign(garage, key):
    return garage.boto3().generate_presigned_url(
        "get_object", Params={"Bucket": garage.bucket, "Key": key}, ExpiresIn=600)


def secret_parts(url, garage):
    """What must never be printed: the signature, the credential (and the
    access key id in it) and the secret key."""
    raw = dict(pair.split("=", 1) for pair in urlsplit(url).query.split("&"))
    decoded = parse_qs(urlsplit(url).query)
    return (raw["X-Amz-Signature"], raw["X-Amz-Credential"], decoded["X-Amz-Credential"][0],
            garage.access_key, garage.secret_key)


def assert_not_printed(run, secrets):
    for secret in secrets:
        assert secret not in run.stdout and secret not in run.stderr, (secret, run.output)


def fetch_url(cli, tmp_path, url, key, sha):
    return cli("fetch", "--url", url, "--sha256", sha, "--key-file", key,
               "--out", tmp_path / "restored", env={"PUBLISH_ARTIFACT_LOG": "debug"})


def test_a_presigned_url_is_printed_without_its_signature(cli, tmp_path, garage, stored):
    key, sha = stored
    url = presign(garage, "dev/stored.enc")
    run = fetch_url(cli, tmp_path, url, key, sha)
    assert run.returncode == 0, run.stderr
    assert_not_printed(run, secret_parts(url, garage))
    source = json.loads(run.stdout)["source"]
    # The names stay (it was a presigned URL), every value is gone.
    assert source.startswith(url.split("?")[0] + "?"), source
    assert "X-Amz-Signature=REDACTED" in source and "X-Amz-Credential=REDACTED" in source
    assert "X-Amz-Signature=REDACTED" in run.stderr


@pytest.mark.parametrize("case", ["missing object", "bad signature"])
def test_a_refused_presigned_url_is_printed_without_its_signature(cli, tmp_path, garage, stored,
                                                                  case):
    key, sha = stored
    if case == "missing object":
        url = presign(garage, "dev/nope.enc")
        status = "404"
    else:
        url = presign(garage, "dev/stored.enc")
        signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
        url = url.replace(signature, signature[::-1])
        status = "403"
    run = fetch_url(cli, tmp_path, url, key, sha)
    assert run.returncode == 4, run.stderr
    assert f"HTTP {status}" in run.stderr
    assert_not_printed(run, secret_parts(url, garage))


def test_an_unreachable_presigned_url_is_retried_and_printed_without_its_signature(
        cli, tmp_path, garage, stored):
    key, sha = stored
    url = presign(garage, "dev/stored.enc").replace(f":{garage.s3_port}/", f":{free_port()}/")
    run = fetch_url(cli, tmp_path, url, key, sha)
    # Retried with backoff (a warning each time), then one storage error: no panic.
    assert run.returncode == 4, run.stderr
    assert "retrying" in run.stderr and "panicked" not in run.stderr
    assert_not_printed(run, secret_parts(url, garage))


def one_sentence(run, *names):
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert len(lines[0]) < 200, lines[0]
    for marker in DUMP_MARKERS:
        assert marker not in run.stderr, run.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def test_fetch_of_a_missing_object_key_is_one_sentence(cli, tmp_path, garage, stored):
    key, sha = stored
    run = cli("fetch", "--object-key", "dev/nope.enc", "--sha256", sha, "--key-file", key,
              "--out", tmp_path / "restored", env=garage.s3_env())
    assert run.returncode == 4, run.stderr
    line = one_sentence(run, garage.bucket, "dev/nope.enc")
    assert "no such object" in line and "NoSuchKey" in line
    assert not (tmp_path / "restored").exists()


def test_attest_verify_of_a_missing_object_key_is_one_sentence(cli, garage, stored):
    run = cli("attest", "verify", "--object-key", "dev/nope.enc", "--allow-unsigned",
              env=garage.s3_env())
    assert run.returncode == 4, run.stderr
    line = one_sentence(run, garage.bucket, "dev/nope.enc")
    assert "no such object" in line


def test_a_missing_bucket_is_one_sentence_that_says_so(cli, tmp_path, garage, stored):
    key, sha = stored
    env = {**garage.s3_env(), "S3_BUCKET": "no-such-bucket"}
    run = cli("fetch", "--object-key", "dev/stored.enc", "--sha256", sha, "--key-file", key,
              "--out", tmp_path / "restored", env=env)
    assert run.returncode == 4, run.stderr
    line = one_sentence(run, "no-such-bucket", "dev/stored.enc")
    assert "bucket no-such-bucket does not exist" in line and "NoSuchBucket" in line


def test_the_default_cdn_url_is_explained_where_it_fails(cli, tmp_path, garage, publish_env,
                                                         admin_api):
    src = tmp_path / "image.tar"
    src.write_bytes(mixed_data(BLOCK + 7, seed=272))
    published = cli(*publish_args(src), env=publish_env)
    assert published.returncode == 0, published.stderr
    assert "CDN_PUBLIC_BASE_URL is unset" in published.stderr
    body = admin_api.requests[0].json()
    # The contract's default, unchanged: the bucket's S3 path.
    assert body["cdn_url"] == f"{garage.endpoint}/{garage.bucket}/dev/loader-arm64-2026-04-15.enc"
    key = tmp_path / "key"
    key.write_text(body["encryption_key"])
    run = cli("fetch", "--url", body["cdn_url"], "--sha256", body["sha256"], "--key-file", key,
              "--out", tmp_path / "restored")
    assert run.returncode == 4, run.stderr
    assert "HTTP 403" in run.stderr
    assert "CDN_PUBLIC_BASE_URL" in run.stderr and "--object-key" in run.stderr

    with_cdn = cli(*publish_args(src, version="2026-04-16"),
                   env={**publish_env, "CDN_PUBLIC_BASE_URL": garage.cdn_base})
    assert with_cdn.returncode == 0, with_cdn.stderr
    assert "CDN_PUBLIC_BASE_URL" not in with_cdn.stderr
