//! S3: a client set up for S3-compatible servers, the bucket operations
//! the tool makes, every request attempt with a deadline, and errors turned
//! into sentences that name the likely cause.

use crate::config::S3Config;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    StalledStreamProtectionConfig,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Deadline of one attempt of a request without a large body (HEAD, create,
/// abort, list, delete), in seconds: a server that takes the request and
/// never answers must not hang the tool. Bodies get the time their bytes
/// take on top, completions and copies a longer deadline.
const TIMEOUT_VAR: &str = "PUBLISH_ARTIFACT_S3_TIMEOUT_SECONDS";
const DEFAULT_CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

fn control_attempt_timeout() -> Duration {
    static TIMEOUT: LazyLock<Duration> = LazyLock::new(|| {
        std::env::var(TIMEOUT_VAR)
            .ok()
            .and_then(|value| value.parse::<f64>().ok())
            .filter(|seconds| *seconds > 0.0 && seconds.is_finite())
            .map_or(DEFAULT_CONTROL_TIMEOUT, Duration::from_secs_f64)
    });
    *TIMEOUT
}
/// Completing a multipart upload or copying an object can take a server a
/// while for large objects (AWS answers with whitespace meanwhile).
fn long_attempt_timeout() -> Duration {
    10 * control_attempt_timeout()
}
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest object CopyObject takes; above it, a multipart copy.
const COPY_OBJECT_LIMIT: u64 = 5 << 30;
const COPY_PART_SIZE: u64 = 1 << 30;

/// The deadline of one attempt to upload `bytes`: the control deadline plus
/// the time the body takes at 64 KiB/s, the slowest link we wait for.
pub fn body_attempt_timeout(bytes: usize) -> Duration {
    control_attempt_timeout() + Duration::from_secs((bytes as u64).div_ceil(64 << 10))
}

/// A per-request override of the attempt deadline.
pub fn attempt_timeout(limit: Duration) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder().timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(limit)
            .build(),
    )
}

pub fn client(config: &S3Config) -> Client {
    let credentials = Credentials::new(
        &config.access_key,
        config.secret_key.expose(),
        None,
        None,
        "environment",
    );
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(credentials)
        .region(Region::new(config.region.clone()))
        .endpoint_url(&config.endpoint)
        // Self-hosted servers rarely have wildcard DNS for bucket hosts.
        .force_path_style(true)
        // Since 2025 the SDK sends and demands CRC checksums by default,
        // which Garage, MinIO and Ceph do not all understand.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(RetryConfig::standard().with_max_attempts(4))
        // A slow link is not a stalled one: allow a minute without progress
        // before giving up on a part.
        .stalled_stream_protection(
            StalledStreamProtectionConfig::enabled()
                .grace_period(Duration::from_secs(60))
                .build(),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(control_attempt_timeout())
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// What HEAD says of an object.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub size: u64,
    pub e_tag: Option<String>,
}

/// One bucket and the client that reaches it.
#[derive(Clone)]
pub struct Bucket {
    client: Client,
    name: Arc<str>,
    endpoint: Arc<str>,
}

impl Bucket {
    pub fn new(config: &S3Config) -> Self {
        Self {
            client: client(config),
            name: config.bucket.as_str().into(),
            endpoint: config.endpoint.as_str().into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Turns an SDK error into a sentence naming the cause.
    pub fn explain<E, R>(&self, err: SdkError<E, R>, action: &str) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        explain_parts(err, action, &self.endpoint, &self.name)
    }

    /// Asks for the bucket before anything is sealed, so that wrong
    /// credentials, a missing bucket or an unreachable endpoint fail fast
    /// and clearly.
    pub async fn preflight(&self) -> anyhow::Result<()> {
        self.client
            .head_bucket()
            .bucket(self.name())
            .send()
            .await
            .map(drop)
            .map_err(|err| self.explain(err, "checking the bucket"))
    }

    /// The object at `key`, or `None` if there is none.
    pub async fn head(&self, key: &str) -> anyhow::Result<Option<ObjectInfo>> {
        match self
            .client
            .head_object()
            .bucket(self.name())
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(ObjectInfo {
                size: head
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                e_tag: head.e_tag().map(str::to_string),
            })),
            Err(SdkError::ServiceError(service)) if service.raw().http_status() == 404 => Ok(None),
            Err(err) => Err(self.explain(err, &format!("looking for {key}"))),
        }
    }

    /// A small object (a sidecar) whole, or `None` if there is none. One
    /// larger than `limit` bytes is refused unread: it is not a sidecar.
    pub async fn get_small(&self, key: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
        let action = format!("reading {key}");
        let response = match self
            .client
            .get_object()
            .bucket(self.name())
            .key(key)
            .send()
            .await
        {
            Ok(response) => response,
            Err(SdkError::ServiceError(service)) if service.raw().http_status() == 404 => {
                return Ok(None);
            }
            Err(err) => return Err(self.explain(err, &action)),
        };
        let length = response.content_length().unwrap_or(0);
        if u64::try_from(length).unwrap_or(u64::MAX) > limit {
            anyhow::bail!("{action}: it is {length} bytes, more than the {limit} a sidecar may be");
        }
        // The body's read has the request's deadline only for its start: a
        // few KiB more get the control deadline of their own.
        let body = tokio::time::timeout(control_attempt_timeout(), response.body.collect())
            .await
            .map_err(|_| anyhow::anyhow!("{action}: the body did not arrive in time"))?
            .map_err(|err| anyhow::anyhow!("{action}: {err}"))?;
        Ok(Some(body.to_vec()))
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.client
            .delete_object()
            .bucket(self.name())
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(|err| self.explain(err, &format!("deleting {key}")))
    }

    /// Copies `from` to `to` inside the bucket, server-side: CopyObject up
    /// to 5 GiB, a multipart copy above (S3's limit for CopyObject). `size`
    /// is the source's, from HEAD.
    pub async fn copy(&self, from: &str, to: &str, size: u64) -> anyhow::Result<()> {
        // Keys are made of `A-Za-z0-9._-/` only (see config::Names), which
        // need no escaping in the copy source.
        let source = format!("{}/{from}", self.name());
        let action = format!("copying {from} to {to}");
        if size <= COPY_OBJECT_LIMIT {
            return self
                .client
                .copy_object()
                .bucket(self.name())
                .key(to)
                .copy_source(&source)
                .customize()
                .config_override(attempt_timeout(long_attempt_timeout()))
                .send()
                .await
                .map(drop)
                .map_err(|err| self.explain(err, &action));
        }
        let created = self
            .client
            .create_multipart_upload()
            .bucket(self.name())
            .key(to)
            .send()
            .await
            .map_err(|err| self.explain(err, &action))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| anyhow::anyhow!("{action}: S3 gave no upload id"))?
            .to_string();
        let copied = self
            .copy_parts(&source, to, &upload_id, size, &action)
            .await;
        let completed = match copied {
            Ok(parts) => self.complete(to, &upload_id, parts, false).await,
            Err(err) => Err(err),
        };
        if let Err(err) = &completed
            && let Err(abort_err) = self.abort(to, &upload_id).await
        {
            tracing::error!(
                "{err:#}; aborting the copy's upload {upload_id} failed too: {abort_err:#}"
            );
        }
        completed
    }

    async fn copy_parts(
        &self,
        source: &str,
        to: &str,
        upload_id: &str,
        size: u64,
        action: &str,
    ) -> anyhow::Result<Vec<CompletedPart>> {
        let mut parts = Vec::new();
        for (index, start) in (0..size).step_by(COPY_PART_SIZE as usize).enumerate() {
            let number = i32::try_from(index + 1)?;
            let end = (start + COPY_PART_SIZE).min(size) - 1;
            let copied = self
                .client
                .upload_part_copy()
                .bucket(self.name())
                .key(to)
                .upload_id(upload_id)
                .part_number(number)
                .copy_source(source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .customize()
                .config_override(attempt_timeout(long_attempt_timeout()))
                .send()
                .await
                .map_err(|err| self.explain(err, action))?;
            let e_tag = copied
                .copy_part_result()
                .and_then(|result| result.e_tag())
                .map(str::to_string);
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(e_tag)
                    .build(),
            );
        }
        Ok(parts)
    }

    /// Completes a multipart upload; with `if_absent`, only if no object
    /// exists at `key` yet (`If-None-Match: *`).
    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        if_absent: bool,
    ) -> anyhow::Result<()> {
        let mut request = self
            .client
            .complete_multipart_upload()
            .bucket(self.name())
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        if if_absent {
            request = request.if_none_match("*");
        }
        request
            .customize()
            .config_override(attempt_timeout(long_attempt_timeout()))
            .send()
            .await
            .map(drop)
            .map_err(|err| match precondition_failed(&err) {
                true => AlreadyExists(key.to_string()).into(),
                false => self.explain(err, "completing the multipart upload"),
            })
    }

    /// Aborts a multipart upload and makes sure no part survives it: a part
    /// still arriving when the abort is processed can outlive it (S3's docs
    /// say so), so the upload is asked for again, and aborted again, until
    /// the server no longer knows it.
    pub async fn abort(&self, key: &str, upload_id: &str) -> anyhow::Result<()> {
        for _ in 0..3 {
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(self.name())
                .key(key)
                .upload_id(upload_id)
                .send()
                .await;
            match aborted {
                Err(err) if !no_such_upload(&err) => {
                    return Err(self.explain(err, "aborting the multipart upload"));
                }
                _ => {}
            }
            let listed = self
                .client
                .list_parts()
                .bucket(self.name())
                .key(key)
                .upload_id(upload_id)
                .send()
                .await;
            match listed {
                Err(err) if no_such_upload(&err) => return Ok(()),
                Err(err) => return Err(self.explain(err, "checking that the upload is gone")),
                Ok(_) => tracing::debug!("upload {upload_id} outlived its abort; aborting again"),
            }
        }
        anyhow::bail!("the upload is still there after three aborts")
    }
}

/// A conditional write lost: an object already exists at the key.
#[derive(Debug, thiserror::Error)]
#[error("{0} is already published")]
pub struct AlreadyExists(pub String);

/// The server refused a conditional write because the object exists.
pub fn precondition_failed<E: ProvideErrorMetadata, R: HttpStatus>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::ServiceError(service) => {
            service.raw().http_status() == 412 || service.err().code() == Some("PreconditionFailed")
        }
        _ => false,
    }
}

fn no_such_upload<E: ProvideErrorMetadata, R: HttpStatus>(err: &SdkError<E, R>) -> bool {
    match err {
        SdkError::ServiceError(service) => {
            service.raw().http_status() == 404 || service.err().code() == Some("NoSuchUpload")
        }
        _ => false,
    }
}

/// The response's HTTP status, where there was a response.
pub trait HttpStatus {
    fn http_status(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn http_status(&self) -> u16 {
        self.status().as_u16()
    }
}

fn explain_parts<E, R>(
    err: SdkError<E, R>,
    action: &str,
    endpoint: &str,
    bucket: &str,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    let sentence = match &err {
        SdkError::DispatchFailure(failure) => format!(
            "{action}: cannot reach the S3 endpoint {endpoint} ({})",
            failure
                .as_connector_error()
                .map_or_else(|| format!("{failure:?}"), |cause| source_chain(cause))
        ),
        SdkError::TimeoutError(_) => {
            format!("{action}: the S3 endpoint {endpoint} did not answer in time")
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().http_status();
            let code = service.err().code().unwrap_or("");
            // `HTTP 403` alone when the server gave no code (a HEAD has no body).
            let http = match code {
                "" => format!("HTTP {status}"),
                code => format!("HTTP {status} {code}"),
            };
            match (status, code) {
                (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch") | (401 | 403, "") => format!(
                    "{action}: S3 refused the credentials ({http}); \
                     check S3_ACCESS_KEY and S3_SECRET_KEY"
                ),
                (_, "AccessDenied") => format!(
                    "{action}: S3 denied access to bucket {bucket} (HTTP {status}); \
                     check the key's permissions on it"
                ),
                (_, "NoSuchUpload") => format!(
                    "{action}: the multipart upload is gone (HTTP {status} NoSuchUpload): \
                     it was aborted, or another writer replaced the object"
                ),
                (404, "" | "NotFound") | (_, "NoSuchBucket") => {
                    format!("{action}: bucket {bucket} does not exist at {endpoint}")
                }
                (_, "AuthorizationHeaderMalformed") | (400, "") => format!(
                    "{action}: S3 rejected the request ({http}); check S3_REGION \
                     (Garage's default region is `garage`)"
                ),
                _ => format!(
                    "{action}: S3 answered {http}: {}",
                    service.err().message().unwrap_or("no message")
                ),
            }
        }
        other => format!("{action}: {}", source_chain(other)),
    };
    anyhow::anyhow!(sentence)
}

fn source_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
