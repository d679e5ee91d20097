//! Provenance for every publish: signed statements of what an object is and
//! how it was made, in the formats release tooling already checks.
//!
//! - `statement`: the in-toto Statement v1 with a SLSA Provenance v1
//!   predicate (types, the `buildType` URI, the key commitment's context);
//! - `dsse`: the DSSE envelope around it and its pre-authentication encoding;
//! - `keys`: the ECDSA P-256 signing key (from the environment, zeroized,
//!   never printed) and the public key that verifies;
//! - `sidecars`: the files published next to the object (`.sha256`,
//!   `.intoto.json`, `.sha256.sig`, `.keywrap`);
//! - `keywrap`: the data key wrapped to the promotion pipeline's RSA key;
//! - `summary`: the SLSA Verification Summary a promotion writes;
//! - `verify`: a consumer's checks (signature, types, pins, subject).
//!
//! docs/provenance.md describes the formats field by field.

pub mod dsse;
pub mod keys;
pub mod keywrap;
pub mod sidecars;
pub mod statement;
pub mod summary;
pub mod verify;

/// Why a statement, a signature or a binding is not accepted: one sentence,
/// meant for the person who has to act on it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(String);

impl Refusal {
    pub fn new(sentence: impl Into<String>) -> Self {
        Self(sentence.into())
    }
}
