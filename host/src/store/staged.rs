//! An object in the bucket that is not registered yet, and what undoing it
//! takes. Publishing is all or nothing: until the admin API has the row,
//! everything the publish put in the bucket (the object, its sidecars) is
//! staged here, and a failure removes it again. With `--replace`, the object
//! that was published before is first copied aside (server-side), so that a
//! failed registration can put it back: the old row then still names the
//! bytes it was registered with.

use super::s3::Bucket;

pub struct Staged<'a> {
    bucket: &'a Bucket,
    key: String,
    /// Where the previous object waits while it is being replaced.
    previous: Option<String>,
    /// Keys uploaded beside the object (sidecars), removed with it.
    companions: Vec<String>,
    uploaded: bool,
}

impl<'a> Staged<'a> {
    /// Nothing uploaded yet; `previous` is the key the replaced object was
    /// copied aside to, if any.
    pub fn new(bucket: &'a Bucket, key: &str, previous: Option<String>) -> Self {
        Self {
            bucket,
            key: key.to_string(),
            previous,
            companions: Vec::new(),
            uploaded: false,
        }
    }

    /// Where a replaced object waits: beside it, named by this publish.
    pub fn aside_key(key: &str, publish_id: &str) -> String {
        format!("{key}.replaced-{}", &publish_id[..publish_id.len().min(16)])
    }

    /// Whether the publish replaces an object published before.
    pub fn replaces(&self) -> bool {
        self.previous.is_some()
    }

    /// The object is in the bucket now: undoing means removing it.
    pub fn uploaded(&mut self) {
        self.uploaded = true;
    }

    /// A sidecar is in the bucket now: it goes with the object.
    pub fn add_companion(&mut self, key: String) {
        self.companions.push(key);
    }

    /// The row is registered: the publish stands, and a replaced object's
    /// copy is no longer needed.
    pub async fn commit(self) -> Result<(), String> {
        match &self.previous {
            Some(aside) => self.bucket.delete(aside).await.map_err(|err| {
                format!(
                    "the replaced object's copy s3://{}/{aside} could not be removed ({err:#}); \
                     delete it by hand",
                    self.bucket.name()
                )
            }),
            None => Ok(()),
        }
    }

    /// Undoes the publish: removes what it uploaded and puts a replaced
    /// object back. Returns a sentence saying what was done, or what an
    /// operator must do because it could not be.
    pub async fn roll_back(self) -> Result<String, String> {
        let bucket = self.bucket;
        let mut problems = Vec::new();
        for key in &self.companions {
            if let Err(err) = bucket.delete(key).await {
                problems.push(format!("remove s3://{}/{key} ({err:#})", bucket.name()));
            }
        }
        let mut done = "nothing is published".to_string();
        match (&self.previous, self.uploaded) {
            (Some(aside), true) => {
                let restored = match bucket.head(aside).await {
                    Ok(Some(info)) => bucket.copy(aside, &self.key, info.size).await,
                    Ok(None) => Err(anyhow::anyhow!("the copy is gone")),
                    Err(err) => Err(err),
                };
                match restored {
                    Ok(()) => {
                        done = format!("the previous {} was put back", self.key);
                        if let Err(err) = bucket.delete(aside).await {
                            problems.push(format!("remove s3://{}/{aside} ({err:#})", bucket.name()));
                        }
                    }
                    Err(err) => problems.push(format!(
                        "copy s3://{0}/{aside} back to s3://{0}/{1}: the previous object waits \
                         there ({err:#})",
                        bucket.name(),
                        self.key
                    )),
                }
            }
            (Some(aside), false) => {
                done = format!("the previous {} was left as it was", self.key);
                if let Err(err) = bucket.delete(aside).await {
                    problems.push(format!("remove s3://{}/{aside} ({err:#})", bucket.name()));
                }
            }
            (None, true) => match bucket.delete(&self.key).await {
                Ok(()) => done = format!("the uploaded {} was deleted again, so nothing is published", self.key),
                Err(err) => problems.push(format!("remove s3://{}/{} ({err:#})", bucket.name(), self.key)),
            },
            (None, false) => {}
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
            if self.companions.is_empty() { "" } else { " and its sidecars" },
        );
        if let Some(aside) = &self.previous {
            text.push_str(&format!(
                "; the object it replaced waits at s3://{}/{aside}",
                self.bucket.name()
            ));
        }
        text
    }
}
