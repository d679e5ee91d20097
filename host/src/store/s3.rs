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
use aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder;
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
        .http_client(https_client(config))
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

/// The SDK's own HTTPS client (hyper and rustls with aws-lc), trusting the
/// roots `trust` decides for S3: the system's and `AWS_CA_BUNDLE`'s.
fn https_client(config: &S3Config) -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, rustls_provider::CryptoMode};
    let roots = crate::trust::Roots::s3(config.ca_bundle.as_ref());
    let context = TlsContext::builder()
        .with_trust_store(roots.smithy())
        .build()
        .expect("a trust store alone always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
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

    /// A GetObject of `key` in this bucket, for the caller to finish.
    pub fn get_object(&self, key: &str) -> GetObjectFluentBuilder {
        self.client.get_object().bucket(self.name()).key(key)
    }

    /// Turns an SDK error of a request on an object into a sentence naming
    /// the cause.
    pub fn explain<E, R>(&self, err: SdkError<E, R>, action: &str) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        explain_parts(err, action, &self.endpoint, &self.name, Subject::Object)
    }

    /// Why a request on an object failed, as the end of a sentence that
    /// names the object (`cannot open s3://bucket/key: ...`).
    pub fn cause<E, R>(&self, err: &SdkError<E, R>) -> String
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HttpStatus,
    {
        cause(err, &self.endpoint, &self.name, Subject::Object)
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
            .map_err(|err| {
                explain_parts(
                    err,
                    "checking the bucket",
                    &self.endpoint,
                    &self.name,
                    Subject::Bucket,
                )
            })
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
        let response = match self.get_object(key).send().await {
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
            Ok(parts) => self.complete(to, &upload_id, parts, false).await.map(drop),
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
    /// exists at `key` yet (`If-None-Match: *`). Returns the ETag the
    /// server gave the object, which tells it from another writer's.
    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        if_absent: bool,
    ) -> anyhow::Result<Option<String>> {
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
            .map(|completed| completed.e_tag().map(str::to_string))
            .map_err(|err| match precondition_failed(&err) {
                true => AlreadyExists(key.to_string()).into(),
                false => self.explain(err, "completing the multipart upload"),
            })
    }

    /// The ids of the multipart uploads of exactly `key` that are in
    /// progress (not completed, not aborted).
    pub async fn uploads_of(&self, key: &str) -> anyhow::Result<Vec<String>> {
        let listed = self
            .client
            .list_multipart_uploads()
            .bucket(self.name())
            .prefix(key)
            .send()
            .await
            .map_err(|err| self.explain(err, &format!("listing the uploads of {key}")))?;
        Ok(listed
            .uploads()
            .iter()
            .filter(|upload| upload.key() == Some(key))
            .filter_map(|upload| upload.upload_id().map(str::to_string))
            .collect())
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

/// What a request asked about, which decides what a bare 404 means. GET
/// and the other requests with an answer body say `NoSuchKey` or
/// `NoSuchBucket`; a HEAD has no body, so its 404 says only that what it
/// asked for is missing: the bucket for HeadBucket, the object for
/// HeadObject (a HeadObject on a missing bucket answers the same 404, which
/// is why every command asks HeadBucket first, in `Bucket::preflight`).
/// Garage 2.5 answers exactly so; `tests/test_error_messages.py` shows the
/// GET side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    Bucket,
    Object,
}

fn explain_parts<E, R>(
    err: SdkError<E, R>,
    action: &str,
    endpoint: &str,
    bucket: &str,
    subject: Subject,
) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    anyhow::anyhow!("{action}: {}", cause(&err, endpoint, bucket, subject))
}

/// The cause of a failed request in one sentence, never the SDK's dump.
fn cause<E, R>(err: &SdkError<E, R>, endpoint: &str, bucket: &str, subject: Subject) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    match err {
        SdkError::DispatchFailure(failure)
            if let Some(problem) = failure
                .as_connector_error()
                .and_then(|err| crate::trust::problem(err)) =>
        {
            format!("cannot trust the S3 endpoint {endpoint}: {problem}")
        }
        SdkError::DispatchFailure(failure) => format!(
            "cannot reach the S3 endpoint {endpoint} ({})",
            failure
                .as_connector_error()
                .map_or_else(|| format!("{failure:?}"), |cause| source_chain(cause))
        ),
        SdkError::TimeoutError(_) => {
            format!("the S3 endpoint {endpoint} did not answer in time")
        }
        SdkError::ServiceError(service) => Answer {
            status: service.raw().http_status(),
            code: service.err().code().unwrap_or(""),
            message: service.err().message(),
        }
        .cause(endpoint, bucket, subject),
        other => source_chain(other),
    }
}

/// What S3 answered to a refused request.
struct Answer<'a> {
    status: u16,
    /// Empty when the server gave none (a HEAD has no body).
    code: &'a str,
    message: Option<&'a str>,
}

impl Answer<'_> {
    fn cause(&self, endpoint: &str, bucket: &str, subject: Subject) -> String {
        let Self {
            status,
            code,
            message,
        } = *self;
        // `HTTP 403` alone when the server gave no code.
        let http = match code {
            "" => format!("HTTP {status}"),
            code => format!("HTTP {status} {code}"),
        };
        let missing = match code {
            "NoSuchBucket" => Some(Subject::Bucket),
            "NoSuchKey" => Some(Subject::Object),
            "" | "NotFound" if status == 404 => Some(subject),
            _ => None,
        };
        match (missing, status, code) {
            (Some(Subject::Bucket), ..) => {
                format!("bucket {bucket} does not exist at {endpoint} ({http})")
            }
            (Some(Subject::Object), ..) => format!("no such object in bucket {bucket} ({http})"),
            (_, _, "InvalidAccessKeyId" | "SignatureDoesNotMatch") | (_, 401 | 403, "") => format!(
                "S3 refused the credentials ({http}); check S3_ACCESS_KEY and S3_SECRET_KEY"
            ),
            // Garage says AccessDenied for a wrong secret too: its message
            // ("Forbidden: Invalid signature") tells which.
            (_, _, "AccessDenied") => format!(
                "S3 denied access to bucket {bucket} ({http}: {}); check S3_ACCESS_KEY, \
                 S3_SECRET_KEY and the key's permissions on the bucket",
                message.unwrap_or("no message")
            ),
            (_, _, "NoSuchUpload") => format!(
                "the multipart upload is gone (HTTP {status} NoSuchUpload): \
                 it was aborted, or another writer replaced the object"
            ),
            (_, _, "AuthorizationHeaderMalformed") | (_, 400, "") => format!(
                "S3 rejected the request ({http}); check S3_REGION \
                 (Garage's default region is `garage`)"
            ),
            _ => format!("S3 answered {http}: {}", message.unwrap_or("no message")),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::{Answer, Subject};

    fn cause(status: u16, code: &str, subject: Subject) -> String {
        Answer {
            status,
            code,
            message: Some("The server said so."),
        }
        .cause("http://127.0.0.1:3900", "artifacts", subject)
    }

    #[test]
    fn a_missing_object_and_a_missing_bucket_are_told_apart() {
        let no_object = "no such object in bucket artifacts";
        let no_bucket = "bucket artifacts does not exist at http://127.0.0.1:3900";
        // A HEAD has no body: its bare 404 is about what it asked for.
        for (status, code, subject, expected) in [
            (404, "NoSuchKey", Subject::Object, no_object),
            (404, "NoSuchBucket", Subject::Object, no_bucket),
            (404, "", Subject::Object, no_object),
            (404, "NotFound", Subject::Bucket, no_bucket),
        ] {
            let http = match code {
                "" => format!("HTTP {status}"),
                code => format!("HTTP {status} {code}"),
            };
            assert_eq!(cause(status, code, subject), format!("{expected} ({http})"));
        }
    }

    #[test]
    fn other_refusals_name_what_to_check() {
        assert!(cause(403, "", Subject::Bucket).contains("check S3_ACCESS_KEY and S3_SECRET_KEY"));
        assert!(cause(400, "", Subject::Object).contains("check S3_REGION"));
        assert_eq!(
            cause(403, "AccessDenied", Subject::Object),
            "S3 denied access to bucket artifacts (HTTP 403 AccessDenied: The server said so.); \
             check S3_ACCESS_KEY, S3_SECRET_KEY and the key's permissions on the bucket"
        );
        assert_eq!(
            cause(500, "InternalError", Subject::Object),
            "S3 answered HTTP 500 InternalError: The server said so."
        );
    }
}
