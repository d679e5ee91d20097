"""The static musl binaries (`just static`, scripts/static.sh): nothing for a
loader to find, so they run where there is no libc at all: a root holding
only the binary, an Alpine-like root (busybox and musl, no glibc), the
`scratch` image (tests/test_image.py). The glibc release binary is the
control: in the same roots it cannot even start, so a pass here means the
static binary is what made the difference."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import TOKEN, binary_path, openssl_open, publish_args, published
from tool_image import static_binary

CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
TRIPLES = {"x86_64": "x86_64-unknown-linux-musl", "aarch64": "aarch64-unknown-linux-musl"}


def emulator(arch: str) -> list:
    if arch == "x86_64":
        return []
    qemu = shutil.which("qemu-aarch64-static")
    assert qemu, "qemu-aarch64-static is missing: scripts/setup.sh installs it"
    return [qemu]


@pytest.fixture(params=sorted(TRIPLES), ids=str)
def arch(request):
    return request.param


@pytest.fixture
def binary(arch) -> Path:
    path = static_binary(TRIPLES[arch])
    if not path.exists():
        pytest.fail(f"{path} is missing: run `just static` (or `just test`) first")
    return path


def readelf(flag: str, path: Path) -> str:
    return subprocess.run(["readelf", "-W", flag, str(path)], capture_output=True, text=True,
                          check=True).stdout


def test_the_static_binary_asks_for_no_loader_and_no_library(binary, arch):
    assert "INTERP" not in readelf("-l", binary)
    assert "(NEEDED)" not in readelf("-d", binary)
    described = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True).stdout
    assert "static" in described and "dynamically linked" not in described, described
    assert {"x86_64": "x86-64", "aarch64": "ARM aarch64"}[arch] in described, described


def test_the_glibc_binary_does_ask_for_them():
    """The control for the test above: the same checks see a dynamic binary."""
    glibc = binary_path()
    assert "INTERP" in readelf("-l", glibc)
    assert "libc.so.6" in readelf("-d", glibc)


def empty_root(tmp_path: Path, binary: Path, arch: str, name: str = "root") -> Path:
    """A directory holding only the binary (and, for aarch64, the emulator)."""
    root = tmp_path / name
    root.mkdir()
    shutil.copy2(binary, root / "publish-artifact")
    for qemu in emulator(arch):
        shutil.copy2(qemu, root / "qemu")
    return root


def chrooted(root: Path, arch: str, *args, env=None) -> subprocess.CompletedProcess:
    runner = ["/qemu"] if arch == "aarch64" else []
    return subprocess.run([CHROOT, str(root), *runner, "/publish-artifact", *args],
                          env=env or {}, capture_output=True, text=True, timeout=300)


def test_the_static_binary_passes_its_selftest_in_an_empty_root(binary, arch, tmp_path):
    root = empty_root(tmp_path, binary, arch)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["publish-artifact", *(["qemu"] if arch == "aarch64" else [])])
    # No variables at all: no HOME, no PATH, no cache directory set; the
    # root has no /tmp either.
    run = chrooted(root, arch, "selftest")
    assert run.returncode == 0, run.stderr
    assert "checks passed" in run.stdout and f", {arch})" in run.stdout, run.stdout


def test_the_glibc_binary_cannot_start_in_an_empty_root(tmp_path):
    root = empty_root(tmp_path, binary_path(), "x86_64")
    run = chrooted(root, "x86_64", "selftest")
    assert run.returncode != 0 and "checks passed" not in run.stdout


def alpine_like_root(tmp_path: Path, binary: Path, arch: str) -> Path:
    """What an Alpine container has instead of glibc: busybox for the shell
    and the tools, musl's loader and libc at /lib, CA certificates; the tool
    on PATH in /usr/local/bin."""
    busybox = shutil.which("busybox")
    assert busybox, "busybox is missing: scripts/setup.sh installs busybox-static"
    root = tmp_path / "alpine"
    for d in ("bin", "lib", "etc/ssl/certs", "usr/local/bin", "tmp"):
        (root / d).mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in ("sh", "ls", "cat", "env"):
        (root / "bin" / applet).symlink_to("busybox")
    musl = Path("/usr/lib/x86_64-linux-musl/libc.so")
    assert musl.exists(), "musl's libc.so is missing: scripts/setup.sh installs musl-tools"
    shutil.copy2(musl, root / "lib" / "ld-musl-x86_64.so.1")
    shutil.copy2("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/ca-certificates.crt")
    shutil.copy2(binary, root / "usr/local/bin/publish-artifact")
    for qemu in emulator(arch):
        shutil.copy2(qemu, root / "bin" / "qemu")
    return root


def in_alpine(root: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROOT, str(root), "/bin/sh", "-c", script],
                          env={"PATH": "/usr/local/bin:/bin", "HOME": "/tmp"},
                          capture_output=True, text=True, timeout=300)


def test_the_static_binary_runs_where_there_is_musl_and_no_glibc(binary, arch, tmp_path):
    root = alpine_like_root(tmp_path, binary, arch)
    glibc_files = [p for p in root.rglob("*") if p.name.startswith(("libc.so.6", "ld-linux"))]
    assert glibc_files == []
    runner = "/bin/qemu " if arch == "aarch64" else ""
    tool = f"{runner}/usr/local/bin/publish-artifact"
    run = in_alpine(root, f"{tool} selftest && {tool} --version && ls /lib")
    assert run.returncode == 0, run.stderr
    assert "checks passed" in run.stdout and "ld-musl-x86_64.so.1" in run.stdout
    assert run.stdout.count("publish-artifact ") >= 1, run.stdout


def test_the_glibc_binary_does_not_run_there(tmp_path):
    root = alpine_like_root(tmp_path, binary_path(), "x86_64")
    run = in_alpine(root, "publish-artifact selftest")
    assert run.returncode == 127, (run.returncode, run.stdout, run.stderr)


def test_the_static_binary_publishes(binary, arch, tmp_path, garage, admin_api, publish_env):
    """The whole publish (threads, mimalloc, the S3 and HTTP clients) through
    the musl build, to Garage and the admin API on loopback; the object opens
    with openssl and gunzip to the input, with the key of the row."""
    src = tmp_path / "image.tar"
    data = os.urandom(3 << 20) + b"layer " * 200_000
    src.write_bytes(data)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **publish_env}
    run = subprocess.run([*emulator(arch), str(binary), *publish_args(src, arch="arm64"), "--json"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    key = "dev/loader-arm64-2026-04-15.enc"
    assert garage.keys() == published(key)
    [request] = admin_api.stored
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    row = request.json()
    assert row["cdn_url"].endswith(key)
    assert openssl_open(garage.get(key), row["encryption_key"]) == data
