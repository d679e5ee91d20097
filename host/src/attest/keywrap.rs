//! Key wrapping for promotion: publish encrypts the object's data key to
//! the promotion pipeline's RSA public key (`{object_key}.keywrap`), so that
//! promotion can register the same object under another stage without ever
//! having seen the key, and without re-sealing.
//!
//! The wrap is RSA-OAEP with SHA-256 and MGF1-SHA-256, under the label
//! `publish-artifact/key-wrap/v1:<object sha256 hex>`: OAEP binds the label
//! into the ciphertext, so a `.keywrap` copied beside another object does not
//! open there. The file is the bare ciphertext (the modulus' size), which
//! `openssl pkeyutl -decrypt` with the OAEP options and the label opens.
//!
//! Whoever holds the private key can decrypt every wrapped artifact: it
//! belongs in a secret only the promotion pipeline gets (docs/promotion.md).

use super::Refusal;
use super::keys::{EnvironmentPem, Secrecy, keyid};
use crate::secrets::Key;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
use std::fmt;
use zeroize::Zeroizing;

pub const PUBLIC_KEY_VAR: &str = "PROMOTION_PUBLIC_KEY";
pub const PUBLIC_KEY_FILE_VAR: &str = "PROMOTION_PUBLIC_KEY_FILE";
pub const PRIVATE_KEY_VAR: &str = "PROMOTION_PRIVATE_KEY";
pub const PRIVATE_KEY_FILE_VAR: &str = "PROMOTION_PRIVATE_KEY_FILE";
/// The statement's name for the scheme (annotation `key_wrap.algorithm`).
pub const ALGORITHM: &str = "rsa-oaep-sha256";
/// RSA below 3072 bits falls short of AES-256's strength by more than the
/// usual margin (NIST SP 800-57: 3072 bits ~ 128-bit security).
const MIN_BITS: usize = 3072;

/// The OAEP label binding a wrap to one object.
pub fn label(object_sha256: &[u8; 32]) -> String {
    format!(
        "publish-artifact/key-wrap/v1:{}",
        hex::encode(object_sha256)
    )
}

/// The promotion pipeline's RSA public key, which publish wraps keys to.
pub struct WrappingKey {
    key: OaepPublicEncryptingKey,
    public_key_sha256: String,
}

impl WrappingKey {
    /// A SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`) of an RSA
    /// key of 3072 bits or more.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem)
            .map_err(|_| "holds no PEM public key (-----BEGIN PUBLIC KEY-----)".to_string())?;
        let public = PublicEncryptingKey::from_der(der.as_ref())
            .map_err(|rejected| format!("is not an RSA public key ({rejected})"))?;
        check_size(public.key_size_bits())?;
        Ok(Self {
            key: OaepPublicEncryptingKey::new(public)
                .map_err(|_| "cannot be used for RSA-OAEP".to_string())?,
            public_key_sha256: keyid(der.as_ref()),
        })
    }

    /// `PROMOTION_PUBLIC_KEY` or `PROMOTION_PUBLIC_KEY_FILE`; `None` when
    /// neither is set (publish then writes no `.keywrap`).
    pub fn from_environment(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        EnvironmentPem::read(
            &lookup,
            PUBLIC_KEY_VAR,
            PUBLIC_KEY_FILE_VAR,
            Secrecy::Public,
        )?
        .map(|pem| pem.parse(Self::from_pem))
        .transpose()
    }

    /// Hex SHA-256 of the key's SubjectPublicKeyInfo DER: recorded in the
    /// statement, so a promotion holding another key can say so.
    pub fn public_key_sha256(&self) -> &str {
        &self.public_key_sha256
    }

    /// The `.keywrap` file for `key`, bound to the object `object_sha256`.
    pub fn wrap(&self, key: &Key, object_sha256: &[u8; 32]) -> Vec<u8> {
        let mut wrapped = vec![0; self.key.ciphertext_size()];
        let written = self
            .key
            .encrypt(
                &OAEP_SHA256_MGF1SHA256,
                key.as_bytes(),
                &mut wrapped,
                Some(label(object_sha256).as_bytes()),
            )
            .expect("32 bytes fit RSA-OAEP-SHA256 under a 3072-bit key")
            .len();
        wrapped.truncate(written);
        wrapped
    }
}

/// The promotion pipeline's RSA private key. No `Display`; `Debug` shows
/// only the public key's hash. aws-lc wipes it when it is freed.
pub struct UnwrappingKey {
    key: OaepPrivateDecryptingKey,
    public_key_sha256: String,
}

impl fmt::Debug for UnwrappingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UnwrappingKey(public key sha256 {}, <redacted>)",
            self.public_key_sha256
        )
    }
}

impl UnwrappingKey {
    /// A PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) of an RSA key of 3072
    /// bits or more. Errors never quote the text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let der = Zeroizing::new(PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|_| {
            "holds no PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----; convert a \
             `BEGIN RSA PRIVATE KEY` one with `openssl pkcs8 -topk8 -nocrypt`)"
                .to_string()
        })?);
        let private = PrivateDecryptingKey::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|rejected| format!("is not an RSA private key ({rejected})"))?;
        check_size(private.key_size_bits())?;
        let public_der = private
            .public_key()
            .as_der()
            .map_err(|_| "has a public key that cannot be encoded".to_string())?;
        Ok(Self {
            public_key_sha256: keyid(public_der.as_ref()),
            key: OaepPrivateDecryptingKey::new(private)
                .map_err(|_| "cannot be used for RSA-OAEP".to_string())?,
        })
    }

    /// `PROMOTION_PRIVATE_KEY` or `PROMOTION_PRIVATE_KEY_FILE`; required.
    pub fn from_environment(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        EnvironmentPem::read(
            &lookup,
            PRIVATE_KEY_VAR,
            PRIVATE_KEY_FILE_VAR,
            Secrecy::Private,
        )?
        .ok_or_else(|| {
            format!(
                "set {PRIVATE_KEY_VAR} (or {PRIVATE_KEY_FILE_VAR}): promotion unwraps the \
                     object's key with it"
            )
        })?
        .parse(Self::from_pem)
    }

    pub fn public_key_sha256(&self) -> &str {
        &self.public_key_sha256
    }

    /// The data key in a `.keywrap` made for the object `object_sha256`.
    pub fn unwrap(&self, wrapped: &[u8], object_sha256: &[u8; 32]) -> Result<Key, Refusal> {
        let mut plaintext = Zeroizing::new(vec![0; self.key.min_output_size()]);
        let opened = self
            .key
            .decrypt(
                &OAEP_SHA256_MGF1SHA256,
                wrapped,
                &mut plaintext,
                Some(label(object_sha256).as_bytes()),
            )
            .map_err(|_| {
                Refusal::new(format!(
                    "the key wrap does not open with the promotion private key (public key \
                     sha256 {}): it was made for another key or for another object",
                    &self.public_key_sha256[..16]
                ))
            })?;
        let bytes: [u8; 32] = (&*opened).try_into().map_err(|_| {
            Refusal::new(format!(
                "the key wrap holds {} bytes, not a 32-byte key",
                opened.len()
            ))
        })?;
        Ok(Key::from_bytes(bytes))
    }
}

fn check_size(bits: usize) -> Result<(), String> {
    if bits < MIN_BITS {
        return Err(format!(
            "is a {bits}-bit RSA key; key wrapping needs {MIN_BITS} bits or more"
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::attest::keys::tests::pem;
    use aws_lc_rs::rsa::KeySize;

    pub(crate) fn pair(size: KeySize) -> (String, String) {
        let private = PrivateDecryptingKey::generate(size).unwrap();
        let public = private.public_key();
        (
            pem("PRIVATE KEY", private.as_der().unwrap().as_ref()),
            pem("PUBLIC KEY", public.as_der().unwrap().as_ref()),
        )
    }

    #[test]
    fn a_wrap_opens_only_for_its_object_and_its_key() {
        let (private, public) = pair(KeySize::Rsa3072);
        let wrapping = WrappingKey::from_pem(public.as_bytes()).unwrap();
        let unwrapping = UnwrappingKey::from_pem(private.as_bytes()).unwrap();
        assert_eq!(wrapping.public_key_sha256(), unwrapping.public_key_sha256());
        let key = Key::from_bytes([7; 32]);
        let wrapped = wrapping.wrap(&key, &[1; 32]);
        assert_eq!(wrapped.len(), 384);
        let opened = unwrapping.unwrap(&wrapped, &[1; 32]).unwrap();
        assert_eq!(opened.as_bytes(), key.as_bytes());
        // OAEP is randomized: the same key wraps differently each time.
        assert_ne!(wrapping.wrap(&key, &[1; 32]), wrapped);
        // Another object's label, another private key, a damaged wrap.
        assert!(unwrapping.unwrap(&wrapped, &[2; 32]).is_err());
        let (other, _) = pair(KeySize::Rsa3072);
        let other = UnwrappingKey::from_pem(other.as_bytes()).unwrap();
        assert!(other.unwrap(&wrapped, &[1; 32]).is_err());
        let mut damaged = wrapped.clone();
        damaged[100] ^= 1;
        assert!(unwrapping.unwrap(&damaged, &[1; 32]).is_err());
    }

    #[test]
    fn small_and_wrong_keys_are_refused_without_their_content() {
        let (private, public) = pair(KeySize::Rsa2048);
        let small = WrappingKey::from_pem(public.as_bytes()).err().unwrap();
        assert!(small.contains("2048-bit"), "{small}");
        assert!(UnwrappingKey::from_pem(private.as_bytes()).is_err());
        let (ec_private, ec_public) = crate::attest::keys::tests::key_pair_pem();
        assert!(WrappingKey::from_pem(ec_public.as_bytes()).is_err());
        let refused = UnwrappingKey::from_pem(ec_private.as_bytes()).unwrap_err();
        assert!(!refused.contains(&ec_private[30..60]), "{refused}");
        let (private, _) = pair(KeySize::Rsa3072);
        let debug = format!("{:?}", UnwrappingKey::from_pem(private.as_bytes()).unwrap());
        assert!(debug.contains("redacted"), "{debug}");
    }

    #[test]
    fn the_label_names_the_object() {
        assert_eq!(
            label(&[0xab; 32]),
            format!("publish-artifact/key-wrap/v1:{}", "ab".repeat(32))
        );
    }
}
