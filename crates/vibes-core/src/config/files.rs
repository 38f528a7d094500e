//! Files the config names: resolved against the config's directory and kept inside it, so a
//! config cannot make vibes upload or hash files from elsewhere on the machine.

use sha2::{Digest, Sha256};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path the config names cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PathFault {
    #[error("`{0}` is an absolute path; paths are relative to the config's directory")]
    Absolute(String),
    #[error("`{0}` leaves the config's directory through `..`")]
    ParentDir(String),
    #[error("`{path}` resolves to {target}, outside the config's directory")]
    Outside { path: String, target: String },
    #[error("{path} does not exist")]
    Missing { path: String },
    #[error("{path} is not a file")]
    NotAFile { path: String },
    #[error("{path} is not a directory")]
    NotADir { path: String },
    #[error("cannot read {path}: {error}")]
    Unreadable { path: String, error: io::Error },
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
    #[error("{path} is larger than {} (vibes reads no more of it)", crate::units::human_bytes(*limit))]
    TooLarge { path: String, limit: u64 },
    #[error("the path is empty")]
    Empty,
}

impl PathFault {
    /// Faults about where a path points, as opposed to what is (not) there.
    pub fn escapes(&self) -> bool {
        matches!(
            self,
            PathFault::Absolute(_) | PathFault::ParentDir(_) | PathFault::Outside { .. }
        )
    }
}

/// The directory of the config file, which every relative path in it starts from.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    /// As given (possibly empty, for a config in the working directory): joined paths read
    /// the way the user wrote them.
    dir: PathBuf,
}

impl ConfigDir {
    pub fn new(dir: &Path) -> Self {
        ConfigDir {
            dir: dir.to_path_buf(),
        }
    }

    /// `rel` joined to the config's directory, as shown to people and stored in the model.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn canonical_dir(&self) -> io::Result<PathBuf> {
        let dir = if self.dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.dir
        };
        dir.canonicalize()
    }

    /// A path the config names, checked to exist and to stay inside the config's directory
    /// (no absolute paths, no `..`, no symlink that resolves elsewhere).
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, PathFault> {
        if rel.is_empty() {
            return Err(PathFault::Empty);
        }
        let path = Path::new(rel);
        if path.is_absolute() || path.has_root() {
            return Err(PathFault::Absolute(rel.to_string()));
        }
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(PathFault::ParentDir(rel.to_string()));
        }
        let joined = self.join(rel);
        let shown = joined.display().to_string();
        let target = match joined.canonicalize() {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(PathFault::Missing { path: shown })
            }
            Err(error) => return Err(PathFault::Unreadable { path: shown, error }),
        };
        let base = self
            .canonical_dir()
            .map_err(|error| PathFault::Unreadable {
                path: self.dir.display().to_string(),
                error,
            })?;
        if !target.starts_with(&base) {
            return Err(PathFault::Outside {
                path: rel.to_string(),
                target: target.display().to_string(),
            });
        }
        Ok(joined)
    }

    pub fn file(&self, rel: &str) -> Result<PathBuf, PathFault> {
        let path = self.resolve(rel)?;
        if !path.is_file() {
            return Err(PathFault::NotAFile {
                path: path.display().to_string(),
            });
        }
        Ok(path)
    }

    pub fn dir(&self, rel: &str) -> Result<PathBuf, PathFault> {
        let path = self.resolve(rel)?;
        if !path.is_dir() {
            return Err(PathFault::NotADir {
                path: path.display().to_string(),
            });
        }
        Ok(path)
    }

    /// The text of a file inside the config's directory.
    /// Refused when over `limit` bytes.
    pub fn read_text(&self, rel: &str, limit: u64) -> Result<(PathBuf, String), PathFault> {
        let path = self.file(rel)?;
        let text = read_text(&path, limit)?;
        Ok((path, text))
    }

    /// Every file at `rel`: the file itself, or the files below a directory, recursively.
    /// Returns paths relative to the config's directory, with `/`, sorted.
    pub fn files_under(&self, rel: &str) -> Result<Vec<String>, PathFault> {
        let path = self.resolve(rel)?;
        let rel = rel.trim_end_matches('/').trim_start_matches("./");
        if path.is_file() {
            return Ok(vec![normalise(rel)]);
        }
        let mut out = Vec::new();
        self.walk(&path, &normalise(rel), &mut out)?;
        out.sort();
        Ok(out)
    }

    fn walk(&self, dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), PathFault> {
        let unreadable = |error| PathFault::Unreadable {
            path: dir.display().to_string(),
            error,
        };
        for entry in fs::read_dir(dir).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(PathFault::NotText {
                    path: entry.path().display().to_string(),
                });
            };
            let child_rel = format!("{rel}/{name}");
            // Re-resolve every entry: a symlink inside the tree may point outside it.
            let child = self.resolve(&child_rel)?;
            if child.is_dir() {
                self.walk(&child, &child_rel, out)?;
            } else {
                out.push(child_rel);
            }
        }
        Ok(())
    }

    /// Hex SHA-256 of a file inside the config's directory.
    pub fn sha256(&self, rel: &str) -> Result<String, PathFault> {
        let path = self.file(rel)?;
        let bytes = fs::read(&path).map_err(|error| PathFault::Unreadable {
            path: path.display().to_string(),
            error,
        })?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    }
}

/// A path the config names, relative to its directory, without `.` components; `.` for the
/// directory itself.
pub fn relative(rel: &str) -> PathBuf {
    match normalise(rel) {
        n if n.is_empty() => PathBuf::from("."),
        n => PathBuf::from(n),
    }
}

fn normalise(rel: &str) -> String {
    Path::new(rel)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The text of `path`, refused past `limit` bytes (before reading more than that: a path can
/// name a device that never ends).
pub fn read_text(path: &Path, limit: u64) -> Result<String, PathFault> {
    let shown = path.display().to_string();
    let bytes = crate::bounded::read(path, limit).map_err(|e| match e {
        crate::bounded::BoundedError::TooLarge { limit } => PathFault::TooLarge {
            path: shown.clone(),
            limit,
        },
        crate::bounded::BoundedError::Io(error) => match error.kind() {
            io::ErrorKind::NotFound => PathFault::Missing {
                path: shown.clone(),
            },
            _ => PathFault::Unreadable {
                path: shown.clone(),
                error,
            },
        },
    })?;
    String::from_utf8(bytes).map_err(|_| PathFault::NotText { path: shown })
}

/// Where a `public_key` setting points: `~/` is the home directory, a relative path starts at
/// the config's directory. Public keys may live outside it (usually in `~/.ssh`).
pub fn public_key_path(dir: &ConfigDir, written: &str, home: Option<&Path>) -> PathBuf {
    if let (Some(rest), Some(home)) = (written.strip_prefix("~/"), home) {
        return home.join(rest);
    }
    if Path::new(written).is_absolute() {
        PathBuf::from(written)
    } else {
        dir.join(written)
    }
}

/// Key types EC2 imports, as they open an OpenSSH public key line: "Supported key types: RSA
/// and ED25519" (ImportKeyPair; ECDSA and DSA keys are refused).
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ImportKeyPair.html>
pub const PUBLIC_KEY_TYPES: [&str; 2] = ["ssh-ed25519", "ssh-rsa"];

/// Checks that `text` is one OpenSSH public key and returns it as one line. The reason given
/// on failure never quotes the text: a private key pasted by mistake must not reach a terminal.
pub fn openssh_public_key(text: &str) -> Result<String, String> {
    if text.contains("PRIVATE KEY") {
        return Err("this is a private key; give the public half (the .pub file)".into());
    }
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(line) = line else {
        return Err("the file is empty".into());
    };
    let mut parts = line.split_whitespace();
    let kind = parts.next().unwrap_or_default();
    if kind.starts_with("ecdsa-") || kind == "ssh-dss" {
        return Err(format!(
            "EC2 imports RSA and ED25519 keys only, and this is {kind}; make one it takes with `ssh-keygen -t ed25519`"
        ));
    }
    if !PUBLIC_KEY_TYPES.contains(&kind) {
        return Err(format!(
            "expected an OpenSSH public key starting with one of {}",
            PUBLIC_KEY_TYPES.join(", ")
        ));
    }
    let body = parts.next().unwrap_or_default();
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    if body.len() < 16 || !body.chars().all(base64) {
        return Err(format!("the key after `{kind}` is not base64"));
    }
    Ok(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_checked_without_echoing_them() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx7 me@host\n";
        assert_eq!(openssh_public_key(key).unwrap(), key.trim());
        let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n";
        let reason = openssh_public_key(private).unwrap_err();
        assert!(reason.contains("private key") && !reason.contains("b3Bl"));
        assert!(openssh_public_key("ssh-dss AAAAB3NzaC1kc3MAAACBAP").is_err());
        let ecdsa =
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBF me@host";
        let reason = openssh_public_key(ecdsa).unwrap_err();
        assert!(reason.contains("RSA and ED25519 keys only"), "{reason}");
        assert!(openssh_public_key("ssh-rsa not*base64*at*all!!").is_err());
    }

    #[test]
    fn public_keys_may_live_in_the_home_directory() {
        let dir = ConfigDir::new(Path::new("conf"));
        let home = Path::new("/home/me");
        assert_eq!(
            public_key_path(&dir, "~/.ssh/id.pub", Some(home)),
            Path::new("/home/me/.ssh/id.pub")
        );
        assert_eq!(
            public_key_path(&dir, "keys/id.pub", Some(home)),
            Path::new("conf/keys/id.pub")
        );
        assert_eq!(
            public_key_path(&dir, "/etc/ssh/id.pub", Some(home)),
            Path::new("/etc/ssh/id.pub")
        );
    }

    #[test]
    fn normalises_relative_paths() {
        assert_eq!(normalise("./packer//files/worker"), "packer/files/worker");
    }
}
