//! Incomplete multipart uploads left behind by a process that could not
//! clean up (kill -9, a power cut, a lost network): found by prefix and
//! age, and aborted. A bucket lifecycle rule (AbortIncompleteMultipartUpload)
//! does the same unattended; docs/reliability.md shows it for each server.

use super::s3::Bucket;
use std::time::{Duration, SystemTime};

/// One incomplete upload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Leftover {
    pub key: String,
    pub upload_id: String,
    /// Seconds since the upload was started, as far as the server says.
    pub age_seconds: Option<u64>,
}

/// Every incomplete upload whose key starts with `prefix` and that was
/// started at least `older_than` ago. An upload whose start the server does
/// not give is listed only when `older_than` is zero: it may be a publish
/// still running.
pub async fn leftovers(
    bucket: &Bucket,
    prefix: &str,
    older_than: Duration,
) -> anyhow::Result<Vec<Leftover>> {
    let now = SystemTime::now();
    let mut found = Vec::new();
    let (mut key_marker, mut upload_id_marker) = (None::<String>, None::<String>);
    loop {
        let page = bucket
            .client()
            .list_multipart_uploads()
            .bucket(bucket.name())
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(upload_id_marker.take())
            .send()
            .await
            .map_err(|err| bucket.explain(err, "listing incomplete multipart uploads"))?;
        for upload in page.uploads() {
            let (Some(key), Some(upload_id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            let age = upload
                .initiated()
                .and_then(|at| SystemTime::try_from(*at).ok())
                .map(|at| now.duration_since(at).unwrap_or(Duration::ZERO));
            let old_enough = match age {
                Some(age) => age >= older_than,
                None => older_than.is_zero(),
            };
            if old_enough {
                found.push(Leftover {
                    key: key.to_string(),
                    upload_id: upload_id.to_string(),
                    age_seconds: age.map(|age| age.as_secs()),
                });
            }
        }
        if page.is_truncated() != Some(true) {
            return Ok(found);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        upload_id_marker = page.next_upload_id_marker().map(str::to_string);
        if key_marker.is_none() && upload_id_marker.is_none() {
            return Ok(found);
        }
    }
}
