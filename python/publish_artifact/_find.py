"""Where the `publish-artifact` binary of this installation is.

The wheel puts the binary in the scripts directory of whatever scheme pip
installed into, which is not always the one this Python runs from: a user
install (`pip install --user`), a `--prefix` or a `--target` install, or a
venv whose base interpreter holds the package. The places are tried in that
order, then PATH; `PUBLISH_ARTIFACT_BINARY` overrides them all.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Iterator, List

OVERRIDE_VARIABLE = "PUBLISH_ARTIFACT_BINARY"
EXECUTABLE = "publish-artifact" + (sysconfig.get_config_var("EXE") or "")


class BinaryNotFoundError(FileNotFoundError):
    """No `publish-artifact` binary where this package looks for it."""


def _user_scheme() -> str:
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    if os.name == "nt":
        return "nt_user"
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        return "osx_framework_user"
    return "posix_user"


def _candidate_dirs() -> Iterator[Path]:
    package = Path(__file__).resolve().parent
    # The environment this Python runs in, then its base installation.
    yield Path(sysconfig.get_path("scripts"))
    yield Path(sysconfig.get_path("scripts", vars={"base": sys.base_prefix}))
    # `pip install --user`: ~/.local/bin on Linux.
    yield Path(sysconfig.get_path("scripts", scheme=_user_scheme()))
    # `pip install --prefix P`: the package is P/lib/pythonX.Y/site-packages/
    # publish_artifact, the binary P/bin (Debian's Python: P/local/lib/
    # pythonX.Y/dist-packages and P/local/bin).
    site_packages = package.parent
    if site_packages.name in ("site-packages", "dist-packages"):
        yield site_packages.parents[2] / "bin"
        # Windows lays a prefix out as P/Lib/site-packages.
        yield site_packages.parents[1] / "Scripts"
    # `pip install --target T`: the package is T/publish_artifact, the binary T/bin.
    yield package.parent / "bin"


def searched() -> List[Path]:
    """Every directory `find_binary` tries before PATH, in order."""
    seen: List[Path] = []
    for directory in _candidate_dirs():
        if directory not in seen:
            seen.append(directory)
    return seen


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_binary() -> str:
    """The path of the `publish-artifact` binary to run.

    Raises BinaryNotFoundError naming every place it looked.
    """
    override = os.environ.get(OVERRIDE_VARIABLE)
    if override:
        if not _is_executable(Path(override)):
            raise BinaryNotFoundError(f"{OVERRIDE_VARIABLE}={override} is not an executable file")
        return override
    for directory in searched():
        candidate = directory / EXECUTABLE
        if _is_executable(candidate):
            return str(candidate)
    on_path = shutil.which(EXECUTABLE)
    if on_path:
        return on_path
    places = ", ".join(str(d) for d in searched())
    raise BinaryNotFoundError(
        f"{EXECUTABLE} is not installed: looked in {places} and on PATH "
        f"(set {OVERRIDE_VARIABLE} to choose a binary)"
    )
