//! Diagnostics on stderr, filtered by `PUBLISH_ARTIFACT_LOG` (default
//! `warn`; `debug` shows timings and cache decisions). Nothing secret is ever
//! passed to a log macro: keys and tokens have redacting `Debug`s and no
//! `Display`.

pub const LOG_VAR: &str = "PUBLISH_ARTIFACT_LOG";

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_VAR)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
