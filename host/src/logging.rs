//! Diagnostics on stderr, filtered by `PUBLISH_ARTIFACT_LOG` (default
//! `warn`; `debug` shows timings and cache decisions). Nothing secret is ever
//! passed to a log macro: keys and tokens have redacting `Debug`s and no
//! `Display`.
//!
//! The S3 SDK and the HTTP stack log hundreds of lines a publish at debug,
//! which would bury ours: they stay at `warn` unless the filter names them
//! (`PUBLISH_ARTIFACT_LOG=debug,aws_smithy_runtime=debug`). Colour only on a
//! terminal and without `NO_COLOR`: CI logs and captured stderr stay plain.

use std::io::IsTerminal;

pub const LOG_VAR: &str = "PUBLISH_ARTIFACT_LOG";

/// Prefixes of the dependencies' log targets kept quiet by default.
const DEPENDENCIES: [&str; 9] = [
    "aws_smithy",
    "aws_sdk",
    "aws_runtime",
    "aws_sigv4",
    "aws_config",
    "hyper",
    "h2",
    "rustls",
    "reqwest",
];

/// The filter: the user's (default `warn`), with every dependency it does
/// not name held at `warn`.
fn directives(user: &str) -> String {
    let mut filter = if user.trim().is_empty() {
        "warn".to_string()
    } else {
        user.to_string()
    };
    for dependency in DEPENDENCIES.iter().filter(|name| !user.contains(*name)) {
        filter.push_str(&format!(",{dependency}=warn"));
    }
    filter
}

pub fn init() {
    let user = std::env::var(LOG_VAR).unwrap_or_default();
    let filter = tracing_subscriber::EnvFilter::try_new(directives(&user))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directives("")));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn dependencies_stay_quiet_unless_named() {
        assert!(directives("debug").contains(",aws_smithy=warn"));
        assert!(directives("").starts_with("warn,"));
        let named = directives("debug,aws_smithy_runtime=debug");
        assert!(!named.contains("aws_smithy=warn"));
        assert!(named.contains("hyper=warn"));
    }
}
