//! What `publish` and `promote` share beyond the domains they wire
//! together: staying all or nothing, and the provenance a publish writes.
//!
//! - `staging`: the target key claimed first, everything put in the bucket
//!   staged and undone on a failure or a signal, the row registered last;
//! - `provenance`: the signing key, the promotion key and the image binding
//!   checked before anything is read, and the sidecars once sealed;
//! - `runtime`: the async runtime for S3 and the admin API, which never
//!   keeps a failed command from exiting.

pub mod provenance;
pub mod runtime;
pub mod staging;

pub use runtime::{AsyncRuntime, async_runtime};
