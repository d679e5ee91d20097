//! `publish-artifact image verify`: the image binding publish makes, alone,
//! for a job that receives a tarball and must know it is the tested image
//! before `docker load`. A tarball that is not the image is refused with
//! exit 9, the attestation class: the tarball is readable and intact as a
//! file (so not 6, integrity); it is the claim "this is REPO@sha256:D" that
//! fails, as a signature or a pin would.

use super::{open_input, print_json};
use crate::cli::{ImageCommand, ImageVerifyArgs};
use crate::failure::{Class, ClassExt, Failure};
use crate::publishing::provenance::expectation;
use serde::Serialize;
use std::path::PathBuf;

pub fn run(command: &ImageCommand) -> Result<(), Failure> {
    match command {
        ImageCommand::Verify(args) => run_verify(args),
    }
}

#[derive(Serialize)]
struct Summary {
    archive: PathBuf,
    image: String,
    tag: Option<String>,
    config_digest: String,
}

fn run_verify(args: &ImageVerifyArgs) -> Result<(), Failure> {
    let expectation = expectation(
        &args.image_ref,
        &args.image_manifest,
        args.tag.clone(),
        args.architecture.as_deref(),
    )?;
    let mut reader = expectation.reader(open_input(&args.archive)?);
    std::io::copy(&mut reader, &mut std::io::sink())
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", args.archive.display()))
        .class(Class::Input)?;
    let bound = reader
        .finish()
        .map_err(|refusal| {
            anyhow::anyhow!(
                "{} is not {}: {refusal}",
                args.archive.display(),
                args.image_ref
            )
        })
        .class(Class::Attestation)?;
    eprintln!(
        "verified {}: it is {} (config {}); after `docker load`, compare \
         `docker image inspect --format '{{{{json .RootFS.Layers}}}}'` with the config's diff_ids",
        args.archive.display(),
        bound.reference(),
        bound.config_digest
    );
    print_json(&Summary {
        archive: args.archive.clone(),
        image: bound.reference(),
        tag: bound.tag,
        config_digest: bound.config_digest,
    });
    Ok(())
}
