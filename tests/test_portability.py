"""One guest everywhere: the arm64 build under qemu and a host we did not
write (jco on Node) make exactly the bytes the native x86_64 binary makes."""

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BLOCK, ROOT, Cli, mixed_data, openssl_open
from tool_image import static_binary

JCO = ROOT / "tests" / "jco"
KEY = "5c" * 32
IV = "a7" * 16


@pytest.fixture(scope="session")
def arm64(tmp_path_factory) -> Cli:
    """The static aarch64 binary (`just static`), run under qemu-aarch64-static
    with no sysroot: the same code as the glibc aarch64 build of `just dist`
    but for libc and allocator, and one release build fewer in `just test`."""
    binary = static_binary("aarch64-unknown-linux-musl")
    assert binary.exists(), f"{binary} is missing: run `just static` (part of `just test`)"
    qemu = shutil.which("qemu-aarch64-static")
    assert qemu, "qemu-aarch64-static is missing: run scripts/setup.sh"
    wrapper = tmp_path_factory.mktemp("arm64") / "publish-artifact"
    wrapper.write_text(f'#!/bin/sh\nexec {qemu} {binary} "$@"\n')
    wrapper.chmod(0o755)
    return Cli(wrapper, tmp_path_factory.mktemp("arm64-cache"))


def test_arm64_binary_passes_its_selftest(arm64):
    run = arm64("selftest", timeout=900)
    assert run.returncode == 0, run.stderr
    assert "aarch64" in run.stdout and "checks passed" in run.stdout


def exported(cli, path: Path) -> bytes:
    run = cli("guest", "export", "--out", path)
    assert run.returncode == 0, run.stderr
    digest, name = run.stdout.split()
    assert name == str(path)
    check = subprocess.run(["sha256sum", "--check"], input=run.stdout, text=True,
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    return path.read_bytes()


def test_both_architectures_embed_the_same_guest(cli, arm64, tmp_path):
    native = exported(cli, tmp_path / "x86_64.wasm")
    emulated = exported(arm64, tmp_path / "aarch64.wasm")
    assert native == emulated
    assert native[:8] == b"\0asm\x0d\x00\x01\x00", "a component, not a core module"


def test_arm64_seal_opens_on_x86_64_and_with_openssl(cli, arm64, tmp_path):
    data = mixed_data(2 * BLOCK + 3, seed=64)
    src = tmp_path / "model.trt"
    src.write_bytes(data)
    run = arm64("seal", "--file", src, "--out", tmp_path / "obj", "--key-out", tmp_path / "key",
                timeout=900)
    assert run.returncode == 0, run.stderr
    key = (tmp_path / "key").read_text().strip()
    assert openssl_open((tmp_path / "obj").read_bytes(), key) == data
    sha = subprocess.run(["sha256sum", str(tmp_path / "obj")], capture_output=True,
                         text=True).stdout.split()[0]
    opened = cli("open", "--file", tmp_path / "obj", "--key-file", tmp_path / "key",
                 "--sha256", sha, "--out", tmp_path / "back")
    assert opened.returncode == 0, opened.stderr
    assert (tmp_path / "back").read_bytes() == data


def native_seal(cli, tmp_path, src: Path, level: int) -> bytes:
    key = tmp_path / "fixed.key"
    key.write_text(KEY)
    key.chmod(0o600)
    out = tmp_path / f"{src.name}.native"
    run = cli("seal", "--file", src, "--out", out, "--key-file", key, "--iv", IV,
              "--level", level)
    assert run.returncode == 0, run.stderr
    return out.read_bytes()


def test_same_bytes_from_arm64_and_x86_64_with_a_fixed_key(cli, arm64, tmp_path):
    src = tmp_path / "layer.tar"
    src.write_bytes(mixed_data(BLOCK + 99, seed=3))
    native = native_seal(cli, tmp_path, src, 6)
    out = tmp_path / "emulated"
    run = arm64("seal", "--file", src, "--out", out, "--key-file", tmp_path / "fixed.key",
                "--iv", IV, "--level", 6, timeout=900)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == native


@pytest.fixture(scope="session")
def transpiled(cli, tmp_path_factory) -> Path:
    """The exported guest, transpiled by jco into ES modules."""
    assert (JCO / "node_modules").exists(), "jco is missing: run scripts/setup.sh"
    wasm = tmp_path_factory.mktemp("jco") / "sealing.wasm"
    exported(cli, wasm)
    # Inside tests/jco, so that Node finds the WASI shim in its node_modules.
    out = JCO / "build" / f"sealing-{os.getpid()}"
    shutil.rmtree(out, ignore_errors=True)
    run = subprocess.run(["npx", "--no-install", "jco", "transpile", str(wasm), "-o", str(out),
                          "--name", "sealing"], cwd=JCO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    yield out
    shutil.rmtree(out, ignore_errors=True)


@functools.cache
def node() -> list:
    """Node, with relaxed SIMD (Wasm 3.0, which the guest's AES uses) turned on
    where it is still behind a flag: Node 20 and older; Node 22 ships it."""
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    return ["node"] + (["--experimental-wasm-relaxed-simd"] if major < 22 else [])


@pytest.mark.parametrize("size, level", [(0, 6), (3 * BLOCK + 5, 6), (BLOCK, 1), (50_000, 9)])
def test_jco_in_node_makes_the_native_bytes(cli, transpiled, tmp_path, size, level):
    src = tmp_path / "input.bin"
    src.write_bytes(mixed_data(size, seed=size))
    out = tmp_path / "jco.enc"
    run = subprocess.run([*node(), str(JCO / "seal.mjs"), str(transpiled), str(src), str(out), KEY,
                          IV, str(level)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    native = native_seal(cli, tmp_path, src, level)
    assert out.read_bytes() == native
    assert openssl_open(native, KEY) == src.read_bytes()
