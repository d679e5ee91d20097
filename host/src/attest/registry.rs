//! Every kind of file published beside an object, in one list.
//!
//! Publish, `--replace`, promote and `attest verify` all iterate
//! `SidecarKind::ALL` and `match` on the kind, so a new kind is one variant
//! here, and each place that must handle it stops compiling until it does.
//! This module is the bottom floor of `attest`: it imports nothing.

/// One kind of file at `{object_key}{suffix}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SidecarKind {
    /// `.sha256`: the object's line in `sha256sum` format.
    Checksum,
    /// `.intoto.json`: the DSSE envelope of the SLSA provenance.
    Statement,
    /// `.sha256.sig`: cosign's blob signature of the `.sha256` file.
    ChecksumSignature,
    /// `.keywrap`: the data key, wrapped for the promotion key.
    KeyWrap,
    /// `.cdx.json`: the CycloneDX 1.6 SBOM of the sealed input.
    CycloneDx,
    /// `.spdx.json`: the SPDX 2.3 SBOM of the sealed input.
    Spdx,
    /// `.cdx.intoto.json`: the DSSE envelope of an in-toto statement whose
    /// predicate is the CycloneDX SBOM.
    CycloneDxStatement,
    /// `.spdx.intoto.json`: the same for the SPDX SBOM.
    SpdxStatement,
    /// `.vsa.intoto.json`: the DSSE envelope of a promotion's verification
    /// summary.
    Summary,
    /// `.intoto.sigstore.json`: the provenance's envelope as a Sigstore
    /// bundle (v0.3, key-based), which cosign 3 and sigstore-* read.
    StatementBundle,
    /// `.sha256.sigstore.json`: the `.sha256.sig` signature as a Sigstore
    /// bundle's `messageSignature` over the `.sha256` file.
    ChecksumSignatureBundle,
    /// `.cdx.intoto.sigstore.json`: the CycloneDX statement's bundle.
    CycloneDxStatementBundle,
    /// `.spdx.intoto.sigstore.json`: the SPDX statement's bundle.
    SpdxStatementBundle,
    /// `.vsa.intoto.sigstore.json`: the verification summary's bundle.
    SummaryBundle,
    /// `.model.sig`: the OpenSSF model signature (a Sigstore bundle of
    /// model_signing's statement) of the model file that was sealed.
    ModelSignature,
}

/// What a promotion puts beside the copy, for one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPromotion {
    /// Written again for the target key from the checked facts.
    Rewritten,
    /// The source's bytes, verbatim, once they have been checked.
    Carried,
    /// A new file that this promotion makes.
    Made,
}

/// The SBOM formats published beside an object, each as a document and as
/// a signed statement about the object with the document as predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    CycloneDx,
    Spdx,
}

impl SbomFormat {
    pub const ALL: [SbomFormat; 2] = [Self::CycloneDx, Self::Spdx];

    /// The bare document.
    pub fn document(self) -> SidecarKind {
        match self {
            Self::CycloneDx => SidecarKind::CycloneDx,
            Self::Spdx => SidecarKind::Spdx,
        }
    }

    /// The signed statement.
    pub fn statement(self) -> SidecarKind {
        match self {
            Self::CycloneDx => SidecarKind::CycloneDxStatement,
            Self::Spdx => SidecarKind::SpdxStatement,
        }
    }

    /// The in-toto predicate type the statement carries (as `cosign attest
    /// --type cyclonedx|spdxjson` writes them).
    pub fn predicate_type(self) -> &'static str {
        match self {
            Self::CycloneDx => "https://cyclonedx.org/bom",
            Self::Spdx => "https://spdx.dev/Document",
        }
    }

    /// How messages and receipts name the format.
    pub fn name(self) -> &'static str {
        match self {
            Self::CycloneDx => "CycloneDX",
            Self::Spdx => "SPDX",
        }
    }
}

impl SidecarKind {
    /// Every kind, in upload order: the checksum first, each Sigstore
    /// bundle after the file it bundles, the summary that vouches for the
    /// rest last.
    pub const ALL: [SidecarKind; 15] = [
        Self::Checksum,
        Self::Statement,
        Self::ChecksumSignature,
        Self::StatementBundle,
        Self::ChecksumSignatureBundle,
        Self::KeyWrap,
        Self::CycloneDx,
        Self::Spdx,
        Self::CycloneDxStatement,
        Self::SpdxStatement,
        Self::CycloneDxStatementBundle,
        Self::SpdxStatementBundle,
        Self::ModelSignature,
        Self::Summary,
        Self::SummaryBundle,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            Self::Checksum => ".sha256",
            Self::Statement => ".intoto.json",
            Self::ChecksumSignature => ".sha256.sig",
            Self::KeyWrap => ".keywrap",
            Self::CycloneDx => ".cdx.json",
            Self::Spdx => ".spdx.json",
            Self::CycloneDxStatement => ".cdx.intoto.json",
            Self::SpdxStatement => ".spdx.intoto.json",
            Self::Summary => ".vsa.intoto.json",
            Self::StatementBundle => ".intoto.sigstore.json",
            Self::ChecksumSignatureBundle => ".sha256.sigstore.json",
            Self::CycloneDxStatementBundle => ".cdx.intoto.sigstore.json",
            Self::SpdxStatementBundle => ".spdx.intoto.sigstore.json",
            Self::SummaryBundle => ".vsa.intoto.sigstore.json",
            Self::ModelSignature => ".model.sig",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Checksum | Self::ChecksumSignature => "text/plain; charset=utf-8",
            Self::Statement | Self::CycloneDxStatement | Self::SpdxStatement | Self::Summary => {
                "application/vnd.dsse.envelope.v1+json"
            }
            Self::KeyWrap => "application/octet-stream",
            // The media types the two formats register.
            Self::CycloneDx => "application/vnd.cyclonedx+json",
            Self::Spdx => "application/spdx+json",
            Self::StatementBundle
            | Self::ChecksumSignatureBundle
            | Self::CycloneDxStatementBundle
            | Self::SpdxStatementBundle
            | Self::SummaryBundle
            | Self::ModelSignature => "application/vnd.dev.sigstore.bundle.v0.3+json",
        }
    }

    /// Whether the file is, or carries, a signature that verification must
    /// check before trusting it.
    pub fn signed(self) -> bool {
        match self {
            Self::Statement
            | Self::ChecksumSignature
            | Self::CycloneDxStatement
            | Self::SpdxStatement
            | Self::Summary
            | Self::StatementBundle
            | Self::ChecksumSignatureBundle
            | Self::CycloneDxStatementBundle
            | Self::SpdxStatementBundle
            | Self::SummaryBundle
            | Self::ModelSignature => true,
            // An SBOM document is trusted through its signed statement,
            // whose predicate it must equal.
            Self::Checksum | Self::KeyWrap | Self::CycloneDx | Self::Spdx => false,
        }
    }

    pub fn on_promotion(self) -> OnPromotion {
        match self {
            Self::Checksum => OnPromotion::Rewritten,
            Self::Statement
            | Self::ChecksumSignature
            | Self::KeyWrap
            | Self::CycloneDx
            | Self::Spdx
            | Self::CycloneDxStatement
            | Self::SpdxStatement
            | Self::StatementBundle
            | Self::ChecksumSignatureBundle
            | Self::CycloneDxStatementBundle
            | Self::SpdxStatementBundle
            | Self::ModelSignature => OnPromotion::Carried,
            Self::Summary | Self::SummaryBundle => OnPromotion::Made,
        }
    }

    /// For a Sigstore bundle: the kind whose signature it holds, the same
    /// one in another form.
    pub fn bundled(self) -> Option<SidecarKind> {
        match self {
            Self::StatementBundle => Some(Self::Statement),
            Self::ChecksumSignatureBundle => Some(Self::ChecksumSignature),
            Self::CycloneDxStatementBundle => Some(Self::CycloneDxStatement),
            Self::SpdxStatementBundle => Some(Self::SpdxStatement),
            Self::SummaryBundle => Some(Self::Summary),
            Self::Checksum
            | Self::Statement
            | Self::ChecksumSignature
            | Self::KeyWrap
            | Self::CycloneDx
            | Self::Spdx
            | Self::CycloneDxStatement
            | Self::SpdxStatement
            | Self::Summary
            | Self::ModelSignature => None,
        }
    }

    /// For a signed file: the kind of its Sigstore bundle.
    pub fn bundle(self) -> Option<SidecarKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.bundled() == Some(self))
    }

    /// The most a reader takes of a file of this kind: statements, wraps
    /// and summaries are a few KiB, an SBOM of a large image a few MiB (its
    /// statement holds it again, in base64).
    pub fn size_limit(self) -> u64 {
        match self.sbom() {
            Some(_) => 64 << 20,
            None => 4 << 20,
        }
    }

    /// For an SBOM's document, its statement or the statement's bundle:
    /// which SBOM.
    pub fn sbom(self) -> Option<SbomFormat> {
        match self {
            Self::CycloneDx | Self::CycloneDxStatement | Self::CycloneDxStatementBundle => {
                Some(SbomFormat::CycloneDx)
            }
            Self::Spdx | Self::SpdxStatement | Self::SpdxStatementBundle => Some(SbomFormat::Spdx),
            Self::Checksum
            | Self::Statement
            | Self::ChecksumSignature
            | Self::KeyWrap
            | Self::Summary
            | Self::StatementBundle
            | Self::ChecksumSignatureBundle
            | Self::SummaryBundle
            | Self::ModelSignature => None,
        }
    }

    /// The key of this kind's file beside `object_key`.
    pub fn key_beside(self, object_key: &str) -> String {
        format!("{object_key}{}", self.suffix())
    }

    /// Every suffix, for what handles the files without reading them
    /// (`--replace` sets them aside and puts them back).
    pub fn suffixes() -> [&'static str; Self::ALL.len()] {
        Self::ALL.map(Self::suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_kind_has_its_own_suffix() {
        let suffixes = SidecarKind::suffixes();
        assert_eq!(
            suffixes.iter().collect::<HashSet<_>>().len(),
            suffixes.len()
        );
        assert!(suffixes.iter().all(|s| s.starts_with('.')));
    }

    #[test]
    fn envelopes_are_signed_and_promotion_makes_only_the_summary() {
        for kind in SidecarKind::ALL {
            if kind.content_type().contains("dsse") {
                assert!(kind.signed(), "{kind:?}");
            }
        }
        let made: Vec<_> = SidecarKind::ALL
            .into_iter()
            .filter(|k| k.on_promotion() == OnPromotion::Made)
            .collect();
        assert_eq!(made, [SidecarKind::Summary, SidecarKind::SummaryBundle]);
    }

    #[test]
    fn every_signature_has_one_bundle_that_promotion_treats_alike() {
        let position = |kind| SidecarKind::ALL.iter().position(|k| *k == kind);
        for kind in SidecarKind::ALL {
            match (kind.bundled(), kind.bundle()) {
                (Some(bare), None) => {
                    assert!(bare.signed() && kind.signed(), "{kind:?}");
                    assert_eq!(bare.bundle(), Some(kind));
                    assert_eq!(bare.on_promotion(), kind.on_promotion(), "{kind:?}");
                    assert_eq!(bare.sbom(), kind.sbom(), "{kind:?}");
                    assert!(position(bare) < position(kind), "{kind:?} before {bare:?}");
                    assert!(kind.suffix().ends_with(".sigstore.json"));
                    assert_eq!(kind.content_type(), crate::attest::bundle::MEDIA_TYPE);
                }
                (None, Some(_)) => assert!(kind.signed(), "{kind:?}"),
                // The model signature is a bundle of its own, no bare form.
                (None, None) => assert_eq!(
                    kind.signed(),
                    kind == SidecarKind::ModelSignature,
                    "{kind:?}"
                ),
                (Some(_), Some(_)) => panic!("{kind:?} is a bundle of a bundle"),
            }
        }
    }

    #[test]
    fn each_sbom_format_is_a_document_and_its_signed_statement() {
        for format in SbomFormat::ALL {
            let (document, statement) = (format.document(), format.statement());
            assert_eq!(document.sbom(), Some(format));
            assert_eq!(statement.sbom(), Some(format));
            assert!(!document.signed() && statement.signed());
            assert!(statement.suffix().ends_with(".intoto.json"));
        }
        // Each as its document, its statement and the statement's bundle.
        let sboms = SidecarKind::ALL.iter().filter(|k| k.sbom().is_some());
        assert_eq!(sboms.count(), 3 * SbomFormat::ALL.len());
    }
}
