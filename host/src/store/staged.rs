//! An object in the bucket that is not registered yet, and what undoing it
//! takes. Publishing is all or nothing: until the admin API has the row,
//! everything the publish put in the bucket (the object, its sidecars) is
//! staged here, and a failure removes it again. With `--replace`, the object
//! that was published before and the sidecars beside it are first copied
//! aside (server-side), so that a failed registration can put them back: the
//! old row then still names the bytes it was registered with, and its
//! statement still describes them.

use super::s3::Bucket;

/// A file published before, copied aside while a replace is undecided.
pub struct Aside {
    original: String,
    copy: String,
    size: u64,
}

pub struct Staged<'a> {
    bucket: &'a Bucket,
    key: String,
    /// What this publish replaces, copied aside: the object first, then
    /// whichever of its sidecars existed.
    previous: Vec<Aside>,
    /// Keys uploaded beside the object (sidecars), removed with it.
    companions: Vec<String>,
    uploaded: bool,
}

impl<'a> Staged<'a> {
    /// Nothing uploaded yet; `previous` is what `set_aside` kept of a
    /// replaced object, if anything.
    pub fn new(bucket: &'a Bucket, key: &str, previous: Vec<Aside>) -> Self {
        Self {
            bucket,
            key: key.to_string(),
            previous,
            companions: Vec::new(),
            uploaded: false,
        }
    }

    /// Copies the object published at `key` (`size` bytes) and whichever of
    /// `{key}{suffix}` exist beside it to keys named by this publish. If a
    /// copy fails, the copies made so far are removed again.
    pub async fn set_aside(
        bucket: &Bucket,
        key: &str,
        size: u64,
        sidecar_suffixes: &[&str],
        publish_id: &str,
    ) -> anyhow::Result<Vec<Aside>> {
        let mut previous = Vec::new();
        let copied = async {
            previous.push(copy_aside(bucket, key.to_string(), size, publish_id).await?);
            for suffix in sidecar_suffixes {
                let original = format!("{key}{suffix}");
                if let Some(info) = bucket.head(&original).await? {
                    previous.push(copy_aside(bucket, original, info.size, publish_id).await?);
                }
            }
            anyhow::Ok(())
        }
        .await;
        match copied {
            Ok(()) => Ok(previous),
            Err(err) => {
                discard(bucket, previous).await;
                Err(err)
            }
        }
    }

    /// Whether the publish replaces an object published before.
    pub fn replaces(&self) -> bool {
        !self.previous.is_empty()
    }

    /// The object is in the bucket now: undoing means removing it.
    pub fn uploaded(&mut self) {
        self.uploaded = true;
    }

    /// The object at the key turned out to be another publish's (it wrote
    /// after us): undoing must leave it, and put nothing back over it.
    pub fn disown(&mut self) {
        self.uploaded = false;
    }

    /// A sidecar is in the bucket now: it goes with the object.
    pub fn add_companion(&mut self, key: String) {
        self.companions.push(key);
    }

    /// The row is registered: the publish stands. The copies aside go, and
    /// so do the replaced object's sidecars that this publish did not write
    /// again (a `.sha256.sig` or `.keywrap` left there would describe the
    /// old bytes).
    pub async fn commit(self) -> Result<(), String> {
        let mut problems = Vec::new();
        for aside in &self.previous {
            let stale = aside.original != self.key && !self.companions.contains(&aside.original);
            let remove = stale.then_some(&aside.original).into_iter();
            for key in remove.chain([&aside.copy]) {
                if let Err(err) = self.bucket.delete(key).await {
                    problems.push(format!("s3://{}/{key} ({err:#})", self.bucket.name()));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the publish stands, but what it replaced could not all be removed; delete by \
                 hand: {}",
                problems.join("; ")
            ))
        }
    }

    /// Undoes the publish: removes what it uploaded and puts back what it
    /// replaced. Returns a sentence saying what was done, or what an operator
    /// must do because it could not be.
    pub async fn roll_back(self) -> Result<String, String> {
        let bucket = self.bucket;
        let mut problems = Vec::new();
        for key in &self.companions {
            if let Err(err) = bucket.delete(key).await {
                problems.push(format!("remove s3://{}/{key} ({err:#})", bucket.name()));
            }
        }
        let mut done = "nothing is published".to_string();
        if self.previous.is_empty() && self.uploaded {
            match bucket.delete(&self.key).await {
                Ok(()) => {
                    done = format!(
                        "the uploaded {} was deleted again, so nothing is published",
                        self.key
                    )
                }
                Err(err) => problems.push(format!(
                    "remove s3://{}/{} ({err:#})",
                    bucket.name(),
                    self.key
                )),
            }
        }
        let mut restored = false;
        for aside in &self.previous {
            // Only what this publish wrote over needs putting back.
            let overwritten = if aside.original == self.key {
                self.uploaded
            } else {
                self.companions.contains(&aside.original)
            };
            if overwritten {
                if let Err(err) = bucket.copy(&aside.copy, &aside.original, aside.size).await {
                    problems.push(format!(
                        "copy s3://{0}/{1} back to s3://{0}/{2}: the previous file waits there \
                         ({err:#})",
                        bucket.name(),
                        aside.copy,
                        aside.original
                    ));
                    continue;
                }
                restored = true;
            }
            if let Err(err) = bucket.delete(&aside.copy).await {
                problems.push(format!(
                    "remove s3://{}/{} ({err:#})",
                    bucket.name(),
                    aside.copy
                ));
            }
        }
        if !self.previous.is_empty() {
            done = if restored {
                format!("the previous {} and its sidecars were put back", self.key)
            } else {
                format!("the previous {} was left as it was", self.key)
            };
        }
        if problems.is_empty() {
            Ok(done)
        } else {
            Err(format!(
                "undoing the publish failed, so an operator must: {}",
                problems.join("; ")
            ))
        }
    }

    /// The registration's outcome is unknown: everything stays, and this
    /// says what an operator should check.
    pub fn keep(self) -> String {
        let mut text = format!(
            "the admin API may or may not have stored the row, so s3://{}/{} stays: if the row \
             exists the publish is complete; if not, delete the object{}",
            self.bucket.name(),
            self.key,
            if self.companions.is_empty() {
                ""
            } else {
                " and its sidecars"
            },
        );
        if !self.previous.is_empty() {
            let copies: Vec<_> = self
                .previous
                .iter()
                .map(|aside| aside.copy.as_str())
                .collect();
            text.push_str(&format!(
                "; what it replaced waits in s3://{}/ as {}",
                self.bucket.name(),
                copies.join(", ")
            ));
        }
        text
    }
}

/// Copies `original` aside under a key named by this publish.
async fn copy_aside(
    bucket: &Bucket,
    original: String,
    size: u64,
    publish_id: &str,
) -> anyhow::Result<Aside> {
    let copy = format!(
        "{original}.replaced-{}",
        &publish_id[..publish_id.len().min(16)]
    );
    bucket.copy(&original, &copy, size).await?;
    Ok(Aside {
        original,
        copy,
        size,
    })
}

/// Removes the copies made before a `set_aside` failed; that failure is
/// what the caller reports, so a copy that cannot be removed is a warning.
async fn discard(bucket: &Bucket, made: Vec<Aside>) {
    for aside in made {
        if let Err(err) = bucket.delete(&aside.copy).await {
            tracing::warn!(
                "s3://{}/{} could not be removed ({err:#}); delete it by hand",
                bucket.name(),
                aside.copy
            );
        }
    }
}
