//! The command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nguest: ",
    env!("WIT_PACKAGE"),
    ", sha256 ",
    env!("GUEST_SHA256"),
);

pub fn version_text() -> &'static str {
    VERSION
}

/// Publishing is the default command: `publish-artifact --file F
/// --resource-name N --dev-stage S --architecture A --version V`.
#[derive(Debug, Parser)]
#[command(
    name = "publish-artifact",
    about = "Seal a build artifact (gzip, AES-256-CBC, SHA-256) and publish it",
    long_about = "Seal a build artifact (gzip, AES-256-CBC, SHA-256) and publish it: \
                  with no subcommand, publishes (see `publish --help`).",
    // `--version` is the artifact's version here; `-V` prints ours.
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub publish: PublishArgs,
    /// Print the tool's version, the guest's WIT package and its SHA-256.
    #[arg(short = 'V', action = clap::ArgAction::SetTrue)]
    pub print_version: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seal a file and publish it: S3 object plus admin API registration (the default).
    Publish(PublishArgs),
    /// Seal a file locally, offline: the object, its key file and a JSON summary.
    Seal(SealArgs),
    /// Open a sealed object: check its SHA-256, decrypt and gunzip it.
    Open(OpenArgs),
    /// Download a published object (by URL or object key), verify it and write the plaintext.
    Fetch(FetchArgs),
    /// Check a sealed object (SHA-256, decryption, gzip) without writing the plaintext.
    Verify(VerifyArgs),
    /// Promote a published object to the next stage (dev -> stage -> main): verified,
    /// copied server-side and registered; never rebuilt or re-sealed.
    Promote(PromoteArgs),
    /// Provenance: check an object against its signed statement.
    #[command(subcommand)]
    Attest(AttestCommand),
    /// Image tarballs: check one is the image a registry digest names.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Write the SBOM of an image tarball or a model file (CycloneDX or SPDX JSON), offline.
    Sbom(SbomArgs),
    /// Abort incomplete multipart uploads left by a killed publish (kill -9, power cut).
    // clap's usage line in an error repeats the flags given as if they were
    // required (`... --older-than <AGE> --dry-run`); this one says what is.
    #[command(
        override_usage = "publish-artifact cleanup --prefix <PREFIX> --older-than <AGE> [--dry-run]"
    )]
    Cleanup(CleanupArgs),
    /// Run known-answer tests through the embedded sealing component.
    Selftest,
    /// The embedded sealing component itself.
    #[command(subcommand)]
    Guest(GuestCommand),
}

#[derive(Debug, Subcommand)]
pub enum GuestCommand {
    /// Write the exact embedded component (the bytes every test runs) and print its SHA-256.
    Export {
        /// Where the component goes (a `.wasm` file).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

/// The contract's five flags. In a Woodpecker plugin step each also comes
/// from its `PLUGIN_*` variable (`settings:`); a flag given wins.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The artifact to publish (a `docker save` tarball, a model, ...).
    #[arg(long, value_name = "PATH", env = "PLUGIN_FILE")]
    pub file: Option<PathBuf>,
    /// Resource name, e.g. `loader`.
    #[arg(long, value_name = "NAME", env = "PLUGIN_RESOURCE_NAME")]
    pub resource_name: Option<String>,
    /// Stage, e.g. `dev`, `stage` or `main`.
    #[arg(long, value_name = "STAGE", env = "PLUGIN_DEV_STAGE")]
    pub dev_stage: Option<String>,
    /// Architecture, e.g. `arm64`.
    #[arg(long, value_name = "ARCH", env = "PLUGIN_ARCHITECTURE")]
    pub architecture: Option<String>,
    /// The artifact's version, e.g. `2026-04-15`. Alone, `--version` prints the tool's.
    #[arg(long, value_name = "VERSION", env = "PLUGIN_VERSION", num_args = 0..=1)]
    pub version: Option<Option<String>>,
    /// Print a JSON receipt on stdout (never holds the key).
    #[arg(long, env = "PLUGIN_JSON", value_parser = clap::builder::FalseyValueParser::new())]
    pub json: bool,
    /// Show progress even when stderr is not a terminal (plain lines every 5 s or 10%).
    #[arg(long)]
    pub progress: bool,
    /// Publish even if this version is already published, replacing its object. The old
    /// object is kept aside until the new row is registered, and restored if that fails.
    #[arg(long, env = "PLUGIN_REPLACE", value_parser = clap::builder::FalseyValueParser::new())]
    pub replace: bool,
    #[command(flatten)]
    pub tuning: Tuning,
    #[command(flatten)]
    pub provenance: ProvenanceArgs,
}

impl PublishArgs {
    /// `--version` with no value and nothing else: a request for our version.
    pub fn asks_for_version(&self) -> bool {
        matches!(self.version, Some(None))
            && self.file.is_none()
            && self.resource_name.is_none()
            && self.dev_stage.is_none()
            && self.architecture.is_none()
    }
}

/// Provenance and image binding for `publish` (see docs/provenance.md). The
/// signing key comes from ATTESTATION_SIGNING_KEY or ATTESTATION_SIGNING_KEY_FILE.
#[derive(Debug, Args)]
pub struct ProvenanceArgs {
    /// The pushed image the input tarball must be: `REPO[:TAG]@sha256:<hex>` (with --image-manifest).
    #[arg(
        long,
        value_name = "REF",
        env = "PLUGIN_IMAGE_REF",
        requires = "image_manifest"
    )]
    pub image_ref: Option<String>,
    /// The registry's raw manifest for --image-ref (`skopeo inspect --raw`); for an index,
    /// the platform's manifest too (repeat the flag).
    #[arg(
        long,
        value_name = "FILE",
        env = "PLUGIN_IMAGE_MANIFEST",
        value_delimiter = ',',
        requires = "image_ref"
    )]
    pub image_manifest: Vec<PathBuf>,
    /// The provenance's builder id [default: CI_SYSTEM_URL#<platform> in CI, else a local id].
    #[arg(long, value_name = "URI", env = "PLUGIN_BUILDER_ID")]
    pub builder_id: Option<String>,
    /// Publish the input's SBOMs beside the object (CycloneDX and SPDX, each with a signed
    /// statement), made in the one read of the input: an image's packages, a model's ML-BOM.
    #[arg(
        long,
        value_name = "on|off",
        env = "PLUGIN_SBOM",
        default_value = "on",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::Set
    )]
    pub sbom: bool,
}

/// What `promote` moves and the policy it checks (see docs/promotion.md).
/// Each flag also comes from its `PLUGIN_*` variable (Woodpecker `settings:`).
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Resource name, e.g. `loader`.
    #[arg(long, value_name = "NAME", env = "PLUGIN_RESOURCE_NAME")]
    pub resource_name: String,
    /// Architecture, e.g. `arm64`.
    #[arg(long, value_name = "ARCH", env = "PLUGIN_ARCHITECTURE")]
    pub architecture: String,
    /// The published version, e.g. `7-0123456789ab`.
    #[arg(long, value_name = "VERSION", env = "PLUGIN_VERSION")]
    pub version: String,
    /// The stage to promote to, e.g. `stage` or `main`.
    #[arg(long, value_name = "STAGE", env = "PLUGIN_TO")]
    pub to: String,
    /// The stage to promote from [default: the stage before --to in --stages].
    #[arg(long, value_name = "STAGE", env = "PLUGIN_FROM")]
    pub from: Option<String>,
    /// The promotion order: an object moves forward along it, one or more stages at a time.
    #[arg(
        long,
        value_name = "STAGES",
        env = "PLUGIN_STAGES",
        value_delimiter = ',',
        default_value = "dev,stage,main"
    )]
    pub stages: Vec<String>,
    /// Target stages that only take an object the stage before validated: its --from copy
    /// must carry a verification summary (a promoted copy, not the published one).
    #[arg(
        long,
        value_name = "STAGES",
        env = "PLUGIN_REQUIRE_VSA_FOR",
        value_delimiter = ',',
        default_value = "main"
    )]
    pub require_vsa_for: Vec<String>,
    /// Refuse a source published without its SBOMs (CycloneDX and SPDX, each signed).
    #[arg(long, env = "PLUGIN_REQUIRE_SBOM", value_parser = clap::builder::FalseyValueParser::new())]
    pub require_sbom: bool,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Promote even if the version is already at --to, replacing it (restored on failure).
    #[arg(long, env = "PLUGIN_REPLACE", value_parser = clap::builder::FalseyValueParser::new())]
    pub replace: bool,
    /// Run every check, copy and register nothing.
    #[arg(long, env = "PLUGIN_DRY_RUN", value_parser = clap::builder::FalseyValueParser::new())]
    pub dry_run: bool,
    /// Print a JSON receipt on stdout (never holds the key).
    #[arg(long, env = "PLUGIN_JSON", value_parser = clap::builder::FalseyValueParser::new())]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The model file (or any file that is not an image) to describe.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = SbomFormat::CyclonedxJson)]
    pub format: SbomFormat,
    /// Where the document goes (written whole or not at all) [default: stdout].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// A CycloneDX `modelCard` object (JSON) to put in a model's ML-BOM.
    #[arg(long, value_name = "PATH")]
    pub model_card: Option<PathBuf>,
    /// Who supplies the subject (the documents' supplier), e.g. the team or the repository.
    #[arg(long, value_name = "NAME")]
    pub supplier: Option<String>,
    /// The model's version.
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// The model's resource name, architecture and stage, recorded as properties.
    #[arg(long, value_name = "NAME")]
    pub resource_name: Option<String>,
    #[arg(long, value_name = "ARCH")]
    pub architecture: Option<String>,
    #[arg(long, value_name = "STAGE")]
    pub dev_stage: Option<String>,
}

/// The SBOM formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON.
    CyclonedxJson,
    /// SPDX 2.3 JSON.
    SpdxJson,
}

/// The key is either fresh (`--key-out`) or reused (`--key-file` with
/// `--iv`): exactly one of the two, so the usage line shows it as required.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("key").required(true).args(["key_out", "key_file"])))]
pub struct SealArgs {
    /// The file to seal.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// Where the sealed object goes (written whole or not at all). An existing file is
    /// refused (its key would no longer open anything), unless --force.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    /// New file for the fresh key, as 64 hex digits (mode 0600, never overwritten).
    #[arg(long, value_name = "PATH")]
    pub key_out: Option<PathBuf>,
    /// Reuse the key in this file instead of a fresh one, with --iv: makes the
    /// output reproducible, for comparing hosts. Never publish with a reused key.
    #[arg(long, value_name = "PATH", requires = "iv")]
    pub key_file: Option<PathBuf>,
    /// The IV (32 hex digits) to go with --key-file.
    #[arg(long, value_name = "HEX", requires = "key_file", value_parser = parse_iv)]
    pub iv: Option<[u8; 16]>,
    /// Also write the input's SBOMs, made in the same read, beside --out: `OUT.cdx.json`
    /// (CycloneDX 1.6) and `OUT.spdx.json` (SPDX 2.3).
    #[arg(
        long,
        value_name = "on|off",
        default_value = "off",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::Set
    )]
    pub sbom: bool,
    #[command(flatten)]
    pub tuning: Tuning,
}

#[derive(Debug, Args)]
pub struct Tuning {
    /// gzip level: 0 (store) to 9 (smallest).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub level: u8,
    /// Compression threads [default: the number of CPUs]. The output does not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

impl Tuning {
    pub fn threads(&self) -> usize {
        self.threads.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        })
    }
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The sealed object.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    #[command(flatten)]
    pub key: KeySource,
    /// The object's expected SHA-256 (64 hex digits).
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub sha256: [u8; 32],
    /// Where the plaintext goes; it appears only once every check passed.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

/// Where `open`, `fetch` and `verify` take the data key from. Never from a
/// flag's value: argv is visible to every user of the machine.
#[derive(Debug, Args)]
pub struct KeySource {
    /// The key file (64 hex digits); without it the key comes from PUBLISH_ARTIFACT_KEY.
    /// A key file that is missing, unreadable or holds no key is exit 3; no key at all,
    /// or a PUBLISH_ARTIFACT_KEY that is not 64 hex digits, exit 2.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

/// Where `fetch` downloads from: exactly one of the two.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct FetchSource {
    /// The object's URL, e.g. the registered cdn_url (plain HTTP(S) GET).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The object's key in the bucket of S3_ENDPOINT/S3_BUCKET (credentials from the environment).
    #[arg(long, value_name = "KEY")]
    pub object_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub source: FetchSource,
    /// The registered SHA-256 of the object (64 hex digits).
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub sha256: [u8; 32],
    #[command(flatten)]
    pub key: KeySource,
    /// Where the plaintext goes; it appears only once every check passed.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Show progress even when stderr is not a terminal (plain lines every 5 s or 10%).
    #[arg(long)]
    pub progress: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The sealed object.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// The object's expected SHA-256 (64 hex digits).
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub sha256: [u8; 32],
    #[command(flatten)]
    pub key: KeySource,
    /// Also compare the plaintext with this original, byte for byte.
    #[arg(long, value_name = "PATH")]
    pub against: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AttestCommand {
    /// Check an object against its provenance: the envelope's signature, the
    /// statement's types, the pins, and the object's SHA-256 (exit 9 on refusal).
    Verify(AttestVerifyArgs),
}

/// The object whose provenance is checked: exactly one of the three.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ObjectSource {
    /// The object as a local file.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The object's key in the bucket of S3_ENDPOINT/S3_BUCKET (credentials from the environment).
    #[arg(long, value_name = "KEY")]
    pub object_key: Option<String>,
    /// The object's URL, e.g. the registered cdn_url.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct AttestVerifyArgs {
    #[command(flatten)]
    pub object: ObjectSource,
    /// The DSSE envelope [default: the object's name plus `.intoto.json`, beside
    /// the file, in the bucket or at the URL].
    #[arg(long, value_name = "PATH")]
    pub statement: Option<PathBuf>,
    /// The verification summary of a promoted object [default: the object's name plus
    /// `.vsa.intoto.json`, looked for when the statement names another object key].
    #[arg(long, value_name = "PATH")]
    pub vsa: Option<PathBuf>,
    /// The signer's ECDSA P-256 public key (PEM). Required unless --allow-unsigned.
    #[arg(long, value_name = "PEM")]
    pub public_key: Option<PathBuf>,
    /// Accept a statement without signatures (and, without --public-key, skip the signature check).
    #[arg(long)]
    pub allow_unsigned: bool,
    #[command(flatten)]
    pub pins: PinArgs,
    /// Require this stage (externalParameters.dev_stage).
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Require the object's SBOMs beside it (CycloneDX and SPDX, each with its signed
    /// statement); without it, those present are checked.
    #[arg(long)]
    pub require_sbom: bool,
}

/// Values the provenance must hold exactly, for `attest verify` and `promote`
/// (each also from its `PLUGIN_*` variable in a plugin step).
#[derive(Debug, Args)]
pub struct PinArgs {
    /// Require this builder id in the provenance (runDetails.builder.id).
    #[arg(long, value_name = "URI", env = "PLUGIN_BUILDER_ID")]
    pub builder_id: Option<String>,
    /// Require this repository in the provenance (externalParameters.repository).
    #[arg(long, value_name = "URL", env = "PLUGIN_REPOSITORY")]
    pub repository: Option<String>,
    /// Require this git commit in the provenance (the resolved dependency's gitCommit), e.g.
    /// `$CI_COMMIT_SHA`.
    #[arg(long, value_name = "SHA", env = "PLUGIN_COMMIT")]
    pub commit: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Check that a docker-archive tarball is the image REPO@sha256:D names,
    /// before `docker load` (exit 9 when it is not).
    Verify(ImageVerifyArgs),
}

#[derive(Debug, Args)]
pub struct ImageVerifyArgs {
    /// The tarball (`docker save`, or skopeo's `docker-archive:`).
    #[arg(long, value_name = "PATH")]
    pub archive: PathBuf,
    /// The pushed image, by digest: `REPO[:TAG]@sha256:<hex>`.
    #[arg(long, value_name = "REF")]
    pub image_ref: String,
    /// The raw manifest bytes from the registry (`skopeo inspect --raw`); for an
    /// index, give the platform's manifest too (a second --image-manifest).
    #[arg(long, value_name = "FILE", required = true)]
    pub image_manifest: Vec<PathBuf>,
    /// The tag RepoTags must hold [default: the tag in --image-ref, else any tag of REPO].
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// The architecture the image must be for (arm64, amd64, ...); picks an index's entry.
    #[arg(long, value_name = "ARCH")]
    pub architecture: Option<String>,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Only uploads whose object key starts with this, e.g. `dev/` (the bucket and
    /// credentials come from the S3_* environment).
    #[arg(long, value_name = "PREFIX")]
    pub prefix: String,
    /// Only uploads started at least this long ago: `90s`, `30m`, `24h`, `7d`, `0s` for all.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub older_than: std::time::Duration,
    /// List what would be aborted; abort nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `90s`, `30m`, `24h`, `7d`: a whole number and one unit.
pub fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&at| at > 0)
        .ok_or_else(|| format!("`{text}` is not an age like 90s, 30m, 24h or 7d"))?;
    let (number, unit) = text.split_at(unit_at);
    let seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("`{text}`: the unit is one of s, m, h, d")),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is too large"))?;
    number
        .checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn parse_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    let mut bytes = [0; N];
    if text.len() != 2 * N {
        return Err(format!(
            "{what} is {} hex digits, not {}",
            2 * N,
            text.len()
        ));
    }
    hex::decode_to_slice(text, &mut bytes).map_err(|_| format!("{what} is hex digits only"))?;
    Ok(bytes)
}

pub fn parse_sha256(text: &str) -> Result<[u8; 32], String> {
    parse_hex(text, "a SHA-256")
}

fn parse_iv(text: &str) -> Result<[u8; 16], String> {
    parse_hex(text, "an IV")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ages_take_one_unit() {
        assert_eq!(parse_age("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86400)));
        for bad in [
            "",
            "h",
            "24",
            "24 h",
            "1.5h",
            "-1h",
            "24hours",
            "99999999999999999999d",
        ] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
