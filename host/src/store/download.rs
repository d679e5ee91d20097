//! Downloads that survive a dropped connection: a `Read` over an HTTP or S3
//! object that, when the stream breaks, asks again from the byte it got to
//! (`Range: bytes=N-`) and carries on as if nothing happened. Its errors
//! are causes only (`HTTP 404 Not Found`, `no such object in bucket b`):
//! the caller names the object, by `Source::describe`, which never prints
//! a URL's query.

use crate::config::S3Config;
use crate::store::s3::Bucket;
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use std::io::{self, Read};
use std::time::Duration;
use tokio::runtime::Runtime;

const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(300);

/// Where the object comes from.
pub enum Source {
    Http {
        client: reqwest::Client,
        url: String,
    },
    S3 {
        bucket: Bucket,
        key: String,
    },
}

impl Source {
    /// The object, fit to print: a URL without its query's values (a
    /// presigned URL's signature is a credential), or `s3://bucket/key`.
    pub fn describe(&self) -> String {
        match self {
            Self::Http { url, .. } => crate::redact::url(url),
            Self::S3 { bucket, key } => format!("s3://{}/{key}", bucket.name()),
        }
    }

    pub fn s3(config: &S3Config, key: &str) -> Self {
        Self::S3 {
            bucket: Bucket::new(config),
            key: key.to_string(),
        }
    }
}

impl Source {
    /// A small file whole, or `None` when the server says there is none
    /// (404): for the optional files beside an object. Larger than `limit`
    /// is an error, and so is a body that does not arrive in time.
    pub async fn get_if_present(&self, limit: u64) -> Result<Option<Vec<u8>>> {
        let what = self.describe();
        let body = match self {
            Self::Http { client, url } => {
                let response = client
                    .get(url)
                    .send()
                    .await
                    .map_err(|err| anyhow!("GET {what}: {}", request_failed(err).cause()))?;
                match response.status() {
                    reqwest::StatusCode::NOT_FOUND => return Ok(None),
                    status if !status.is_success() => bail!("GET {what}: {}", http_refusal(status)),
                    _ => Body::Http(response),
                }
            }
            Self::S3 { bucket, key } => match bucket.get_object(key).send().await {
                Ok(output) => Body::S3(output.body),
                Err(aws_sdk_s3::error::SdkError::ServiceError(service))
                    if service.raw().status().as_u16() == 404 =>
                {
                    return Ok(None);
                }
                Err(err) => bail!("GET {what}: {}", bucket.cause(&err)),
            },
        };
        tokio::time::timeout(SMALL_BODY_DEADLINE, collect(body, limit))
            .await
            .map_err(|_| anyhow!("GET {what}: the body did not arrive in time"))?
            .map(Some)
            .with_context(|| format!("GET {what}"))
    }
}

/// A small file's body may take this long in all.
const SMALL_BODY_DEADLINE: Duration = Duration::from_secs(60);

/// The whole body, refused past `limit` bytes.
async fn collect(mut body: Body, limit: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk?);
        if bytes.len() as u64 > limit {
            bail!("it is larger than the {limit} bytes such a file may be");
        }
    }
    Ok(bytes)
}

enum Body {
    Http(reqwest::Response),
    S3(aws_sdk_s3::primitives::ByteStream),
}

impl Body {
    async fn next(&mut self) -> Option<Result<Bytes>> {
        match self {
            // reqwest's errors end with the whole URL: the caller names it.
            Self::Http(response) => response
                .chunk()
                .await
                .map_err(|err| err.without_url().into())
                .transpose(),
            Self::S3(stream) => stream.next().await.map(|chunk| chunk.map_err(Into::into)),
        }
    }
}

/// A response: its body, the offset its first byte has in the object, and
/// the object's total length when the server said.
struct Opened {
    body: Body,
    starts_at: u64,
    total: Option<u64>,
}

/// Why a request failed: worth another try, or final (404, 403, ...).
enum DownloadError {
    Retry(anyhow::Error),
    Fatal(anyhow::Error),
}

impl DownloadError {
    fn cause(self) -> anyhow::Error {
        match self {
            Self::Retry(err) | Self::Fatal(err) => err,
        }
    }
}

/// A request that got no answer: worth another try, unless the server's
/// certificate was refused, which it would be again. (reqwest's own text
/// ends with the whole URL: the caller names the object.)
fn request_failed(err: reqwest::Error) -> DownloadError {
    match crate::trust::problem(&err) {
        Some(problem) => DownloadError::Fatal(anyhow!(problem)),
        None => DownloadError::Retry(err.without_url().into()),
    }
}

async fn open(source: &Source, offset: u64) -> Result<Opened, DownloadError> {
    let range = (offset > 0).then(|| format!("bytes={offset}-"));
    match source {
        Source::Http { client, url } => {
            let mut request = client.get(url);
            if let Some(range) = &range {
                request = request.header(reqwest::header::RANGE, range);
            }
            let response = request.send().await.map_err(request_failed)?;
            let status = response.status();
            if status.is_server_error() {
                return Err(DownloadError::Retry(anyhow!("HTTP {status}")));
            }
            if !status.is_success() {
                return Err(DownloadError::Fatal(anyhow!(http_refusal(status))));
            }
            let content_range = response
                .headers()
                .get(reqwest::header::CONTENT_RANGE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            let (starts_at, total) = match (status.as_u16(), content_range) {
                (206, Some(range)) => parse_content_range(&range).map_err(DownloadError::Fatal)?,
                // The server ignored the range: the body starts at 0.
                _ => (0, response.content_length()),
            };
            Ok(Opened {
                body: Body::Http(response),
                starts_at,
                total,
            })
        }
        Source::S3 { bucket, key } => {
            let output = bucket
                .get_object(key)
                .set_range(range)
                .send()
                .await
                .map_err(|err| {
                    let fatal = matches!(&err, aws_sdk_s3::error::SdkError::ServiceError(e)
                        if e.raw().status().is_client_error());
                    let err = anyhow!(bucket.cause(&err));
                    if fatal {
                        DownloadError::Fatal(err)
                    } else {
                        DownloadError::Retry(err)
                    }
                })?;
            let (starts_at, total) = match output.content_range() {
                Some(range) => parse_content_range(range).map_err(DownloadError::Fatal)?,
                None => (
                    0,
                    output.content_length().and_then(|n| u64::try_from(n).ok()),
                ),
            };
            Ok(Opened {
                body: Body::S3(output.body),
                starts_at,
                total,
            })
        }
    }
}

/// A final refusal over HTTP. The default cdn_url is the bucket's S3 path,
/// which a private bucket (Garage's, most S3's) refuses to a plain GET: say
/// what to try instead.
fn http_refusal(status: reqwest::StatusCode) -> String {
    match status.as_u16() {
        401 | 403 | 404 => format!(
            "HTTP {status}; if this is a cdn_url published without CDN_PUBLIC_BASE_URL, it is \
             the bucket's S3 path, which a private bucket does not serve: publish with \
             CDN_PUBLIC_BASE_URL set to a public base, or use --object-key with the S3_* \
             credentials"
        ),
        _ => format!("HTTP {status}"),
    }
}

/// `bytes 100-199/1000` -> (100, Some(1000)); `*` totals are unknown.
fn parse_content_range(value: &str) -> Result<(u64, Option<u64>)> {
    let rest = value
        .strip_prefix("bytes ")
        .with_context(|| format!("unexpected Content-Range {value:?}"))?;
    let (span, total) = rest
        .split_once('/')
        .with_context(|| format!("unexpected Content-Range {value:?}"))?;
    let start = span
        .split_once('-')
        .and_then(|(start, _)| start.parse().ok())
        .with_context(|| format!("unexpected Content-Range {value:?}"))?;
    Ok((start, total.parse().ok()))
}

/// The object as a `Read`, resuming after a broken connection.
pub struct ResumingReader<'a> {
    runtime: &'a Runtime,
    source: &'a Source,
    body: Option<Body>,
    /// Bytes of the current body still to be dropped: a server that ignores
    /// the range sends the object from the start again.
    skip: u64,
    offset: u64,
    total: Option<u64>,
    buffered: Bytes,
    /// How many times the download had to pick up again.
    pub resumes: u32,
}

impl<'a> ResumingReader<'a> {
    pub fn new(runtime: &'a Runtime, source: &'a Source) -> Self {
        Self {
            runtime,
            source,
            body: None,
            skip: 0,
            offset: 0,
            total: None,
            buffered: Bytes::new(),
            resumes: 0,
        }
    }

    /// Runs `future` to its end, unless a signal comes first.
    fn wait<F: Future>(&self, future: F) -> Result<F::Output> {
        Self::wait_on(self.runtime, future)
    }

    fn wait_on<F: Future>(runtime: &Runtime, future: F) -> Result<F::Output> {
        Ok(runtime.block_on(crate::interrupt::guard(future))?)
    }

    /// (Re)opens at `self.offset`, with bounded retries and backoff.
    fn reopen(&mut self) -> Result<()> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.wait(open(self.source, self.offset))? {
                Ok(opened) => {
                    if opened.starts_at > self.offset {
                        bail!(
                            "the server resumed at byte {} instead of {}",
                            opened.starts_at,
                            self.offset
                        );
                    }
                    self.skip = self.offset - opened.starts_at;
                    self.total = opened.total.or(self.total);
                    self.body = Some(opened.body);
                    return Ok(());
                }
                Err(DownloadError::Fatal(err)) => return Err(err),
                Err(DownloadError::Retry(err)) if attempt >= ATTEMPTS => return Err(err),
                Err(DownloadError::Retry(err)) => {
                    tracing::warn!(
                        "download attempt {attempt} of {} failed ({err:#}); retrying in {backoff:?}",
                        self.source.describe()
                    );
                    // Made inside the runtime: a `Sleep` made outside one panics.
                    self.wait(async { tokio::time::sleep(backoff).await })?;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// The next chunk of the object, or `None` at its end.
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        let mut failures = 0;
        loop {
            if self.body.is_none() {
                self.reopen()?;
            }
            let body = self.body.as_mut().expect("opened above");
            let broken = match Self::wait_on(self.runtime, body.next())? {
                Some(Ok(mut chunk)) => {
                    let dropped = self.skip.min(chunk.len() as u64);
                    self.skip -= dropped;
                    chunk = chunk.slice(dropped as usize..);
                    if chunk.is_empty() {
                        continue;
                    }
                    self.offset += chunk.len() as u64;
                    return Ok(Some(chunk));
                }
                // A clean end short of the announced length is a cut too.
                None if self.total.is_some_and(|total| self.offset < total) => {
                    anyhow!("the connection ended at byte {}", self.offset)
                }
                None => return Ok(None),
                Some(Err(err)) => err,
            };
            failures += 1;
            if failures > ATTEMPTS {
                return Err(broken.context("the download kept breaking"));
            }
            tracing::warn!(
                "download of {} broke at byte {} ({broken:#}); resuming",
                self.source.describe(),
                self.offset
            );
            self.resumes += 1;
            self.body = None;
        }
    }
}

impl Read for ResumingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.buffered.is_empty() {
            match self.next_chunk() {
                Ok(Some(chunk)) => self.buffered = chunk,
                Ok(None) => return Ok(0),
                Err(err) => return Err(io::Error::other(format!("{err:#}"))),
            }
        }
        let n = buf.len().min(self.buffered.len());
        buf[..n].copy_from_slice(&self.buffered[..n]);
        self.buffered = self.buffered.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_ranges() {
        assert_eq!(
            parse_content_range("bytes 100-199/1000").unwrap(),
            (100, Some(1000))
        );
        assert_eq!(parse_content_range("bytes 0-0/*").unwrap(), (0, None));
        assert!(parse_content_range("items 1-2/3").is_err());
    }
}
