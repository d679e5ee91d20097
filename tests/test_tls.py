"""HTTPS with a private CA: Garage's S3 and web endpoints and the admin API
behind TLS fronts (tests/tls.py) whose certificates a CA made by this test
signed. publish, fetch (by URL and by object key), promote and cleanup pass
with the CA given by SSL_CERT_FILE and, for S3, by AWS_CA_BUNDLE; a
certificate from an unknown CA, for another host name, or expired fails
before anything is sealed or sent, with a sentence that names the endpoint
and what is wrong with the certificate, and leaves nothing behind.
"""

import json
import random
from types import SimpleNamespace

import pytest

from conftest import TOKEN, mixed_data, publish_args
from test_promote import BUILD_CI, COMMIT, DEPLOY_CI, VERSION, key_of, keys  # noqa: F401
from tls import Ca, TlsFront

STORAGE, REGISTRATION = 4, 5


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca, stranger = Ca.make("publish-artifact test CA"), Ca.make("a CA nobody trusts")
    bundle = folder / "ca.pem"
    bundle.write_bytes(ca.pem())
    return SimpleNamespace(
        bundle=bundle,
        good=ca.issue(folder, "good"),
        certs={
            "untrusted": stranger.issue(folder, "untrusted"),
            "wrong-host": ca.issue(folder, "wrong-host", hosts=("other.example",), ips=()),
            "expired": ca.issue(folder, "expired", expired=True),
        })


@pytest.fixture(scope="module")
def fronts(pki, garage, admin_api_server):
    """Good TLS in front of S3, the web endpoint and the admin API."""
    made = SimpleNamespace(
        s3=TlsFront(("127.0.0.1", garage.s3_port), *pki.good),
        web=TlsFront(("127.0.0.1", garage.web_port), *pki.good),
        admin=TlsFront(admin_api_server.server.server_address, *pki.good))
    yield made
    for front in vars(made).values():
        front.stop()


def tls_env(garage, fronts, admin_over_tls=True) -> dict:
    return {**garage.s3_env(), "S3_ENDPOINT": fronts.s3.url(),
            "CDN_PUBLIC_BASE_URL": fronts.web.url(),
            "ADMIN_API_URL": fronts.admin.url() if admin_over_tls else
            f"http://127.0.0.1:{fronts.admin.upstream[1]}",
            "ADMIN_API_TOKEN": TOKEN}


def assert_nothing_left(garage, admin_api):
    assert garage.keys() == []
    assert garage.open_multipart_uploads() == []
    assert admin_api.requests == []


def test_publish_fetch_promote_and_cleanup_over_https_with_ssl_cert_file(
        cli, tmp_path, garage, admin_api, fronts, pki, keys):  # noqa: F811
    env = {**tls_env(garage, fronts), "SSL_CERT_FILE": str(pki.bundle)}
    data = random.Random(26).randbytes(7 << 20)  # two parts: a multipart upload over TLS
    src = tmp_path / "image.tar"
    src.write_bytes(data)
    published = cli(*publish_args(src, version=VERSION), "--json",
                    env={**env, **BUILD_CI,
                         "ATTESTATION_SIGNING_KEY": keys.attestation.private_pem,
                         "PROMOTION_PUBLIC_KEY": keys.promotion.public_pem})
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["upload"]["method"] == "multipart"
    [row] = [request.json() for request in admin_api.stored]
    assert row["cdn_url"].startswith(fronts.web.url())
    key_file = tmp_path / "key"
    key_file.write_text(row["encryption_key"])
    key_file.chmod(0o600)

    for how, source in [("url", row["cdn_url"]), ("object-key", key_of("dev"))]:
        out = tmp_path / f"by-{how}"
        fetched = cli("fetch", f"--{how}", source, "--sha256", row["sha256"],
                      "--key-file", key_file, "--out", out, env=env)
        assert fetched.returncode == 0, fetched.stderr
        assert out.read_bytes() == data

    promoted = cli("promote", "--resource-name", "loader", "--architecture", "arm64",
                   "--version", VERSION, "--to", "stage", "--commit", COMMIT,
                   env={**env, **DEPLOY_CI,
                        "ATTESTATION_PUBLIC_KEY_FILE": str(keys.attestation.public),
                        "PROMOTION_SIGNING_KEY": keys.vsa.private_pem,
                        "PROMOTION_PRIVATE_KEY": keys.promotion.private_pem})
    assert promoted.returncode == 0, promoted.stderr
    assert [r.json()["dev_stage"] for r in admin_api.stored] == ["dev", "stage"]
    assert garage.get(key_of("stage")) == garage.get(key_of("dev"))

    s3 = garage.boto3()
    upload = s3.create_multipart_upload(Bucket=garage.bucket, Key="dev/left.enc")["UploadId"]
    cleaned = cli("cleanup", "--prefix", "dev/", "--older-than", "0s", env=env)
    assert cleaned.returncode == 0, cleaned.stderr
    assert upload in cleaned.stdout and garage.open_multipart_uploads() == []


def test_aws_ca_bundle_is_trusted_for_s3(cli, tmp_path, garage, admin_api, fronts, pki):
    """The AWS tools' variable, alone: no SSL_CERT_FILE, the admin API over
    plain HTTP, so only AWS_CA_BUNDLE can make S3's certificate trusted."""
    env = tls_env(garage, fronts, admin_over_tls=False)
    src = tmp_path / "model.trt"
    src.write_bytes(mixed_data(300_000, seed=3))
    untrusted = cli(*publish_args(src), env=env)
    assert untrusted.returncode == STORAGE, untrusted.stderr
    assert "unknown issuer" in untrusted.stderr
    assert_nothing_left(garage, admin_api)

    run = cli(*publish_args(src), env={**env, "AWS_CA_BUNDLE": str(pki.bundle)})
    assert run.returncode == 0, run.stderr
    assert len(admin_api.stored) == 1
    cleaned = cli("cleanup", "--prefix", "dev/", "--older-than", "0s",
                  env={**garage.s3_env(), "S3_ENDPOINT": fronts.s3.url(),
                       "PLUGIN_AWS_CA_BUNDLE": str(pki.bundle)})
    assert cleaned.returncode == 0, cleaned.stderr


def test_a_bad_aws_ca_bundle_is_a_usage_error(cli, tmp_path, garage, admin_api, fronts):
    src = tmp_path / "model.trt"
    src.write_bytes(b"x" * 1000)
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    for path, says in [(empty, "holds no PEM certificate"), (tmp_path / "none", "cannot be read")]:
        run = cli(*publish_args(src), env={**tls_env(garage, fronts), "AWS_CA_BUNDLE": str(path)})
        assert run.returncode == 2, run.stderr
        assert f"AWS_CA_BUNDLE names {path}" in run.stderr and says in run.stderr
    assert_nothing_left(garage, admin_api)


PROBLEMS = {
    "untrusted": "is not signed by a trusted CA (unknown issuer)",
    "wrong-host": "is not valid for the host name localhost (it names other.example)",
    "expired": "its TLS certificate expired on ",
}


@pytest.mark.parametrize("server", ["s3", "admin"])
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_a_refused_certificate_fails_before_anything_is_sent(
        cli, tmp_path, garage, admin_api, fronts, pki, problem, server):
    bad = TlsFront(fronts.s3.upstream if server == "s3" else fronts.admin.upstream,
                   *pki.certs[problem])
    try:
        env = {**tls_env(garage, fronts), "SSL_CERT_FILE": str(pki.bundle),
               "AWS_CA_BUNDLE": str(pki.bundle)}
        env["S3_ENDPOINT" if server == "s3" else "ADMIN_API_URL"] = bad.url()
        src = tmp_path / "image.tar"
        src.write_bytes(mixed_data(7 << 20, seed=4))
        run = cli(*publish_args(src), env=env)
    finally:
        bad.stop()
    assert run.returncode == (STORAGE if server == "s3" else REGISTRATION), run.stderr
    endpoint = {"s3": f"cannot trust the S3 endpoint {bad.url()}: ",
                "admin": f"cannot trust the admin API at {bad.url()}: "}[server]
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert endpoint in lines[0] and PROBLEMS[problem] in lines[0], run.stderr
    # Refused at the handshake: no request crossed the bad front, and none
    # reached the other server either (the check comes before any).
    assert bad.handshakes == 0
    assert_nothing_left(garage, admin_api)
