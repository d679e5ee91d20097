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
    /// `.vsa.intoto.json`: the DSSE envelope of a promotion's verification
    /// summary.
    Summary,
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

impl SidecarKind {
    /// Every kind, in upload order: the checksum first, the summary that
    /// vouches for the rest last.
    pub const ALL: [SidecarKind; 5] = [
        Self::Checksum,
        Self::Statement,
        Self::ChecksumSignature,
        Self::KeyWrap,
        Self::Summary,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            Self::Checksum => ".sha256",
            Self::Statement => ".intoto.json",
            Self::ChecksumSignature => ".sha256.sig",
            Self::KeyWrap => ".keywrap",
            Self::Summary => ".vsa.intoto.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Checksum | Self::ChecksumSignature => "text/plain; charset=utf-8",
            Self::Statement | Self::Summary => "application/vnd.dsse.envelope.v1+json",
            Self::KeyWrap => "application/octet-stream",
        }
    }

    /// Whether the file is, or carries, a signature that verification must
    /// check before trusting it.
    pub fn signed(self) -> bool {
        match self {
            Self::Statement | Self::ChecksumSignature | Self::Summary => true,
            Self::Checksum | Self::KeyWrap => false,
        }
    }

    pub fn on_promotion(self) -> OnPromotion {
        match self {
            Self::Checksum => OnPromotion::Rewritten,
            Self::Statement | Self::ChecksumSignature | Self::KeyWrap => OnPromotion::Carried,
            Self::Summary => OnPromotion::Made,
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
        assert_eq!(made, [SidecarKind::Summary]);
    }
}
