//! `publish-artifact promote`: what was validated on one stage becomes the
//! next stage's, byte for byte, without rebuilding or re-sealing.
//!
//! Fail-closed, in this order; nothing is copied or registered before every
//! check has passed:
//! 1. flags, environment and keys (exit 2);
//! 2. the source object exists (exit 3) and its provenance beside it is
//!    signed by the pinned key, of our types, matches the pins, and names
//!    this very object (exit 9);
//! 3. a source that was itself promoted carries a verification summary
//!    decided on that provenance; a target in `--require-vsa-for` takes only
//!    such a source (exit 9);
//! 4. the source's size is the attested one (exit 6);
//! 5. the data key unwraps from `.keywrap` and matches the provenance's key
//!    commitment; a `.sha256.sig` present verifies (exit 9);
//! 6. the target key is free, unless `--replace` (exit 8). `--dry-run`
//!    stops here;
//! 7. server-side copy, then the copy is read back: its SHA-256 and size
//!    must be the attested ones (exit 6);
//! 8. sidecars written from the bytes that were checked, and a signed SLSA
//!    verification summary;
//! 9. the row registered for the new stage: same sha256, size and key, the
//!    new cdn_url.
//!
//! Any failure after step 6 removes what was written (`staging`).

use super::{denied, human_bytes, print_json, sha256_of, usage};
use crate::admin::{self, Registration};
use crate::attest::ci::ci_builder_id;
use crate::attest::keys::{SigningKey, VerifyingKey};
use crate::attest::keywrap::UnwrappingKey;
use crate::attest::policy::{self, Measured, Placement, Policy, Verdict};
use crate::attest::registry::{OnPromotion, SidecarKind};
use crate::attest::sidecars::{Sidecar, bundle_of};
use crate::attest::statement::rfc3339;
use crate::attest::verify::{AttestedObject, Pins, Signed, Trust};
use crate::attest::vsa::{self, LOCAL_VERIFIER, Promotion, PromotionPolicy, input_attestation};
use crate::cli::PromoteArgs;
use crate::config::{self, Environment, Names, S3Config};
use crate::failure::{Class, ClassExt, Failure};
use crate::publishing::staging::{
    claim, not_interrupted, put_sidecars, settle, stoppable, taken, undo,
};
use crate::publishing::{AsyncRuntime, async_runtime};
use crate::secrets::Key;
use crate::store::download::{ResumingReader, Source};
use crate::store::s3::Bucket;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

/// The `--json` receipt. It never holds the key.
#[derive(Serialize)]
struct Receipt<'a> {
    from_object_key: &'a str,
    object_key: &'a str,
    bucket: &'a str,
    cdn_url: Option<String>,
    sha256: String,
    size_bytes: u64,
    dry_run: bool,
    replaced: bool,
    statement: StatementReceipt<'a>,
    /// The summary the source carried (a promoted source), if any.
    from_vsa: Option<String>,
    vsa: Option<String>,
    sidecars: Vec<String>,
    registration_attempts: u32,
    seconds: f64,
}

#[derive(Serialize)]
struct StatementReceipt<'a> {
    object_key: &'a str,
    sha256: String,
    signed_by: &'a str,
    published_as: &'a str,
}

/// Where an object and its files are, from the flags.
struct Plan {
    names: Names,
    from: String,
    to: String,
    stages: Vec<String>,
    require_vsa_for: Vec<String>,
    require_sbom: bool,
    source_key: String,
    target_key: String,
}

impl Plan {
    fn new(args: &PromoteArgs) -> Result<Self, Failure> {
        let stages: Vec<String> = args
            .stages
            .iter()
            .filter(|stage| !stage.is_empty())
            .cloned()
            .collect();
        let position = |stage: &str| stages.iter().position(|s| s == stage);
        let order = stages.join(" -> ");
        let to_at = position(&args.to)
            .ok_or_else(|| usage(format!("--to {} is not a stage of {order}", args.to)))?;
        let from = match &args.from {
            Some(from) => from.clone(),
            None if to_at > 0 => stages[to_at - 1].clone(),
            None => {
                return Err(usage(format!(
                    "--to {} is the first stage of {order}: nothing comes before it",
                    args.to
                )));
            }
        };
        match position(&from) {
            Some(from_at) if from_at < to_at => {}
            Some(_) => {
                return Err(usage(format!(
                    "promotion goes forward along {order}: --from {from} does not come before \
                     --to {}",
                    args.to
                )));
            }
            None => return Err(usage(format!("--from {from} is not a stage of {order}"))),
        }
        let names = Names {
            resource_name: args.resource_name.clone(),
            dev_stage: args.to.clone(),
            architecture: args.architecture.clone(),
            version: args.version.clone(),
        }
        .checked()
        .map_err(usage)?;
        let source_key = names.at_stage(&from).checked().map_err(usage)?.object_key();
        Ok(Self {
            source_key,
            target_key: names.object_key(),
            names,
            from,
            to: args.to.clone(),
            require_vsa_for: args
                .require_vsa_for
                .iter()
                .filter(|stage| !stage.is_empty())
                .cloned()
                .collect(),
            require_sbom: args.require_sbom,
            stages,
        })
    }
}

/// The keys promotion needs, all read before anything is fetched.
struct Keys {
    trust: Trust,
    unwrapping: UnwrappingKey,
    /// Signs the summary; not needed for a dry run.
    signer: Option<SigningKey>,
}

impl Keys {
    fn load(args: &PromoteArgs) -> Result<Self, Failure> {
        let public_key = VerifyingKey::from_environment(config::lookup).map_err(usage)?;
        let unwrapping = UnwrappingKey::from_environment(config::lookup).map_err(usage)?;
        let signer = SigningKey::from_environment(config::lookup).map_err(usage)?;
        if signer.is_none() && !args.dry_run {
            return Err(usage(
                "set ATTESTATION_SIGNING_KEY (or ATTESTATION_SIGNING_KEY_FILE): promotion signs \
                 the verification summary it writes",
            ));
        }
        Ok(Self {
            trust: Trust {
                public_key: Some(public_key),
                allow_unsigned: false,
                pins: Pins::new(&args.pins, None),
            },
            unwrapping,
            signer,
        })
    }

    fn keyid(&self) -> &str {
        self.trust
            .public_key
            .as_ref()
            .map(VerifyingKey::keyid)
            .unwrap_or_default()
    }
}

/// A source that passed every check, and the key it was sealed with.
struct Verified {
    verdict: Verdict,
    key: Key,
    keywrap: Vec<u8>,
    signed_by: String,
}

impl Verified {
    fn new(mut verdict: Verdict) -> Self {
        let Signed::By(signed_by) = &verdict.signed else {
            unreachable!("promotion never accepts unsigned provenance")
        };
        let signed_by = signed_by.clone();
        let (key, keywrap) = verdict
            .key
            .take()
            .expect("a promotion's policy unwraps the key");
        Self {
            verdict,
            key,
            keywrap,
            signed_by,
        }
    }

    fn attested(&self) -> &AttestedObject {
        &self.verdict.attested
    }
}

pub fn run(args: &PromoteArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let plan = Plan::new(args)?;
    // A dry run registers nothing, so it needs no admin API.
    let env = match args.dry_run {
        true => None,
        false => Some(Environment::load(config::lookup).map_err(usage)?),
    };
    let bucket = match &env {
        Some(env) => Bucket::new(&env.s3),
        None => Bucket::new(&S3Config::load(config::lookup).map_err(usage)?),
    };
    let keys = Keys::load(args)?;
    let tokio = async_runtime()?;
    let verified = verify_source(&tokio, &bucket, &plan, &keys)?;
    let Some(env) = env else {
        return dry_run(args, &plan, &tokio, &bucket, &verified, started);
    };
    let signer = keys.signer.as_ref().expect("loaded unless a dry run");
    let run_id = admin::idempotency_key().class(Class::Internal)?;
    let mut staged = claim(&tokio, &bucket, &plan.target_key, args.replace, &run_id, "")?;
    // From here the target key may hold our copy: undoing removes it (or
    // puts a replaced object back) whether or not the copy completed.
    staged.uploaded();
    if let Err(failure) = copy_checked(&tokio, &bucket, &plan, verified.attested()) {
        return Err(undo(&tokio, staged, failure));
    }
    let summary = summary_of_promotion(&plan, &keys, &env, &verified, signer);
    let sidecars = carried_sidecars(&plan, &verified, summary, signer.keyid());
    let written = match put_sidecars(
        &tokio,
        &bucket,
        &mut staged,
        &plan.target_key,
        sidecars,
        args.replace,
    ) {
        Ok(written) => written,
        Err(err) => return Err(undo(&tokio, staged, Failure::new(Class::Storage, err))),
    };
    let cdn_url = env.cdn_url(&plan.target_key);
    let attested = verified.attested();
    let registration = Registration::of(
        &plan.names,
        &cdn_url,
        &verified.key,
        &attested.sha256,
        attested.size,
    );
    let http = admin::client().class(Class::Internal)?;
    let registered = tokio.block_on(admin::register(&http, &env.admin, &registration, &run_id));
    drop(registration);
    let settled = settle(&tokio, staged, registered)?;
    say_promoted(&plan, &verified, settled.1);
    if let Some(note) = env.cdn_url_note(&cdn_url) {
        eprintln!("{note}");
    }
    let vsa = SidecarKind::Summary.key_beside(&plan.target_key);
    print_receipt(
        args,
        &plan,
        &bucket,
        &verified,
        Some((&env, vsa)),
        written,
        settled,
        started,
    );
    Ok(())
}

/// `--dry-run`: every check, and whether the target is free; nothing written.
fn dry_run(
    args: &PromoteArgs,
    plan: &Plan,
    tokio: &AsyncRuntime,
    bucket: &Bucket,
    verified: &Verified,
    started: Instant,
) -> Result<(), Failure> {
    let occupied = tokio
        .block_on(stoppable(bucket.head(&plan.target_key)))
        .class(Class::Storage)?
        .is_some();
    if occupied && !args.replace {
        return Err(taken(bucket, &plan.target_key, ""));
    }
    let attested = verified.attested();
    eprintln!(
        "dry run: {} ({}, sha256 {}) passes every check and would be promoted to {}{}",
        plan.source_key,
        human_bytes(attested.size),
        &hex::encode(attested.sha256)[..16],
        plan.target_key,
        if occupied { ", replacing it" } else { "" },
    );
    print_receipt(
        args,
        plan,
        bucket,
        verified,
        None,
        Vec::new(),
        (0, occupied),
        started,
    );
    Ok(())
}

/// Step 7: the server-side copy, read back.
fn copy_checked(
    tokio: &AsyncRuntime,
    bucket: &Bucket,
    plan: &Plan,
    attested: &AttestedObject,
) -> Result<(), Failure> {
    tokio
        .block_on(stoppable(bucket.copy(
            &plan.source_key,
            &plan.target_key,
            attested.size,
        )))
        .class(Class::Storage)
        .and_then(|()| read_back(tokio, bucket, &plan.target_key, attested))
}

/// The signed verification summary this promotion writes: decided on the
/// source's provenance and, for a promoted source, its summary.
fn summary_of_promotion(
    plan: &Plan,
    keys: &Keys,
    env: &Environment,
    verified: &Verified,
    signer: &SigningKey,
) -> Vec<u8> {
    let verdict = &verified.verdict;
    let mut inputs = vec![input_attestation(
        &env.cdn_url(&SidecarKind::Statement.key_beside(&plan.source_key)),
        &verdict.statement_bytes,
    )];
    if let Some((_, bytes)) = &verdict.summary {
        let key = SidecarKind::Summary.key_beside(&plan.source_key);
        inputs.push(input_attestation(&env.cdn_url(&key), bytes));
    }
    // The SBOM statements checked are attestations it rested on too.
    for (kind, bytes) in &verdict.sboms {
        if kind.signed() {
            let key = kind.key_beside(&plan.source_key);
            inputs.push(input_attestation(&env.cdn_url(&key), bytes));
        }
    }
    let policy = PromotionPolicy {
        from: plan.from.clone(),
        to: plan.to.clone(),
        stages: plan.stages.clone(),
        require_summary_for: plan.require_vsa_for.clone(),
        require_sbom: plan.require_sbom,
        attestation_public_key_sha256: keys.keyid().to_string(),
        pins: pins_of(&keys.trust.pins),
    };
    vsa::signed_summary(
        &Promotion {
            object_key: &plan.target_key,
            object_sha256: &verified.attested().sha256,
            resource_uri: &env.cdn_url(&plan.target_key),
            policy: &policy,
            inputs,
            verifier_id: ci_builder_id(&|name| std::env::var(name).ok())
                .unwrap_or_else(|| LOCAL_VERIFIER.into()),
            time_verified: rfc3339(SystemTime::now()),
        },
        signer,
    )
}

/// Step 8: what lands beside the copy, from the bytes that were checked
/// (not copied from the source), every kind as the registry says.
fn carried_sidecars(
    plan: &Plan,
    verified: &Verified,
    summary: Vec<u8>,
    keyid: &str,
) -> Vec<Sidecar> {
    let verdict = &verified.verdict;
    let carried = |kind| match kind {
        SidecarKind::Statement => Some(verdict.statement_bytes.clone()),
        SidecarKind::ChecksumSignature => verdict.signature.clone(),
        SidecarKind::KeyWrap => Some(verified.keywrap.clone()),
        SidecarKind::CycloneDx
        | SidecarKind::Spdx
        | SidecarKind::CycloneDxStatement
        | SidecarKind::SpdxStatement => verdict.sbom_file(kind),
        SidecarKind::StatementBundle
        | SidecarKind::ChecksumSignatureBundle
        | SidecarKind::CycloneDxStatementBundle
        | SidecarKind::SpdxStatementBundle => verdict.bundle(kind),
        SidecarKind::ModelSignature => verdict.model_signature.clone(),
        SidecarKind::Checksum | SidecarKind::Summary | SidecarKind::SummaryBundle => None,
    };
    beside_the_copy(
        &plan.target_key,
        &verified.attested().sha256,
        carried,
        summary,
        keyid,
    )
}

/// Every kind, as the registry says promotion treats it: rewritten for the
/// target, carried from the checked source, or made by this promotion (the
/// summary, signed by `keyid`, and its Sigstore bundle).
fn beside_the_copy(
    target_key: &str,
    sha256: &[u8; 32],
    carried: impl Fn(SidecarKind) -> Option<Vec<u8>>,
    summary: Vec<u8>,
    keyid: &str,
) -> Vec<Sidecar> {
    let mut summary = Some(summary);
    let mut files = Vec::new();
    for kind in SidecarKind::ALL {
        let bytes = match kind.on_promotion() {
            OnPromotion::Rewritten => Some(rewritten(kind, target_key, sha256)),
            OnPromotion::Carried => carried(kind),
            // A bundle comes after the file it bundles, made just before.
            OnPromotion::Made if kind.bundled().is_some() => bundle_of(kind, &files, keyid),
            OnPromotion::Made => summary.take(),
        };
        files.extend(bytes.map(|bytes| Sidecar::new(kind, bytes)));
    }
    files
}

/// A kind promotion writes again for the target key.
fn rewritten(kind: SidecarKind, target_key: &str, sha256: &[u8; 32]) -> Vec<u8> {
    match kind {
        SidecarKind::Checksum => Sidecar::checksum(target_key, sha256).bytes,
        other => unreachable!("the registry rewrites only the checksum, not {other:?}"),
    }
}

fn say_promoted(plan: &Plan, verified: &Verified, replaced: bool) {
    let attested = verified.attested();
    eprintln!(
        "promoted {} to {} ({}, sha256 {}): the same bytes under the same key, verified by \
         its signed provenance{}, registered at the admin API{}",
        plan.source_key,
        plan.target_key,
        human_bytes(attested.size),
        &hex::encode(attested.sha256)[..16],
        match verified.verdict.summary {
            Some(_) =>
                " and the verification summary of its promotion to ".to_string() + &plan.from,
            None => String::new(),
        },
        if replaced {
            ", replacing the object that was there"
        } else {
            ""
        },
    );
}

/// Steps 2 to 5: everything about the source, before anything is written,
/// as the one verification policy decides.
fn verify_source(
    tokio: &AsyncRuntime,
    bucket: &Bucket,
    plan: &Plan,
    keys: &Keys,
) -> Result<Verified, Failure> {
    let source = &plan.source_key;
    let head = tokio
        .block_on(stoppable(async {
            bucket.preflight().await?;
            bucket.head(source).await
        }))
        .class(Class::Storage)?;
    let Some(head) = head else {
        return Err(Failure::new(
            Class::Input,
            anyhow::anyhow!(
                "s3://{}/{source} does not exist: nothing to promote",
                bucket.name()
            ),
        ));
    };
    let policy = Policy {
        trust: &keys.trust,
        placement: Placement::Key(source),
        promotion: Some(policy::Promotion {
            stages: &plan.stages,
            from: &plan.from,
            to: &plan.to,
            require_summary: plan.require_vsa_for.contains(&plan.to),
            unwrapping: &keys.unwrapping,
        }),
        require_sbom: plan.require_sbom,
    };
    let mut read = |kind: SidecarKind| {
        tokio
            .block_on(stoppable(
                bucket.get_small(&kind.key_beside(source), kind.size_limit()),
            ))
            .class(Class::Storage)
    };
    let measured = Measured {
        sha256: None,
        size: head.size,
    };
    let verdict = policy.decide(&mut read, || Ok(measured)).map_err(denied)?;
    not_interrupted().class(Class::Storage)?;
    Ok(Verified::new(verdict))
}

/// Step 7: the copy, read back whole (resuming if the stream breaks), must
/// be the attested bytes.
fn read_back(
    tokio: &AsyncRuntime,
    bucket: &Bucket,
    key: &str,
    attested: &AttestedObject,
) -> Result<(), Failure> {
    let source = Source::S3 {
        bucket: bucket.clone(),
        key: key.to_string(),
    };
    let (sha256, size) = sha256_of(&mut ResumingReader::new(tokio, &source))
        .map_err(|err| anyhow::anyhow!("reading the copy {} back: {err}", source.describe()))
        .class(Class::Storage)?;
    if sha256 != attested.sha256 || size != attested.size {
        return Err(Failure::new(
            Class::Integrity,
            anyhow::anyhow!(
                "the copy {} is {size} bytes with SHA-256 {}, but the provenance attests {} \
                 bytes with {}: the source is not the object that was published",
                source.describe(),
                hex::encode(sha256),
                attested.size,
                hex::encode(attested.sha256)
            ),
        ));
    }
    Ok(())
}

fn pins_of(pins: &Pins) -> BTreeMap<&'static str, String> {
    [
        ("builder_id", &pins.builder_id),
        ("repository", &pins.repository),
        ("commit", &pins.commit),
    ]
    .into_iter()
    .filter_map(|(name, pin)| pin.clone().map(|pin| (name, pin)))
    .collect()
}

#[allow(clippy::too_many_arguments)]
fn print_receipt(
    args: &PromoteArgs,
    plan: &Plan,
    bucket: &Bucket,
    verified: &Verified,
    registered: Option<(&Environment, String)>,
    sidecars: Vec<String>,
    (registration_attempts, replaced): (u32, bool),
    started: Instant,
) {
    if !args.json {
        return;
    }
    let statement_key = SidecarKind::Statement.key_beside(&plan.source_key);
    print_json(&Receipt {
        from_object_key: &plan.source_key,
        object_key: &plan.target_key,
        bucket: bucket.name(),
        cdn_url: registered
            .as_ref()
            .map(|(env, _)| env.cdn_url(&plan.target_key)),
        sha256: hex::encode(verified.attested().sha256),
        size_bytes: verified.attested().size,
        dry_run: args.dry_run,
        replaced,
        statement: StatementReceipt {
            object_key: &statement_key,
            sha256: hex::encode(Sha256::digest(&verified.verdict.statement_bytes)),
            signed_by: &verified.signed_by,
            published_as: &verified.attested().name,
        },
        from_vsa: verified
            .verdict
            .summary
            .as_ref()
            .map(|_| SidecarKind::Summary.key_beside(&plan.source_key)),
        vsa: registered.map(|(_, vsa)| vsa),
        sidecars,
        registration_attempts,
        seconds: started.elapsed().as_secs_f64(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::sidecars::sha256_line;

    /// A signed envelope, as the summary a promotion makes.
    fn signed_summary() -> (Vec<u8>, String) {
        let (private, _) = crate::attest::keys::tests::key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let envelope = crate::attest::dsse::Envelope::new(b"{}", Some(&signer));
        (
            serde_json::to_vec_pretty(&envelope).unwrap(),
            signer.keyid().to_string(),
        )
    }

    #[test]
    fn every_kind_lands_beside_the_copy_as_the_registry_says() {
        let (summary, keyid) = signed_summary();
        // Carried kinds are exactly the ones the registry calls carried.
        for kind in SidecarKind::ALL {
            let marker = kind.suffix().as_bytes().to_vec();
            let files = beside_the_copy(
                "k",
                &[0; 32],
                |k| (k == kind).then(|| marker.clone()),
                Vec::new(),
                &keyid,
            );
            let carried = files.iter().any(|file| file.bytes == marker);
            assert_eq!(
                carried,
                kind.on_promotion() == OnPromotion::Carried,
                "{kind:?}"
            );
        }
        let files = beside_the_copy(
            "stage/a-arm64-1.enc",
            &[0xab; 32],
            |kind| Some(kind.suffix().as_bytes().to_vec()),
            summary.clone(),
            &keyid,
        );
        let kinds: Vec<_> = files.iter().map(|file| file.kind).collect();
        assert_eq!(kinds, SidecarKind::ALL);
        assert_eq!(
            files[0].bytes,
            sha256_line("stage/a-arm64-1.enc", &[0xab; 32]).as_bytes()
        );
        assert_eq!(files[1].bytes, b".intoto.json");
        let [.., made, its_bundle] = files.as_slice() else {
            unreachable!()
        };
        assert_eq!(made.bytes, summary);
        // The summary's bundle is made of the summary that was made.
        assert_eq!(its_bundle.kind, SidecarKind::SummaryBundle);
        assert_eq!(
            crate::attest::bundle::envelope_of(&its_bundle.bytes).unwrap(),
            summary
        );
        // Without a signature at the source, none is carried.
        let unsigned = beside_the_copy(
            "k",
            &[0; 32],
            |kind| (kind != SidecarKind::ChecksumSignature).then(Vec::new),
            Vec::new(),
            &keyid,
        );
        assert!(
            unsigned
                .iter()
                .all(|f| f.kind != SidecarKind::ChecksumSignature)
        );
        // Nor a bundle of a summary that is not a signed envelope.
        assert_eq!(unsigned.len(), SidecarKind::ALL.len() - 2);
    }
}
