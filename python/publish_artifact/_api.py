"""The typed API: one function per subcommand that a program calls, each
returning what the tool prints with `--json` as a frozen dataclass."""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import (Any, Dict, List, Mapping, Optional, Type, TypeVar, Union, get_args, get_origin,
                    get_type_hints)

from ._errors import PublishArtifactError
from ._run import run_json

PathLike = Union[str, "os.PathLike[str]"]
T = TypeVar("T")
# The variable the tool reads a key from when no key file is given.
KEY_VARIABLE = "PUBLISH_ARTIFACT_KEY"


def _extra_field() -> Any:
    """Fields a newer tool prints that this package does not know yet: a
    plain dict, so that `dataclasses.asdict` works, left out of == and hash."""
    return field(default_factory=dict, repr=False, compare=False)


def _from_json(cls: Type[T], data: Mapping[str, Any]) -> T:
    """`cls` from a JSON object: known fields by name (a field whose type is
    one of these dataclasses, or Optional of one, built the same way), the
    rest in `extra`."""
    dataclass: Any = cls  # every T here is a dataclass with an `extra` field
    hints = get_type_hints(dataclass)
    known = {f.name for f in fields(dataclass)} - {"extra"}
    required = {f.name for f in fields(dataclass)
                if f.default is MISSING and f.default_factory is MISSING}
    values = {name: _converted(hints[name], data[name]) for name in known if name in data}
    missing = sorted(required - values.keys())
    if missing:
        raise PublishArtifactError(
            f"the tool's JSON lacks {', '.join(missing)} for {cls.__name__}: "
            "is the binary older than this package?",
            exit_code=0,
        )
    extra = {name: value for name, value in data.items() if name not in known}
    built: T = dataclass(**values, extra=extra)
    return built


def _converted(hint: Any, value: Any) -> Any:
    """`value` as the field's type: a JSON object becomes the dataclass the
    type names (directly or in an Optional); anything else stays as is."""
    candidates = get_args(hint) if get_origin(hint) is Union else (hint,)
    for candidate in candidates:
        if isinstance(candidate, type) and is_dataclass(candidate) and isinstance(value, Mapping):
            return _from_json(candidate, value)
    return value


class _FromJson:
    """`from_json`, for every result the tool prints."""

    @classmethod
    def from_json(cls: Type[T], data: Mapping[str, Any]) -> T:
        return _from_json(cls, data)


@dataclass(frozen=True)
class Upload(_FromJson):
    method: str  # "single" (one PUT) or "multipart"
    parts: int
    resent: int  # bodies sent again after the server found them damaged on the wire
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class Durations(_FromJson):
    seal_and_upload_seconds: float
    registration_seconds: float
    total_seconds: float
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class Provenance(_FromJson):
    """The provenance written beside the object (docs/provenance.md)."""

    signed: bool  # with ATTESTATION_SIGNING_KEY
    sidecars: List[str]  # the object keys written beside the object
    keyid: Optional[str] = None  # the signer's key id, when signed
    image: Optional[str] = None  # the image reference the input was bound to (--image-ref)
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class Sbom(_FromJson):
    """The SBOMs written beside the object (docs/sbom.md#publishing)."""

    subject: str  # "image" (its packages) or "model" (a file's ML-BOM)
    formats: List[str]  # "CycloneDX", "SPDX"
    packages: Mapping[str, int]  # packages found, by purl type ("deb", "pypi", ...)
    problems: List[str]  # what could not be read, also in the documents
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class Receipt(_FromJson):
    """What a publish made: the object, where it is, and how it went.

    Never holds the encryption key: that goes to the admin API only.
    """

    object_key: str
    bucket: str
    cdn_url: str
    sha256: str  # of the whole object, as registered
    size_bytes: int
    plaintext_sha256: str  # of the published file itself
    plaintext_size_bytes: int
    compressed_size_bytes: int
    level: int
    upload: Upload
    replaced: bool  # an object published before under this key was replaced (`replace`)
    registration_attempts: int
    provenance: Provenance
    durations: Durations
    sbom: Optional[Sbom] = None  # absent when published with `sbom=False`
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class Sealed(_FromJson):
    """A local seal: the object file, its digest, and the key's file."""

    object: str
    sha256: str
    size_bytes: int
    plaintext_sha256: str
    plaintext_size_bytes: int
    compressed_size_bytes: int
    level: int
    key_file: str
    seconds: float
    sboms: List[str] = field(default_factory=list)  # the SBOM files written (`sbom=True`)
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class Opened(_FromJson):
    """An object that passed every check (SHA-256, padding, gzip)."""

    source: str
    plaintext_sha256: str
    plaintext_size_bytes: int
    sha256: str
    size_bytes: int
    seconds: float
    plaintext: Optional[str] = None  # where open or fetch wrote it; None for verify
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class PromotedStatement(_FromJson):
    """The provenance a promotion checked."""

    object_key: str  # the statement's own object key
    sha256: str  # of the statement file
    signed_by: str  # the key id that signed it
    published_as: str  # the object key it names: where the object was published
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class Promoted(_FromJson):
    """What `publish-artifact promote --json` prints (docs/promotion.md)."""

    from_object_key: str
    object_key: str
    bucket: str
    cdn_url: Optional[str]  # None on a dry run: nothing was registered
    sha256: str
    size_bytes: int
    dry_run: bool
    replaced: bool
    statement: PromotedStatement
    from_vsa: Optional[str]  # the summary the source carried (a promoted source)
    vsa: Optional[str]  # the summary written beside the copy
    sidecars: List[str]
    registration_attempts: int
    seconds: float
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class AttestedPromotion(_FromJson):
    """How a promoted object was accepted: by its verification summary."""

    vsa: str
    published_as: str  # the object key the provenance names
    verifier: str
    time_verified: str
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class Attested(_FromJson):
    """What `publish-artifact attest verify` prints: an object that matched
    its signed provenance."""

    object: str
    statement: str
    sha256: str
    size_bytes: int
    signed_by: Optional[str]  # None with --allow-unsigned
    object_key: Optional[str]
    dev_stage: str
    builder_id: str
    repository: Optional[str]
    commit: Optional[str]
    image: Optional[str]
    promoted: Optional[AttestedPromotion] = None
    extra: Mapping[str, Any] = _extra_field()


@dataclass(frozen=True)
class ImageVerified(_FromJson):
    """What `publish-artifact image verify` prints: a tarball that is the
    image its registry digest names."""

    archive: str
    image: str  # the reference, REPO[:TAG]@sha256:<hex>
    tag: Optional[str]  # the RepoTags entry that was checked
    config_digest: str
    extra: Mapping[str, Any] = _extra_field()


def _flags(**values: Union[None, int, str, PathLike]) -> List[str]:
    """`--resource-name=detector` for each value given. The `=` form keeps a
    value that starts with `-` (a file named `-v`) from reading as a flag."""
    return [
        f"--{name.replace('_', '-')}={os.fspath(value) if isinstance(value, os.PathLike) else value}"
        for name, value in values.items()
        if value is not None
    ]


def _key_secret(key: Optional[str], key_file: Optional[PathLike]) -> Dict[str, str]:
    """A key goes to the tool in its environment, never in argv."""
    if key is not None and key_file is not None:
        raise ValueError("give key or key_file, not both")
    return {KEY_VARIABLE: key} if key is not None else {}


def publish(path: PathLike, *, resource_name: str, dev_stage: str, architecture: str,
            version: str, level: Optional[int] = None, replace: bool = False,
            sbom: bool = True, env: Optional[Mapping[str, str]] = None) -> Receipt:
    """Seals `path` and publishes it: one S3 object plus one admin API row.

    A published version is immutable: publishing it again raises ExistsError,
    unless `replace` (the old object is kept aside until the new row is
    registered, and put back if that fails). The input's SBOMs go beside the
    object unless `sbom` is False.

    The S3 and admin API settings and secrets (`S3_ENDPOINT`, `S3_ACCESS_KEY`,
    `S3_SECRET_KEY`, `S3_BUCKET`, `ADMIN_API_URL`, `ADMIN_API_TOKEN`, ...) come
    from `env`, the child's whole environment, by default this process's.
    Raises a PublishArtifactError subclass; StorageError and RegistrationError
    are `retryable` (nothing was left half-published).
    """
    arguments = [
        "publish",
        *_flags(file=path, resource_name=resource_name, dev_stage=dev_stage,
                architecture=architecture, version=version, level=level,
                sbom="on" if sbom else "off"),
        *(["--replace"] if replace else []),
        "--json",
    ]
    return Receipt.from_json(run_json(arguments, env))


def seal(path: PathLike, *, out: PathLike, key_out: PathLike, level: Optional[int] = None,
         sbom: bool = False, env: Optional[Mapping[str, str]] = None) -> Sealed:
    """Seals `path` locally into `out`, with a fresh key written to the new
    file `key_out` (mode 0600). Nothing is sent anywhere. With `sbom`, the
    input's SBOMs go to `out` + ".cdx.json" and ".spdx.json"."""
    arguments = ["seal", *_flags(file=path, out=out, key_out=key_out, level=level,
                                 sbom="on" if sbom else None)]
    return Sealed.from_json(run_json(arguments, env))


def fetch(*, sha256: str, out: PathLike, url: Optional[str] = None,
          object_key: Optional[str] = None, key: Optional[str] = None,
          key_file: Optional[PathLike] = None,
          env: Optional[Mapping[str, str]] = None) -> Opened:
    """Downloads a published object (from `url`, or `object_key` in the S3
    bucket of the environment), checks it and writes the plaintext to `out`.

    The key is `key` (64 hex digits, passed to the tool in its environment,
    never in argv) or the file `key_file`; without either, the tool reads
    PUBLISH_ARTIFACT_KEY from `env`.
    """
    if (url is None) == (object_key is None):
        raise ValueError("give url or object_key, exactly one")
    secrets = _key_secret(key, key_file)
    arguments = ["fetch", *_flags(url=url, object_key=object_key, sha256=sha256,
                                  key_file=key_file, out=out)]
    return Opened.from_json(run_json(arguments, env, secrets))


def verify(path: PathLike, *, sha256: str, key: Optional[str] = None,
           key_file: Optional[PathLike] = None, against: Optional[PathLike] = None,
           env: Optional[Mapping[str, str]] = None) -> Opened:
    """Checks a sealed object file without writing its plaintext; with
    `against`, also compares the plaintext with that original."""
    secrets = _key_secret(key, key_file)
    arguments = ["verify", *_flags(file=path, sha256=sha256, key_file=key_file, against=against)]
    return Opened.from_json(run_json(arguments, env, secrets))
