//! DSSE (Dead Simple Signing Envelope, v1): a payload, its type, and
//! signatures over the pre-authentication encoding (PAE) of both, so that a
//! signature can never be replayed under another payload type.

use super::Refusal;
use super::keys::{SigningKey, VerifyingKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// The payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
/// lengths as ASCII decimal of the byte counts.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut encoded = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    encoded.extend_from_slice(payload);
    encoded
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub payload_type: String,
    /// Base64 (standard alphabet, padded) of the payload bytes.
    pub payload: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// A hint only (DSSE): the signature counts if it verifies.
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the ASN.1 DER ECDSA signature over the PAE.
    pub sig: String,
}

impl Envelope {
    /// An envelope around an in-toto `payload`, signed when a key is given.
    pub fn new(payload: &[u8], signer: Option<&SigningKey>) -> Self {
        let signatures = signer
            .map(|key| Signature {
                keyid: key.keyid().to_string(),
                sig: BASE64.encode(key.sign(&pae(PAYLOAD_TYPE, payload))),
            })
            .into_iter()
            .collect();
        Self {
            payload_type: PAYLOAD_TYPE.into(),
            payload: BASE64.encode(payload),
            signatures,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, Refusal> {
        serde_json::from_slice(bytes)
            .map_err(|err| Refusal::new(format!("the statement is not a DSSE envelope: {err}")))
    }

    /// The payload, checked to be an in-toto statement's.
    pub fn payload(&self) -> Result<Vec<u8>, Refusal> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(Refusal::new(format!(
                "the envelope's payloadType is {:?}, not {PAYLOAD_TYPE:?}",
                self.payload_type
            )));
        }
        BASE64
            .decode(&self.payload)
            .map_err(|_| Refusal::new("the envelope's payload is not base64"))
    }

    /// Whether any signature verifies under `key`, over the PAE of `payload`
    /// (the decoded payload, so a re-encoded payload cannot pass).
    pub fn signed_by(&self, key: &VerifyingKey, payload: &[u8]) -> bool {
        let message = pae(&self.payload_type, payload);
        self.signatures.iter().any(|signature| {
            BASE64
                .decode(&signature.sig)
                .is_ok_and(|der| key.verifies(&message, &der))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::keys::tests::key_pair_pem;

    #[test]
    fn pae_matches_the_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn a_signed_envelope_verifies_and_its_tampered_payload_does_not() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let key = VerifyingKey::from_pem(public.as_bytes()).unwrap();
        let envelope = Envelope::new(b"{\"a\":1}", Some(&signer));
        let parsed = Envelope::parse(&serde_json::to_vec(&envelope).unwrap()).unwrap();
        assert_eq!(parsed.signatures[0].keyid, signer.keyid());
        let payload = parsed.payload().unwrap();
        assert!(parsed.signed_by(&key, &payload));
        assert!(!parsed.signed_by(&key, b"{\"a\":2}"));
        let unsigned = Envelope::new(b"{}", None);
        assert!(unsigned.signatures.is_empty());
        assert!(!unsigned.signed_by(&key, b"{}"));
    }
}
