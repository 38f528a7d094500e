//! S3: the sources bucket's objects with their SHA-256, read for observe and `list_bucket`
//! ([`read`]), and uploads, the bucket manifest and deletes ([`Objects`] for
//! [`crate::AwsCloud`], in [`write`]).

pub(crate) mod read;
mod write;

#[cfg(doc)]
use vibes_core::cloud::Objects;

/// The metadata key (without `x-amz-meta-`) holding an object's hex SHA-256: every upload
/// stores it, and reads take an object's hash from it.
pub const SHA256_METADATA: &str = "sha256";
