"""`image verify`: a docker-archive tarball is bound to the digest the
registry reported, with a real image (an OCI layout made here, turned into a
tarball by skopeo as CI does), and every way it can be the wrong image is
refused with exit 9 and a sentence that names the problem."""

import io
import json
import tarfile

import pytest

from oci_image import REPOSITORY, docker_archive, make_image, members, rewrite_tar, sha256

TAG = "7-0123456789ab"
REFUSED = 9


@pytest.fixture
def image(tmp_path):
    made = make_image(tmp_path, architecture="arm64", tag=TAG)
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(made.manifest)
    made.manifest_file = manifest
    made.archive = docker_archive(made, tmp_path / "image.tar", tag=TAG)
    return made


def verify(cli, archive, ref, manifests, *extra):
    args = ["image", "verify", "--archive", archive, "--image-ref", ref]
    for manifest in manifests:
        args += ["--image-manifest", manifest]
    return cli(*args, *extra)


def test_the_pushed_image_is_accepted(cli, image):
    run = verify(cli, image.archive, image.ref(TAG), [image.manifest_file], "--architecture", "arm64")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["image"] == f"{REPOSITORY}@{image.digest}"
    assert summary["config_digest"] == sha256(image.config)
    assert "RootFS.Layers" in run.stderr  # how to compare after `docker load`
    # The tag may also come from --tag; uname's spelling of the architecture is fine.
    run = verify(cli, image.archive, image.ref(), [image.manifest_file], "--tag", TAG,
                 "--architecture", "aarch64")
    assert run.returncode == 0, run.stderr


def test_a_tampered_layer_is_refused(cli, image, tmp_path):
    def flip_a_byte_in_layers(name, data):
        return data[:600] + bytes([data[600] ^ 1]) + data[601:] if name.endswith(".tar") else data
    tampered = rewrite_tar(image.archive, tmp_path / "tampered.tar", flip_a_byte_in_layers)
    run = verify(cli, tampered, image.ref(TAG), [image.manifest_file])
    assert run.returncode == REFUSED, run.output
    assert "layer 1" in run.stderr and "diff_id" in run.stderr, run.stderr


def test_a_wrong_tag_is_refused(cli, image):
    run = verify(cli, image.archive, image.ref("8-fedcba987654"), [image.manifest_file])
    assert run.returncode == REFUSED, run.output
    assert "RepoTags" in run.stderr and "8-fedcba987654" in run.stderr, run.stderr


def test_a_wrong_manifest_digest_is_refused(cli, image, tmp_path):
    other = tmp_path / "other-manifest.json"
    other.write_bytes(image.manifest + b"\n")  # one byte more: another digest
    run = verify(cli, image.archive, image.ref(TAG), [other])
    assert run.returncode == REFUSED, run.output
    assert "not the digest" in run.stderr, run.stderr
    # A manifest that hashes right but is for another image: its config is not the tarball's.
    other_image = make_image(tmp_path / "other", salt=b"another build")
    other.write_bytes(other_image.manifest)
    run = verify(cli, image.archive, other_image.ref(TAG), [other])
    assert run.returncode == REFUSED, run.output
    assert "config" in run.stderr, run.stderr


def test_a_manifest_for_another_architecture_is_refused(cli, tmp_path):
    amd64 = make_image(tmp_path, architecture="amd64", tag=TAG)
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(amd64.manifest)
    archive = docker_archive(amd64, tmp_path / "image.tar", tag=TAG)
    run = verify(cli, archive, amd64.ref(TAG), [manifest], "--architecture", "arm64")
    assert run.returncode == REFUSED, run.output
    assert "linux/amd64, not linux/arm64" in run.stderr, run.stderr


def index_of(entries) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": digest, "size": 1, "platform": platform}
                      for digest, platform in entries],
    }).encode()


def test_an_index_picks_the_architecture_and_skips_attestations(cli, image, tmp_path):
    index = tmp_path / "index.json"
    index.write_bytes(index_of([
        (sha256(b"an amd64 image"), {"os": "linux", "architecture": "amd64"}),
        (image.digest, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        (sha256(b"provenance"), {"os": "unknown", "architecture": "unknown"}),
    ]))
    ref = f"{REPOSITORY}:{TAG}@{sha256(index.read_bytes())}"
    run = verify(cli, image.archive, ref, [index, image.manifest_file], "--architecture", "arm64")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["image"] == f"{REPOSITORY}@{sha256(index.read_bytes())}"

    run = verify(cli, image.archive, ref, [index, image.manifest_file], "--architecture", "amd64")
    assert run.returncode == REFUSED, run.output  # the amd64 entry's manifest is nowhere
    index.write_bytes(index_of([
        (sha256(b"an amd64 image"), {"os": "linux", "architecture": "amd64"}),
        (sha256(b"provenance"), {"os": "unknown", "architecture": "unknown"}),
    ]))
    ref = f"{REPOSITORY}:{TAG}@{sha256(index.read_bytes())}"
    run = verify(cli, image.archive, ref, [index], "--architecture", "arm64")
    assert run.returncode == REFUSED, run.output
    assert "no manifest for linux/arm64 (it has: linux/amd64)" in run.stderr, run.stderr


def test_the_oci_style_archive_of_newer_docker_save_binds(cli, image, tmp_path):
    """Docker 25+ writes the OCI layout into the tarball, layers as stored
    (gzip here), with a manifest.json pointing at blobs/sha256/..."""
    blobs = {path.name: path.read_bytes() for path in (image.layout / "blobs" / "sha256").iterdir()}
    manifest = json.loads(image.manifest)
    docker_manifest = json.dumps([{
        "Config": f"blobs/sha256/{manifest['config']['digest'][7:]}",
        "RepoTags": [f"{REPOSITORY}:{TAG}"],
        "Layers": [f"blobs/sha256/{layer['digest'][7:]}" for layer in manifest["layers"]],
    }]).encode()
    archive = tmp_path / "oci-style.tar"
    with tarfile.open(archive, "w") as tar:
        files = {f"blobs/sha256/{name}": data for name, data in blobs.items()}
        files["index.json"] = (image.layout / "index.json").read_bytes()
        files["oci-layout"] = (image.layout / "oci-layout").read_bytes()
        files["manifest.json"] = docker_manifest
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    run = verify(cli, archive, image.ref(TAG), [image.manifest_file], "--architecture", "arm64")
    assert run.returncode == 0, run.stderr
    # The same layout, with the first layer swapped for another image's.
    other = make_image(tmp_path / "other", salt=b"another build")
    first = manifest["layers"][0]["digest"][7:]
    assert set(members(archive)) >= {"manifest.json", "index.json", f"blobs/sha256/{first}"}
    swapped = rewrite_tar(archive, tmp_path / "swapped.tar",
                          lambda name, data: other.compressed[0] if name.endswith(first) else data)
    run = verify(cli, swapped, image.ref(TAG), [image.manifest_file])
    assert run.returncode == REFUSED, run.output
    assert "layer 1" in run.stderr, run.stderr


def test_flags_are_checked_before_the_archive_is_read(cli, image, tmp_path):
    run = verify(cli, tmp_path / "missing.tar", f"{REPOSITORY}:{TAG}", [image.manifest_file])
    assert run.returncode == 2 and "digest" in run.stderr, run.output
    run = verify(cli, image.archive, image.ref(TAG), [tmp_path / "missing.json"])
    assert run.returncode == 3, run.output
    not_a_tar = tmp_path / "not-a-tar"
    not_a_tar.write_bytes(b"\x55" * 4096)
    run = verify(cli, not_a_tar, image.ref(TAG), [image.manifest_file])
    assert run.returncode == REFUSED and "tar" in run.stderr, run.output
