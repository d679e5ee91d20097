//! The signing key (ECDSA P-256, PKCS#8 PEM) and the public key that checks
//! its signatures (SubjectPublicKeyInfo PEM).
//!
//! The private key is read once, from `ATTESTATION_SIGNING_KEY` (the PEM
//! itself) or `ATTESTATION_SIGNING_KEY_FILE` (a path), checked before any
//! byte is read or sent, held by aws-lc (which wipes it when freed) and
//! never printed: every copy of the PEM text and of its DER is zeroized, and
//! no message quotes them.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, ParsedPublicKey,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use zeroize::Zeroizing;

/// The variable holding the PEM text of the signing key.
pub const KEY_VAR: &str = "ATTESTATION_SIGNING_KEY";
/// The variable holding the path of a PEM file with the signing key.
pub const KEY_FILE_VAR: &str = "ATTESTATION_SIGNING_KEY_FILE";
/// The public key that must have signed what is promoted: PEM, or a path.
pub const PUBLIC_KEY_VAR: &str = "ATTESTATION_PUBLIC_KEY";
pub const PUBLIC_KEY_FILE_VAR: &str = "ATTESTATION_PUBLIC_KEY_FILE";

/// The DSSE `keyid` of a public key: hex SHA-256 of its SubjectPublicKeyInfo
/// DER, so that anyone holding the public key computes the same id.
pub fn keyid(spki_der: &[u8]) -> String {
    hex::encode(Sha256::digest(spki_der))
}

/// An ECDSA P-256 private key. No `Display`; `Debug` shows only the keyid.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    public_der: Vec<u8>,
    keyid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(keyid {}, <redacted>)", self.keyid)
    }
}

impl SigningKey {
    /// Parses a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). The error says
    /// what kind of key it is not, never what the text holds.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let der = Zeroizing::new(
            PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|_| not_pkcs8_hint(pem))?,
        );
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der.secret_pkcs8_der())
                .map_err(|rejected| {
                    format!(
                        "is not an ECDSA P-256 private key ({rejected}); see docs/provenance.md"
                    )
                })?;
        let public_der = pair
            .public_key()
            .as_der()
            .map_err(|_| "has a public key that cannot be encoded".to_string())?
            .as_ref()
            .to_vec();
        Ok(Self {
            keyid: keyid(&public_der),
            public_der,
            pair,
        })
    }

    /// The key named by the environment, if any: `ATTESTATION_SIGNING_KEY`
    /// or `ATTESTATION_SIGNING_KEY_FILE` (each also as `PLUGIN_*` through
    /// `lookup`), never both. `Ok(None)` means publish unsigned.
    pub fn from_environment(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        EnvironmentPem::read(&lookup, KEY_VAR, KEY_FILE_VAR, Secrecy::Private)?
            .map(|pem| pem.parse(Self::from_pem))
            .transpose()
    }

    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The public key as SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// An ECDSA P-256 signature over SHA-256(`message`), ASN.1 DER: what
    /// `openssl dgst -sha256 -sign` and cosign produce.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .expect("signing with a checked P-256 key does not fail")
            .as_ref()
            .to_vec()
    }
}

/// Whether a PEM holds a secret: a private key's file is checked for loose
/// permissions, and its text is wiped after use.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Secrecy {
    Private,
    Public,
}

/// A PEM named by a pair of variables: `VAR` holds the PEM itself,
/// `VAR_FILE` a path to it; never both. Keys are kept out of argv this way,
/// and a secret store can hand over either form.
pub struct EnvironmentPem {
    pub bytes: Zeroizing<Vec<u8>>,
    /// Where it came from, for messages: `VAR`, or `VAR_FILE (path)`.
    pub source: String,
}

impl EnvironmentPem {
    pub fn read(
        lookup: &impl Fn(&str) -> Option<String>,
        var: &str,
        file_var: &str,
        secrecy: Secrecy,
    ) -> Result<Option<Self>, String> {
        let inline = lookup(var).map(Zeroizing::new);
        match (inline, lookup(file_var)) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(format!("set {var} or {file_var}, not both")),
            (Some(pem), None) => Ok(Some(Self {
                bytes: Zeroizing::new(pem.as_bytes().to_vec()),
                source: var.to_string(),
            })),
            (None, Some(path)) => {
                let source = format!("{file_var} ({path})");
                let bytes = std::fs::read(&path)
                    .map_err(|err| format!("{source} cannot be read: {err}"))?;
                if secrecy == Secrecy::Private {
                    crate::secrets::warn_if_others_may_read(Path::new(&path), file_var);
                }
                Ok(Some(Self {
                    bytes: Zeroizing::new(bytes),
                    source,
                }))
            }
        }
    }

    /// Parses the PEM; a refusal names the variable, never the content.
    pub fn parse<T>(&self, parse: impl FnOnce(&[u8]) -> Result<T, String>) -> Result<T, String> {
        parse(&self.bytes).map_err(|why| format!("{} {why}", self.source))
    }
}

/// The hint for a PEM that holds no unencrypted PKCS#8 key; it names the
/// PEM label it saw (a label is not secret), never the key.
fn not_pkcs8_hint(pem: &[u8]) -> String {
    let text = String::from_utf8_lossy(pem);
    let label = |l: &str| text.contains(&format!("-----BEGIN {l}-----"));
    if label("EC PRIVATE KEY") {
        "is a SEC1 EC key; convert it with `openssl pkcs8 -topk8 -nocrypt`".into()
    } else if label("ENCRYPTED PRIVATE KEY") || label("ENCRYPTED SIGSTORE PRIVATE KEY") {
        "is encrypted; give the unencrypted PKCS#8 PEM (see docs/provenance.md)".into()
    } else {
        "holds no PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)".into()
    }
}

/// A public key that checks signatures: ECDSA P-256, PEM SubjectPublicKeyInfo
/// (`-----BEGIN PUBLIC KEY-----`, what `openssl pkey -pubout` writes).
pub struct VerifyingKey {
    key: ParsedPublicKey,
    keyid: String,
}

impl VerifyingKey {
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .map_err(|_| "holds no PEM public key (-----BEGIN PUBLIC KEY-----)".to_string())?;
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der.as_ref())
            .map_err(|rejected| format!("is not an ECDSA P-256 public key ({rejected})"))?;
        Ok(Self {
            keyid: keyid(der.as_ref()),
            key,
        })
    }

    /// The public key of `ATTESTATION_PUBLIC_KEY` or
    /// `ATTESTATION_PUBLIC_KEY_FILE` (also as `PLUGIN_*`); required.
    pub fn from_environment(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        EnvironmentPem::read(
            &lookup,
            PUBLIC_KEY_VAR,
            PUBLIC_KEY_FILE_VAR,
            Secrecy::Public,
        )?
        .ok_or_else(|| {
            format!(
                "set {PUBLIC_KEY_VAR} (or {PUBLIC_KEY_FILE_VAR}): the public key that signed \
                     the provenance"
            )
        })?
        .parse(Self::from_pem)
    }

    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// Whether `signature` (ASN.1 DER) signs SHA-256(`message`).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PKCS#8 PEM whose DER is no valid key (its secret-looking prefix
    /// must never show up in an error).
    const BROKEN_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjvF+xrFe6cTUwyfC
AAAAAAAAAAAAAAAAAAAAAAAAAAChRANCAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
-----END PRIVATE KEY-----
";

    fn generated() -> (Vec<u8>, Vec<u8>) {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref()).unwrap();
        let public = pair.public_key().as_der().unwrap().as_ref().to_vec();
        (doc.as_ref().to_vec(), public)
    }

    pub fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// A fresh signing key and its public key, as PEM.
    pub fn key_pair_pem() -> (String, String) {
        let (private, public) = generated();
        (pem("PRIVATE KEY", &private), pem("PUBLIC KEY", &public))
    }

    #[test]
    fn signs_what_the_public_key_verifies() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let verifier = VerifyingKey::from_pem(public.as_bytes()).unwrap();
        assert_eq!(signer.keyid(), verifier.keyid());
        assert_eq!(signer.keyid().len(), 64);
        let signature = signer.sign(b"message");
        assert!(verifier.verifies(b"message", &signature));
        assert!(!verifier.verifies(b"messagf", &signature));
        let (_, other) = key_pair_pem();
        assert!(
            !VerifyingKey::from_pem(other.as_bytes())
                .unwrap()
                .verifies(b"message", &signature)
        );
    }

    #[test]
    fn bad_keys_are_named_without_their_content() {
        let broken = SigningKey::from_pem(BROKEN_KEY.as_bytes()).unwrap_err();
        assert!(!broken.contains("MIGH"), "{broken}");
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(
            SigningKey::from_pem(sec1.as_bytes())
                .unwrap_err()
                .contains("openssl pkcs8")
        );
        assert!(
            SigningKey::from_pem(b"hunter2")
                .unwrap_err()
                .contains("PKCS#8")
        );
        let (_, public) = key_pair_pem();
        assert!(SigningKey::from_pem(public.as_bytes()).is_err());
    }

    #[test]
    fn the_environment_gives_one_key_or_none() {
        let (private, _) = key_pair_pem();
        let none = SigningKey::from_environment(|_| None).unwrap();
        assert!(none.is_none());
        let inline =
            SigningKey::from_environment(|name| (name == KEY_VAR).then(|| private.clone()));
        assert!(inline.unwrap().is_some());
        let both = SigningKey::from_environment(|_| Some(private.clone())).unwrap_err();
        assert!(both.contains("not both"), "{both}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, &private).unwrap();
        let from_file = SigningKey::from_environment(|name| {
            (name == KEY_FILE_VAR).then(|| path.display().to_string())
        });
        assert!(from_file.unwrap().is_some());
        let debug = format!("{:?}", SigningKey::from_pem(private.as_bytes()).unwrap());
        assert!(debug.contains("redacted"));
    }
}
