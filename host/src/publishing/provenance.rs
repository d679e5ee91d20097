//! The provenance part of `publish`: the signing key, the image binding and
//! the SBOM's date checked before anything is read or sent, the input read
//! through the one scan (`input`), and the sidecar files once the object
//! is sealed.

use super::input::Input;
use crate::attest::keys::SigningKey;
use crate::attest::keywrap::WrappingKey;
use crate::attest::sidecars::{self, Sidecar};
use crate::attest::statement::{PublishFacts, SbomDocuments, Sealed};
use crate::cli::ProvenanceArgs;
use crate::config::{self, Names};
use crate::failure::{Class, ClassExt, Failure};
use crate::image::{BoundImage, Expectation, ImageRef};
use crate::sbom::document::creation_time;
use serde::Serialize;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::SystemTime;

/// What a publish's provenance needs from the start.
pub struct Provenance {
    signer: Option<SigningKey>,
    /// The promotion pipeline's public key: the data key is wrapped to it.
    key_wrap: Option<WrappingKey>,
    binding: Option<Expectation>,
    builder_id: Option<String>,
    started: SystemTime,
    /// The SBOMs' creation time (`SOURCE_DATE_EPOCH`, else now), unless
    /// `--sbom off`.
    sbom_created: Option<SystemTime>,
}

/// What the `--json` receipt says about the provenance.
#[derive(Debug, Serialize)]
pub struct ProvenanceReceipt {
    pub signed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub sidecars: Vec<String>,
}

impl Provenance {
    /// Reads and checks the signing key and the promotion key (a bad one
    /// is a usage error) and the image binding's flags and manifests: call
    /// it before the input is read or a connection opened.
    pub fn prepare(args: &ProvenanceArgs, names: &Names) -> Result<Self, Failure> {
        let signer = SigningKey::from_environment(config::lookup)
            .map_err(|why| anyhow::anyhow!(why))
            .class(Class::Usage)?;
        let key_wrap = WrappingKey::from_environment(config::lookup)
            .map_err(|why| anyhow::anyhow!(why))
            .class(Class::Usage)?;
        let binding = args
            .image_ref
            .as_deref()
            .map(|image_ref| {
                expectation(
                    image_ref,
                    &args.image_manifest,
                    None,
                    Some(&names.architecture),
                )
            })
            .transpose()?;
        let started = SystemTime::now();
        let sbom_created = args
            .sbom
            .then(|| creation_time(config::lookup, started))
            .transpose()
            .map_err(|why| anyhow::anyhow!(why))
            .class(Class::Usage)?;
        Ok(Self {
            signer,
            key_wrap,
            binding,
            builder_id: args.builder_id.clone(),
            started,
            sbom_created,
        })
    }

    /// The input as sealing reads it: through the one scan when the
    /// binding or the SBOM needs it.
    pub fn input<R: Read>(&mut self, input: R) -> io::Result<Input<R>> {
        Input::new(input, self.binding.take(), self.sbom_created.is_some())
    }

    /// When the SBOMs are made: their creation time.
    pub fn sbom_created(&self) -> Option<SystemTime> {
        self.sbom_created
    }

    /// The sidecars for the sealed object, signed when a key was given.
    pub fn sidecars(
        &self,
        sealed: Sealed<'_>,
        image: Option<&BoundImage>,
        sboms: Option<&SbomDocuments>,
    ) -> Vec<Sidecar> {
        let facts = PublishFacts {
            sealed,
            sealing_component_sha256: crate::sealing::embedded::GUEST_SHA256,
            started: self.started,
            finished: SystemTime::now(),
            builder_id: self.builder_id.as_deref(),
            image,
            key_wrap: self.key_wrap.as_ref(),
            sboms,
        };
        // CI's own variables, not their PLUGIN_* spellings: they describe
        // the run and are set by Woodpecker, never by a step's settings.
        sidecars::sidecars(
            &facts,
            &|name| std::env::var(name).ok(),
            self.signer.as_ref(),
        )
    }

    pub fn receipt(&self, sidecars: Vec<String>, image: Option<&BoundImage>) -> ProvenanceReceipt {
        ProvenanceReceipt {
            signed: self.signer.is_some(),
            keyid: self.signer.as_ref().map(|key| key.keyid().to_string()),
            image: image.map(BoundImage::reference),
            sidecars,
        }
    }
}

/// The flags of a binding, checked before the tarball is read: the
/// reference parses (usage), the manifest files are readable (input) and
/// one of them hashes to the reference's digest (attestation).
pub fn expectation(
    image_ref: &str,
    manifests: &[PathBuf],
    tag: Option<String>,
    architecture: Option<&str>,
) -> Result<Expectation, Failure> {
    let reference = ImageRef::parse(image_ref)
        .map_err(|why| anyhow::anyhow!(why))
        .class(Class::Usage)?;
    let files = manifests
        .iter()
        .map(|path| {
            std::fs::read(path)
                .map_err(|err| {
                    anyhow::anyhow!("cannot read --image-manifest {}: {err}", path.display())
                })
                .class(Class::Input)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Expectation::new(reference, &files, tag, architecture).class(Class::Attestation)
}
