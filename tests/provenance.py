"""An independent implementation of what the provenance sidecars hold, for
checking the tool both ways: keys made and signatures checked by the openssl
CLI, the DSSE pre-authentication encoding and the statement written here
from the specifications (DSSE v1, in-toto Statement v1, SLSA Provenance v1,
docs/provenance.md), never by calling the tool."""

import base64
import hashlib
import hmac
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://example.invalid/publish-artifact/buildtypes/seal-and-publish/v1"
COMMITMENT_CONTEXT = b"publish-artifact/key-commitment/v1"


def openssl(*args, input=None) -> bytes:
    return subprocess.run(["openssl", *map(str, args)], input=input,
                          capture_output=True, check=True).stdout


@dataclass
class KeyPair:
    private: Path   # PKCS#8 PEM, as `openssl genpkey` writes it
    public: Path    # SubjectPublicKeyInfo PEM

    @property
    def keyid(self) -> str:
        """hex SHA-256 of the public key's SubjectPublicKeyInfo DER."""
        der = openssl("pkey", "-pubin", "-in", self.public, "-outform", "DER")
        return hashlib.sha256(der).hexdigest()

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA signature over SHA-256(data)."""
        return openssl("dgst", "-sha256", "-sign", self.private, input=data)

    def verifies(self, data: bytes, signature: bytes, folder: Path) -> bool:
        sig = folder / "openssl.sig"
        sig.write_bytes(signature)
        run = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(self.public),
                              "-signature", str(sig)], input=data, capture_output=True)
        return run.returncode == 0


def make_key(folder: Path, name: str = "signing") -> KeyPair:
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", private)
    private.chmod(0o600)
    openssl("pkey", "-in", private, "-pubout", "-out", public)
    return KeyPair(private, public)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(statement: dict, key: KeyPair = None) -> dict:
    payload = json.dumps(statement).encode()
    signatures = []
    if key:
        signatures.append({"keyid": key.keyid,
                           "sig": base64.b64encode(key.sign(pae(PAYLOAD_TYPE, payload))).decode()})
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
            "signatures": signatures}


def payload_of(env: dict) -> dict:
    return json.loads(base64.b64decode(env["payload"]))


def key_commitment(key_hex: str, object_sha256_hex: str) -> str:
    return hmac.new(bytes.fromhex(key_hex), COMMITMENT_CONTEXT + bytes.fromhex(object_sha256_hex),
                    hashlib.sha256).hexdigest()


def statement(object_key: str, object_sha256: str, stage="dev", name="loader", arch="arm64",
              version="7-0123456789ab", commit="0123456789abcdef0123456789abcdef01234567",
              repository="https://git.example.com/acme/loader",
              builder="https://ci.example.com#linux/arm64") -> dict:
    """A statement as docs/provenance.md describes it."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": object_key, "digest": {"sha256": object_sha256},
             "annotations": {"size_bytes": 1}},
            {"name": "image.tar", "digest": {"sha256": "00" * 32}, "annotations": {"role": "input"}},
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"resource_name": name, "dev_stage": stage,
                                       "architecture": arch, "version": version,
                                       "input": "image.tar", "repository": repository},
                "internalParameters": {"sealing_component_sha256": "11" * 32, "gzip_level": 6,
                                       "tool_version": "0.1.0"},
                "resolvedDependencies": [{"uri": f"git+{repository}@refs/heads/{stage}",
                                          "digest": {"gitCommit": commit}}],
            },
            "runDetails": {"builder": {"id": builder},
                           "metadata": {"startedOn": "2026-11-29T04:00:00Z",
                                        "finishedOn": "2026-11-29T04:00:09Z"}},
        },
    }
