//! What `publish` and `promote` share beyond the domains they wire
//! together: staying all or nothing, and the provenance a publish writes.
//!
//! - `staging`: the target key claimed first, everything put in the bucket
//!   staged and undone on a failure or a signal, the row registered last;
//! - `provenance`: the signing key, the promotion key and the image binding
//!   checked before anything is read, and the sidecars once sealed;
//! - `input`: the input read once, through the image scan when the binding
//!   or the SBOM needs to see inside it;
//! - `sbom`: the SBOM documents of what was read, beside the object;
//! - `runtime`: the async runtime for S3 and the admin API, which never
//!   keeps a failed command from exiting.

pub mod input;
pub mod provenance;
pub mod runtime;
pub mod sbom;
pub mod staging;

pub use runtime::{AsyncRuntime, async_runtime};
