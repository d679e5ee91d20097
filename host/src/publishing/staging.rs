//! What `publish` and `promote` share to stay all or nothing: the target
//! key is claimed first (a published version is immutable unless
//! `--replace`), everything put in the bucket is staged (`store::staged`)
//! and undone on any failure or signal, and the row is registered last.

use super::AsyncRuntime;
use crate::admin::RegistrationError;
use crate::attest::registry::SidecarKind;
use crate::attest::sidecars::Sidecar;
use crate::failure::{Class, ClassExt, Failure};
use crate::interrupt;
use crate::store::s3::Bucket;
use crate::store::staged::Staged;
use crate::store::upload;

/// A request to S3 that a signal cuts short.
pub async fn stoppable<T>(request: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    interrupt::guard(request).await?
}

/// `Ok` unless a signal came: checked between steps that must not start
/// once the user asked us to stop.
pub fn not_interrupted() -> anyhow::Result<()> {
    interrupt::received().map_or(Ok(()), |signal| Err(signal.into()))
}

/// Claims `key` for a new object, after checking the bucket is there at
/// all: a key in use stops us (exit 8), unless `replace`, which first
/// copies the published object and its sidecars aside so that a failure
/// can put them back.
/// `instead` says what to do rather than replace (", or publish under a
/// new --version").
pub fn claim<'a>(
    tokio: &AsyncRuntime,
    bucket: &'a Bucket,
    key: &str,
    replace: bool,
    run_id: &str,
    instead: &str,
) -> Result<Staged<'a>, Failure> {
    let existing = tokio
        .block_on(stoppable(async {
            bucket.preflight().await?;
            bucket.head(key).await
        }))
        .class(Class::Storage)?;
    let previous = match (existing, replace) {
        (None, _) => Vec::new(),
        (Some(_), false) => return Err(taken(bucket, key, instead)),
        (Some(info), true) => tokio
            .block_on(stoppable(Staged::set_aside(
                bucket,
                key,
                info.size,
                &SidecarKind::suffixes(),
                run_id,
            )))
            .class(Class::Storage)?,
    };
    Ok(Staged::new(bucket, key, previous))
}

/// Puts `sidecars` beside `object_key`, each staged with the object (an
/// interrupted PUT may still have landed, so its key is staged whatever
/// happened). Without `replace`, a sidecar key in use is not overwritten.
/// Returns the keys written; on an error, the caller undoes `staged`.
pub fn put_sidecars(
    tokio: &AsyncRuntime,
    bucket: &Bucket,
    staged: &mut Staged<'_>,
    object_key: &str,
    sidecars: Vec<Sidecar>,
    replace: bool,
) -> anyhow::Result<Vec<String>> {
    let mut written = Vec::new();
    for sidecar in sidecars {
        let key = sidecar.kind.key_beside(object_key);
        let put = tokio.block_on(stoppable(upload::put_file(
            bucket,
            &key,
            !replace,
            sidecar.bytes.into(),
            sidecar.kind.content_type(),
        )));
        staged.add_companion(key.clone());
        put.and_then(|()| not_interrupted())?;
        written.push(key);
    }
    Ok(written)
}

/// The failure (exit 8) of a key already in use.
pub fn taken(bucket: &Bucket, key: &str, instead: &str) -> Failure {
    Failure::new(
        Class::Exists,
        anyhow::anyhow!(
            "s3://{}/{key} is already published, and published versions are immutable: pass \
             --replace to replace it deliberately{instead}",
            bucket.name()
        ),
    )
}

/// Rolls back what was staged, and adds what that did to the failure's
/// message.
pub fn undo(tokio: &AsyncRuntime, staged: Staged<'_>, failure: Failure) -> Failure {
    let outcome = match tokio.block_on(staged.roll_back()) {
        Ok(done) | Err(done) => done,
    };
    Failure::new(
        failure.class,
        anyhow::anyhow!("{:#}; {outcome}", failure.error),
    )
}

/// Settles the staged objects by the registration's outcome: registered,
/// they stand (and a replaced object's copy goes); refused, they are
/// removed; unknown (the answer was lost), they stay and the message says
/// what to check. Returns the attempts and whether an object was replaced.
pub fn settle(
    tokio: &AsyncRuntime,
    staged: Staged<'_>,
    registered: Result<u32, RegistrationError>,
) -> Result<(u32, bool), Failure> {
    let attempts = match registered {
        Ok(attempts) => attempts,
        Err(err) if err.may_have_registered() => {
            let kept = staged.keep();
            return Err(Failure::new(
                Class::Registration,
                anyhow::anyhow!("{err}; {kept}"),
            ));
        }
        Err(err) => return Err(undo(tokio, staged, Failure::new(Class::Registration, err))),
    };
    let replaced = staged.replaces();
    if let Err(problem) = tokio.block_on(staged.commit()) {
        tracing::warn!("{problem}");
    }
    Ok((attempts, replaced))
}
