//! The real rsync daemon on loopback, serving a builds tree with the configuration the server
//! image generates (`platform/server/rsyncd-gen.sh`).
//!
//! ```ignore
//! use crate::support::rsync_daemon;
//! let daemon = rsync_daemon::Daemon::serve(&builds, &work_dir);
//! let url = daemon.url("phone/");
//! ```

#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const GENERATOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/platform/server/rsyncd-gen.sh");

/// The rsync daemon, stopped when dropped.
pub struct Daemon {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Daemon {
    /// Serves `builds` (one module per profile directory) on a free loopback port; its
    /// configuration and log go to `work`.
    pub fn serve(builds: &Path, work: &Path) -> Daemon {
        let conf = work.join("rsyncd.conf");
        let out = Command::new("bash")
            .arg(GENERATOR)
            .arg(builds)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "generator failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::write(&conf, &out.stdout).unwrap();

        let log = work.join("rsyncd.log");
        // Tests start daemons in parallel: pick a port and see our own daemon listen on it under
        // one lock, so that two daemons never race for the same free port (the loser would exit
        // and its probe would reach the winner's daemon, which goes away with the other test).
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_port();
            let child = Command::new("rsync")
                .args(["--daemon", "--no-detach", "--address", "127.0.0.1"])
                .arg("--config")
                .arg(&conf)
                .arg("--port")
                .arg(port.to_string())
                .arg("--log-file")
                .arg(&log)
                .stdin(Stdio::null())
                .spawn()
                .expect("rsync is installed (scripts/setup.sh)");
            let mut daemon = Daemon {
                child,
                port,
                log: log.clone(),
            };
            if daemon.wait_listening(Duration::from_secs(10)) {
                return daemon;
            }
            assert!(
                attempts < 3,
                "rsync daemon did not listen on {port}: {}",
                daemon.log()
            );
        }
    }

    /// `rsync://127.0.0.1:PORT/REST`.
    pub fn url(&self, rest: &str) -> String {
        format!("rsync://127.0.0.1:{}/{rest}", self.port)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// True once this daemon listens; false if it exited first (e.g. the port was taken).
    fn wait_listening(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Listening, and still ours: a daemon that lost the port exits at once.
                std::thread::sleep(Duration::from_millis(50));
                return self.child.try_wait().ok().flatten().is_none();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}
