//! Whom the tool trusts over TLS, decided here alone, and what it says when
//! a server's certificate is refused.
//!
//! Every HTTPS client the tool makes (the S3 client, the admin API's, the
//! one `fetch --url` downloads with) takes its roots from `Roots`, so that
//! one rule holds everywhere:
//! - the system's roots, as OpenSSL finds them: `SSL_CERT_FILE` or
//!   `SSL_CERT_DIR` when set (then only those), else the system store
//!   (rustls-native-certs reads both);
//! - for S3 also `AWS_CA_BUNDLE`, a PEM file of CA certificates, the AWS
//!   tools' variable: added to the roots above (the AWS CLI replaces its
//!   bundle with it; adding loses nothing a company CA needs and keeps a
//!   public endpoint working). It is read and checked with the rest of the
//!   environment, so a bad bundle stops the tool before anything is sent.
//!
//! A refused certificate becomes one sentence that says what is wrong with
//! it (`problem`), not the TLS stack's class name.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// The variable of the AWS tools naming a PEM bundle of CA certificates.
pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

/// CA certificates from `AWS_CA_BUNDLE`, read and parsed.
#[derive(Debug, Clone)]
pub struct CaBundle {
    path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl CaBundle {
    /// Reads the bundle at `path`: every certificate in it must be one a
    /// TLS client can take as a root, and there must be one at least (an
    /// empty file is a mistake, not "trust nothing more").
    pub fn read(path: &Path) -> Result<Self, String> {
        let what = format!("{CA_BUNDLE_VAR} names {}", path.display());
        let pem =
            std::fs::read(path).map_err(|err| format!("{what}, which cannot be read: {err}"))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| format!("{what}, which is not a PEM file of certificates: {err}"))?;
        if certs.is_empty() {
            return Err(format!("{what}, which holds no PEM certificate"));
        }
        for (index, cert) in certs.iter().enumerate() {
            RootCertStore::empty().add(cert.clone()).map_err(|err| {
                format!(
                    "{what}, whose certificate {} is not a CA certificate: {err}",
                    index + 1
                )
            })?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            certs,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The variables OpenSSL (and rustls-native-certs, which reads them) takes
/// the system's roots from instead of the system store.
const OPENSSL_VARS: [&str; 2] = ["SSL_CERT_FILE", "SSL_CERT_DIR"];

/// The system's roots, loaded once: `SSL_CERT_FILE`/`SSL_CERT_DIR` or the
/// system store. Certificates a TLS client cannot use as roots are left
/// out (a system store may hold some), as the AWS SDK's loader would panic
/// on them.
fn system() -> &'static [CertificateDer<'static>] {
    static SYSTEM: LazyLock<Vec<CertificateDer<'static>>> = LazyLock::new(|| {
        let given: Vec<&str> = OPENSSL_VARS
            .into_iter()
            .filter(|name| std::env::var_os(name).is_some())
            .collect();
        tracing::debug!("system CA certificates from {given:?} (the system store when empty)");
        let loaded = rustls_native_certs::load_native_certs();
        for err in &loaded.errors {
            tracing::warn!("a system CA certificate could not be loaded: {err}");
        }
        loaded
            .certs
            .into_iter()
            .filter(|cert| RootCertStore::empty().add(cert.clone()).is_ok())
            .collect()
    });
    &SYSTEM
}

/// The roots one client trusts.
#[derive(Clone)]
pub struct Roots {
    certs: Vec<CertificateDer<'static>>,
}

impl Roots {
    /// What every HTTPS client trusts: the system's roots.
    pub fn https() -> Self {
        Self {
            certs: system().to_vec(),
        }
    }

    /// What the S3 client trusts: the system's roots and `AWS_CA_BUNDLE`'s.
    pub fn s3(bundle: Option<&CaBundle>) -> Self {
        let mut roots = Self::https();
        roots
            .certs
            .extend(bundle.into_iter().flat_map(|b| b.certs.iter().cloned()));
        roots
    }

    /// A reqwest client trusting exactly these roots.
    pub fn reqwest(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let certs = self
            .certs
            .iter()
            .filter_map(|cert| reqwest::Certificate::from_der(cert).ok());
        builder.tls_certs_only(certs)
    }

    /// The AWS SDK's trust store holding exactly these roots (it takes PEM).
    pub fn smithy(&self) -> aws_smithy_http_client::tls::TrustStore {
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        let mut store = aws_smithy_http_client::tls::TrustStore::empty().with_native_roots(false);
        for cert in &self.certs {
            let body = engine.encode(cert.as_ref());
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(64)
                .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
                .collect();
            let pem = format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            );
            store.add_pem_certificate(pem.into_bytes());
        }
        store
    }

    fn client_config(&self) -> Result<rustls::ClientConfig, rustls::Error> {
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(self.certs.iter().cloned());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(store)
            .with_no_client_auth())
    }

    /// Opens a TLS connection to `url`'s host and closes it again, sending
    /// nothing over it: whether its certificate is trusted, learnt before
    /// anything is sealed. `Err` is a sentence naming the certificate
    /// problem; a server that cannot be reached at all is `Ok` (what the
    /// caller does later meets that with its own retries and deadlines).
    pub async fn check(&self, url: &reqwest::Url, deadline: Duration) -> Result<(), String> {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Ok(());
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let Ok(name) = ServerName::try_from(host.to_string()) else {
            return Ok(());
        };
        let config = self.client_config().map_err(|err| err.to_string())?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let handshake = async {
            let tcp = tokio::net::TcpStream::connect((host, port)).await?;
            connector.connect(name, tcp).await.map(drop)
        };
        match tokio::time::timeout(deadline, handshake).await {
            Ok(Err(err)) => match problem(&err) {
                Some(problem) => Err(problem),
                None => Ok(()),
            },
            Ok(Ok(())) | Err(_) => Ok(()),
        }
    }
}

/// The TLS problem somewhere in `err`'s chain of causes, as the end of a
/// sentence about an endpoint ("... https://s3:443: its certificate ..."),
/// or `None` when the failure was not about TLS.
pub fn problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    causes(err)
        .find_map(|cause| cause.downcast_ref::<rustls::Error>())
        .map(describe)
}

/// An error and its causes. The TLS stacks wrap rustls' error in one or two
/// `io::Error`s, whose `source()` skips what they wrap: look inside them.
fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |&err| {
        match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        }
    })
}

fn describe(err: &rustls::Error) -> String {
    let rustls::Error::InvalidCertificate(cert) = err else {
        return format!("the TLS handshake failed ({err})");
    };
    let add_ca = "if it is signed by a private CA, give its PEM file in SSL_CERT_FILE \
                  (or, for S3, AWS_CA_BUNDLE)";
    match cert {
        CertificateError::UnknownIssuer => {
            format!("its TLS certificate is not signed by a trusted CA (unknown issuer); {add_ca}")
        }
        CertificateError::NotValidForName => {
            "its TLS certificate is not valid for that host name".to_string()
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "its TLS certificate is not valid for the host name {} (it names {})",
            expected.to_str(),
            match presented.as_slice() {
                [] => "no host".to_string(),
                names => names
                    .iter()
                    .map(|name| presented_name(name))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        ),
        CertificateError::Expired => "its TLS certificate has expired".to_string(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("its TLS certificate expired on {}", date(*not_after))
        }
        CertificateError::NotValidYet => "its TLS certificate is not valid yet".to_string(),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!(
                "its TLS certificate is not valid before {}",
                date(*not_before)
            )
        }
        CertificateError::Revoked => "its TLS certificate has been revoked".to_string(),
        CertificateError::BadSignature => {
            "its TLS certificate's signature does not verify".to_string()
        }
        other => format!("its TLS certificate was refused ({other:?})"),
    }
}

/// rustls gives the names a certificate presents in their `Debug` form
/// (`DnsName("other.example")`, `IpAddress(127.0.0.1)`): the name alone.
fn presented_name(debug: &str) -> &str {
    debug
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map_or(debug, |inner| inner.trim_matches('"'))
}

fn date(time: UnixTime) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_secs(time.as_secs());
    crate::attest::statement::rfc3339(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_is_refused_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let err = CaBundle::read(&empty).unwrap_err();
        assert!(err.starts_with("AWS_CA_BUNDLE names "), "{err}");
        assert!(err.ends_with("which holds no PEM certificate"), "{err}");
        let missing = CaBundle::read(&dir.path().join("missing.pem")).unwrap_err();
        assert!(missing.contains("which cannot be read"), "{missing}");
    }

    #[test]
    fn a_refused_certificate_is_named_through_the_io_error_around_it() {
        let wrapped = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000)),
                not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
            }),
        );
        assert_eq!(
            problem(&wrapped).as_deref(),
            Some("its TLS certificate expired on 2023-11-14T22:13:20Z")
        );
        let unrelated = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(problem(&unrelated), None);
    }
}
