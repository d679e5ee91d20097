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

use super::staging::{claim, not_interrupted, put_sidecars, settle, stoppable, taken, undo};
use super::{async_runtime, human_bytes, print_json, sha256_of, usage};
use crate::admin::{self, Registration};
use crate::attest::Refusal;
use crate::attest::keys::{SigningKey, VerifyingKey};
use crate::attest::keywrap::{self, UnwrappingKey};
use crate::attest::sidecars::{
    SIGNATURE_SUFFIX, STATEMENT_SUFFIX, Sidecar, ci_builder_id, key_commitment, rfc3339,
    sha256_line,
};
use crate::attest::summary::{
    self, Expected, LOCAL_VERIFIER, Promotion, PromotionPolicy, check_summary, input_attestation,
};
use crate::attest::verify::{
    AttestedObject, Pins, Policy, Signed, attested_object, check_envelope,
};
use crate::cli::PromoteArgs;
use crate::config::{self, Environment, Names, S3Config};
use crate::failure::{Class, ClassExt, Failure};
use crate::secrets::Key;
use crate::store::download::{ResumingReader, Source};
use crate::store::s3::Bucket;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

/// Statements, summaries and wraps are a few KiB.
const SIDECAR_LIMIT: u64 = 4 << 20;

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
    from_vsa: Option<&'a str>,
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
            stages,
        })
    }

    /// The object key this version has at `stage`.
    fn key_at(&self, stage: &str) -> String {
        self.names.at_stage(stage).object_key()
    }
}

/// The keys promotion needs, all read before anything is fetched.
struct Keys {
    policy: Policy,
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
            policy: Policy {
                public_key: Some(public_key),
                allow_unsigned: false,
                pins: Pins::new(&args.pins, None),
            },
            unwrapping,
            signer,
        })
    }

    fn keyid(&self) -> &str {
        self.policy
            .public_key
            .as_ref()
            .map(VerifyingKey::keyid)
            .unwrap_or_default()
    }
}

/// A source that passed every check.
struct Verified {
    statement_bytes: Vec<u8>,
    attested: AttestedObject,
    signed_by: String,
    /// The source's own summary, when it was promoted: (key, bytes).
    summary: Option<(String, Vec<u8>)>,
    key: Key,
    keywrap: Vec<u8>,
    signature: Option<Vec<u8>>,
}

fn refused(refusal: Refusal) -> Failure {
    Failure::new(Class::Attestation, refusal)
}

pub fn run(args: &PromoteArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let plan = Plan::new(args)?;
    // A dry run registers nothing, so it needs no admin API.
    let env = match args.dry_run {
        true => None,
        false => Some(Environment::load(config::lookup).map_err(usage)?),
    };
    let s3_alone;
    let s3 = match &env {
        Some(env) => &env.s3,
        None => {
            s3_alone = S3Config::load(config::lookup).map_err(usage)?;
            &s3_alone
        }
    };
    let keys = Keys::load(args)?;
    let tokio = async_runtime()?;
    let bucket = Bucket::new(s3);
    let run_id = admin::idempotency_key().class(Class::Internal)?;

    let verified = verify_source(&tokio, &bucket, &plan, &keys)?;
    let attested = &verified.attested;
    let sha256 = hex::encode(attested.sha256);

    if args.dry_run {
        let occupied = tokio
            .block_on(stoppable(bucket.head(&plan.target_key)))
            .class(Class::Storage)?
            .is_some();
        if occupied && !args.replace {
            return Err(taken(&bucket, &plan.target_key, ""));
        }
        eprintln!(
            "dry run: {} ({}, sha256 {}) passes every check and would be promoted to {}{}",
            plan.source_key,
            human_bytes(attested.size),
            &sha256[..16],
            plan.target_key,
            if occupied { ", replacing it" } else { "" },
        );
        print_receipt(
            args,
            &plan,
            &bucket,
            &verified,
            None,
            Vec::new(),
            (0, occupied),
            started,
        );
        return Ok(());
    }
    let env = env.expect("loaded unless a dry run");
    let signer = keys.signer.as_ref().expect("loaded unless a dry run");

    let mut staged = claim(&tokio, &bucket, &plan.target_key, args.replace, &run_id, "")?;
    // From here the target key may hold our copy: undoing removes it (or
    // puts a replaced object back) whether or not the copy completed.
    staged.uploaded();
    let copied = tokio
        .block_on(stoppable(bucket.copy(
            &plan.source_key,
            &plan.target_key,
            attested.size,
        )))
        .class(Class::Storage)
        .and_then(|()| read_back(&tokio, &bucket, &plan.target_key, attested));
    if let Err(failure) = copied {
        return Err(undo(&tokio, staged, failure));
    }

    let cdn_url = env.cdn_url(&plan.target_key);
    let mut inputs = vec![input_attestation(
        &env.cdn_url(&format!("{}{STATEMENT_SUFFIX}", plan.source_key)),
        &verified.statement_bytes,
    )];
    if let Some((summary_key, summary_bytes)) = &verified.summary {
        inputs.push(input_attestation(&env.cdn_url(summary_key), summary_bytes));
    }
    let policy = PromotionPolicy {
        from: plan.from.clone(),
        to: plan.to.clone(),
        stages: plan.stages.clone(),
        require_summary_for: plan.require_vsa_for.clone(),
        attestation_public_key_sha256: keys.keyid().to_string(),
        pins: pins_of(&keys.policy.pins),
    };
    let summary_bytes = summary::signed_summary(
        &Promotion {
            object_key: &plan.target_key,
            object_sha256: &attested.sha256,
            resource_uri: &cdn_url,
            policy: &policy,
            inputs,
            verifier_id: ci_builder_id(&|name| std::env::var(name).ok())
                .unwrap_or_else(|| LOCAL_VERIFIER.into()),
            time_verified: rfc3339(SystemTime::now()),
        },
        signer,
    );
    // The sidecars are written from the bytes that were checked, not copied
    // from the source: what lands beside the copy is what was verified.
    let mut sidecars = vec![
        Sidecar::checksum(&plan.target_key, &attested.sha256),
        Sidecar::statement(verified.statement_bytes.clone()),
        Sidecar::key_wrap(verified.keywrap.clone()),
    ];
    sidecars.extend(verified.signature.clone().map(Sidecar::checksum_signature));
    sidecars.push(Sidecar::summary(summary_bytes));
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

    let http = admin::client().class(Class::Internal)?;
    let key_hex = verified.key.to_hex();
    let registration = Registration {
        names: &plan.names,
        cdn_url: &cdn_url,
        sha256: &sha256,
        encryption_key: &key_hex,
        size_bytes: attested.size,
    };
    let registered = tokio.block_on(admin::register(&http, &env.admin, &registration, &run_id));
    drop(key_hex);
    let settled = settle(&tokio, staged, registered)?;
    eprintln!(
        "promoted {} to {} ({}, sha256 {}): the same bytes under the same key, verified by \
         its signed provenance{}, registered at the admin API{}",
        plan.source_key,
        plan.target_key,
        human_bytes(attested.size),
        &sha256[..16],
        match verified.summary {
            Some(_) =>
                " and the verification summary of its promotion to ".to_string() + &plan.from,
            None => String::new(),
        },
        if settled.1 {
            ", replacing the object that was there"
        } else {
            ""
        },
    );
    if let Some(note) = env.cdn_url_note(&cdn_url) {
        eprintln!("{note}");
    }
    let vsa = format!("{}{}", plan.target_key, summary::SUFFIX);
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

/// Steps 2 to 5: everything about the source, before anything is written.
fn verify_source(
    tokio: &super::AsyncRuntime,
    bucket: &Bucket,
    plan: &Plan,
    keys: &Keys,
) -> Result<Verified, Failure> {
    let source = &plan.source_key;
    let get = |key: String| {
        tokio
            .block_on(stoppable(bucket.get_small(&key, SIDECAR_LIMIT)))
            .class(Class::Storage)
            .map(|found| (key, found))
    };
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

    let (statement_key, statement_bytes) = get(format!("{source}{STATEMENT_SUFFIX}"))?;
    let statement_bytes = statement_bytes.ok_or_else(|| {
        refused(Refusal::new(format!(
            "{statement_key} does not exist: only an object published with provenance can be \
             promoted"
        )))
    })?;
    let (statement, signed) = check_envelope(&statement_bytes, &keys.policy)
        .map_err(|refusal| refused(Refusal::new(format!("{statement_key}: {refusal}"))))?;
    let Signed::By(signed_by) = signed else {
        unreachable!("promotion never accepts unsigned provenance")
    };
    let attested = attested_object(&statement).map_err(refused)?;
    let published_at = statement.external().dev_stage.clone();
    let published_as = plan.key_at(&published_at);
    if attested.name != published_as {
        return Err(refused(Refusal::new(format!(
            "the provenance beside {source} is about {}, not {published_as}: it belongs to \
             another object",
            attested.name
        ))));
    }

    let summary = if published_at == plan.from {
        if plan.require_vsa_for.contains(&plan.to) {
            return Err(refused(Refusal::new(format!(
                "{} takes only what the stage before it validated, and {source} was published \
                 there, not promoted: promote it along {} one stage at a time",
                plan.to,
                plan.stages.join(" -> ")
            ))));
        }
        None
    } else {
        let published_before = plan
            .stages
            .iter()
            .position(|s| *s == published_at)
            .zip(plan.stages.iter().position(|s| *s == plan.from))
            .is_some_and(|(published, from)| published < from);
        if !published_before {
            return Err(refused(Refusal::new(format!(
                "the provenance beside {source} says it was published to {published_at}, which \
                 does not come before {} in {}",
                plan.from,
                plan.stages.join(" -> ")
            ))));
        }
        let (summary_key, summary_bytes) = get(format!("{source}{}", summary::SUFFIX))?;
        let summary_bytes = summary_bytes.ok_or_else(|| {
            refused(Refusal::new(format!(
                "{summary_key} does not exist: {source} carries the provenance of \
                 {published_as} but no verification summary of a promotion to {}",
                plan.from
            )))
        })?;
        let statement_sha256: [u8; 32] = Sha256::digest(&statement_bytes).into();
        check_summary(
            &summary_bytes,
            &keys.policy,
            Expected::Key(source),
            &attested.sha256,
            &statement_sha256,
        )
        .map_err(|refusal| refused(Refusal::new(format!("{summary_key}: {refusal}"))))?;
        Some((summary_key, summary_bytes))
    };

    if head.size != attested.size {
        return Err(Failure::new(
            Class::Integrity,
            anyhow::anyhow!(
                "s3://{}/{source} is {} bytes, but its provenance attests {}: it is not the \
                 object that was published",
                bucket.name(),
                head.size,
                attested.size
            ),
        ));
    }

    let (keywrap_key, keywrap) = get(format!("{source}{}", keywrap::SUFFIX))?;
    let keywrap = keywrap.ok_or_else(|| {
        refused(Refusal::new(format!(
            "{keywrap_key} does not exist: {published_as} was published without \
             PROMOTION_PUBLIC_KEY, so its key cannot be carried to {}",
            plan.to
        )))
    })?;
    let holder = keys.unwrapping.public_key_sha256();
    if let Some(wrapped_for) = &attested.key_wrap_public_key_sha256
        && wrapped_for != holder
    {
        return Err(refused(Refusal::new(format!(
            "the key of {published_as} was wrapped for the promotion key with public key \
             sha256 {wrapped_for}, but PROMOTION_PRIVATE_KEY is {holder}"
        ))));
    }
    let key = keys
        .unwrapping
        .unwrap(&keywrap, &attested.sha256)
        .map_err(refused)?;
    if key_commitment(&key, &attested.sha256) != attested.key_commitment {
        return Err(refused(Refusal::new(format!(
            "the key unwrapped from {keywrap_key} is not the one the provenance commits to: \
             the wrap is not this object's"
        ))));
    }

    // A cosign-style signature of the `.sha256` line, when published: it
    // must verify too, or it would be copied as a false witness.
    let (signature_key, signature) = get(format!("{source}{SIGNATURE_SUFFIX}"))?;
    if let Some(signature) = &signature {
        let line = sha256_line(source, &attested.sha256);
        let verifies = base64::engine::general_purpose::STANDARD
            .decode(signature.trim_ascii())
            .is_ok_and(|der| {
                keys.policy
                    .public_key
                    .as_ref()
                    .is_some_and(|key| key.verifies(line.as_bytes(), &der))
            });
        if !verifies {
            return Err(refused(Refusal::new(format!(
                "{signature_key} does not verify under ATTESTATION_PUBLIC_KEY"
            ))));
        }
    }
    not_interrupted().class(Class::Storage)?;
    Ok(Verified {
        statement_bytes,
        attested,
        signed_by,
        summary,
        key,
        keywrap,
        signature,
    })
}

/// Step 7: the copy, read back whole (resuming if the stream breaks), must
/// be the attested bytes.
fn read_back(
    tokio: &super::AsyncRuntime,
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
    let statement_key = format!("{}{STATEMENT_SUFFIX}", plan.source_key);
    print_json(&Receipt {
        from_object_key: &plan.source_key,
        object_key: &plan.target_key,
        bucket: bucket.name(),
        cdn_url: registered
            .as_ref()
            .map(|(env, _)| env.cdn_url(&plan.target_key)),
        sha256: hex::encode(verified.attested.sha256),
        size_bytes: verified.attested.size,
        dry_run: args.dry_run,
        replaced,
        statement: StatementReceipt {
            object_key: &statement_key,
            sha256: hex::encode(Sha256::digest(&verified.statement_bytes)),
            signed_by: &verified.signed_by,
            published_as: &verified.attested.name,
        },
        from_vsa: verified.summary.as_ref().map(|(key, _)| key.as_str()),
        vsa: registered.map(|(_, vsa)| vsa),
        sidecars,
        registration_attempts,
        seconds: started.elapsed().as_secs_f64(),
    });
}
