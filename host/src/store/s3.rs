//! S3: a client set up for S3-compatible servers, a preflight check, and a
//! streaming upload that leaves nothing behind when it fails.

use crate::config::S3Config;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    StalledStreamProtectionConfig,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The smallest part we upload (S3's own minimum is 5 MiB). Objects up to
/// one part go up in a single PUT.
pub const PART_SIZE: usize = 6 << 20;
/// S3 allows at most 10,000 parts; we stay below with a margin.
const MAX_PARTS: u64 = 9_000;
/// Parts uploading at once. With one part queued and one being filled,
/// this bounds upload memory at four parts.
pub const UPLOADS_IN_FLIGHT: usize = 2;

/// What the sealer hands the uploader. The stream counts only once `End`
/// arrives: a channel closed before it means the seal failed, and the
/// upload is abandoned.
pub enum Chunk {
    Part(Bytes),
    End,
}

#[derive(Debug, serde::Serialize)]
pub struct UploadReport {
    /// "single" (one PUT) or "multipart".
    pub method: &'static str,
    pub parts: usize,
}

/// The part size for an input of this size: large enough that even an
/// incompressible input fits in the part limit.
pub fn part_size(plaintext_length: u64) -> usize {
    // The object is never much larger than the plaintext: deflate's stored
    // blocks add 5 bytes per 64 KiB, plus the IV, flush markers and padding.
    let largest_object = plaintext_length + plaintext_length / 1024 + (1 << 20);
    let needed = largest_object.div_ceil(MAX_PARTS).next_multiple_of(1 << 20);
    PART_SIZE.max(needed as usize)
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
                .connect_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// Asks for the bucket before anything is sealed, so that wrong
/// credentials, a missing bucket or an unreachable endpoint fail fast and
/// clearly.
pub async fn preflight(client: &Client, config: &S3Config) -> anyhow::Result<()> {
    client
        .head_bucket()
        .bucket(&config.bucket)
        .send()
        .await
        .map(drop)
        .map_err(|err| explain(err, "checking the bucket", config))
}

/// Uploads what arrives on `chunks` as `key`: one PUT if it is a single
/// part, otherwise a multipart upload that is aborted on any failure.
pub async fn upload(
    client: Client,
    config: &S3Config,
    key: &str,
    mut chunks: mpsc::Receiver<Chunk>,
) -> anyhow::Result<UploadReport> {
    let first = match chunks.recv().await {
        Some(Chunk::Part(part)) => part,
        _ => anyhow::bail!("sealing stopped before any object byte was ready"),
    };
    let second = match chunks.recv().await {
        Some(Chunk::End) => {
            client
                .put_object()
                .bucket(&config.bucket)
                .key(key)
                .body(ByteStream::from(first))
                .send()
                .await
                .map_err(|err| explain(err, "uploading the object", config))?;
            return Ok(UploadReport {
                method: "single",
                parts: 1,
            });
        }
        Some(Chunk::Part(part)) => part,
        None => anyhow::bail!("sealing stopped; nothing was uploaded"),
    };
    let created = client
        .create_multipart_upload()
        .bucket(&config.bucket)
        .key(key)
        .send()
        .await
        .map_err(|err| explain(err, "starting the multipart upload", config))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| anyhow::anyhow!("S3 started a multipart upload without an upload id"))?
        .to_string();
    let parts = upload_parts(&client, config, key, &upload_id, [first, second], chunks).await;
    let completed = match parts {
        Ok(parts) => parts,
        Err(err) => {
            abort(&client, config, key, &upload_id).await;
            return Err(err);
        }
    };
    let count = completed.len();
    let done = client
        .complete_multipart_upload()
        .bucket(&config.bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await;
    if let Err(err) = done {
        abort(&client, config, key, &upload_id).await;
        return Err(explain(err, "completing the multipart upload", config));
    }
    Ok(UploadReport {
        method: "multipart",
        parts: count,
    })
}

async fn upload_parts(
    client: &Client,
    config: &S3Config,
    key: &str,
    upload_id: &str,
    first: [Bytes; 2],
    mut chunks: mpsc::Receiver<Chunk>,
) -> anyhow::Result<Vec<CompletedPart>> {
    let mut in_flight = JoinSet::new();
    let mut completed = Vec::new();
    let mut queued: Vec<Bytes> = first.into();
    queued.reverse();
    let mut number = 0;
    loop {
        let part = match queued.pop() {
            Some(part) => part,
            None => match chunks.recv().await {
                Some(Chunk::Part(part)) => part,
                Some(Chunk::End) => break,
                None => anyhow::bail!("sealing stopped; the upload was abandoned"),
            },
        };
        // Waiting here (and not receiving) is what pushes back on the sealer.
        while in_flight.len() >= UPLOADS_IN_FLIGHT {
            completed.push(joined(in_flight.join_next().await)?);
        }
        number += 1;
        let request = client
            .upload_part()
            .bucket(&config.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(part));
        let describe = format!("uploading part {number}");
        let config_for_error = (config.endpoint.clone(), config.bucket.clone());
        in_flight.spawn(async move {
            let output = request.send().await.map_err(|err| {
                explain_parts(err, &describe, &config_for_error.0, &config_for_error.1)
            })?;
            Ok::<_, anyhow::Error>(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(output.e_tag().map(str::to_string))
                    .build(),
            )
        });
    }
    while let Some(result) = in_flight.join_next().await {
        completed.push(joined(Some(result))?);
    }
    completed.sort_by_key(|part| part.part_number());
    Ok(completed)
}

fn joined(
    result: Option<Result<anyhow::Result<CompletedPart>, tokio::task::JoinError>>,
) -> anyhow::Result<CompletedPart> {
    result
        .expect("only called with parts in flight")
        .map_err(|err| anyhow::anyhow!("an upload task failed: {err}"))?
}

async fn abort(client: &Client, config: &S3Config, key: &str, upload_id: &str) {
    let aborted = client
        .abort_multipart_upload()
        .bucket(&config.bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    if let Err(err) = aborted {
        tracing::error!(
            "could not abort multipart upload {upload_id} of {key}; its parts may remain: {}",
            explain(err, "aborting the multipart upload", config)
        );
    }
}

/// Removes an object that must not stay (its registration failed).
pub async fn delete(client: &Client, config: &S3Config, key: &str) -> anyhow::Result<()> {
    client
        .delete_object()
        .bucket(&config.bucket)
        .key(key)
        .send()
        .await
        .map(drop)
        .map_err(|err| explain(err, "deleting the object", config))
}

/// Turns an SDK error into a sentence that names the likely cause.
fn explain<E, R>(err: SdkError<E, R>, action: &str, config: &S3Config) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    explain_parts(err, action, &config.endpoint, &config.bucket)
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
            match (status, code) {
                (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch") | (401 | 403, "") => format!(
                    "{action}: S3 refused the credentials (HTTP {status} {code}); \
                     check S3_ACCESS_KEY and S3_SECRET_KEY"
                ),
                (_, "AccessDenied") => format!(
                    "{action}: S3 denied access to bucket {bucket} (HTTP {status}); \
                     check the key's permissions on it"
                ),
                (404, _) | (_, "NoSuchBucket") => {
                    format!("{action}: bucket {bucket} does not exist at {endpoint}")
                }
                (_, "AuthorizationHeaderMalformed") | (400, "") => format!(
                    "{action}: S3 rejected the request (HTTP {status} {code}); check S3_REGION \
                     (Garage's default region is `garage`)"
                ),
                _ => format!(
                    "{action}: S3 answered HTTP {status} {code}: {}",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_keeps_under_the_part_limit() {
        assert_eq!(part_size(0), PART_SIZE);
        assert_eq!(part_size(1 << 30), PART_SIZE);
        for size in [100u64 << 30, 1 << 40, 5 << 40] {
            let part = part_size(size) as u64;
            assert!(
                (size + size / 1024 + (1 << 20)).div_ceil(part) <= MAX_PARTS,
                "{size}"
            );
            assert_eq!(part % (1 << 20), 0);
        }
    }
}
