//! One module per subcommand, plus what they share.

pub mod attest;
pub mod cleanup;
pub mod fetch;
pub mod guest;
pub mod image;
pub mod open;
pub mod promote;
pub mod publish;
pub mod sbom;
pub mod seal;
pub mod selftest;
pub mod verify;

use crate::failure::{Class, ClassExt, Failure};
use crate::interrupt::Checked;
use crate::sealing::input::StableInput;
use std::fs::File;
use std::path::Path;

/// Opens the input, with an error that says what is wrong with it.
pub fn open_input(path: &Path) -> Result<File, Failure> {
    let meta = std::fs::metadata(path)
        .with_context_path(path, "cannot read the input file")
        .class(Class::Input)?;
    if !meta.is_file() {
        return Err(Failure::new(
            Class::Input,
            anyhow::anyhow!("{} is not a regular file", path.display()),
        ));
    }
    File::open(path)
        .with_context_path(path, "cannot open the input file")
        .class(Class::Input)
}

/// The artifact to seal: read once, stopped by a signal, and checked not to
/// change while it is read (see `sealing::input`).
pub fn open_artifact(path: &Path) -> Result<Checked<StableInput>, Failure> {
    let file = open_input(path)?;
    StableInput::new(file, path.to_path_buf())
        .map(Checked)
        .with_context_path(path, "cannot read the input file")
        .class(Class::Input)
}

/// A file's name without its directory (CI paths say nothing), as the
/// provenance and the SBOMs name an input.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

trait PathContext<T> {
    fn with_context_path(self, path: &Path, what: &str) -> anyhow::Result<T>;
}

impl<T> PathContext<T> for std::io::Result<T> {
    fn with_context_path(self, path: &Path, what: &str) -> anyhow::Result<T> {
        self.map_err(|err| anyhow::anyhow!("{what} {}: {err}", path.display()))
    }
}

pub use crate::failure::usage;

/// A refusal of provenance or a binding: exit 9.
pub fn refused(refusal: crate::attest::Refusal) -> Failure {
    Failure::new(Class::Attestation, refusal)
}

/// The exit an untrusted object gets: 9 for a refusal, 6 for an object
/// that is not the attested one, the read's own for a file not read.
pub fn denied(denial: crate::attest::policy::Denial<Failure>) -> Failure {
    use crate::attest::policy::Denial;
    match denial {
        Denial::Refused(refusal) => refused(refusal),
        Denial::NotTheObject(sentence) => Failure::new(Class::Integrity, anyhow::anyhow!(sentence)),
        Denial::Unreadable(failure) => failure,
    }
}

/// `1234567` -> `1.2 MiB`, for human summaries.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// MiB per second, for human summaries and receipts.
pub fn mib_per_second(bytes: u64, elapsed: std::time::Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64().max(1e-9)
}

/// What `open`, `fetch` and `verify` print on stdout once every check
/// passed.
#[derive(serde::Serialize)]
pub struct OpenedSummary {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<std::path::PathBuf>,
    pub plaintext_sha256: String,
    pub plaintext_size_bytes: u64,
    pub sha256: String,
    pub size_bytes: u64,
    pub seconds: f64,
}

/// Opens the object read from `input` into `sink`, hashing the plaintext.
/// A bad object is an integrity failure; trouble reading it is
/// `read_class` (input for files, storage for downloads).
pub fn open_object(
    input: &mut (dyn std::io::Read + Send),
    source: String,
    key: &crate::secrets::Key,
    sha256: &[u8; 32],
    read_class: Class,
    progress: &std::sync::atomic::AtomicU64,
    sink: &mut crate::sealing::pipeline::Sink<'_>,
) -> Result<OpenedSummary, Failure> {
    use sha2::Digest;
    let runtime = crate::sealing::runtime::Runtime::load().class(Class::Internal)?;
    let mut plaintext_hash = sha2::Sha256::new();
    // A signal stops the read, and the pipeline with it; the caller's
    // output is then never committed.
    let mut input = Checked(input);
    let report =
        crate::sealing::opening::open(&runtime, &mut input, key, sha256, progress, &mut |bytes| {
            plaintext_hash.update(bytes);
            sink(bytes)
        })
        .map_err(|err| {
            let class = match &err {
                crate::sealing::pipeline::PipelineError::Input(_) => read_class,
                other => crate::failure::pipeline_class(other, Class::Integrity, Class::Output),
            };
            Failure::new(
                class,
                anyhow::Error::new(err).context(format!("cannot open {source}")),
            )
        })?;
    Ok(OpenedSummary {
        source,
        plaintext: None,
        plaintext_sha256: hex::encode(plaintext_hash.finalize()),
        plaintext_size_bytes: report.plaintext_length,
        sha256: hex::encode(sha256),
        size_bytes: report.object_length,
        seconds: report.elapsed.as_secs_f64(),
    })
}

/// Where a download comes from: `--url` (plain HTTP(S) GET) or
/// `--object-key` (S3, credentials from the environment); clap makes sure
/// exactly one is given.
pub fn download_source(
    url: Option<&str>,
    object_key: Option<&str>,
    tokio: &tokio::runtime::Runtime,
) -> Result<crate::store::download::Source, Failure> {
    use crate::store::download::Source;
    match (url, object_key) {
        (Some(url), _) => {
            reqwest::Url::parse(url)
                .map_err(|err| {
                    let url = crate::redact::url(url);
                    anyhow::anyhow!("--url {url:?} is not a URL: {err}")
                })
                .class(Class::Usage)?;
            let client = reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .read_timeout(std::time::Duration::from_secs(60))
                .build()
                .class(Class::Internal)?;
            Ok(Source::Http {
                client,
                url: url.to_string(),
            })
        }
        (None, Some(object_key)) => {
            let s3 = crate::config::S3Config::load(crate::config::lookup)
                .map_err(|err| Failure::new(Class::Usage, anyhow::anyhow!(err)))?;
            Ok(tokio.block_on(async { Source::s3(&s3, object_key) }))
        }
        (None, None) => unreachable!("clap requires --url or --object-key"),
    }
}

/// SHA-256 and length of everything `reader` gives, read streaming.
pub fn sha256_of(reader: &mut impl std::io::Read) -> std::io::Result<([u8; 32], u64)> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let length = std::io::copy(reader, &mut hasher)?;
    Ok((hasher.finalize().into(), length))
}

pub fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("plain data serializes")
    );
}
