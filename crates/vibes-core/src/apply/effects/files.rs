//! Local files an effect uploads (recipe files, the sources tree), checked against the
//! SHA-256 the plan was made with.

use super::EffectError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Hex SHA-256 and size of a file, read off the async threads.
pub(super) async fn hash_file(path: PathBuf) -> Result<(String, u64), EffectError> {
    let p = path.clone();
    let res = tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64)> {
        let mut f = std::fs::File::open(&p)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            h.update(&buf[..n]);
        }
        Ok((hex::encode(h.finalize()), size))
    })
    .await;
    match res {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(EffectError::File {
            path,
            message: e.to_string(),
        }),
        Err(e) => Err(EffectError::File {
            path,
            message: e.to_string(),
        }),
    }
}

pub(super) fn check_hash(path: &Path, expected: &str, actual: &str) -> Result<(), EffectError> {
    if expected.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(EffectError::Changed {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}
