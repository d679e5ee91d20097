"""Seal a build artifact or a model and publish it, from Python.

A thin, typed layer over the `publish-artifact` binary that comes in the
same wheel::

    from publish_artifact import publish, PublishArtifactError

    receipt = publish("out/detector.trt", resource_name="detector",
                      dev_stage="main", architecture="arm64", version="2026-04-15")
    print(receipt.cdn_url, receipt.sha256)

Settings and secrets come from the environment (see `publish`), never from
arguments. Each failure class of the tool is its own exception.
"""

from ._api import (Attested, AttestedPromotion, Durations, ImageVerified, Opened, Promoted,
                   PromotedStatement, Provenance, Receipt, Sbom, Sealed, Upload, fetch, publish,
                   seal, verify)
from ._errors import (
    AttestationError,
    ExistsError,
    InputError,
    IntegrityError,
    InternalError,
    OutputError,
    PublishArtifactError,
    RegistrationError,
    SignalError,
    StorageError,
    UsageError,
)
from ._find import OVERRIDE_VARIABLE, BinaryNotFoundError, find_binary

__all__ = [
    "AttestationError",
    "Attested",
    "AttestedPromotion",
    "BinaryNotFoundError",
    "Durations",
    "ExistsError",
    "ImageVerified",
    "InputError",
    "IntegrityError",
    "InternalError",
    "OVERRIDE_VARIABLE",
    "Opened",
    "OutputError",
    "Promoted",
    "PromotedStatement",
    "Provenance",
    "PublishArtifactError",
    "Receipt",
    "RegistrationError",
    "Sbom",
    "Sealed",
    "SignalError",
    "StorageError",
    "Upload",
    "UsageError",
    "fetch",
    "find_binary",
    "publish",
    "seal",
    "verify",
]
