//! The one verification policy: what makes an object trusted, decided in
//! one place for `promote` and `attest verify` alike (as cosign keeps
//! `pkg/cosign/verify.go` apart from its verbs).
//!
//! The caller says where the object sits and hands a way to read the files
//! beside it; the policy reads what it needs, in this order, and refuses at
//! the first thing wrong:
//! 1. the provenance (`.intoto.json`): signed under the trusted key, of our
//!    types, matching the pins;
//! 2. the provenance is about this version (its key's file name), and the
//!    object is the attested one: its SHA-256 when the caller hashed it,
//!    otherwise its size;
//! 3. the provenance names this object, or, when the object sits under
//!    another stage's key, a verification summary (`.vsa.intoto.json`)
//!    decided on this provenance vouches for it there;
//! 4. with the promotion key: the data key unwraps from `.keywrap` and is
//!    the one the provenance commits to;
//! 5. a `.sha256.sig` present verifies: it would otherwise be carried as a
//!    false witness;
//! 6. each SBOM beside the object comes as its document and its statement,
//!    signed and about this object, whose predicate the document is; with
//!    `require_sbom`, both formats must be there;
//! 7. a `.model.sig` present is signed under the trusted key and signs the
//!    input the provenance names (the model that was sealed).
//!
//! Every signed file is read in either form: bare (the DSSE envelope, the
//! `.sig`) or as its Sigstore bundle (`.sigstore.json`); where both are
//! there, they must hold the same envelope or signature, so that neither
//! is a false witness carried beside the other.
//!
//! Nothing here touches the network: reading is the caller's, so every
//! refusal is unit-tested with files in memory.

use super::Refusal;
use super::bundle;
use super::dsse::Envelope;
use super::keywrap::UnwrappingKey;
use super::model_signature;
use super::registry::{SbomFormat, SidecarKind};
use super::sbom_statement::check_sbom;
use super::sidecars::sha256_line;
use super::statement::{Statement, key_commitment};
use super::verify::{AttestedObject, Signed, Trust, attested_object, check_envelope, check_object};
use super::vsa::{Expected, Summary, check_summary};
use crate::secrets::Key;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Where the object under check sits.
#[derive(Debug, Clone, Copy)]
pub enum Placement<'a> {
    /// A local file: its name proves nothing, its digest decides. A
    /// summary is checked when the reader has one (`--vsa`).
    File,
    /// An object key in the bucket.
    Key(&'a str),
    /// The path of a URL, which ends with the object key.
    UrlPath(&'a str),
}

impl Placement<'_> {
    /// The object key the placement shows, as far as it shows one.
    fn key(&self) -> Option<&str> {
        match self {
            Self::File => None,
            Self::Key(key) => Some(key),
            Self::UrlPath(path) => Some(path.rsplit_once('/').map_or(*path, |(_, key)| key)),
        }
    }

    fn expected(&self) -> Expected<'_> {
        match self {
            Self::File => Expected::Any,
            Self::Key(key) => Expected::Key(key),
            Self::UrlPath(path) => Expected::UrlPath(path),
        }
    }

    /// Whether the object sits where its provenance says it was
    /// published: the URL's path (bucket or CDN prefix first) ends with it.
    fn is_where_published(&self, published_as: &str) -> bool {
        match self {
            Self::File => true,
            Self::Key(key) => *key == published_as,
            Self::UrlPath(path) => path.ends_with(&format!("/{published_as}")),
        }
    }
}

/// What promotion adds: the stage order and which stages take only what
/// the stage before them validated.
#[derive(Clone, Copy)]
pub struct Promotion<'a> {
    pub stages: &'a [String],
    pub from: &'a str,
    pub to: &'a str,
    /// The target stage takes only a promoted source (`--require-vsa-for`).
    pub require_summary: bool,
    /// Unwraps the data key from `.keywrap`.
    pub unwrapping: &'a UnwrappingKey,
}

#[derive(Clone, Copy)]
pub struct Policy<'a> {
    pub trust: &'a Trust,
    pub placement: Placement<'a>,
    pub promotion: Option<Promotion<'a>>,
    /// Refuse an object published without its SBOMs (`--require-sbom`).
    pub require_sbom: bool,
}

/// What the caller measured of the object.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Known when the object was read whole; a promotion checks its copy.
    pub sha256: Option<[u8; 32]>,
    pub size: u64,
}

/// Why the object is not trusted.
#[derive(Debug)]
pub enum Denial<E> {
    /// The provenance, a summary, a wrap or a signature does not hold.
    Refused(Refusal),
    /// The object is not the attested one (its size).
    NotTheObject(String),
    /// A file could not be read (the reader's own error).
    Unreadable(E),
}

impl<E> From<Refusal> for Denial<E> {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

/// An object that passed: everything checked, for the caller to report or
/// carry forward.
#[derive(Debug)]
pub struct Verdict {
    pub statement: Statement,
    pub statement_bytes: Vec<u8>,
    pub signed: Signed,
    pub attested: AttestedObject,
    /// The summary that vouched for a promoted object, and its bytes.
    pub summary: Option<(Summary, Vec<u8>)>,
    /// The data key and its wrap, with the promotion key.
    pub key: Option<(Key, Vec<u8>)>,
    pub signature: Option<Vec<u8>>,
    /// The SBOM files that passed, documents and statements, to carry.
    pub sboms: Vec<(SidecarKind, Vec<u8>)>,
    /// The Sigstore bundles that passed (each holds what its bare kind
    /// does), to carry.
    pub bundles: Vec<(SidecarKind, Vec<u8>)>,
    /// The OpenSSF model signature, when there is one.
    pub model_signature: Option<Vec<u8>>,
}

impl Verdict {
    /// The bytes of an SBOM document or statement that passed.
    pub fn sbom_file(&self, kind: SidecarKind) -> Option<Vec<u8>> {
        let (_, bytes) = self.sboms.iter().find(|(passed, _)| *passed == kind)?;
        Some(bytes.clone())
    }

    /// The bytes of a Sigstore bundle that passed.
    pub fn bundle(&self, kind: SidecarKind) -> Option<Vec<u8>> {
        let (_, bytes) = self.bundles.iter().find(|(passed, _)| *passed == kind)?;
        Some(bytes.clone())
    }
}

/// Reads the file of one kind beside the object: `None` when there is none.
pub type Reader<'r, E> = dyn FnMut(SidecarKind) -> Result<Option<Vec<u8>>, E> + 'r;

impl Policy<'_> {
    /// Decides on the object. `measure` is called once the provenance has
    /// passed (it is small; the object may be large).
    pub fn decide<E>(
        &self,
        read: &mut Reader<'_, E>,
        measure: impl FnOnce() -> Result<Measured, E>,
    ) -> Result<Verdict, Denial<E>> {
        // Every bundle read is checked below, or the decision fails: those
        // read are those that passed.
        let mut bundles = Vec::new();
        let mut recorded = |kind: SidecarKind| {
            let file = read(kind)?;
            if let (Some(_), Some(bytes)) = (kind.bundled(), &file) {
                bundles.push((kind, bytes.clone()));
            }
            Ok(file)
        };
        let read: &mut Reader<'_, E> = &mut recorded;
        let (statement_bytes, statement, signed) = self.provenance(read)?;
        let attested = attested_object(&statement)?;
        self.same_object(&attested)?;
        let measured = measure().map_err(Denial::Unreadable)?;
        // The subject is the key the statement's own names make, with the
        // object's digest when the caller has it.
        check_object(
            &statement,
            &measured.sha256.unwrap_or(attested.sha256),
            None,
        )?;
        // Without the digest (a promotion checks its copy later), the size
        // is what tells a wrong object now.
        if measured.sha256.is_none() && measured.size != attested.size {
            return Err(Denial::NotTheObject(format!(
                "{} is {} bytes, but its provenance attests {}: it is not the object that was \
                 published",
                self.label(),
                measured.size,
                attested.size
            )));
        }
        let summary = self.placed(read, &statement, &statement_bytes, &attested)?;
        let key = match &self.promotion {
            Some(promotion) => Some(self.unwrap_key(read, promotion, &attested)?),
            None => None,
        };
        let signature = self.signature(read, &attested)?;
        let sboms = self.sboms(read, &attested)?;
        let model_signature = self.model_signature(read, &statement)?;
        Ok(Verdict {
            statement,
            statement_bytes,
            signed,
            attested,
            summary,
            key,
            signature,
            sboms,
            bundles,
            model_signature,
        })
    }

    /// Step 7: a `.model.sig` present is signed under the trusted key and
    /// signs the input the provenance names (the model that was sealed).
    fn model_signature<E>(
        &self,
        read: &mut Reader<'_, E>,
        statement: &Statement,
    ) -> Result<Option<Vec<u8>>, Denial<E>> {
        let kind = SidecarKind::ModelSignature;
        let Some(bytes) = read(kind).map_err(Denial::Unreadable)? else {
            return Ok(None);
        };
        let Some(public_key) = &self.trust.public_key else {
            return Ok(Some(bytes));
        };
        let is_input = |subject: &&super::statement::ResourceDescriptor| {
            subject
                .annotations
                .get("role")
                .and_then(|role| role.as_str())
                == Some("input")
        };
        let input = statement
            .subject
            .iter()
            .find(is_input)
            .and_then(|subject| subject.digest.get("sha256"))
            .and_then(|digest| <[u8; 32]>::try_from(hex::decode(digest).ok()?).ok());
        let Some(input) = input else {
            return Err(refused(format!(
                "{} is beside an object whose provenance names no input digest to check it by",
                self.beside(kind)
            )));
        };
        model_signature::check(&bytes, public_key, &input)
            .map_err(|refusal| refused(format!("{}: {refusal}", self.beside(kind))))?;
        Ok(Some(bytes))
    }

    /// A signed statement of `kind` in either form: its DSSE envelope, its
    /// Sigstore bundle, or both, which must hold the same envelope. The
    /// envelope's bytes: the bare file's, or as a publish writes them.
    /// A file read for the bare form may be the bundle itself (a
    /// `--statement` or `--vsa` given as one).
    fn envelope<E>(
        &self,
        read: &mut Reader<'_, E>,
        kind: SidecarKind,
    ) -> Result<Option<Vec<u8>>, Denial<E>> {
        let bundle_kind = kind.bundle().expect("a signed statement has a bundle kind");
        let opened = |kind: SidecarKind, bytes: Vec<u8>| match bundle::is_bundle(&bytes) {
            true => bundle::envelope_of(&bytes)
                .map_err(|refusal| refused(format!("{}: {refusal}", self.beside(kind)))),
            false => Ok(bytes),
        };
        let bare = read(kind).map_err(Denial::Unreadable)?;
        let bare = bare.map(|bytes| opened(kind, bytes)).transpose()?;
        let Some(bundled) = read(bundle_kind).map_err(Denial::Unreadable)? else {
            return Ok(bare);
        };
        if !bundle::is_bundle(&bundled) {
            return Err(refused(format!(
                "{}: it is not a Sigstore bundle (no bundle mediaType)",
                self.beside(bundle_kind)
            )));
        }
        let bundled = opened(bundle_kind, bundled)?;
        let Some(bare) = bare else {
            return Ok(Some(bundled));
        };
        // A bare file that is no envelope is refused by its own check.
        let same = Envelope::parse(&bare).map_or(true, |envelope| {
            Envelope::parse(&bundled).ok() == Some(envelope)
        });
        match same {
            true => Ok(Some(bare)),
            false => Err(refused(format!(
                "{} holds another envelope than {}: the two forms of one statement must be \
                 the same",
                self.beside(bundle_kind),
                self.beside(kind)
            ))),
        }
    }

    /// How messages name the object.
    fn label(&self) -> String {
        match self.placement {
            Placement::File => "the object".into(),
            Placement::Key(key) | Placement::UrlPath(key) => key.to_string(),
        }
    }

    /// A sentence about the file of `kind` beside the object.
    fn beside(&self, kind: SidecarKind) -> String {
        match self.placement {
            Placement::File => format!("the object's {} file", kind.suffix()),
            Placement::Key(key) | Placement::UrlPath(key) => kind.key_beside(key),
        }
    }

    fn provenance<E>(
        &self,
        read: &mut Reader<'_, E>,
    ) -> Result<(Vec<u8>, Statement, Signed), Denial<E>> {
        let kind = SidecarKind::Statement;
        let Some(bytes) = self.envelope(read, kind)? else {
            return Err(refused(format!(
                "{} does not exist (nor its bundle {}): only an object published with                  provenance can be trusted",
                self.beside(kind),
                kind.bundle().map(SidecarKind::suffix).unwrap_or_default()
            )));
        };
        let (statement, signed) =
            check_envelope(&bytes, self.trust).map_err(|refusal| match self.placement {
                Placement::File => refusal,
                _ => Refusal::new(format!("{}: {refusal}", self.beside(kind))),
            })?;
        Ok((bytes, statement, signed))
    }

    /// The provenance is about this version: the file name of the key it
    /// names is the one of the key the object sits under (only the stage
    /// may differ, for a promoted object).
    fn same_object<E>(&self, attested: &AttestedObject) -> Result<(), Denial<E>> {
        let Some(key) = self.placement.key() else {
            return Ok(());
        };
        let file_name = |key: &str| key.rsplit('/').next().unwrap_or_default().to_string();
        if file_name(key) == file_name(&attested.name) {
            return Ok(());
        }
        Err(refused(format!(
            "the provenance beside {} is about {}: it belongs to another object",
            self.label(),
            attested.name
        )))
    }

    /// Step 3: the provenance names the object where it sits, or a summary
    /// vouches for it there. Returns that summary.
    fn placed<E>(
        &self,
        read: &mut Reader<'_, E>,
        statement: &Statement,
        statement_bytes: &[u8],
        attested: &AttestedObject,
    ) -> Result<Option<(Summary, Vec<u8>)>, Denial<E>> {
        let published_as = &attested.name;
        let promoted = !self.placement.is_where_published(published_as);
        if let Some(promotion) = &self.promotion {
            self.check_stages(promotion, statement, promoted)?;
        }
        // Only a promoted object needs a summary; a local file's is checked
        // when the caller has one (`--vsa`).
        if !promoted && !matches!(self.placement, Placement::File) {
            return Ok(None);
        }
        let kind = SidecarKind::Summary;
        let Some(bytes) = self.envelope(read, kind)? else {
            return match promoted {
                true => Err(refused(format!(
                    "{} does not exist: {} carries the provenance of {published_as} but no \
                     verification summary of a promotion vouches for it there",
                    self.beside(kind),
                    self.label()
                ))),
                false => Ok(None),
            };
        };
        let statement_sha256: [u8; 32] = Sha256::digest(statement_bytes).into();
        let (summary, _) = check_summary(
            &bytes,
            self.trust,
            self.placement.expected(),
            &attested.sha256,
            &statement_sha256,
        )
        .map_err(|refusal| match self.placement {
            Placement::File => refusal,
            _ => Refusal::new(format!("{}: {refusal}", self.beside(kind))),
        })?;
        Ok(Some((summary, bytes)))
    }

    /// A promotion goes forward: a published source comes from `from`, a
    /// promoted one from a stage before it; a stage that takes only
    /// validated objects refuses a source that was merely published.
    fn check_stages<E>(
        &self,
        promotion: &Promotion<'_>,
        statement: &Statement,
        promoted: bool,
    ) -> Result<(), Denial<E>> {
        let published_at = &statement.external().dev_stage;
        let order = promotion.stages.join(" -> ");
        let position = |stage: &str| promotion.stages.iter().position(|s| s == stage);
        if !promoted {
            return match promotion.require_summary {
                true => Err(refused(format!(
                    "{} takes only what the stage before it validated, and {} was published \
                     there, not promoted: promote it along {order} one stage at a time",
                    promotion.to,
                    self.label()
                ))),
                false => Ok(()),
            };
        }
        match position(published_at).zip(position(promotion.from)) {
            Some((published, from)) if published < from => Ok(()),
            _ => Err(refused(format!(
                "the provenance beside {} says it was published to {published_at}, which does \
                 not come before {} in {order}",
                self.label(),
                promotion.from
            ))),
        }
    }

    /// Step 4: the data key, from its wrap, is the one committed to.
    fn unwrap_key<E>(
        &self,
        read: &mut Reader<'_, E>,
        promotion: &Promotion<'_>,
        attested: &AttestedObject,
    ) -> Result<(Key, Vec<u8>), Denial<E>> {
        let kind = SidecarKind::KeyWrap;
        let published_as = &attested.name;
        let Some(wrap) = read(kind).map_err(Denial::Unreadable)? else {
            return Err(refused(format!(
                "{} does not exist: {published_as} was published without \
                 PROMOTION_PUBLIC_KEY, so its key cannot be carried forward",
                self.beside(kind)
            )));
        };
        let holder = promotion.unwrapping.public_key_sha256();
        if let Some(wrapped_for) = &attested.key_wrap_public_key_sha256
            && wrapped_for != holder
        {
            return Err(refused(format!(
                "the key of {published_as} was wrapped for the promotion key with public key \
                 sha256 {wrapped_for}, but PROMOTION_PRIVATE_KEY is {holder}"
            )));
        }
        let key = promotion.unwrapping.unwrap(&wrap, &attested.sha256)?;
        let Some(committed) = attested.key_commitment else {
            return Err(refused(format!(
                "the provenance of {published_as} has no key commitment: the key unwrapped \
                 from {} cannot be shown to be this object's",
                self.beside(kind)
            )));
        };
        if key_commitment(&key, &attested.sha256) != committed {
            return Err(refused(format!(
                "the key unwrapped from {} is not the one the provenance commits to: the wrap \
                 is not this object's",
                self.beside(kind)
            )));
        }
        Ok((key, wrap))
    }

    /// Step 5: a cosign-style signature of the `.sha256` line, when there
    /// is one, verifies under the trusted key (unless signatures are not
    /// checked at all: `--allow-unsigned` without a key).
    fn signature<E>(
        &self,
        read: &mut Reader<'_, E>,
        attested: &AttestedObject,
    ) -> Result<Option<Vec<u8>>, Denial<E>> {
        let kind = SidecarKind::ChecksumSignature;
        // The line names only the file, so it is the same at every stage.
        let line = sha256_line(&attested.name, &attested.sha256);
        let Some(signature) = self.blob_signature(read, kind, line.as_bytes())? else {
            return Ok(None);
        };
        let Some(public_key) = &self.trust.public_key else {
            return Ok(Some(signature));
        };
        let verifies = base64::engine::general_purpose::STANDARD
            .decode(signature.trim_ascii())
            .is_ok_and(|der| public_key.verifies(line.as_bytes(), &der));
        match verifies {
            true => Ok(Some(signature)),
            false => Err(refused(format!(
                "{} does not verify under the trusted public key (keyid {})",
                self.beside(kind),
                public_key.keyid()
            ))),
        }
    }

    /// A blob signature of `message` in either form: the `.sig` file's
    /// base64, the one its Sigstore bundle holds (whose digest must be the
    /// message's), or both, which must be the same signature.
    fn blob_signature<E>(
        &self,
        read: &mut Reader<'_, E>,
        kind: SidecarKind,
        message: &[u8],
    ) -> Result<Option<Vec<u8>>, Denial<E>> {
        let bundle_kind = kind.bundle().expect("a signature has a bundle kind");
        let bare = read(kind).map_err(Denial::Unreadable)?;
        let Some(bundled) = read(bundle_kind).map_err(Denial::Unreadable)? else {
            return Ok(bare);
        };
        let bundled = bundle::blob_signature_of(&bundled, message)
            .map_err(|refusal| refused(format!("{}: {refusal}", self.beside(bundle_kind))))?;
        match bare {
            None => Ok(Some(bundled)),
            Some(bare) if bare.trim_ascii() == bundled.trim_ascii() => Ok(Some(bare)),
            Some(_) => Err(refused(format!(
                "{} holds another signature than {}: the two forms of one signature must be \
                 the same",
                self.beside(bundle_kind),
                self.beside(kind)
            ))),
        }
    }

    /// Step 6: every SBOM is its document with its signed statement about
    /// the attested object (whose digest the caller's measure confirmed, or
    /// a promotion's read-back of the copy will).
    fn sboms<E>(
        &self,
        read: &mut Reader<'_, E>,
        attested: &AttestedObject,
    ) -> Result<Vec<(SidecarKind, Vec<u8>)>, Denial<E>> {
        let mut passed = Vec::new();
        for format in SbomFormat::ALL {
            let (document_kind, statement_kind) = (format.document(), format.statement());
            let document = read(document_kind).map_err(Denial::Unreadable)?;
            let statement = self.envelope(read, statement_kind)?;
            let (document, statement) = match (document, statement) {
                (Some(document), Some(statement)) => (document, statement),
                (None, None) if !self.require_sbom => continue,
                (None, None) => {
                    return Err(refused(format!(
                        "{} does not exist: the object was published without its {} SBOM, and \
                         --require-sbom asks for it",
                        self.beside(document_kind),
                        format.name()
                    )));
                }
                (Some(_), None) => {
                    return Err(refused(format!(
                        "{} does not exist: nothing vouches for the {} SBOM beside it",
                        self.beside(statement_kind),
                        format.name()
                    )));
                }
                (None, Some(_)) => {
                    return Err(refused(format!(
                        "{} does not exist, but its statement does: the {} SBOM is incomplete",
                        self.beside(document_kind),
                        format.name()
                    )));
                }
            };
            check_sbom(format, &statement, &document, self.trust, &attested.sha256).map_err(
                |refusal| Refusal::new(format!("{}: {refusal}", self.beside(statement_kind))),
            )?;
            passed.extend([(document_kind, document), (statement_kind, statement)]);
        }
        Ok(passed)
    }
}

fn refused<E>(sentence: String) -> Denial<E> {
    Denial::Refused(Refusal::new(sentence))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::keys::tests::key_pair_pem;
    use crate::attest::keys::{SigningKey, VerifyingKey};
    use crate::attest::keywrap::WrappingKey;
    use crate::attest::keywrap::tests::pair;
    use crate::attest::sidecars::sidecars;
    use crate::attest::statement::tests::with_facts;
    use crate::attest::statement::{PublishFacts, SbomDocuments};
    use crate::attest::verify::Pins;
    use crate::attest::vsa::{self, LOCAL_VERIFIER, PromotionPolicy, input_attestation};
    use aws_lc_rs::rsa::KeySize;
    use std::collections::HashMap;
    use std::sync::OnceLock;

    /// What `with_facts` publishes: this key, digest and size.
    const DEV_KEY: &str = "dev/loader-arm64-7-0123456789ab.enc";
    const STAGE_KEY: &str = "stage/loader-arm64-7-0123456789ab.enc";
    const SHA256: [u8; 32] = [0xaa; 32];
    const SIZE: u64 = 1234;

    struct Fixture {
        signer: SigningKey,
        public: String,
        unwrapping: UnwrappingKey,
        files: HashMap<SidecarKind, Vec<u8>>,
    }

    /// One signed publish with a promotion key; RSA keys are slow to make.
    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let (private, public) = key_pair_pem();
            let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
            let (rsa_private, rsa_public) = pair(KeySize::Rsa3072);
            let wrapping = WrappingKey::from_pem(rsa_public.as_bytes()).unwrap();
            let files = with_facts(&[], Some(&wrapping), |facts, ci| {
                sidecars(facts, ci, Some(&signer))
            })
            .into_iter()
            .map(|file| (file.kind, file.bytes))
            .collect();
            Fixture {
                signer,
                public,
                unwrapping: UnwrappingKey::from_pem(rsa_private.as_bytes()).unwrap(),
                files,
            }
        })
    }

    fn trust(public: &str) -> Trust {
        Trust {
            public_key: Some(VerifyingKey::from_pem(public.as_bytes()).unwrap()),
            allow_unsigned: false,
            pins: Pins::default(),
        }
    }

    /// The policy for the dev object where it was published, SBOMs optional.
    fn at_dev(trust: &Trust) -> Policy<'_> {
        Policy {
            trust,
            placement: Placement::Key(DEV_KEY),
            promotion: None,
            require_sbom: false,
        }
    }

    const STAGES: [&str; 3] = ["dev", "stage", "main"];

    fn stages() -> Vec<String> {
        STAGES.map(String::from).to_vec()
    }

    /// The summary a promotion of the dev object to stage writes.
    fn stage_summary(files: &HashMap<SidecarKind, Vec<u8>>, signer: &SigningKey) -> Vec<u8> {
        let policy = PromotionPolicy {
            from: "dev".into(),
            to: "stage".into(),
            stages: stages(),
            require_summary_for: vec![],
            require_sbom: false,
            attestation_public_key_sha256: signer.keyid().into(),
            pins: Default::default(),
        };
        vsa::signed_summary(
            &vsa::Promotion {
                object_key: STAGE_KEY,
                object_sha256: &SHA256,
                resource_uri: "https://cdn.example/stage",
                policy: &policy,
                inputs: vec![input_attestation("dev", &files[&SidecarKind::Statement])],
                verifier_id: LOCAL_VERIFIER.into(),
                time_verified: "2026-12-02T00:00:00Z".into(),
            },
            signer,
        )
    }

    fn decide(
        policy: &Policy<'_>,
        files: &HashMap<SidecarKind, Vec<u8>>,
        measured: Measured,
    ) -> Result<Verdict, Denial<String>> {
        let mut read = |kind| Ok(files.get(&kind).cloned());
        policy.decide(&mut read, || Ok(measured))
    }

    fn refusal(denied: Result<Verdict, Denial<String>>) -> String {
        match denied {
            Err(Denial::Refused(refusal)) => refusal.to_string(),
            other => panic!("not a refusal: {other:?}"),
        }
    }

    const WHOLE: Measured = Measured {
        sha256: Some(SHA256),
        size: SIZE,
    };

    #[test]
    fn a_published_object_passes_where_it_was_published() {
        let f = fixture();
        let trust = trust(&f.public);
        let policy = at_dev(&trust);
        let verdict = decide(&policy, &f.files, WHOLE).unwrap();
        assert_eq!(verdict.attested.name, DEV_KEY);
        assert_eq!(verdict.signed, Signed::By(f.signer.keyid().into()));
        assert!(verdict.summary.is_none() && verdict.key.is_none());
        assert!(verdict.signature.is_some());
        let url = Placement::UrlPath("/bucket/dev/loader-arm64-7-0123456789ab.enc");
        let by_url = Policy {
            placement: url,
            ..policy
        };
        decide(&by_url, &f.files, WHOLE).unwrap();
    }

    #[test]
    fn each_flaw_of_provenance_or_object_is_refused() {
        let f = fixture();
        let trusted = trust(&f.public);
        let policy = at_dev(&trusted);
        // A signed file is missing when neither of its forms is there.
        let without = |kind: SidecarKind| {
            let mut files = f.files.clone();
            files.remove(&kind);
            files.remove(&kind.bundle().unwrap());
            files
        };
        let missing = refusal(decide(&policy, &without(SidecarKind::Statement), WHOLE));
        assert!(missing.contains("does not exist"), "{missing}");

        let (_, stranger) = key_pair_pem();
        let other_key = trust(&stranger);
        let strange = Policy {
            trust: &other_key,
            ..policy
        };
        let unsigned = refusal(decide(&strange, &f.files, WHOLE));
        assert!(unsigned.contains("no signature"), "{unsigned}");

        let flipped = Measured {
            sha256: Some([0xab; 32]),
            ..WHOLE
        };
        assert!(refusal(decide(&policy, &f.files, flipped)).contains("SHA-256"));
        // Without a digest, the size tells a wrong object.
        let short = Measured {
            sha256: None,
            size: SIZE - 1,
        };
        assert!(matches!(
            decide(&policy, &f.files, short),
            Err(Denial::NotTheObject(_))
        ));

        let elsewhere = Policy {
            placement: Placement::Key("dev/other.enc"),
            ..policy
        };
        let other = refusal(decide(&elsewhere, &f.files, WHOLE));
        assert!(other.contains("another object"), "{other}");

        let mut forged = without(SidecarKind::ChecksumSignature);
        forged.insert(SidecarKind::ChecksumSignature, b"MEUCIQ==".to_vec());
        let forged = refusal(decide(&policy, &forged, WHOLE));
        assert!(forged.contains(".sha256.sig does not verify"), "{forged}");
    }

    #[test]
    fn a_promoted_object_needs_a_summary_decided_on_its_provenance() {
        let f = fixture();
        let trusted = trust(&f.public);
        let policy = Policy {
            trust: &trusted,
            placement: Placement::Key(STAGE_KEY),
            promotion: None,
            require_sbom: false,
        };
        let none = refusal(decide(&policy, &f.files, WHOLE));
        assert!(none.contains("verification summary"), "{none}");

        let mut files = f.files.clone();
        files.insert(SidecarKind::Summary, stage_summary(&f.files, &f.signer));
        let verdict = decide(&policy, &files, WHOLE).unwrap();
        assert!(verdict.summary.is_some());

        // A summary decided on another statement vouches for nothing here.
        let mut other = f.files.clone();
        other.insert(SidecarKind::Statement, b"another statement".to_vec());
        files.insert(SidecarKind::Summary, stage_summary(&other, &f.signer));
        let elsewhere = refusal(decide(&policy, &files, WHOLE));
        assert!(
            elsewhere.contains("not decided on this provenance"),
            "{elsewhere}"
        );
    }

    #[test]
    fn promotion_goes_forward_and_unwraps_the_committed_key() {
        let f = fixture();
        let trusted = trust(&f.public);
        let stages = stages();
        let promotion = |from: &'static str, to: &'static str, require_summary| Promotion {
            stages: &stages,
            from,
            to,
            require_summary,
            unwrapping: &f.unwrapping,
        };
        let policy = |from, to, require| Policy {
            trust: &trusted,
            placement: Placement::Key(if from == "dev" { DEV_KEY } else { STAGE_KEY }),
            promotion: Some(promotion(from, to, require)),
            require_sbom: false,
        };
        let head = Measured {
            sha256: None,
            size: SIZE,
        };
        let verdict = decide(&policy("dev", "stage", false), &f.files, head).unwrap();
        let (key, wrap) = verdict.key.unwrap();
        assert_eq!(key.as_bytes(), &[0x42; 32]);
        assert_eq!(wrap, f.files[&SidecarKind::KeyWrap]);

        let skipping = refusal(decide(&policy("dev", "main", true), &f.files, head));
        assert!(skipping.contains("main takes only"), "{skipping}");

        let mut no_wrap = f.files.clone();
        no_wrap.remove(&SidecarKind::KeyWrap);
        let unwrapped = refusal(decide(&policy("dev", "stage", false), &no_wrap, head));
        assert!(unwrapped.contains("PROMOTION_PUBLIC_KEY"), "{unwrapped}");

        // A stage object whose provenance says dev, promoted from stage,
        // needs the summary of dev -> stage; with it, it goes to main.
        let mut promoted = f.files.clone();
        promoted.insert(SidecarKind::Summary, stage_summary(&f.files, &f.signer));
        decide(&policy("stage", "main", true), &promoted, head).unwrap();
        let backwards = Policy {
            promotion: Some(Promotion {
                stages: &stages[1..],
                ..promotion("stage", "main", false)
            }),
            ..policy("stage", "main", false)
        };
        let order = refusal(decide(&backwards, &promoted, head));
        assert!(order.contains("does not come before"), "{order}");
    }

    /// The fixture's files with both SBOMs published beside the object.
    fn with_sboms(f: &Fixture) -> HashMap<SidecarKind, Vec<u8>> {
        let sboms = SbomDocuments {
            cyclonedx: br#"{"bomFormat": "CycloneDX", "components": []}"#.to_vec(),
            spdx: br#"{"spdxVersion": "SPDX-2.3", "packages": []}"#.to_vec(),
        };
        let mut files = f.files.clone();
        let made = with_facts(&[], None, |facts, ci| {
            let facts = PublishFacts {
                sboms: Some(&sboms),
                ..*facts
            };
            sidecars(&facts, ci, Some(&f.signer))
        });
        files.extend(
            made.into_iter()
                .filter(|file| file.kind.sbom().is_some())
                .map(|file| (file.kind, file.bytes)),
        );
        files
    }

    #[test]
    fn sboms_pass_in_pairs_about_this_object_and_can_be_required() {
        let f = fixture();
        let trusted = trust(&f.public);
        let policy = at_dev(&trusted);
        let files = with_sboms(f);
        let verdict = decide(&policy, &files, WHOLE).unwrap();
        assert_eq!(verdict.sboms.len(), 2 * SbomFormat::ALL.len());
        let cdx = SidecarKind::CycloneDx;
        assert_eq!(verdict.sbom_file(cdx).as_ref(), files.get(&cdx));
        // Absent SBOMs pass unless required.
        decide(&policy, &f.files, WHOLE).unwrap();
        let required = Policy {
            require_sbom: true,
            ..policy
        };
        let none = refusal(decide(&required, &f.files, WHOLE));
        assert!(none.contains(".cdx.json does not exist"), "{none}");
        decide(&required, &files, WHOLE).unwrap();

        let mut lone = files.clone();
        lone.remove(&SidecarKind::SpdxStatement);
        lone.remove(&SidecarKind::SpdxStatementBundle);
        let lone = refusal(decide(&policy, &lone, WHOLE));
        assert!(lone.contains("nothing vouches for the SPDX SBOM"), "{lone}");
        let mut orphan = files.clone();
        orphan.remove(&SidecarKind::Spdx);
        let orphan = refusal(decide(&policy, &orphan, WHOLE));
        assert!(orphan.contains("incomplete"), "{orphan}");
        let mut tampered = files.clone();
        tampered.insert(
            cdx,
            br#"{"bomFormat": "CycloneDX", "components": [1]}"#.to_vec(),
        );
        let tampered = refusal(decide(&policy, &tampered, WHOLE));
        assert!(
            tampered.contains("not the one the statement signs"),
            "{tampered}"
        );
        // Another object's statement, moved beside this one.
        let mut swapped = files.clone();
        let other = swapped[&SidecarKind::CycloneDxStatement].clone();
        swapped.insert(SidecarKind::SpdxStatement, other);
        swapped.remove(&SidecarKind::SpdxStatementBundle);
        let swapped = refusal(decide(&policy, &swapped, WHOLE));
        assert!(swapped.contains("predicateType"), "{swapped}");
    }

    type Files = HashMap<SidecarKind, Vec<u8>>;

    /// The fixture's files, with SBOMs and a stage summary: each signed
    /// file only bare, and only as its Sigstore bundle.
    fn in_each_form(f: &Fixture) -> (Files, Files) {
        let mut files = with_sboms(f);
        let summary = stage_summary(&files, &f.signer);
        files.insert(SidecarKind::Summary, summary.clone());
        files.insert(
            SidecarKind::SummaryBundle,
            bundle::of_envelope(&summary).unwrap(),
        );
        let only = |keep: fn(&SidecarKind) -> bool| {
            let mut files = files.clone();
            files.retain(|kind, _| keep(kind));
            files
        };
        (
            only(|kind| kind.bundled().is_none()),
            only(|kind| kind.bundle().is_none()),
        )
    }

    #[test]
    fn every_signed_file_passes_in_either_form_and_bundles_are_carried() {
        let f = fixture();
        let trusted = trust(&f.public);
        let policy = Policy {
            trust: &trusted,
            placement: Placement::Key(STAGE_KEY),
            promotion: None,
            require_sbom: true,
        };
        let (bare, bundled) = in_each_form(f);
        assert!(!bundled.contains_key(&SidecarKind::Statement));
        let by_bare = decide(&policy, &bare, WHOLE).unwrap();
        assert!(by_bare.bundles.is_empty());
        let by_bundle = decide(&policy, &bundled, WHOLE).unwrap();
        // The envelope out of the bundle is the file a publish writes.
        assert_eq!(by_bundle.statement_bytes, f.files[&SidecarKind::Statement]);
        assert_eq!(by_bundle.signature, by_bare.signature);
        assert_eq!(
            by_bundle.summary.as_ref().unwrap().1,
            by_bare.summary.as_ref().unwrap().1
        );
        let cdx = SidecarKind::CycloneDxStatement;
        assert_eq!(by_bundle.sbom_file(cdx), by_bare.sbom_file(cdx));
        let carried: Vec<_> = by_bundle.bundles.iter().map(|(kind, _)| *kind).collect();
        let expected: Vec<_> = bundled
            .keys()
            .copied()
            .filter(|kind| kind.bundled().is_some())
            .collect();
        assert_eq!(carried.len(), expected.len());
        assert!(expected.iter().all(|kind| carried.contains(kind)));
        for (kind, bytes) in &by_bundle.bundles {
            assert_eq!(bytes, &bundled[kind], "{kind:?}");
        }
        // Under another key, a bundle alone passes no more than the bare.
        let (_, stranger) = key_pair_pem();
        let other = trust(&stranger);
        let strange = Policy {
            trust: &other,
            ..policy
        };
        let unsigned = refusal(decide(&strange, &bundled, WHOLE));
        assert!(unsigned.contains("no signature"), "{unsigned}");
        // A bare file given that is a bundle (`--statement x.sigstore.json`).
        let mut given = bare.clone();
        let statement_bundle = bundled[&SidecarKind::StatementBundle].clone();
        given.insert(SidecarKind::Statement, statement_bundle);
        decide(&policy, &given, WHOLE).unwrap();
    }

    #[test]
    fn a_bundle_that_differs_from_the_bare_file_beside_it_is_refused() {
        let f = fixture();
        let trusted = trust(&f.public);
        let policy = Policy {
            trust: &trusted,
            placement: Placement::Key(DEV_KEY),
            promotion: None,
            require_sbom: false,
        };
        let files = with_sboms(f);
        decide(&policy, &files, WHOLE).unwrap();
        // Each statement's bundle, swapped for another signed statement's.
        let swaps = [
            (
                SidecarKind::StatementBundle,
                SidecarKind::CycloneDxStatement,
            ),
            (
                SidecarKind::CycloneDxStatementBundle,
                SidecarKind::SpdxStatement,
            ),
            (SidecarKind::SpdxStatementBundle, SidecarKind::Statement),
        ];
        for (kind, other) in swaps {
            let mut swapped = files.clone();
            swapped.insert(kind, bundle::of_envelope(&files[&other]).unwrap());
            let different = refusal(decide(&policy, &swapped, WHOLE));
            assert!(
                different.contains("holds another envelope than"),
                "{different}"
            );
            assert!(different.contains(kind.suffix()), "{different}");
        }
        // The checksum's signature bundle: another signature of the same
        // line, or a digest of another line.
        let line = sha256_line(DEV_KEY, &SHA256);
        let resigned =
            base64::engine::general_purpose::STANDARD.encode(f.signer.sign(line.as_bytes()));
        let keyid = f.signer.keyid();
        let kind = SidecarKind::ChecksumSignatureBundle;
        let mut other_signature = files.clone();
        let bundled = bundle::of_blob_signature(line.as_bytes(), resigned.as_bytes(), keyid);
        other_signature.insert(kind, bundled.clone());
        let different = refusal(decide(&policy, &other_signature, WHOLE));
        assert!(
            different.contains("holds another signature than"),
            "{different}"
        );
        // Alone, the new signature passes: it is a good one.
        other_signature.remove(&SidecarKind::ChecksumSignature);
        let verdict = decide(&policy, &other_signature, WHOLE).unwrap();
        assert_eq!(verdict.signature, Some(resigned.into_bytes()));
        let mut other_line = files.clone();
        let signature = &files[&SidecarKind::ChecksumSignature];
        let elsewhere = bundle::of_blob_signature(b"aa  other.enc\n", signature, keyid);
        other_line.insert(kind, elsewhere);
        let digest = refusal(decide(&policy, &other_line, WHOLE));
        assert!(digest.contains("messageDigest"), "{digest}");
        // A bundle of no kind at all.
        let mut broken = files.clone();
        broken.insert(
            SidecarKind::StatementBundle,
            files[&SidecarKind::Statement].clone(),
        );
        let broken = refusal(decide(&policy, &broken, WHOLE));
        assert!(broken.contains("not a Sigstore bundle"), "{broken}");
    }

    #[test]
    fn a_file_that_cannot_be_read_is_the_readers_error() {
        let f = fixture();
        let trusted = trust(&f.public);
        let policy = Policy {
            trust: &trusted,
            placement: Placement::File,
            promotion: None,
            require_sbom: false,
        };
        let mut read = |_| Err("the disk is gone".to_string());
        let denied = policy.decide(&mut read, || Ok(WHOLE));
        assert!(matches!(denied, Err(Denial::Unreadable(why)) if why == "the disk is gone"));
    }
}
