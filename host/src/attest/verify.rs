//! Checking a statement the way a consumer must before trusting an object:
//! the envelope's signature, the statement's types, the caller's pins, and
//! that the object's SHA-256 is the statement's object subject.

use super::Refusal;
use super::dsse::Envelope;
use super::keys::VerifyingKey;
use super::statement::{
    BUILD_TYPE, KEY_WRAP_ANNOTATION, PREDICATE_TYPE, STATEMENT_TYPE, Statement,
};

/// Values the statement must hold exactly; `None` is not checked.
#[derive(Debug, Default)]
pub struct Pins {
    pub builder_id: Option<String>,
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub stage: Option<String>,
}

impl Pins {
    /// The flags' pins, and the stage when one is pinned.
    pub fn new(flags: &crate::cli::PinArgs, stage: Option<String>) -> Self {
        Self {
            builder_id: flags.builder_id.clone(),
            repository: flags.repository.clone(),
            commit: flags.commit.clone(),
            stage,
        }
    }
}

#[derive(Debug)]
pub struct Trust {
    /// Any one of these may have signed the provenance (and the SBOM
    /// statements, the checksum's and the model's signatures): more than one
    /// while a key is rotated. None: signatures are not checked (only with
    /// `allow_unsigned`).
    pub keys: Vec<VerifyingKey>,
    /// Any one of these may have signed a verification summary: the
    /// promotion pipeline's keys, never a provenance key (the policy keeps
    /// the two rings apart).
    pub summary_keys: Vec<VerifyingKey>,
    /// Accept an envelope with no signatures at all.
    pub allow_unsigned: bool,
    pub pins: Pins,
}

impl Trust {
    /// The provenance key among `keys` that verifies `signature` over
    /// `message`, if one does.
    pub fn signer_of(&self, message: &[u8], signature: &[u8]) -> Option<&VerifyingKey> {
        self.keys
            .iter()
            .find(|key| key.verifies(message, signature))
    }
}

/// The keyids of a ring, for messages: `keyid a1b2...` or `keyids a, b`.
pub fn keyids(keys: &[VerifyingKey]) -> String {
    let ids: Vec<&str> = keys.iter().map(VerifyingKey::keyid).collect();
    match ids.as_slice() {
        [one] => format!("keyid {one}"),
        many => format!("keyids {}", many.join(", ")),
    }
}

/// What a statement that passed says about its signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// A signature verified under the key with this keyid.
    By(String),
    /// Accepted without a signature check (`--allow-unsigned`).
    NotChecked,
}

/// Checks the envelope and the statement in it against `trust`.
pub fn check_envelope(bytes: &[u8], trust: &Trust) -> Result<(Statement, Signed), Refusal> {
    let (payload, signed) = open_envelope(bytes, trust)?;
    let statement: Statement = serde_json::from_slice(&payload).map_err(|err| {
        Refusal::new(format!(
            "the payload is not a publish-artifact provenance statement: {err}"
        ))
    })?;
    check_types(&statement)?;
    check_pins(&statement, &trust.pins)?;
    Ok((statement, signed))
}

/// The payload of a DSSE envelope signed under one of `trust`'s provenance
/// keys (or accepted unsigned, as `trust` allows).
pub fn open_envelope(bytes: &[u8], trust: &Trust) -> Result<(Vec<u8>, Signed), Refusal> {
    open_signed(bytes, &trust.keys, trust.allow_unsigned, "--public-key")
}

/// The payload of a DSSE envelope signed under one of `keys` (the flag that
/// gives them is named when there are none). The keyid in `Signed::By` is
/// the key that verified, not the envelope's own (unsigned) hint.
pub fn open_signed(
    bytes: &[u8],
    keys: &[VerifyingKey],
    allow_unsigned: bool,
    flag: &str,
) -> Result<(Vec<u8>, Signed), Refusal> {
    let envelope = Envelope::parse(bytes)?;
    let payload = envelope.payload()?;
    if envelope.signatures.is_empty() {
        return match allow_unsigned {
            true => Ok((payload, Signed::NotChecked)),
            false => Err(Refusal::new(
                "the statement is not signed (pass --allow-unsigned to accept that)",
            )),
        };
    }
    if keys.is_empty() {
        return match allow_unsigned {
            true => Ok((payload, Signed::NotChecked)),
            false => Err(Refusal::new(format!(
                "no public key to check the signature with: give {flag}"
            ))),
        };
    }
    match keys.iter().find(|key| envelope.signed_by(key, &payload)) {
        Some(key) => {
            let signed = Signed::By(key.keyid().into());
            Ok((payload, signed))
        }
        None => Err(Refusal::new(format!(
            "no signature on the statement verifies under the trusted public key ({})",
            keyids(keys)
        ))),
    }
}

fn check_types(statement: &Statement) -> Result<(), Refusal> {
    let build_type = &statement.predicate.build_definition.build_type;
    for (what, got, want) in [
        ("_type", &statement.statement_type, STATEMENT_TYPE),
        ("predicateType", &statement.predicate_type, PREDICATE_TYPE),
        ("buildType", build_type, BUILD_TYPE),
    ] {
        if got != want {
            return Err(Refusal::new(format!(
                "the statement's {what} is {got:?}, not {want:?}"
            )));
        }
    }
    Ok(())
}

fn check_pins(statement: &Statement, pins: &Pins) -> Result<(), Refusal> {
    let external = statement.external();
    let checks = [
        (
            "builder id",
            &pins.builder_id,
            Some(statement.predicate.run_details.builder.id.as_str()),
        ),
        (
            "repository",
            &pins.repository,
            external.repository.as_deref(),
        ),
        ("commit", &pins.commit, statement.commit()),
        ("stage", &pins.stage, Some(external.dev_stage.as_str())),
    ];
    for (what, pin, got) in checks {
        let Some(pin) = pin else { continue };
        if got != Some(pin.as_str()) {
            return Err(Refusal::new(match got {
                Some(got) => format!("the statement's {what} is {got:?}, not the pinned {pin:?}"),
                None => format!("the statement names no {what}, and {pin:?} is pinned"),
            }));
        }
    }
    Ok(())
}

/// Checks that the object (its SHA-256, and its key when known) is the
/// statement's first subject, and that the subject is the object key the
/// statement's own names make.
pub fn check_object(
    statement: &Statement,
    object_sha256: &[u8; 32],
    object_key: Option<&str>,
) -> Result<(), Refusal> {
    let subject = statement
        .object()
        .ok_or_else(|| Refusal::new("the statement has no subject"))?;
    let name = subject.name.as_deref().unwrap_or_default();
    let external = statement.external();
    let expected_key = format!(
        "{}/{}-{}-{}.enc",
        external.dev_stage, external.resource_name, external.architecture, external.version
    );
    if name != expected_key {
        return Err(Refusal::new(format!(
            "the statement's subject is {name:?}, not the object key {expected_key:?} its parameters name"
        )));
    }
    if let Some(key) = object_key
        && key != name
    {
        return Err(Refusal::new(format!(
            "the statement is about {name:?}, not {key:?}"
        )));
    }
    let actual = hex::encode(object_sha256);
    match subject.digest.get("sha256") {
        Some(recorded) if *recorded == actual => Ok(()),
        Some(recorded) => Err(Refusal::new(format!(
            "the object's SHA-256 is {actual}, but the statement's subject {name} has {recorded}"
        ))),
        None => Err(Refusal::new(format!(
            "the statement's subject {name} has no sha256 digest"
        ))),
    }
}

/// What a provenance statement attests of its object: what promotion
/// carries to the next stage and checks the copy against.
#[derive(Debug)]
pub struct AttestedObject {
    pub name: String,
    pub sha256: [u8; 32],
    pub size: u64,
    /// HMAC-SHA256 of the object digest under the data key
    /// (`statement::key_commitment`); what promotion checks the unwrapped
    /// key against, so only promotion requires it.
    pub key_commitment: Option<[u8; 32]>,
    /// The promotion key the data key was wrapped to, when it was.
    pub key_wrap_public_key_sha256: Option<String>,
}

/// The object subject's name, digest, size and key commitment.
pub fn attested_object(statement: &Statement) -> Result<AttestedObject, Refusal> {
    let subject = statement
        .object()
        .ok_or_else(|| Refusal::new("the statement has no subject"))?;
    let name = subject.name.clone().unwrap_or_default();
    let missing =
        |what: &str| Refusal::new(format!("the statement's subject {name} has no {what}"));
    let hex32 = |text: Option<&str>, what: &str| -> Result<[u8; 32], Refusal> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text.ok_or_else(|| missing(what))?, &mut bytes)
            .map_err(|_| Refusal::new(format!("the statement's {what} is not 64 hex digits")))?;
        Ok(bytes)
    };
    let annotations = &subject.annotations;
    Ok(AttestedObject {
        sha256: hex32(
            subject.digest.get("sha256").map(String::as_str),
            "sha256 digest",
        )?,
        size: annotations
            .get("size_bytes")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| missing("size_bytes"))?,
        key_commitment: annotations
            .get("key_commitment")
            .and_then(|c| c.get("value"))
            .and_then(serde_json::Value::as_str)
            .map(|value| hex32(Some(value), "key commitment"))
            .transpose()?,
        key_wrap_public_key_sha256: annotations
            .get(KEY_WRAP_ANNOTATION)
            .and_then(|wrap| wrap.get("public_key_sha256"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::dsse::Envelope;
    use crate::attest::keys::SigningKey;
    use crate::attest::keys::tests::key_pair_pem;

    fn statement_json(stage: &str) -> serde_json::Value {
        serde_json::json!({
            "_type": STATEMENT_TYPE,
            "subject": [{"name": format!("{stage}/a-arm64-1.enc"), "digest": {"sha256": "ab".repeat(32)}}],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "buildDefinition": {
                    "buildType": BUILD_TYPE,
                    "externalParameters": {"resource_name": "a", "dev_stage": stage,
                        "architecture": "arm64", "version": "1", "input": "f",
                        "repository": "https://git.example/r"},
                    "internalParameters": {"sealing_component_sha256": "00", "gzip_level": 6,
                        "tool_version": "0"},
                    "resolvedDependencies": [{"digest": {"gitCommit": "c0ffee"}}]
                },
                "runDetails": {"builder": {"id": "https://ci.example#linux/arm64"},
                    "metadata": {"startedOn": "2026-01-01T00:00:00Z", "finishedOn": "2026-01-01T00:00:01Z"}}
            }
        })
    }

    fn envelope(value: &serde_json::Value, signer: Option<&SigningKey>) -> Vec<u8> {
        serde_json::to_vec(&Envelope::new(&serde_json::to_vec(value).unwrap(), signer)).unwrap()
    }

    #[test]
    fn signature_pins_and_subject_are_each_checked() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let policy = |pins| Trust {
            keys: vec![VerifyingKey::from_pem(public.as_bytes()).unwrap()],
            summary_keys: vec![],
            allow_unsigned: false,
            pins,
        };
        let signed = envelope(&statement_json("dev"), Some(&signer));
        let (statement, by) = check_envelope(&signed, &policy(Pins::default())).unwrap();
        assert_eq!(by, Signed::By(signer.keyid().into()));
        check_object(&statement, &[0xab; 32], Some("dev/a-arm64-1.enc")).unwrap();
        assert!(check_object(&statement, &[0xac; 32], None).is_err());
        assert!(check_object(&statement, &[0xab; 32], Some("dev/b.enc")).is_err());

        let pinned = Pins {
            builder_id: Some("https://ci.example#linux/arm64".into()),
            repository: Some("https://git.example/r".into()),
            commit: Some("c0ffee".into()),
            stage: Some("dev".into()),
        };
        check_envelope(&signed, &policy(pinned)).unwrap();
        let wrong_stage = Pins {
            stage: Some("main".into()),
            ..Default::default()
        };
        let refusal = check_envelope(&signed, &policy(wrong_stage)).unwrap_err();
        assert!(refusal.to_string().contains("stage"), "{refusal}");
        let wrong_commit = Pins {
            commit: Some("bad".into()),
            ..Default::default()
        };
        assert!(check_envelope(&signed, &policy(wrong_commit)).is_err());

        let unsigned = envelope(&statement_json("dev"), None);
        assert!(check_envelope(&unsigned, &policy(Pins::default())).is_err());
        let lenient = Trust {
            allow_unsigned: true,
            ..policy(Pins::default())
        };
        assert_eq!(
            check_envelope(&unsigned, &lenient).unwrap().1,
            Signed::NotChecked
        );

        let mut other_type = statement_json("dev");
        other_type["predicateType"] = "https://slsa.dev/provenance/v0.2".into();
        let refusal = check_envelope(
            &envelope(&other_type, Some(&signer)),
            &policy(Pins::default()),
        );
        assert!(refusal.unwrap_err().to_string().contains("predicateType"));
    }
}
