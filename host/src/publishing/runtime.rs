//! The tokio runtime of a command that talks to S3 or the admin API.

use crate::failure::{Class, ClassExt, Failure};

/// The async runtime of a command that talks to S3 or the admin API. Two
/// workers: the uploads and the registration never need more, and the
/// cores are the sealing pipeline's.
pub fn async_runtime() -> Result<AsyncRuntime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map(|runtime| AsyncRuntime(Some(runtime)))
        .class(Class::Internal)
}

/// A tokio runtime that, when dropped, waits for its tasks at most a
/// moment: tokio's own drop waits for every blocking task (a DNS lookup
/// stuck in getaddrinfo, say) for as long as it takes, which would keep a
/// failed command from exiting.
pub struct AsyncRuntime(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for AsyncRuntime {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for AsyncRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_timeout(std::time::Duration::from_millis(500));
        }
    }
}
