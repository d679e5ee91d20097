//! Provenance for every publish: signed statements of what an object is and
//! how it was made, in the formats release tooling already checks.
//!
//! - `registry`: every kind of file beside an object (suffix, content type,
//!   signed or not, what promotion does with it); the bottom floor;
//! - `statement`: the in-toto Statement v1 with a SLSA Provenance v1
//!   predicate, and its builder for one publish (key commitment, times);
//! - `ci`: what Woodpecker's `CI_*` variables say about the run;
//! - `dsse`: the DSSE envelope around it and its pre-authentication encoding;
//! - `bundle`: the same signatures as Sigstore bundles (v0.3, key-based),
//!   which cosign 3, sigstore-go and sigstore-js read;
//! - `keys`: the ECDSA P-256 signing key (from the environment, zeroized,
//!   never printed) and the public key that verifies;
//! - `sidecars`: the files a publish writes next to the object;
//! - `sbom_statement`: the signed in-toto statement whose predicate is an
//!   SBOM of the object, and its check;
//! - `model_signature`: the OpenSSF model signature of a model file,
//!   which `model_signing verify key` accepts;
//! - `keywrap`: the data key wrapped to the promotion pipeline's RSA key;
//! - `vsa`: the SLSA Verification Summary a promotion writes;
//! - `verify`: the single checks (signature, types, pins, subject);
//! - `policy`: the one verification policy that `promote` and `attest
//!   verify` both apply, given a way to read the files beside an object.
//!
//! docs/provenance.md describes the formats field by field.

pub mod bundle;
pub mod ci;
pub mod dsse;
pub mod keys;
pub mod keywrap;
pub mod model_signature;
pub mod policy;
pub mod registry;
pub mod sbom_statement;
pub mod sidecars;
pub mod statement;
pub mod verify;
pub mod vsa;

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
