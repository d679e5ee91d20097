//! `publish-artifact sbom`: the SBOM of a file, offline and without
//! credentials, written in one format to a file or stdout.

use super::{file_name, open_input, sha256_of, usage};
use crate::cli::{SbomArgs, SbomFormat};
use crate::config;
use crate::failure::{Class, ClassExt, Failure};
use crate::output::AtomicOutput;
use crate::sbom::document::{Bom, ModelFacts, creation_time};
use crate::sbom::model::{MAX_MODEL_CARD, model_bom, parse_model_card};
use crate::sbom::{cyclonedx, image, spdx};
use std::io::{Read, Write};
use std::time::SystemTime;

pub fn run(args: &SbomArgs) -> Result<(), Failure> {
    let created = creation_time(config::lookup, SystemTime::now()).map_err(usage)?;
    let model_card = args
        .model_card
        .as_deref()
        .map(read_model_card)
        .transpose()?;
    if let Some(mut bom) = image_bom(args, created)? {
        if model_card.is_some() {
            return Err(usage(format!(
                "{} is an image: --model-card is for models",
                args.file.display()
            )));
        }
        bom.supplier = args.supplier.clone();
        warn_of(&bom);
        return write(&bom, args);
    }
    let (sha256, size) = sha256_of(&mut open_input(&args.file)?)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", args.file.display()))
        .class(Class::Input)?;
    let properties = [
        ("resource_name", &args.resource_name),
        ("architecture", &args.architecture),
        ("dev_stage", &args.dev_stage),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|value| (name, value)))
    .collect();
    let model = ModelFacts {
        name: file_name(&args.file),
        version: args.version.clone(),
        sha256,
        size,
        properties,
        model_card,
    };
    let mut bom = model_bom(model, created);
    bom.supplier = args.supplier.clone();
    write(&bom, args)
}

/// The image's document, when the file is a docker-archive tarball.
fn image_bom(args: &SbomArgs, created: SystemTime) -> Result<Option<Bom>, Failure> {
    let mut head = Vec::with_capacity(512);
    open_input(&args.file)?
        .take(512)
        .read_to_end(&mut head)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", args.file.display()))
        .class(Class::Input)?;
    if !image::looks_like_tar(&head) {
        return Ok(None);
    }
    image::scan(open_input(&args.file)?, created)
        .map_err(|why| anyhow::anyhow!("{} {why}", args.file.display()))
        .class(Class::Input)
}

/// What could not be read goes into the document and, one line each, to
/// stderr.
fn warn_of(bom: &Bom) {
    for problem in &bom.problems {
        tracing::warn!("{}", problem.0);
    }
}

fn read_model_card(
    path: &std::path::Path,
) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    let mut bytes = Vec::new();
    open_input(path)?
        .take(MAX_MODEL_CARD + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| anyhow::anyhow!("cannot read --model-card {}: {err}", path.display()))
        .class(Class::Input)?;
    if bytes.len() as u64 > MAX_MODEL_CARD {
        return Err(usage(format!(
            "--model-card {} is larger than {} KiB: not a model card",
            path.display(),
            MAX_MODEL_CARD >> 10
        )));
    }
    parse_model_card(&bytes).map_err(|why| usage(format!("--model-card {} {why}", path.display())))
}

/// The document in the chosen format, to `--out` (whole or not at all) or
/// stdout.
fn write(bom: &Bom, args: &SbomArgs) -> Result<(), Failure> {
    let bytes = match args.format {
        SbomFormat::CyclonedxJson => cyclonedx::write(bom),
        SbomFormat::SpdxJson => spdx::write(bom),
    };
    match &args.out {
        Some(path) => {
            let mut file = AtomicOutput::create(path).class(Class::Output)?;
            file.write(&bytes).class(Class::Output)?;
            file.commit().class(Class::Output)?;
            eprintln!(
                "wrote the SBOM of {} to {}",
                args.file.display(),
                path.display()
            );
        }
        None => std::io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|err| anyhow::anyhow!("cannot write the SBOM to stdout: {err}"))
            .class(Class::Output)?,
    }
    Ok(())
}
