//! The object store: an S3 client set up for S3-compatible servers, and
//! downloads that resume after a dropped connection.

pub mod download;
pub mod s3;
