"""Shared fixtures: the release binary, a clean environment to run it in, and
independent oracles (openssl, gunzip, sha256sum) to check what it made."""

import contextlib
import hashlib
import os
import random
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = 1 << 20  # the format's block size (wit/seal.wit)

# Variables of the contract and of the tool: never inherited from whoever
# runs the tests, so a developer's real credentials cannot leak in.
OWN_VARIABLES = ("S3_", "ADMIN_API_", "CDN_PUBLIC_BASE_URL", "PLUGIN_", "PUBLISH_ARTIFACT_")


def binary_path() -> Path:
    explicit = os.environ.get("PUBLISH_ARTIFACT_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "publish-artifact"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Cli:
    """Runs the real binary with a controlled environment."""

    def __init__(self, binary: Path, cache_dir: Path):
        self.binary = binary
        self.base_env = {
            k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)
        }
        self.base_env["PUBLISH_ARTIFACT_CACHE_DIR"] = str(cache_dir)

    def env(self, extra=None) -> dict:
        env = dict(self.base_env)
        env.update(extra or {})
        return env

    def __call__(self, *args, env=None, timeout=600, cwd=None) -> Run:
        proc = subprocess.run(
            [str(self.binary), *map(str, args)],
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)


# --- no test may hang the suite ---------------------------------------------

# The longest a test's setup or body may run. A hang then fails that test with
# the stack where it hung, and the suite goes on; CI's own limit would end the
# whole run with nothing to show.
TEST_DEADLINE = int(os.environ.get("PUBLISH_ARTIFACT_TEST_DEADLINE", 900))


class Hung(Exception):
    pass


@contextlib.contextmanager
def deadline(what: str):
    def hung(signum, frame):
        raise Hung(f"{what} ran longer than {TEST_DEADLINE} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(TEST_DEADLINE)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    with deadline(f"setting up {item.nodeid}"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with deadline(item.nodeid):
        return (yield)


# Beyond this many bytes (or characters), a failed `==` is explained by the
# hook below instead of pytest's diff.
LARGE = 64 << 10


def first_difference(left, right) -> int:
    """The first index where two sequences differ (the shorter's length if one
    is a prefix of the other), found a block at a time."""
    block = 1 << 16
    for start in range(0, min(len(left), len(right)), block):
        a, b = left[start:start + block], right[start:start + block]
        if a != b:
            return start + next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    return min(len(left), len(right))


def pytest_assertrepr_compare(op, left, right):
    """Large bytes or strings that differ: their sizes, digests and the first
    differing offset. pytest's own diff of two objects this large (with -v,
    as CI may run) is quadratic in their length and can run for hours: a
    failing test must fail, not hang."""
    if op != "==" or not isinstance(left, (bytes, str)) or type(left) is not type(right):
        return None
    if max(len(left), len(right)) <= LARGE:
        return None
    digest = lambda v: hashlib.sha256(v if isinstance(v, bytes) else v.encode()).hexdigest()
    at = first_difference(left, right)
    return [
        f"{type(left).__name__} of {len(left)} and {len(right)} differ, first at offset {at}",
        f"left  sha256 {digest(left)}: ...{left[max(0, at - 8):at + 16]!r}",
        f"right sha256 {digest(right)}: ...{right[max(0, at - 8):at + 16]!r}",
    ]


@pytest.fixture(scope="session")
def cli(tmp_path_factory) -> Cli:
    binary = binary_path()
    if not binary.exists():
        pytest.exit(f"{binary} is missing: run `cargo build --release` (or `just test`) first", 2)
    return Cli(binary, tmp_path_factory.mktemp("guest-cache"))


def mixed_data(size: int, seed: int = 1) -> bytes:
    """Like an image layer: text, runs of zeros and incompressible bytes."""
    rng = random.Random(seed)
    words = [w.encode() for w in "lib bin usr share model tensor layer weights the of and".split()]
    parts, total = [], 0
    while total < size:
        kind = rng.randrange(3)
        n = rng.randrange(1, 64 * 1024)
        if kind == 0:
            chunk = b" ".join(rng.choice(words) for _ in range(n // 5 + 1))
        elif kind == 1:
            chunk = bytes(n)
        else:
            chunk = rng.randbytes(n)
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)[:size]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256sum(path: Path) -> str:
    """The coreutils tool, not our code and not Python's hashlib."""
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def openssl_open(obj: bytes, key_hex: str) -> bytes:
    """Opens an object the way a loader does, with openssl and gunzip."""
    assert len(obj) >= 32 and len(obj) % 16 == 0, len(obj)
    decrypted = subprocess.run(
        ["openssl", "enc", "-d", "-aes-256-cbc", "-K", key_hex, "-iv", obj[:16].hex()],
        input=obj[16:],
        capture_output=True,
        check=True,
    ).stdout
    return subprocess.run(["gunzip", "-c"], input=decrypted, capture_output=True, check=True).stdout


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret, "an empty secret would match anything"
        assert secret not in text, "a secret leaked into the output"


# --- S3 and admin API, for publishing -------------------------------------

TOKEN = "test-token-5f0c2d6e9b"


@pytest.fixture(scope="session")
def garage(tmp_path_factory):
    from garage import Garage

    server = Garage.start(tmp_path_factory.mktemp("garage"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin_api_server():
    from admin_api import AdminApi

    server = AdminApi().start()
    yield server
    server.stop()


@pytest.fixture
def admin_api(admin_api_server, garage):
    """The admin API, emptied, and the bucket, emptied, for each test."""
    admin_api_server.reset()
    garage.clear()
    return admin_api_server


@pytest.fixture
def publish_env(garage, admin_api):
    """The contract's whole environment, pointed at the test servers."""
    return {
        **garage.s3_env(),
        "ADMIN_API_URL": admin_api.url,
        "ADMIN_API_TOKEN": TOKEN,
    }


# Every publish puts its provenance sidecars beside the object (docs/provenance.md)
# and its SBOMs with their statements (docs/sbom.md); without a signing key, these.
SBOM_SIDECARS = (".cdx.json", ".cdx.intoto.json", ".spdx.json", ".spdx.intoto.json")
UNSIGNED_SIDECARS = (".intoto.json", ".sha256", *SBOM_SIDECARS)
# With a signing key, also the `.sha256.sig`, every signature as a Sigstore bundle and, for
# an input that is not a bound image (a model), its OpenSSF model signature `.model.sig`;
# a promotion adds its summary, and the summary's bundle.
BUNDLE_SIDECARS = (".intoto.sigstore.json", ".sha256.sigstore.json",
                   ".cdx.intoto.sigstore.json", ".spdx.intoto.sigstore.json")
SIGNED_SIDECARS = (*UNSIGNED_SIDECARS, ".sha256.sig", *BUNDLE_SIDECARS, ".model.sig")
VSA_SIDECARS = (".vsa.intoto.json", ".vsa.intoto.sigstore.json")


def published(*object_keys) -> list:
    """What the bucket holds after unsigned publishes of these objects."""
    return sorted(key + suffix for key in object_keys for suffix in ("", *UNSIGNED_SIDECARS))


def publish_args(path, name="loader", stage="dev", arch="arm64", version="2026-04-15"):
    return ["--file", path, "--resource-name", name, "--dev-stage", stage,
            "--architecture", arch, "--version", version]
