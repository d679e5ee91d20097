//! The admin API: one registration request per publish, retried only when
//! a retry can help.

use crate::config::AdminConfig;
use serde::Serialize;
use std::time::Duration;

const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Per-attempt limit, overridable for slow networks (and hanging tests).
const TIMEOUT_VAR: &str = "ADMIN_API_TIMEOUT_SECONDS";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The body of the contract: exactly these eight fields.
#[derive(Serialize)]
pub struct Registration<'a> {
    pub resource_name: &'a str,
    pub dev_stage: &'a str,
    pub architecture: &'a str,
    pub version: &'a str,
    pub cdn_url: &'a str,
    pub sha256: &'a str,
    /// 64 lowercase hex digits: the raw key. The only place it leaves us.
    pub encryption_key: &'a str,
    pub size_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("the admin API refused the registration: HTTP {status}{detail}")]
    Refused { status: u16, detail: String },
    #[error("the admin API failed {attempts} times; last: {last}")]
    GaveUp { attempts: u32, last: String },
    #[error("registration request failed: {0}")]
    Request(String),
}

pub fn client() -> anyhow::Result<reqwest::Client> {
    let timeout = std::env::var(TIMEOUT_VAR)
        .ok()
        .and_then(|value| value.parse::<f64>().ok())
        .filter(|seconds| *seconds > 0.0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .user_agent(concat!("publish-artifact/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Posts the registration; returns how many attempts it took. Connection
/// errors, timeouts and 5xx are retried with backoff; 4xx never is: the
/// same request would be refused again.
pub async fn register(
    client: &reqwest::Client,
    config: &AdminConfig,
    body: &Registration<'_>,
) -> Result<u32, RegistrationError> {
    let mut backoff = FIRST_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(&config.publish_url)
            .bearer_auth(config.token.expose())
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
                });
            }
            Ok(response) => last = format!("HTTP {}", response.status()),
            Err(err) if err.is_connect() || err.is_timeout() || err.is_request() => {
                last = describe(&err);
            }
            Err(err) => return Err(RegistrationError::Request(describe(&err))),
        }
        if attempt < ATTEMPTS {
            tracing::warn!(
                "registration attempt {attempt} failed ({last}); retrying in {backoff:?}"
            );
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Err(RegistrationError::GaveUp {
        attempts: ATTEMPTS,
        last,
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

fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
