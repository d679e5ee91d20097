//! The streaming upload: the sealer hands object bytes over part by part,
//! and they go up as one PUT (an object of one part) or as a multipart
//! upload, never touching the disk.
//!
//! What it guarantees:
//! - every body carries its Content-MD5, so the server rejects bytes damaged
//!   on the wire whatever the transport (SigV4 signs the payload hash only
//!   over plain HTTP); a part rejected for its digest is sent again, a
//!   bounded number of times;
//! - with `if_absent`, the object is written only if none exists at its key
//!   (`If-None-Match: *` on the PUT or on completion), so of two racing
//!   publishes of one version only one wins. Servers that ignore the header
//!   (Garage 2.5 does) get a HEAD right before that write instead, which
//!   leaves a race window of one request rather than of the whole seal;
//! - on such servers two publishes can still both write inside that window,
//!   and the later write wins. So after our write, any other upload of the
//!   key started meanwhile is waited for (briefly), and `check_stored` then
//!   compares the stored object's ETag with the one our write got back: a
//!   publish that finds someone else's bytes stops (`NotOurs`) and leaves
//!   them, so no row ever names an object that is not its own;
//! - a multipart upload that fails, or is stopped by a signal, is aborted,
//!   and the abort is checked (no part is left behind);
//! - the upload ends when the sealer's channel closes without `End`: a seal
//!   that failed never completes an object.

use super::s3::{AlreadyExists, Bucket, body_attempt_timeout, precondition_failed};
use crate::interrupt::{self, Interrupted};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::CompletedPart;
use base64::Engine;
use bytes::Bytes;
use md5::Digest;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The smallest part we upload (S3's own minimum is 5 MiB). Objects up to
/// one part go up in a single PUT.
pub const PART_SIZE: usize = 6 << 20;
/// S3 allows at most 10,000 parts; we stay below with a margin.
const MAX_PARTS: u64 = 9_000;
/// Parts uploading at once. With the one the uploader holds while it waits
/// for a free slot, one queued and one being filled, upload memory is
/// bounded at five parts (30 MiB at the smallest part size).
pub const UPLOADS_IN_FLIGHT: usize = 2;
/// Sends of one body that the server rejected for its digest: a byte
/// damaged on the wire is worth another try, a sender that damages every
/// try is not.
const DIGEST_ATTEMPTS: u32 = 3;
/// How long aborting may take once a signal came: a stopped CI step has
/// seconds before SIGKILL, and a person pressing Ctrl-C wants the prompt
/// back.
pub const ABORT_BUDGET_AFTER_SIGNAL: Duration = Duration::from_secs(3);

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
    /// Bodies sent again after the server found them damaged on the wire.
    pub resent: u32,
    /// The ETag the server answered our write with (`None` if it gave none).
    #[serde(skip)]
    pub e_tag: Option<String>,
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

/// The sealer's end of the upload: cuts object bytes into parts and hands
/// them over, blocking while the uploader is busy (that is the back
/// pressure that bounds memory). Call it from a thread outside the async
/// runtime.
pub struct PartWriter {
    part: Vec<u8>,
    part_size: usize,
    parts: mpsc::Sender<Chunk>,
}

impl PartWriter {
    pub fn new(part_size: usize, parts: mpsc::Sender<Chunk>) -> Self {
        Self {
            part: Vec::with_capacity(part_size),
            part_size,
            parts,
        }
    }

    pub fn write(&mut self, mut bytes: &[u8]) -> anyhow::Result<()> {
        while !bytes.is_empty() {
            let take = (self.part_size - self.part.len()).min(bytes.len());
            self.part.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.part.len() == self.part_size {
                let full = std::mem::replace(&mut self.part, Vec::with_capacity(self.part_size));
                self.send(Chunk::Part(full.into()))?;
            }
        }
        Ok(())
    }

    /// Hands over the last part and `End`: the object is complete.
    pub fn finish(mut self) -> anyhow::Result<()> {
        if !self.part.is_empty() {
            let last = std::mem::take(&mut self.part);
            self.send(Chunk::Part(last.into()))?;
        }
        self.send(Chunk::End)
    }

    fn send(&self, chunk: Chunk) -> anyhow::Result<()> {
        self.parts
            .blocking_send(chunk)
            .map_err(|_| anyhow::anyhow!("the upload stopped"))
    }
}

/// Uploads what arrives on `chunks` as `key`: one PUT if it is a single
/// part, otherwise a multipart upload that is aborted on any failure or
/// signal. An `AlreadyExists` error means `if_absent` lost to an object
/// already at the key; an `Interrupted` one, that a signal stopped it.
pub async fn upload(
    bucket: &Bucket,
    key: &str,
    if_absent: bool,
    mut chunks: mpsc::Receiver<Chunk>,
) -> anyhow::Result<UploadReport> {
    let resent = Arc::new(AtomicU32::new(0));
    let first = match next(&mut chunks).await? {
        Some(Chunk::Part(part)) => part,
        _ => anyhow::bail!("sealing stopped before any object byte was ready"),
    };
    let second = match next(&mut chunks).await? {
        Some(Chunk::End) => {
            if if_absent {
                still_absent(bucket, key).await?;
            }
            let e_tag = put_single(bucket, key, if_absent, first, &resent, OBJECT).await?;
            return Ok(UploadReport {
                method: "single",
                parts: 1,
                resent: resent.load(Ordering::Relaxed),
                e_tag,
            });
        }
        Some(Chunk::Part(part)) => part,
        None => anyhow::bail!("sealing stopped; nothing was uploaded"),
    };
    // The uploads of this key already there are older than ours: on a
    // server that orders writes by their start (Garage), none can win over
    // ours, and one may be a killed publish's that never ends.
    // A server that cannot list them only loses the wait, not the check.
    let earlier = match if_absent {
        true => bucket
            .uploads_of(key)
            .await
            .inspect_err(|err| tracing::warn!("{err:#}; racing uploads are not waited for"))
            .ok(),
        false => None,
    };
    let created = bucket
        .client()
        .create_multipart_upload()
        .bucket(bucket.name())
        .key(key)
        .send()
        .await
        .map_err(|err| bucket.explain(err, "starting the multipart upload"))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| anyhow::anyhow!("S3 started a multipart upload without an upload id"))?
        .to_string();
    let sent = send_parts(bucket, key, &upload_id, [first, second], chunks, &resent).await;
    let completed = match sent {
        Ok(parts) => complete(bucket, key, &upload_id, parts, if_absent).await,
        Err(err) => Err(err),
    };
    match completed {
        Ok((parts, e_tag)) => {
            if let Some(earlier) = earlier {
                wait_for_racers(bucket, key, &earlier).await;
            }
            Ok(UploadReport {
                method: "multipart",
                parts,
                resent: resent.load(Ordering::Relaxed),
                e_tag,
            })
        }
        Err(err) => {
            abort_in_time(bucket, key, &upload_id).await;
            Err(explain_race(bucket, key, if_absent, err).await)
        }
    }
}

/// A multipart upload that failed because another publish wrote the key
/// meanwhile (some servers, Garage among them, drop the upload then, and its
/// next part gets NoSuchUpload) lost a race: say that, not the symptom.
async fn explain_race(
    bucket: &Bucket,
    key: &str,
    if_absent: bool,
    err: anyhow::Error,
) -> anyhow::Error {
    let lost = if_absent
        && !err.is::<AlreadyExists>()
        && interrupt::received().is_none()
        && matches!(bucket.head(key).await, Ok(Some(_)));
    match lost {
        true => anyhow::Error::new(AlreadyExists(key.to_string())).context(format!("{err:#}")),
        false => err,
    }
}

async fn complete(
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    parts: Vec<CompletedPart>,
    if_absent: bool,
) -> anyhow::Result<(usize, Option<String>)> {
    let count = parts.len();
    if if_absent {
        still_absent(bucket, key).await?;
    }
    let e_tag = bucket.complete(key, upload_id, parts, if_absent).await?;
    Ok((count, e_tag))
}

/// How long a completed upload waits for the other uploads of its key that
/// started after it. One that is past its own HEAD check completes within
/// a request; one still sending parts meets our object at that check and
/// aborts: so this is short in a race, and bounded when an upload is
/// simply slow.
const RACER_WAIT: Duration = Duration::from_secs(10);
const RACER_POLL: Duration = Duration::from_millis(200);

/// Waits until no upload of `key` is in progress that was not in `earlier`
/// (those started before ours). An upload started after ours writes a
/// newer version, which wins on a server that ignores `If-None-Match`; once
/// it has completed or aborted, the stored object's ETag says who won.
/// Never fails: our object is complete, and whatever stops the wait (a
/// signal, a failed listing) leaves the decision to `check_stored`.
async fn wait_for_racers(bucket: &Bucket, key: &str, earlier: &[String]) {
    let deadline = tokio::time::Instant::now() + RACER_WAIT;
    loop {
        let racing = match bucket.uploads_of(key).await {
            Ok(ids) => ids.iter().filter(|id| !earlier.contains(id)).count(),
            Err(err) => {
                tracing::warn!("{err:#}; the stored object's ETag decides");
                return;
            }
        };
        if racing == 0 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                "{racing} other upload(s) of {key} still in progress after {RACER_WAIT:?}; \
                 the stored object's ETag decides"
            );
            return;
        }
        if interrupt::guard(tokio::time::sleep(RACER_POLL))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The object at the key is not the one this publish wrote: another
/// publish of the same version wrote after us (a server that ignores
/// `If-None-Match`). Its bytes are its own: they stay, and we register
/// nothing.
#[derive(Debug, thiserror::Error)]
#[error(
    "s3://{bucket}/{key} holds another publish's object (ETag {found}; this publish wrote \
     {ours}): another publish of this version won the race, so its object stays and no row \
     was registered for ours"
)]
pub struct NotOurs {
    bucket: String,
    key: String,
    found: String,
    ours: String,
}

/// The stored object must be the one we wrote: the ETag our write got back
/// (when the server gave one) and the size we sent. Asked right after the
/// write, before the sidecars and the row: a racing write that lands later
/// meets our object at its own HEAD check.
pub async fn check_stored(
    bucket: &Bucket,
    key: &str,
    sent: u64,
    e_tag: Option<&str>,
) -> anyhow::Result<()> {
    let Some(info) = bucket.head(key).await? else {
        anyhow::bail!("the uploaded object is not in the bucket");
    };
    if let (Some(ours), Some(found)) = (e_tag, info.e_tag.as_deref())
        && ours != found
    {
        return Err(NotOurs {
            bucket: bucket.name().to_string(),
            key: key.to_string(),
            found: found.to_string(),
            ours: ours.to_string(),
        }
        .into());
    }
    if info.size != sent {
        anyhow::bail!(
            "the stored object is {} bytes, but {sent} were sent",
            info.size
        );
    }
    Ok(())
}

/// The HEAD check right before the write that creates the object, for
/// servers that ignore `If-None-Match`.
async fn still_absent(bucket: &Bucket, key: &str) -> anyhow::Result<()> {
    match bucket.head(key).await? {
        Some(_) => Err(AlreadyExists(key.to_string()).into()),
        None => Ok(()),
    }
}

/// Aborts, within a short budget once a signal came: then the process has
/// seconds left, and `cleanup` can still remove what a cut-off abort left.
async fn abort_in_time(bucket: &Bucket, key: &str, upload_id: &str) {
    let aborted = match interrupt::received() {
        None => bucket.abort(key, upload_id).await,
        Some(_) => tokio::time::timeout(ABORT_BUDGET_AFTER_SIGNAL, bucket.abort(key, upload_id))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("it did not finish in time"))),
    };
    if let Err(err) = aborted {
        tracing::error!(
            "could not abort multipart upload {upload_id} of {key}, so its parts may remain \
             (`publish-artifact cleanup --prefix {key} --older-than 0s` removes them): {err:#}"
        );
    }
}

/// The next chunk from the sealer, unless a signal comes first.
async fn next(chunks: &mut mpsc::Receiver<Chunk>) -> Result<Option<Chunk>, Interrupted> {
    interrupt::guard(chunks.recv()).await
}

/// Puts a small file beside the object (a provenance sidecar) in one
/// request, with its Content-MD5 and type; `if_absent` as for the object.
pub async fn put_file(
    bucket: &Bucket,
    key: &str,
    if_absent: bool,
    body: Bytes,
    content_type: &str,
) -> anyhow::Result<()> {
    let file = Single {
        action: "uploading a sidecar",
        content_type: Some(content_type),
    };
    put_single(bucket, key, if_absent, body, &AtomicU32::new(0), file)
        .await
        .map(drop)
}

/// What a single PUT is, for its request and its error messages.
struct Single<'a> {
    action: &'static str,
    content_type: Option<&'a str>,
}

const OBJECT: Single<'static> = Single {
    action: "uploading the object",
    content_type: None,
};

async fn put_single(
    bucket: &Bucket,
    key: &str,
    if_absent: bool,
    body: Bytes,
    resent: &AtomicU32,
    what: Single<'_>,
) -> anyhow::Result<Option<String>> {
    let md5 = content_md5(&body);
    let sent = resend_when_damaged(what.action, resent, || {
        let mut request = bucket
            .client()
            .put_object()
            .bucket(bucket.name())
            .key(key)
            .content_md5(&md5)
            .set_content_type(what.content_type.map(str::to_string))
            .body(ByteStream::from(body.clone()));
        if if_absent {
            request = request.if_none_match("*");
        }
        request
            .customize()
            .config_override(super::s3::attempt_timeout(body_attempt_timeout(body.len())))
            .send()
    });
    // A signal while the PUT is in flight leaves it be: it is one request
    // with a deadline, and the caller deletes an object it must not keep.
    sent.await
        .map(|put| put.e_tag().map(str::to_string))
        .map_err(|err| match precondition_failed(&err) {
            true => AlreadyExists(key.to_string()).into(),
            false => bucket.explain(err, what.action),
        })
}

async fn send_parts(
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    first: [Bytes; 2],
    mut chunks: mpsc::Receiver<Chunk>,
    resent: &Arc<AtomicU32>,
) -> anyhow::Result<Vec<CompletedPart>> {
    let mut in_flight = JoinSet::new();
    let mut completed = Vec::new();
    let mut queued: Vec<Bytes> = first.into();
    queued.reverse();
    let mut number = 0;
    // Dropping `in_flight` (on any return) cancels the parts still going up.
    loop {
        let part = match queued.pop() {
            Some(part) => part,
            None => match next(&mut chunks).await? {
                Some(Chunk::Part(part)) => part,
                Some(Chunk::End) => break,
                None => anyhow::bail!("sealing stopped; the upload was abandoned"),
            },
        };
        // Waiting here (and not receiving) is what pushes back on the sealer.
        while in_flight.len() >= UPLOADS_IN_FLIGHT {
            completed.push(joined(interrupt::guard(in_flight.join_next()).await?)?);
        }
        number += 1;
        let (bucket, key, upload_id) = (bucket.clone(), key.to_string(), upload_id.to_string());
        let resent = Arc::clone(resent);
        in_flight.spawn(async move {
            send_part(&bucket, &key, &upload_id, number, part, &resent).await
        });
    }
    while let Some(result) = interrupt::guard(in_flight.join_next()).await? {
        completed.push(joined(Some(result))?);
    }
    completed.sort_by_key(|part| part.part_number());
    Ok(completed)
}

async fn send_part(
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    number: i32,
    body: Bytes,
    resent: &AtomicU32,
) -> anyhow::Result<CompletedPart> {
    let md5 = content_md5(&body);
    let describe = format!("uploading part {number}");
    let output = resend_when_damaged(&describe, resent, || {
        bucket
            .client()
            .upload_part()
            .bucket(bucket.name())
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_md5(&md5)
            .body(ByteStream::from(body.clone()))
            .customize()
            .config_override(super::s3::attempt_timeout(body_attempt_timeout(body.len())))
            .send()
    })
    .await
    .map_err(|err| bucket.explain(err, &describe))?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(output.e_tag().map(str::to_string))
        .build())
}

fn joined(
    result: Option<Result<anyhow::Result<CompletedPart>, tokio::task::JoinError>>,
) -> anyhow::Result<CompletedPart> {
    result
        .expect("only called with parts in flight")
        .map_err(|err| anyhow::anyhow!("an upload task failed: {err}"))?
}

/// Sends a request again when the server rejected its body for a digest
/// mismatch: the bytes were damaged between us and it, and the SDK's own
/// retries leave a 400 alone.
async fn resend_when_damaged<T, E, R, F, Fut>(
    action: &str,
    resent: &AtomicU32,
    mut send: F,
) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
{
    let mut attempt = 1;
    loop {
        match send().await {
            Err(err) if attempt < DIGEST_ATTEMPTS && damaged_on_the_wire(&err) => {
                tracing::warn!(
                    "{action}: the server found the bytes damaged on the wire ({}); sending again",
                    err.code().unwrap_or("digest mismatch")
                );
                resent.fetch_add(1, Ordering::Relaxed);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The error codes S3 servers give a body whose digest does not match:
/// Content-MD5 (`InvalidDigest`, `BadDigest`) or SigV4's signed payload
/// hash (`XAmzContentSHA256Mismatch`).
fn damaged_on_the_wire<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(
        err.code(),
        Some("InvalidDigest" | "BadDigest" | "XAmzContentSHA256Mismatch")
    )
}

fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
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

    #[test]
    fn content_md5_is_base64_of_the_md5() {
        // From Python: base64.b64encode(hashlib.md5(b"Check Integrity!").digest())
        assert_eq!(content_md5(b"Check Integrity!"), "nwqq6b6ua/tTDk7B5M184w==");
    }

    #[test]
    fn a_part_writer_cuts_parts_and_ends_with_end() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut writer = PartWriter::new(4, tx);
        writer.write(b"abcdefghij").unwrap();
        writer.finish().unwrap();
        let mut seen = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            seen.push(match chunk {
                Chunk::Part(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                Chunk::End => "END".into(),
            });
        }
        assert_eq!(seen, ["abcd", "efgh", "ij", "END"]);
    }
}
