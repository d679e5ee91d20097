"""Root filesystems and images for the SBOM tests (issue 23), made with the
real package tools wherever this machine has them: Debian packages built
with dpkg-deb and installed with dpkg, RPMs built with rpmbuild and
installed with `rpm --root` (a real rpmdb.sqlite), wheels installed with pip,
npm packages with npm, Go binaries built with Debian's Go. apk has no tool
here: its database is written to the format's published description; the
BerkeleyDB rpmdb is written by db5.3_load from the headers rpm wrote.

Building them takes seconds, and some steps reach PyPI and the npm
registry, so each tree is built once per machine: under
$HOME/.cache/publish-artifact/fixtures/<hash of this file and oci_image.py>,
outside the clone. A change to either builds afresh; a second session
reuses the trees. `tree(name)` and `image(name, layout, compression)` are
the API.
"""

import functools
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from pathlib import Path

import oci_image

# The builders: this file and the archive writer the images come from.
SOURCE = Path(__file__).read_bytes() + Path(oci_image.__file__).read_bytes()
CACHE = (Path(os.environ.get("PUBLISH_ARTIFACT_FIXTURE_CACHE")
              or Path.home() / ".cache" / "publish-artifact" / "fixtures")
         / hashlib.sha256(SOURCE).hexdigest()[:16])

DEBIAN_12 = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""
FEDORA_40 = """NAME="Fedora Linux"
VERSION="40 (Container Image)"
ID=fedora
VERSION_ID=40
PRETTY_NAME="Fedora Linux 40 (Container Image)"
"""
RHEL_9 = """NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
"""
ALPINE_3_20 = """NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
"""


def run(*args, cwd=None, env=None, input=None) -> str:
    """A build step; its output is shown only when it fails."""
    proc = subprocess.run([str(a) for a in args], cwd=cwd, input=input, capture_output=True,
                          text=True, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def cached(name: str):
    """Makes `build(folder)` run once per machine: into a scratch folder
    beside the cache entry, renamed into place when it succeeded, so a
    failed or concurrent build never leaves half a tree behind."""
    def wrap(build):
        @functools.cache
        def get() -> Path:
            done = CACHE / name
            if not done.exists():
                CACHE.mkdir(parents=True, exist_ok=True)
                scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=CACHE))
                try:
                    build(scratch)
                except BaseException:
                    shutil.rmtree(scratch)
                    raise
                try:
                    scratch.rename(done)
                except OSError:  # another session finished first
                    shutil.rmtree(scratch)
            return done
        return get
    return wrap


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


# --- Debian -----------------------------------------------------------------

# name: (version, license, extra control fields, conffile)
DEBS = {
    "hello-acme": ("1:2.10-3", "MIT",
                   "Source: hello-src (2.10-3)\nSection: misc\nPriority: optional\n", None),
    "libacme1": ("0.9.1-1", "Apache-2.0", "Depends: hello-acme\n", None),
    "acme-holdover": ("5.2-1", "BSD-3-Clause", "", None),
    "oldtool": ("3.0-1", "GPL-2.0-only", "", "etc/oldtool.conf"),
}


def md5sums(root: Path) -> str:
    """DEBIAN/md5sums as dh_md5sums writes it: the package's files but its
    conffiles, which dpkg tracks by their own sums."""
    conffiles = root / "DEBIAN/conffiles"
    skip = set(conffiles.read_text().split()) if conffiles.exists() else set()
    lines = []
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_file() and not name.startswith("DEBIAN/") and f"/{name}" not in skip:
            lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {name}\n")
    return "".join(lines)


@cached("debs")
def debs(out: Path) -> None:
    """A .deb per DEBS entry, with a copyright file in the machine-readable
    format (where syft finds licenses) and a maintainer."""
    for name, (version, license_, extra, conffile) in DEBS.items():
        root = out / "src" / name
        write(root / "usr/bin" / name, f"#!/bin/sh\necho {name}\n", 0o755)
        write(root / "usr/share/doc" / name / "copyright",
              "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
              f"Files: *\nCopyright: 2026 Acme\nLicense: {license_}\n")
        write(root / "DEBIAN/control",
              f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
              f"Maintainer: Acme Packagers <deb@acme.example>\nInstalled-Size: 1\n"
              f"{extra}Description: {name}, for the SBOM tests\n")
        if conffile:
            write(root / conffile, "setting=1\n")
            write(root / "DEBIAN/conffiles", f"/{conffile}\n")
        write(root / "DEBIAN/md5sums", md5sums(root))
        run("dpkg-deb", "--root-owner-group", "--build", root, out / f"{name}.deb")
    shutil.rmtree(out / "src")


@cached("debian")
def debian(root: Path) -> None:
    """Debian 12 with a dpkg database dpkg wrote: two packages installed,
    one still installed but selected for removal (`deinstall ok installed`),
    one removed with its config file left (`deinstall ok config-files`)."""
    admin = root / "var/lib/dpkg"
    for folder in ("info", "updates", "triggers"):
        (admin / folder).mkdir(parents=True)
    for file in ("status", "available"):
        (admin / file).touch()
    dpkg(root, "--install", *(debs() / f"{name}.deb" for name in DEBS))
    dpkg(root, "--remove", "oldtool")
    dpkg(root, "--set-selections", input="acme-holdover deinstall\n")
    write(root / "etc/os-release", DEBIAN_12)


def dpkg(root: Path, *args, input=None) -> None:
    """dpkg on a tree other than this machine's (its lock and status-old
    stay, as in a real image)."""
    run("dpkg", f"--root={root}", "--force-not-root", "--force-script-chrootless", *args, input=input)


@cached("distroless")
def distroless(root: Path) -> None:
    """The distroless layout: no status file, a stanza per package in
    var/lib/dpkg/status.d/NAME (its control file, as distroless copies it)
    and NAME.md5sums beside it; the packages' files unpacked with dpkg-deb."""
    status_d = root / "var/lib/dpkg/status.d"
    status_d.mkdir(parents=True)
    for name in ("hello-acme", "libacme1"):
        deb = debs() / f"{name}.deb"
        run("dpkg-deb", "--extract", deb, root)
        control = root / ".control"
        run("dpkg-deb", "--control", deb, control)
        (status_d / name).write_text((control / "control").read_text())
        (status_d / f"{name}.md5sums").write_text((control / "md5sums").read_text())
        shutil.rmtree(control)
    write(root / "etc/os-release", DEBIAN_12)


# --- RPM --------------------------------------------------------------------

# name: (spec header lines beyond Name/Summary/BuildArch, data files)
RPMS = {
    "acme-tools": ("Epoch: 2\nVersion: 1.4.0\nRelease: 3\nLicense: MIT AND Apache-2.0\n"
                   "Vendor: Acme Corp\nPackager: Acme Packagers <rpm@acme.example>\n"
                   "URL: https://acme.example/tools\n", 0),
    "acme-libs": ("Version: 0.7\nRelease: 1\nLicense: GPL-2.0-or-later\nVendor: Acme Corp\n", 0),
    # Its file list makes its header some 20 KB: more than a BerkeleyDB
    # page, so the Packages database holds it on overflow pages.
    "acme-data": ("Version: 2026.1\nRelease: 5\nLicense: CC0-1.0\nRequires: acme-libs\n", 200),
}


@cached("rpms")
def rpms(out: Path) -> None:
    """Noarch RPMs, one with an Epoch, built by rpmbuild."""
    for name, (header, data_files) in RPMS.items():
        data = f"/usr/share/{name}"
        spec = write(out / "SPECS" / f"{name}.spec", (
            f"Name: {name}\nSummary: {name}, for the SBOM tests\nBuildArch: noarch\n{header}\n"
            f"%description\n{name}, for the SBOM tests.\n\n"
            f"%install\nmkdir -p %{{buildroot}}/usr/bin %{{buildroot}}{data}\n"
            f"printf '#!/bin/sh\\necho {name}\\n' > %{{buildroot}}/usr/bin/{name}\n"
            f"chmod 755 %{{buildroot}}/usr/bin/{name}\n"
            f"for i in $(seq {data_files}); do echo $i > %{{buildroot}}{data}/$i.txt; done\n\n"
            f"%files\n/usr/bin/{name}\n{data}\n"))
        # No build-id links (noarch has none) and no mtime from the clock.
        run("rpmbuild", "--define", f"_topdir {out}", "--define", "_build_id_links none",
            "--define", "use_source_date_epoch_as_buildtime 1", "-bb", spec,
            env={"SOURCE_DATE_EPOCH": str(oci_image.MTIME)})
    for built in (out / "RPMS/noarch").glob("*.rpm"):
        built.rename(out / built.name)
    for folder in ("SPECS", "RPMS", "BUILD", "BUILDROOT", "SOURCES", "SRPMS"):
        shutil.rmtree(out / folder, ignore_errors=True)


def rpm_install(root: Path, dbpath: str) -> None:
    """`rpm --root` writes the database as it would in the image: sqlite
    (Debian's rpm 4.18 defaults to it; said here so a host whose default
    differs still writes sqlite)."""
    run("rpm", "--root", root, "--dbpath", dbpath, "--define", "_db_backend sqlite",
        "--install", "--nodeps", "--noscripts", "--nosignature", *sorted(rpms().glob("*.rpm")))
    (root / dbpath.lstrip("/") / ".rpm.lock").unlink(missing_ok=True)
    db = root / dbpath.lstrip("/") / "rpmdb.sqlite"
    with sqlite3.connect(db) as connection:
        count = connection.execute("SELECT count(*) FROM Packages").fetchone()[0]
    assert count == len(RPMS), f"{db} holds {count} packages"


@cached("rpm")
def rpm(root: Path) -> None:
    """RHEL 9: the database in var/lib/rpm."""
    rpm_install(root, "/var/lib/rpm")
    write(root / "etc/os-release", RHEL_9)


@cached("rpm-sysimage")
def rpm_sysimage(root: Path) -> None:
    """Fedora: the database in usr/lib/sysimage/rpm, reached from the old
    path through the symlink var/lib/rpm -> ../../usr/lib/sysimage/rpm, and
    os-release in usr/lib with etc/os-release a link to it."""
    rpm_install(root, "/usr/lib/sysimage/rpm")
    (root / "var/lib").mkdir(parents=True)
    (root / "var/lib/rpm").symlink_to("../../usr/lib/sysimage/rpm")
    write(root / "usr/lib/os-release", FEDORA_40)
    (root / "etc").mkdir()
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")


CENTOS_7 = """NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
"""


@cached("rpm-bdb")
def rpm_bdb(root: Path) -> None:
    """CentOS 7 / RHEL 8: the BerkeleyDB hash database var/lib/rpm/Packages.
    Nothing here writes one (Debian's rpm only reads it, `bdb_ro`), so it is
    made the way rpm laid it out: db5.3_load stores each header blob rpm
    wrote into the sqlite database under its instance number (a native
    uint32), and key 0 holds the next instance number, as rpm kept it.
    Debian's rpm then reads it back, so the file is what rpm expects."""
    with sqlite3.connect(tree("rpm") / "var/lib/rpm/rpmdb.sqlite") as connection:
        rows = connection.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    records = [(0, struct.pack("<I", rows[-1][0] + 1)), *rows]
    dump = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for key, value in records:
        dump += [" " + struct.pack("<I", key).hex(), " " + bytes(value).hex()]
    packages = root / "var/lib/rpm/Packages"
    packages.parent.mkdir(parents=True)
    run("db5.3_load", packages, input="\n".join([*dump, "DATA=END", ""]))
    listed = run("rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend bdb_ro",
                 "--query", "--all", "--queryformat", "%{NAME}\n")
    assert sorted(listed.split()) == sorted(RPMS), listed
    write(root / "etc/os-release", CENTOS_7)


# --- Alpine -----------------------------------------------------------------

# lib/apk/db/installed, by https://wiki.alpinelinux.org/wiki/Apk_spec: a
# stanza per package, a blank line between them.
APK_INSTALLED = """C:Q1rDcDqZLAfDNkSYTmKafsZPXrKyU=
P:musl
V:1.2.5-r0
A:x86_64
S:411323
I:662528
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1712259036
c:c4f1e7dd4d4c7ec8e5b7d4b5c5c4e9f7a1b2c3d4
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1Jq1Q9DjxVNqjDt7v8bLTD6XxzB8=

C:Q1ZfXWZpGuECbmHGdkqX7e/2RmN5s=
P:busybox
V:1.36.1-r29
A:x86_64
S:509416
I:955392
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1716398432
c:2bfdd1b0bfdf8bbd9e3c1c9e5f0f3e1e2d4c5b6a
D:so:libc.musl-x86_64.so.1
p:cmd:busybox=1.36.1-r29
F:bin
R:busybox
a:0:0:755
Z:Q1k4ytY9ysqDV6mZMY1qRvSWAvCwo=

C:Q1Xlb0cA6fQkT3YnMyMxHXVJeGx1o=
P:ssl_client
V:1.36.1-r29
A:x86_64
S:4993
I:14336
T:EXternal ssl_client for busybox wget
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1716398432
c:2bfdd1b0bfdf8bbd9e3c1c9e5f0f3e1e2d4c5b6a
D:so:libc.musl-x86_64.so.1
F:usr
F:usr/bin
R:ssl_client
a:0:0:755
Z:Q1hZc6R5wxvgF1K0Ak8Q9gB6+1cvY=

C:Q1yB3WXyF7Jf1yXKG1WmcQd8cfbrA=
P:libcrypto3
V:3.3.2-r0
A:x86_64
S:1751234
I:4403200
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1725387456
c:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b
D:so:libc.musl-x86_64.so.1
F:lib
R:libcrypto.so.3

"""


@cached("alpine")
def alpine(root: Path) -> None:
    """The database is a hard link: etc/apk/installed.link is its first name,
    which sorts first, so in the layer tar lib/apk/db/installed is a link
    member naming it, and a reader must follow it."""
    first = write(root / "etc/apk/installed.link", APK_INSTALLED)
    (root / "lib/apk/db").mkdir(parents=True)
    os.link(first, root / "lib/apk/db/installed")
    write(root / "etc/os-release", ALPINE_3_20)


# --- language ecosystems ----------------------------------------------------

SITE_PACKAGES = "usr/lib/python3/site-packages"
WHEELS = ("six==1.16.0", "iniconfig==2.0.0")


@cached("python")
def python(root: Path) -> None:
    """Wheels installed by pip (dist-info) and an egg-info written the way
    setuptools did, in dist-packages."""
    run("python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
        "--no-compile", "--only-binary=:all:", "--target", root / SITE_PACKAGES, *WHEELS)
    write(root / "usr/lib/python3/dist-packages/acme_legacy-0.3.1.egg-info/PKG-INFO",
          "Metadata-Version: 1.1\nName: acme-legacy\nVersion: 0.3.1\n"
          "Summary: An old-style egg\nHome-page: https://acme.example/legacy\n"
          "Author: Acme Developers\nAuthor-email: dev@acme.example\n"
          "License: BSD-3-Clause\nPlatform: UNKNOWN\n")


NPM_PACKAGES = ("ms@2.1.3", "is-number@7.0.0")


@cached("npm")
def npm(root: Path) -> None:
    """`npm install` into /app: node_modules/NAME/package.json and the lock
    files npm writes (package-lock.json, node_modules/.package-lock.json)."""
    app = write(root / "app/package.json",
                '{"name": "acme-web", "version": "1.0.0", "private": true}\n').parent
    with tempfile.TemporaryDirectory() as npm_cache:
        run("npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact",
            "--loglevel=error", "--cache", npm_cache, *NPM_PACKAGES, cwd=app)


GO_MAIN = """package main

import (
	"fmt"

	"example.com/acme/greet"
)

func main() { fmt.Println(greet.Hello()) }
"""
GO_GREET = 'package greet\n\nfunc Hello() string { return "hello" }\n'


@cached("go")
def go(root: Path) -> None:
    """Two Go binaries whose build info names a main module and one
    dependency, built offline (GOPROXY=off): usr/local/bin/hello with the
    dependency vendored (`dep example.com/acme/greet v1.2.3`), and
    usr/local/bin/hello-replaced with it replaced by a local folder
    (`=> ./greet (devel)`)."""
    work = root / ".work"
    require = "require example.com/acme/greet v1.2.3\n"
    vendored = work / "vendored"
    write(vendored / "go.mod", f"module example.com/acme/hello\n\ngo 1.19\n\n{require}")
    write(vendored / "main.go", GO_MAIN)
    write(vendored / "vendor/example.com/acme/greet/greet.go", GO_GREET)
    write(vendored / "vendor/modules.txt",
          "# example.com/acme/greet v1.2.3\n## explicit\nexample.com/acme/greet\n")
    replaced = work / "replaced"
    write(replaced / "go.mod", f"module example.com/acme/hello\n\ngo 1.19\n\n{require}\n"
                               "replace example.com/acme/greet => ./greet\n")
    write(replaced / "main.go", GO_MAIN)
    write(replaced / "greet/go.mod", "module example.com/acme/greet\n\ngo 1.19\n")
    write(replaced / "greet/greet.go", GO_GREET)
    env = {"GOPROXY": "off", "GOFLAGS": "", "CGO_ENABLED": "0",
           "GOCACHE": str(CACHE.parent / "go-build"),
           "GOPATH": str(work / "gopath"), "GOTOOLCHAIN": "local"}
    for source, binary, mode in ((vendored, "hello", "vendor"), (replaced, "hello-replaced", "mod")):
        run("go", "build", f"-mod={mode}", "-trimpath", "-buildvcs=false", "-ldflags=-buildid=",
            "-o", root / "usr/local/bin" / binary, ".", cwd=source, env=env)
    shutil.rmtree(work)


# --- images -----------------------------------------------------------------

TREES = {"debian": debian, "distroless": distroless, "rpm": rpm, "rpm-sysimage": rpm_sysimage,
         "rpm-bdb": rpm_bdb, "alpine": alpine, "python": python, "npm": npm, "go": go}


def tree(name: str) -> Path:
    return TREES[name]()


@cached("deletions")
def deletions(layer: Path) -> None:
    """A top layer for the Debian image that deletes what lower layers had:
    `dpkg --purge oldtool` as a build step commits it (a new status file,
    whiteouts for its config file and lists); six's files by whiteouts; and
    /app/node_modules made opaque with only ms put back, so is-number and
    npm's hidden lock file are gone."""
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        purged = Path(scratch) / "root"
        shutil.copytree(tree("debian"), purged, symlinks=True)
        dpkg(purged, "--purge", "oldtool")
        oci_image.diff_layer(tree("debian"), purged, layer)
    for path in ("six.py", "six-1.16.0.dist-info"):
        oci_image.whiteout(layer, f"{SITE_PACKAGES}/{path}")
    oci_image.opaque(layer, "app/node_modules")
    shutil.copytree(tree("npm") / "app/node_modules/ms", layer / "app/node_modules/ms", symlinks=True)


# image name: its layers, lowest first
IMAGES = {
    "debian-app": lambda: [tree("debian"), tree("python"), tree("npm"), tree("go"), deletions()],
    "distroless": lambda: [tree("distroless")],
    "rpm": lambda: [tree("rpm")],
    "rpm-sysimage": lambda: [tree("rpm-sysimage")],
    "rpm-bdb": lambda: [tree("rpm-bdb")],
    "alpine": lambda: [tree("alpine")],
}


@functools.cache
def image(name: str, layout: str = "oci", compression=None) -> oci_image.Archive:
    """A `docker save` tarball of an IMAGES entry, in either layout, layers
    plain, gzip or zstd; cached like the trees."""
    def build(out: Path) -> None:
        made = oci_image.image_archive(IMAGES[name](), out / "image.tar", layout, compression, tag=name)
        (out / "manifest.json").write_bytes(made.manifest)
        (out / "config.json").write_bytes(made.config)

    folder = cached(f"image-{name}-{layout}-{compression or 'plain'}")(build)()
    config = (folder / "config.json").read_bytes()
    return oci_image.Archive(folder / "image.tar", config, (folder / "manifest.json").read_bytes(),
                             json.loads(config)["rootfs"]["diff_ids"])


def image_layout(name: str, compression=None) -> Path:
    """The OCI image layout folder of an image (oci-layout, index.json,
    blobs/sha256/): its Docker 25+ archive unpacked, which is one."""
    def build(out: Path) -> None:
        with tarfile.open(image(name, "oci", compression).path) as archive:
            archive.extractall(out, filter="data")

    return cached(f"layout-{name}-{compression or 'plain'}")(build)()
