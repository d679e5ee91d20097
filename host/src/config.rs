//! The publish configuration: the contract's environment and the names that
//! form the object key, all checked before any byte is read or sent.

use std::fmt;
use zeroize::Zeroizing;

/// Where the object and its row go when a variable is not set.
pub const DEFAULT_PUBLISH_PATH: &str = "internal/resources/publish";
pub const DEFAULT_REGION: &str = "us-east-1";
/// Longest accepted name; keeps the object key well inside S3's 1024 bytes.
pub const MAX_NAME_LENGTH: usize = 128;

/// A secret from the environment: no `Display`, a redacting `Debug`, wiped
/// on drop. Reading it takes a deliberate `expose()`.
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug)]
pub struct S3Config {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: Secret,
    pub bucket: String,
    pub region: String,
    /// `AWS_CA_BUNDLE`'s CA certificates, trusted beside the system's.
    pub ca_bundle: Option<crate::trust::CaBundle>,
}

#[derive(Debug)]
pub struct AdminConfig {
    /// The full registration URL: `ADMIN_API_URL` joined with the path.
    pub publish_url: String,
    pub token: Secret,
}

#[derive(Debug)]
pub struct Environment {
    pub s3: S3Config,
    pub admin: AdminConfig,
    pub cdn_base_url: Option<String>,
}

const S3_REQUIRED: [&str; 4] = ["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET"];
const ADMIN_REQUIRED: [&str; 2] = ["ADMIN_API_URL", "ADMIN_API_TOKEN"];

/// Fails naming every variable of `names` that is not set.
fn require(lookup: &impl Fn(&str) -> Option<String>, names: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| lookup(name).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "missing required environment variable{}: {} (see the README's environment table)",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", ")
    ))
}

impl S3Config {
    /// The S3 part of the environment alone (what `fetch --object-key` needs).
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        require(&lookup, &S3_REQUIRED)?;
        let get = |name: &str| lookup(name).expect("checked above");
        let bucket = get("S3_BUCKET");
        if bucket.contains('/') {
            return Err("S3_BUCKET is a bucket name, not a path: it cannot contain '/'".into());
        }
        Ok(Self {
            endpoint: http_url("S3_ENDPOINT", get("S3_ENDPOINT"))?,
            access_key: get("S3_ACCESS_KEY"),
            secret_key: Secret::new(get("S3_SECRET_KEY")),
            bucket,
            region: lookup("S3_REGION").unwrap_or_else(|| DEFAULT_REGION.into()),
            ca_bundle: lookup(crate::trust::CA_BUNDLE_VAR)
                .map(|path| crate::trust::CaBundle::read(std::path::Path::new(&path)))
                .transpose()?,
        })
    }
}

/// Reads a variable of the contract. In a Woodpecker plugin step the
/// settings arrive as `PLUGIN_<NAME>`, so that spelling is read too; the
/// plain name wins. Empty counts as unset.
pub fn lookup(name: &str) -> Option<String> {
    [name.to_string(), format!("PLUGIN_{name}")]
        .iter()
        .filter_map(|key| std::env::var(key).ok())
        .find(|value| !value.is_empty())
}

impl Environment {
    /// Reads and checks the whole environment, naming every problem at once.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        require(&lookup, &[S3_REQUIRED.as_slice(), &ADMIN_REQUIRED].concat())?;
        let get = |name: &str| lookup(name).expect("checked above");
        let admin_url = http_url("ADMIN_API_URL", get("ADMIN_API_URL"))?;
        let cdn_base_url = lookup("CDN_PUBLIC_BASE_URL")
            .map(|url| http_url("CDN_PUBLIC_BASE_URL", url))
            .transpose()?;
        let path = lookup("ADMIN_API_PUBLISH_PATH").unwrap_or_else(|| DEFAULT_PUBLISH_PATH.into());
        Ok(Self {
            s3: S3Config::load(&lookup)?,
            admin: AdminConfig {
                publish_url: join(&admin_url, &path),
                token: Secret::new(get("ADMIN_API_TOKEN")),
            },
            cdn_base_url,
        })
    }

    /// `cdn_url` of the contract: under `CDN_PUBLIC_BASE_URL` when set,
    /// otherwise the path-style S3 URL.
    pub fn cdn_url(&self, object_key: &str) -> String {
        match &self.cdn_base_url {
            Some(base) => join(base, object_key),
            None => join(&join(&self.s3.endpoint, &self.s3.bucket), object_key),
        }
    }

    /// A note for the summary when `cdn_url` fell back to the S3 path: a
    /// private bucket (Garage's, most S3's) refuses it to a plain GET, so
    /// a loader fetching the row's cdn_url would get a 403.
    pub fn cdn_url_note(&self, cdn_url: &str) -> Option<String> {
        self.cdn_base_url.is_none().then(|| {
            format!(
                "note: CDN_PUBLIC_BASE_URL is unset, so the cdn_url {cdn_url} is the bucket's S3 \
                 path, which only a public bucket serves: set CDN_PUBLIC_BASE_URL to a public \
                 base, or fetch with --object-key and the S3_* credentials",
                cdn_url = crate::redact::url(cdn_url)
            )
        })
    }
}

/// Joins with exactly one `/`, whatever slashes either side brings.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Checks that a URL variable is an http(s) URL. The message names the
/// variable but does not repeat the value, which may carry credentials.
fn http_url(name: &str, value: String) -> Result<String, String> {
    match reqwest::Url::parse(&value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(value),
        _ => Err(format!("{name} must be an http:// or https:// URL")),
    }
}

/// The four names that form the object key and the registration row, in
/// the row's order (`admin::Registration` flattens them).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Names {
    pub resource_name: String,
    pub dev_stage: String,
    pub architecture: String,
    pub version: String,
}

impl Names {
    /// Checks every name: 1 to 128 characters of `A-Z a-z 0-9 . _ -`, and no
    /// `..`, so a name can never climb out of or into another key prefix.
    /// Built by field (`Names { version, .. }.checked()`), so no two names
    /// can trade places; each problem names its flag.
    pub fn checked(self) -> Result<Self, String> {
        let problems: Vec<String> = [
            ("resource-name", &self.resource_name),
            ("dev-stage", &self.dev_stage),
            ("architecture", &self.architecture),
            ("version", &self.version),
        ]
        .into_iter()
        .filter_map(|(flag, value)| name_problem(value).map(|why| format!("--{flag} {why}")))
        .collect();
        match problems.is_empty() {
            true => Ok(self),
            false => Err(problems.join("; ")),
        }
    }

    /// The same version's names at another stage (a promotion's target).
    pub fn at_stage(&self, dev_stage: &str) -> Self {
        Self {
            dev_stage: dev_stage.to_string(),
            ..self.clone()
        }
    }

    /// `{dev_stage}/{resource_name}-{architecture}-{version}.enc`
    pub fn object_key(&self) -> String {
        format!(
            "{}/{}-{}-{}.enc",
            self.dev_stage, self.resource_name, self.architecture, self.version
        )
    }
}

fn name_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("is empty".into());
    }
    if value.len() > MAX_NAME_LENGTH {
        return Some(format!("is longer than {MAX_NAME_LENGTH} characters"));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "contains {bad:?}; names use only letters, digits, '.', '_' and '-'"
        ));
    }
    if value.contains("..") {
        return Some("contains '..'".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const FULL: [(&str, &str); 6] = [
        ("S3_ENDPOINT", "http://127.0.0.1:3900/"),
        ("S3_ACCESS_KEY", "GK1"),
        ("S3_SECRET_KEY", "s3cret"),
        ("S3_BUCKET", "artifacts"),
        ("ADMIN_API_URL", "https://admin.example/api/"),
        ("ADMIN_API_TOKEN", "t0ken"),
    ];

    #[test]
    fn names_every_missing_variable() {
        let err = Environment::load(env(&FULL[1..4])).unwrap_err();
        for name in ["S3_ENDPOINT", "ADMIN_API_URL", "ADMIN_API_TOKEN"] {
            assert!(err.contains(name), "{err}");
        }
        assert!(!err.contains("S3_BUCKET"));
    }

    #[test]
    fn urls_join_with_one_slash() {
        let e = Environment::load(env(&FULL)).unwrap();
        assert_eq!(
            e.admin.publish_url,
            "https://admin.example/api/internal/resources/publish"
        );
        assert_eq!(
            e.cdn_url("dev/x.enc"),
            "http://127.0.0.1:3900/artifacts/dev/x.enc"
        );
        let mut with_cdn = FULL.to_vec();
        with_cdn.push(("CDN_PUBLIC_BASE_URL", "https://cdn.example//"));
        with_cdn.push(("ADMIN_API_PUBLISH_PATH", "/v2/publish"));
        let e = Environment::load(env(&with_cdn)).unwrap();
        assert_eq!(e.cdn_url("dev/x.enc"), "https://cdn.example/dev/x.enc");
        assert_eq!(e.admin.publish_url, "https://admin.example/api/v2/publish");
    }

    #[test]
    fn only_the_s3_path_fallback_gets_a_note() {
        let e = Environment::load(env(&FULL)).unwrap();
        let note = e.cdn_url_note(&e.cdn_url("dev/x.enc")).unwrap();
        assert!(note.contains("CDN_PUBLIC_BASE_URL is unset"), "{note}");
        let mut with_cdn = FULL.to_vec();
        with_cdn.push(("CDN_PUBLIC_BASE_URL", "https://cdn.example"));
        let e = Environment::load(env(&with_cdn)).unwrap();
        assert_eq!(e.cdn_url_note(&e.cdn_url("dev/x.enc")), None);
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let e = Environment::load(env(&FULL)).unwrap();
        let debug = format!("{e:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("t0ken"),
            "{debug}"
        );
    }

    #[test]
    fn rejects_unsafe_names() {
        let ok = |v: &str| name_problem(v).is_none();
        assert!(ok("loader") && ok("2026-04-15") && ok("v1.2.3_rc-1"));
        for bad in [
            "",
            "a/b",
            "..",
            "a..b",
            "a b",
            "a\nb",
            "é",
            &"x".repeat(129),
        ] {
            assert!(!ok(bad), "{bad:?}");
        }
    }
}
