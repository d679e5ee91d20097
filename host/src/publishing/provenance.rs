//! The provenance part of `publish`: the signing key and the image binding
//! checked before anything is read or sent, the input read through the
//! binding, and the sidecar files once the object is sealed.

use crate::attest::keys::SigningKey;
use crate::attest::keywrap::WrappingKey;
use crate::attest::sidecars::{self, Sidecar};
use crate::attest::statement::{PublishFacts, Sealed};
use crate::cli::ProvenanceArgs;
use crate::config::{self, Names};
use crate::failure::{Class, ClassExt, Failure};
use crate::image::{BindingReader, BoundImage, Expectation, ImageRef};
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
        Ok(Self {
            signer,
            key_wrap,
            binding,
            builder_id: args.builder_id.clone(),
            started: SystemTime::now(),
        })
    }

    /// The input as sealing reads it: through the image binding when one
    /// was asked for.
    pub fn input<R: Read>(&mut self, input: R) -> Input<R> {
        match self.binding.take() {
            Some(binding) => Input::Bound(Box::new(binding.reader(input))),
            None => Input::Plain(input),
        }
    }

    /// The sidecars for the sealed object, signed when a key was given.
    pub fn sidecars(&self, sealed: Sealed<'_>, image: Option<&BoundImage>) -> Vec<Sidecar> {
        let facts = PublishFacts {
            sealed,
            sealing_component_sha256: crate::sealing::embedded::GUEST_SHA256,
            started: self.started,
            finished: SystemTime::now(),
            builder_id: self.builder_id.as_deref(),
            image,
            key_wrap: self.key_wrap.as_ref(),
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

/// The input file, read through the image binding or not.
pub enum Input<R> {
    Plain(R),
    Bound(Box<BindingReader<R>>),
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(input) => input.read(buf),
            Self::Bound(input) => input.read(buf),
        }
    }
}

impl<R: Read> Input<R> {
    /// After the whole input was read: the bound image, if one was asked
    /// for, or the binding's refusal (exit 9).
    pub fn finish(self) -> Result<Option<BoundImage>, Failure> {
        match self {
            Self::Plain(_) => Ok(None),
            Self::Bound(input) => input
                .finish()
                .map(Some)
                .map_err(|refusal| {
                    anyhow::anyhow!("the input is not the image --image-ref names: {refusal}")
                })
                .class(Class::Attestation),
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
