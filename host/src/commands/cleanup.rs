//! `publish-artifact cleanup`: abort the incomplete multipart uploads that a
//! publish killed without warning (kill -9, a power cut) left behind. It
//! touches nothing else: no object, no upload younger than `--older-than`.

use super::usage;
use crate::cli::CleanupArgs;
use crate::config::{self, S3Config};
use crate::failure::{Class, ClassExt, Failure};
use crate::interrupt;
use crate::publishing::async_runtime;
use crate::store::cleanup::leftovers;
use crate::store::s3::Bucket;

pub fn run(args: &CleanupArgs) -> Result<(), Failure> {
    let s3 = S3Config::load(config::lookup).map_err(usage)?;
    let tokio = async_runtime()?;
    let bucket = Bucket::new(&s3);
    let found = tokio
        .block_on(interrupt::guard(leftovers(
            &bucket,
            &args.prefix,
            args.older_than,
        )))
        .class(Class::Storage)?
        .class(Class::Storage)?;
    let age = humanize(args.older_than.as_secs());
    let mut failed = 0;
    for upload in &found {
        let started = upload.age_seconds.map_or_else(
            || "at an unknown time".into(),
            |s| format!("{} ago", humanize(s)),
        );
        if args.dry_run {
            println!(
                "would abort {} (upload {}, started {started})",
                upload.key, upload.upload_id
            );
            continue;
        }
        let aborted = tokio
            .block_on(interrupt::guard(
                bucket.abort(&upload.key, &upload.upload_id),
            ))
            .class(Class::Storage)?;
        match aborted {
            Ok(()) => println!(
                "aborted {} (upload {}, started {started})",
                upload.key, upload.upload_id
            ),
            Err(err) => {
                failed += 1;
                eprintln!(
                    "could not abort {} (upload {}): {err:#}",
                    upload.key, upload.upload_id
                );
            }
        }
    }
    let verb = if args.dry_run {
        "would abort"
    } else {
        "aborted"
    };
    eprintln!(
        "{} incomplete upload(s) under `{}` started over {age} ago in bucket {}: {verb} {}",
        found.len(),
        args.prefix,
        bucket.name(),
        found.len() - failed,
    );
    if failed > 0 {
        return Err(Failure::new(
            Class::Storage,
            anyhow::anyhow!("{failed} upload(s) could not be aborted"),
        ));
    }
    Ok(())
}

/// `90061` -> `1d 1h 1m 1s`; `0` -> `0s`.
fn humanize(seconds: u64) -> String {
    let units = [(86400, "d"), (3600, "h"), (60, "m"), (1, "s")];
    let parts: Vec<String> = units
        .iter()
        .scan(seconds, |left, &(size, unit)| {
            let count = *left / size;
            *left %= size;
            Some((count, unit))
        })
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn humanize_names_each_unit() {
        assert_eq!(super::humanize(0), "0s");
        assert_eq!(super::humanize(90061), "1d 1h 1m 1s");
        assert_eq!(super::humanize(86400), "1d");
    }
}
