//! The signing keys (ECDSA P-256, PKCS#8 PEM) and the public keys that check
//! their signatures (SubjectPublicKeyInfo PEM).
//!
//! Two private keys sign, each read once from its pair of variables (the
//! PEM itself, or `_FILE` with a path): `ATTESTATION_SIGNING_KEY` signs what
//! a publish states (the provenance, the SBOM statements, the checksum's and
//! the model's signatures); `PROMOTION_SIGNING_KEY` signs the verification
//! summaries a promotion writes, so that the build's key cannot vouch for its
//! own promotion. Each is checked before any byte is read or sent, held by
//! aws-lc (which wipes it when freed) and never printed: every copy of the
//! PEM text and of its DER is zeroized, and no message quotes them.
//!
//! A verifier trusts a ring of public keys, not one: while a key is rotated
//! both the old and the new one are trusted, and the keyid of the one that
//! verified says which signed.

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
/// The public keys, any of which must have signed the provenance of what is
/// promoted: PEM (one or more keys), or a path.
pub const PUBLIC_KEY_VAR: &str = "ATTESTATION_PUBLIC_KEY";
pub const PUBLIC_KEY_FILE_VAR: &str = "ATTESTATION_PUBLIC_KEY_FILE";
/// The promotion pipeline's own key, which signs verification summaries.
pub const PROMOTION_KEY_VAR: &str = "PROMOTION_SIGNING_KEY";
pub const PROMOTION_KEY_FILE_VAR: &str = "PROMOTION_SIGNING_KEY_FILE";
/// The public keys, any of which must have signed a verification summary
/// (`promote` also takes them as `--vsa-public-key`).
pub const SUMMARY_PUBLIC_KEY_VAR: &str = "VSA_PUBLIC_KEY";
pub const SUMMARY_PUBLIC_KEY_FILE_VAR: &str = "VSA_PUBLIC_KEY_FILE";

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
        Self::from_variables(&lookup, KEY_VAR, KEY_FILE_VAR)
    }

    /// The key in `var` (PEM text) or `file_var` (a path), never both.
    pub fn from_variables(
        lookup: &impl Fn(&str) -> Option<String>,
        var: &str,
        file_var: &str,
    ) -> Result<Option<Self>, String> {
        EnvironmentPem::read(lookup, var, file_var, Secrecy::Private)?
            .map(|pem| pem.parse(Self::from_pem))
            .transpose()
    }

    /// The public half, to verify with.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_der(&self.public_der)
            .expect("the public half of a checked P-256 key parses")
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
#[derive(Clone)]
pub struct VerifyingKey {
    key: ParsedPublicKey,
    keyid: String,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey(keyid {})", self.keyid)
    }
}

impl VerifyingKey {
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .map_err(|_| "holds no PEM public key (-----BEGIN PUBLIC KEY-----)".to_string())?;
        Self::from_der(der.as_ref())
    }

    /// SubjectPublicKeyInfo DER.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der)
            .map_err(|rejected| format!("is not an ECDSA P-256 public key ({rejected})"))?;
        Ok(Self {
            keyid: keyid(der),
            key,
        })
    }

    /// Every public key in a PEM text (a key ring: several
    /// `-----BEGIN PUBLIC KEY-----` blocks, one after the other), each once.
    pub fn ring_from_pem(pem: &[u8]) -> Result<Vec<Self>, String> {
        let mut ring: Vec<Self> = Vec::new();
        for (at, der) in SubjectPublicKeyInfoDer::pem_slice_iter(pem).enumerate() {
            let der = der.map_err(|_| format!("has a PEM block {} that does not parse", at + 1))?;
            let key = Self::from_der(der.as_ref())
                .map_err(|why| format!("has a key {} that {why}", at + 1))?;
            if ring.iter().all(|known| known.keyid != key.keyid) {
                ring.push(key);
            }
        }
        match ring.is_empty() {
            true => Err("holds no PEM public key (-----BEGIN PUBLIC KEY-----)".to_string()),
            false => Ok(ring),
        }
    }

    /// The public keys of `ATTESTATION_PUBLIC_KEY` or
    /// `ATTESTATION_PUBLIC_KEY_FILE` (also as `PLUGIN_*`); required.
    pub fn ring_from_environment(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<Self>, String> {
        Self::ring_from_variables(&lookup, PUBLIC_KEY_VAR, PUBLIC_KEY_FILE_VAR)?.ok_or_else(|| {
            format!(
                "set {PUBLIC_KEY_VAR} (or {PUBLIC_KEY_FILE_VAR}): the public key that signed \
                 the provenance (several, one after the other, while a key is rotated)"
            )
        })
    }

    /// The ring in `var` (PEM text) or `file_var` (a path), if either is set.
    pub fn ring_from_variables(
        lookup: &impl Fn(&str) -> Option<String>,
        var: &str,
        file_var: &str,
    ) -> Result<Option<Vec<Self>>, String> {
        EnvironmentPem::read(lookup, var, file_var, Secrecy::Public)?
            .map(|pem| pem.parse(Self::ring_from_pem))
            .transpose()
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
    fn a_ring_is_every_key_of_a_pem_once() {
        let (private, old) = key_pair_pem();
        let (_, new) = key_pair_pem();
        let ring = VerifyingKey::ring_from_pem(format!("{old}{new}{old}").as_bytes()).unwrap();
        assert_eq!(ring.len(), 2);
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        assert_eq!(ring[0].keyid(), signer.keyid());
        assert_eq!(signer.verifying_key().keyid(), signer.keyid());
        let none = VerifyingKey::ring_from_pem(b"no key here").unwrap_err();
        assert!(none.contains("no PEM public key"), "{none}");
        let private_only = VerifyingKey::ring_from_pem(private.as_bytes()).unwrap_err();
        assert!(private_only.contains("no PEM public key"), "{private_only}");
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
