//! Reading a file whole, up to a limit. A path can name a device (`/dev/zero`, `/dev/urandom`)
//! or a FIFO whose size says nothing, so the limit is enforced on the bytes read, not on the
//! file's metadata: vibes reads at most `limit + 1` bytes of anything it is pointed at.

use std::io::{self, Read};
use std::path::Path;

/// The largest `vibes.toml`: a config names files, it does not hold them. The repository's
/// documented config is about 2 KiB, and one naming a hundred profiles inline stays well
/// under 100 KiB.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// The largest profile file. Its text becomes one SSM standard parameter, of at most 4 KB
/// ([`SSM_STANDARD_VALUE_LIMIT`]); a file twice that leaves room for comments, which are dropped.
pub const PROFILE_FILE_LIMIT: u64 = 8 << 10;
/// The largest value of an SSM standard-tier parameter, in bytes (AWS: "4 KB").
pub const SSM_STANDARD_VALUE_LIMIT: usize = 4096;
/// The largest file read whole as text for the config (a stack template, a public key):
/// CloudFormation takes a template of at most 1 MB, even from S3.
pub const TEXT_FILE_LIMIT: u64 = 1 << 20;
/// The largest template CloudFormation takes in a request (`TemplateBody`); a larger one must
/// be uploaded to S3 and given by `TemplateURL`, which vibes does not do yet.
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html>
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;
/// The largest saved plan. A plan lists every file of the sources tree (path and hash, about
/// 150 bytes a file): 64 MiB is a collection of some 400,000 files.
pub const PLAN_LIMIT: u64 = 64 << 20;

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum BoundedError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("larger than {} (vibes reads no more of it)", crate::units::human_bytes(*limit))]
    TooLarge { limit: u64 },
}

/// The bytes of `path`, or [`BoundedError::TooLarge`] once more than `limit` are found.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, BoundedError> {
    let file = std::fs::File::open(path)?;
    read_from(file, limit)
}

/// The bytes of `reader`, or [`BoundedError::TooLarge`] once more than `limit` are found.
pub fn read_from(reader: impl Read, limit: u64) -> Result<Vec<u8>, BoundedError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(BoundedError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        assert_eq!(read_from(&[1u8; 10][..], 10).unwrap().len(), 10);
        assert!(matches!(
            read_from(&[1u8; 11][..], 10),
            Err(BoundedError::TooLarge { limit: 10 })
        ));
    }

    #[test]
    fn an_endless_device_is_refused_after_the_limit() {
        assert!(matches!(
            read(Path::new("/dev/zero"), 1024),
            Err(BoundedError::TooLarge { limit: 1024 })
        ));
    }
}
