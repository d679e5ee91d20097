"""`fetch --public-key`: the loader's one command checks the object's
provenance before it writes a byte. Objects published and promoted for real
(Garage, the test admin API), the sidecars changed here with `cryptography`
(re-signed by other keys, removed); a refusal is exit 9 with no output file,
and not even a temporary one, in the output's folder."""

import json
import sys

import pytest

from conftest import ROOT, SBOM_SIDECARS, publish_args
from test_promote import (REFUSED, USAGE, VSA, dev, envs, key_of, keys,  # noqa: F401 (fixtures)
                          promoted, resigned)

INTEGRITY = 6
STATEMENT = ".intoto.json"
STATEMENT_BUNDLE = ".intoto.sigstore.json"
CDX_STATEMENT, CDX_STATEMENT_BUNDLE = ".cdx.intoto.json", ".cdx.intoto.sigstore.json"
VSA_BUNDLE = ".vsa.intoto.sigstore.json"
NO_SBOM = "8-0123456789ab"  # a version published with --sbom off


def fetch(cli, tmp_path, garage, row, *flags, object_key=None, sha256=None):
    """fetch into a folder of its own, by object key or (without one) by the
    row's cdn_url; returns the run and that folder."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    key = tmp_path / "data.key"
    key.write_text(row["encryption_key"])
    key.chmod(0o600)
    source = ["--object-key", object_key] if object_key else ["--url", row["cdn_url"]]
    run = cli("fetch", *source, "--sha256", sha256 or row["sha256"], "--key-file", key,
              "--out", out / "model.bin", *flags, env=garage.s3_env())
    return run, out


def assert_refused_and_nothing_written(run, out, *says):
    assert run.returncode == REFUSED, run.output
    for words in says:
        assert words in run.stderr, run.stderr
    assert list(out.iterdir()) == [], "a refused fetch left files behind"
    assert run.stdout == ""


def test_a_signed_object_is_fetched_and_the_signer_named(cli, tmp_path, garage, keys, dev):
    for object_key in (key_of("dev"), None):
        run, out = fetch(cli, tmp_path, garage, dev.row, "--public-key", keys.attestation.public,
                         "--require-sbom", object_key=object_key)
        assert run.returncode == 0, run.output
        assert (out / "model.bin").read_bytes() == dev.data
        assert json.loads(run.stdout)["signed_by"] == keys.attestation.spki_sha256
        assert "provenance signed by key " + keys.attestation.spki_sha256[:16] in run.stderr
    # Without --public-key nothing is checked, and nothing is said about a signer.
    run, _ = fetch(cli, tmp_path, garage, dev.row)
    assert run.returncode == 0, run.output
    assert "signed_by" not in json.loads(run.stdout)


def test_another_key_is_refused(cli, tmp_path, garage, keys, dev):
    run, out = fetch(cli, tmp_path, garage, dev.row, "--public-key", keys.other_attestation.public)
    assert_refused_and_nothing_written(run, out, "no signature", keys.other_attestation.spki_sha256)


def test_a_provenance_resigned_by_another_key_is_refused(cli, tmp_path, garage, keys, dev):
    s3, statement = garage.boto3(), key_of("dev") + STATEMENT
    s3.delete_object(Bucket=garage.bucket, Key=key_of("dev") + STATEMENT_BUNDLE)
    s3.put_object(Bucket=garage.bucket, Key=statement,
                  Body=resigned(garage.get(statement), keys.other_attestation))
    run, out = fetch(cli, tmp_path, garage, dev.row, "--public-key", keys.attestation.public)
    assert_refused_and_nothing_written(run, out, "no signature")


def test_without_a_provenance_nothing_is_written(cli, tmp_path, garage, keys, dev):
    s3 = garage.boto3()
    for suffix in (STATEMENT, STATEMENT_BUNDLE):
        s3.delete_object(Bucket=garage.bucket, Key=key_of("dev") + suffix)
    run, out = fetch(cli, tmp_path, garage, dev.row, "--public-key", keys.attestation.public)
    assert run.returncode != 0, run.output
    assert list(out.iterdir()) == []
    # Without --public-key the object alone is fetched: the provenance was not asked for.
    run, out = fetch(cli, tmp_path, garage, dev.row)
    assert run.returncode == 0, run.output


def test_a_sha256_the_provenance_does_not_attest_is_refused_before_the_download(
        cli, tmp_path, garage, keys, dev):
    """The SHA-256 the loader holds (from a row of its own) is another: with
    --public-key that is a refusal of the provenance (9), found before the
    object is read; without, the download's own integrity check (6)."""
    other = "ab" * 32
    run, out = fetch(cli, tmp_path, garage, dev.row, "--public-key", keys.attestation.public,
                     sha256=other)
    assert_refused_and_nothing_written(run, out)
    assert dev.row["sha256"] in run.stderr or other in run.stderr, run.stderr
    run, out = fetch(cli, tmp_path, garage, dev.row, sha256=other)
    assert run.returncode == INTEGRITY, run.output
    assert list(out.iterdir()) == []


def test_require_sbom_needs_the_signed_sboms(cli, tmp_path, garage, keys, dev):
    s3 = garage.boto3()
    statement = key_of("dev") + CDX_STATEMENT
    original = garage.get(statement)
    s3.delete_object(Bucket=garage.bucket, Key=key_of("dev") + CDX_STATEMENT_BUNDLE)
    # An SBOM statement signed by another key is refused, asked for or not.
    s3.put_object(Bucket=garage.bucket, Key=statement,
                  Body=resigned(original, keys.other_attestation))
    for flags in ([], ["--require-sbom"]):
        run, out = fetch(cli, tmp_path, garage, dev.row, "--public-key", keys.attestation.public,
                         *flags)
        assert_refused_and_nothing_written(run, out, ".cdx.intoto.json")
    # The CycloneDX SBOM gone with its statement: only --require-sbom refuses.
    for suffix in (".cdx.json", CDX_STATEMENT):
        s3.delete_object(Bucket=garage.bucket, Key=key_of("dev") + suffix)
    run, out = fetch(cli, tmp_path, garage, dev.row, "--public-key", keys.attestation.public,
                     "--require-sbom")
    assert_refused_and_nothing_written(run, out, ".cdx.json does not exist")
    run, out = fetch(cli, tmp_path, garage, dev.row, "--public-key", keys.attestation.public)
    assert run.returncode == 0, run.output


def test_an_object_published_without_sboms_is_refused_when_they_are_required(
        cli, tmp_path, garage, admin_api, envs, keys):
    src = tmp_path / "bare.tar"
    src.write_bytes(b"weights " * 5000)
    run = cli(*publish_args(src, version=NO_SBOM), "--sbom", "off", "--json", env=envs.publish)
    assert run.returncode == 0, run.output
    [row] = [request.json() for request in admin_api.stored]
    assert not any(key.endswith(SBOM_SIDECARS) for key in garage.keys())
    object_key = key_of("dev", NO_SBOM)
    run, out = fetch(cli, tmp_path, garage, row, "--public-key", keys.attestation.public,
                     "--require-sbom", object_key=object_key)
    assert_refused_and_nothing_written(run, out)
    run, out = fetch(cli, tmp_path, garage, row, "--public-key", keys.attestation.public,
                     object_key=object_key)
    assert run.returncode == 0, run.output
    assert (out / "model.bin").read_bytes() == src.read_bytes()


def test_a_promoted_object_needs_the_promotion_key_for_its_summary(cli, tmp_path, garage, keys,
                                                                    dev, promoted):
    main = promoted.rows["main"]
    trusted = ["--public-key", keys.attestation.public, "--vsa-public-key", keys.vsa.public]
    run, out = fetch(cli, tmp_path, garage, main, *trusted)
    assert run.returncode == 0, run.output
    assert (out / "model.bin").read_bytes() == dev.data
    (out / "model.bin").unlink()
    # The provenance key alone vouches for no promotion.
    run, out = fetch(cli, tmp_path, garage, main, "--public-key", keys.attestation.public)
    assert_refused_and_nothing_written(run, out, "--vsa-public-key")
    # main's summary re-signed with the provenance key: what the build's key could forge.
    s3, vsa = garage.boto3(), key_of("main") + VSA
    s3.delete_object(Bucket=garage.bucket, Key=key_of("main") + VSA_BUNDLE)
    s3.put_object(Bucket=garage.bucket, Key=vsa, Body=resigned(garage.get(vsa), keys.attestation))
    run, out = fetch(cli, tmp_path, garage, main, *trusted)
    assert_refused_and_nothing_written(run, out, "signed with the provenance key")


@pytest.mark.parametrize("case", ["vsa key alone", "sbom alone", "one key as both"])
def test_key_flags_that_do_not_fit_are_usage_errors(cli, tmp_path, garage, keys, dev, case):
    flags = {"vsa key alone": ["--vsa-public-key", keys.vsa.public],
             "sbom alone": ["--require-sbom"],
             "one key as both": ["--public-key", keys.attestation.public,
                                 "--vsa-public-key", keys.attestation.public]}[case]
    run, out = fetch(cli, tmp_path, garage, dev.row, *flags)
    assert run.returncode == USAGE, run.output
    assert list(out.iterdir()) == []


def test_the_python_fetch_checks_the_provenance_too(cli, tmp_path, garage, keys, dev,
                                                    monkeypatch):
    """The package's `fetch(public_key=...)`, run with the binary under test."""
    sys.path.insert(0, str(ROOT / "python"))
    import publish_artifact as pa  # the package of this tree, not an installed one
    monkeypatch.setenv("PUBLISH_ARTIFACT_BINARY", str(cli.binary))
    env = cli.env(garage.s3_env())
    out = tmp_path / "model.bin"
    opened = pa.fetch(object_key=key_of("dev"), sha256=dev.row["sha256"], out=out,
                      key=dev.row["encryption_key"], public_key=keys.attestation.public,
                      require_sbom=True, env=env)
    assert out.read_bytes() == dev.data and opened.signed_by == keys.attestation.spki_sha256
    refused = tmp_path / "refused.bin"
    with pytest.raises(pa.AttestationError):
        pa.fetch(object_key=key_of("dev"), sha256=dev.row["sha256"], out=refused,
                 key=dev.row["encryption_key"], public_key=keys.other_attestation.public, env=env)
    assert not refused.exists()
