//! Running the `vibes` binary from tests, against a moto server.
//!
//! ```ignore
//! use crate::support::{cli, moto};
//! let out = cli::vibes(&config, &moto).args(["plan"]).output().unwrap();
//! ```

#![allow(dead_code)]

use super::moto::Moto;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `vibes --config CONFIG` run in the config's directory, talking only to `moto` with dummy
/// credentials, never to a real profile, and with no terminal on standard input.
pub fn vibes(config: &Path, moto: &Moto) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vibes"));
    cmd.arg("--config")
        .arg(config)
        .env_remove("AWS_PROFILE")
        .env_remove("VIBES_LOG")
        .stdin(Stdio::null());
    if let Some(dir) = config.parent() {
        cmd.current_dir(dir);
    }
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    cmd
}

/// Everything a run printed, stdout then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The exit code (-1 when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}
