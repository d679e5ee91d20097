//! The admin API: one registration request per publish, retried only when
//! a retry can help, and safely: every attempt carries the same
//! `Idempotency-Key` (the IETF httpapi draft's header), so an admin API that
//! supports it can drop a duplicate of a request whose answer we lost. One
//! that ignores it loses nothing.

use crate::config::AdminConfig;
use crate::interrupt::{self, Interrupted};
use crate::secrets::Key;
use serde::Serialize;
use std::time::Duration;
use zeroize::Zeroizing;

const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Per-attempt limit, overridable for slow networks (and hanging tests).
const TIMEOUT_VAR: &str = "ADMIN_API_TIMEOUT_SECONDS";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The body of the contract: exactly these eight fields, in this order (the
/// four names first, flattened from `Names`).
#[derive(Serialize)]
pub struct Registration<'a> {
    #[serde(flatten)]
    names: &'a crate::config::Names,
    cdn_url: &'a str,
    sha256: String,
    /// 64 lowercase hex digits: the raw key. The only place it leaves us;
    /// wiped when the registration is dropped.
    #[serde(serialize_with = "as_str")]
    encryption_key: Zeroizing<String>,
    size_bytes: u64,
}

impl<'a> Registration<'a> {
    /// The row for the object at `cdn_url`, sealed with `key`: built here
    /// alone, so publish and promote cannot write it two ways.
    pub fn of(
        names: &'a crate::config::Names,
        cdn_url: &'a str,
        key: &Key,
        sha256: &[u8; 32],
        size_bytes: u64,
    ) -> Self {
        Self {
            names,
            cdn_url,
            sha256: hex::encode(sha256),
            encryption_key: key.to_hex(),
            size_bytes,
        }
    }
}

fn as_str<S: serde::Serializer>(
    text: &Zeroizing<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(text)
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("the admin API refused the registration: HTTP {status}{detail}")]
    Refused {
        status: u16,
        detail: String,
        /// An earlier attempt lost its answer: this refusal (a 409, say)
        /// may be of a duplicate of a row that exists.
        answer_lost: bool,
    },
    #[error("the admin API failed {attempts} times; last: {last}")]
    GaveUp {
        attempts: u32,
        last: String,
        /// Some attempt's request was sent and its answer never came: the
        /// row may exist.
        answer_lost: bool,
    },
    #[error("registration stopped by {signal} after {attempts} attempt(s); last: {last}")]
    Stopped {
        signal: String,
        attempts: u32,
        last: String,
        answer_lost: bool,
    },
    #[error("registration request failed: {0}")]
    Request(String),
}

impl RegistrationError {
    /// Whether the admin API may have stored the row although we saw no
    /// success: the request went out and no answer came back. Then the
    /// object must stay (a row without its object is what a loader cannot
    /// survive), and an operator decides.
    pub fn may_have_registered(&self) -> bool {
        match self {
            Self::Refused { answer_lost, .. }
            | Self::GaveUp { answer_lost, .. }
            | Self::Stopped { answer_lost, .. } => *answer_lost,
            Self::Request(_) => false,
        }
    }
}

/// A fresh `Idempotency-Key` value: 128 random bits, hex.
pub fn idempotency_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
    Ok(hex::encode(bytes))
}

fn attempt_timeout() -> Duration {
    std::env::var(TIMEOUT_VAR)
        .ok()
        .and_then(|value| value.parse::<f64>().ok())
        .filter(|seconds| *seconds > 0.0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64)
}

pub fn client() -> anyhow::Result<reqwest::Client> {
    let timeout = attempt_timeout();
    let builder = crate::trust::Roots::https().reqwest(reqwest::Client::builder());
    Ok(builder
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .user_agent(concat!("publish-artifact/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Before anything is sealed or copied: an admin API behind HTTPS whose
/// certificate we would refuse fails now (exit 5), not after the object is
/// in the bucket. Only a TLS handshake is made, no request is sent, so an
/// admin API that is down or slow now is left to the registration's own
/// retries and deadlines.
pub async fn check_trust(config: &AdminConfig) -> Result<(), crate::failure::Failure> {
    let Ok(url) = reqwest::Url::parse(&config.publish_url) else {
        return Ok(());
    };
    if url.scheme() != "https" {
        return Ok(());
    }
    let deadline = Duration::from_secs(10).min(attempt_timeout());
    crate::trust::Roots::https()
        .check(&url, deadline)
        .await
        .map_err(|problem| {
            crate::failure::Failure::new(
                crate::failure::Class::Registration,
                anyhow::anyhow!("cannot trust the admin API at {}: {problem}", origin(&url)),
            )
        })
}

/// `https://host:port` of a URL: the endpoint, without path or query.
fn origin(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
}

/// Posts the registration; returns how many attempts it took. Connection
/// errors, timeouts and 5xx are retried with backoff; 4xx (409 Conflict
/// too) never is: the same request would be refused again. After a signal
/// the attempt in flight is waited for (it decides what stays), but no new
/// one is started.
pub async fn register(
    client: &reqwest::Client,
    config: &AdminConfig,
    body: &Registration<'_>,
    idempotency_key: &str,
) -> Result<u32, RegistrationError> {
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    let mut answer_lost = false;
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(&config.publish_url)
            .bearer_auth(config.token.expose())
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => return Ok(attempt),
            Ok(response) if response.status().is_client_error() => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                return Err(RegistrationError::Refused {
                    status,
                    detail: detail(&text, config.token.expose()),
                    answer_lost,
                });
            }
            Ok(response) => last = format!("HTTP {}", response.status()),
            // The same certificate would be refused again: no retry.
            Err(err) if let Some(problem) = crate::trust::problem(&err) => {
                let endpoint = err.url().map_or_else(String::new, origin);
                return Err(RegistrationError::Request(format!(
                    "cannot trust the admin API at {endpoint}: {problem}"
                )));
            }
            Err(err) if err.is_connect() || err.is_timeout() || err.is_request() => {
                // A connection that never opened carried nothing; any other
                // failure may have lost the answer to a request that arrived.
                answer_lost |= !err.is_connect();
                last = describe(&err);
            }
            Err(err) => return Err(RegistrationError::Request(describe(&err))),
        }
        let stopped = |signal: Interrupted| RegistrationError::Stopped {
            signal: signal.name(),
            attempts: attempt,
            last: last.clone(),
            answer_lost,
        };
        if let Some(signal) = interrupt::received() {
            return Err(stopped(signal));
        }
        if attempt < ATTEMPTS {
            tracing::warn!(
                "registration attempt {attempt} failed ({last}); retrying in {backoff:?}"
            );
            if let Err(signal) = interrupt::guard(tokio::time::sleep(backoff)).await {
                return Err(stopped(signal));
            }
            backoff *= 2;
        }
    }
    Err(RegistrationError::GaveUp {
        attempts: ATTEMPTS,
        last,
        answer_lost,
    })
}

/// A short excerpt of an error body, with the token cut out should a
/// server echo the request back.
fn detail(body: &str, token: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let excerpt: String = body.chars().take(200).collect();
    format!(": {}", excerpt.replace(token, "<redacted>"))
}

/// The error and its causes; reqwest ends its message with the URL, which
/// is printed without its query's values (`crate::redact`).
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), &crate::redact::url(url.as_str()));
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
