//! The object store: an S3 client set up for S3-compatible servers and the
//! bucket operations the tool makes (`s3`), the streaming upload that
//! leaves nothing behind (`upload`), finding and aborting uploads a killed
//! process left (`cleanup`), and downloads that resume after a dropped
//! connection (`download`); `staged` holds what a publish put in the bucket
//! until its row is registered, and undoes it on failure.

pub mod cleanup;
pub mod download;
pub mod s3;
pub mod staged;
pub mod upload;
