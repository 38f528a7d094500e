//! A moto server (the local AWS emulator) for tests that talk to "AWS" over HTTP.
//!
//! ```ignore
//! use crate::support::moto;   // in the root package's tests (vibes-aws includes this file)
//! let moto = moto::Moto::start();
//! std::env::set_var(...) // or pass moto.endpoint() as --endpoint-url / ConnectOptions
//! ```
//!
//! Each `Moto` is its own server on a free loopback port, started from the project venv
//! (`scripts/setup.sh` is run first when `.venv` is missing) and killed when dropped. Use
//! distinct project names when tests share one server.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Dummy credentials and region the emulator accepts; real ones never leave the machine.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";

/// How long a cold moto takes to answer, with margin (it loads its catalogues lazily).
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Moto {
    child: Child,
    port: u16,
    root: PathBuf,
}

impl Moto {
    /// Start a server and wait until it answers HTTP. Panics with what went wrong: tests
    /// cannot go on without it.
    pub fn start() -> Moto {
        let root = repo_root();
        let server = root.join(".venv/bin/moto_server");
        if !server.exists() {
            let status = Command::new("bash")
                .arg(root.join("scripts/setup.sh"))
                .current_dir(&root)
                .status()
                .expect("run scripts/setup.sh");
            assert!(
                status.success(),
                "scripts/setup.sh failed; moto_server is needed at {}",
                server.display()
            );
        }
        // A free port can be taken between probing and binding: try a few. Servers of one test
        // binary start one at a time, so that two of them never race for the same free port
        // (the loser's probe would reach the winner's server).
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", server.display()));
            match wait_until_answering(&mut child, port) {
                Ok(()) => {
                    // Nobody reads stderr from here on: don't let a full pipe stall the server.
                    drop(child.stderr.take());
                    return Moto { child, port, root };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = e;
                }
            }
        }
        panic!("moto_server did not start: {last}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url`, `AWS_ENDPOINT_URL` or `ConnectOptions`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment for a child process (the vibes binary, the `aws` CLI) to use this server
    /// with dummy credentials, never probing instance metadata.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_PAGER", String::new()),
        ]
    }

    /// The real `aws` CLI from the venv, pointed at this server: for checking from outside
    /// what the adapter did.
    pub fn aws_cli(&self) -> Command {
        let mut cmd = Command::new(self.root.join(".venv/bin/aws"));
        cmd.arg("--endpoint-url")
            .arg(self.endpoint())
            .arg("--output")
            .arg("json");
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        // The CLI must not pick up the developer's real profile.
        cmd.env_remove("AWS_PROFILE");
        cmd
    }

    /// Run the `aws` CLI and parse its JSON output; panics with stderr when it fails.
    pub fn aws_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.aws_cli().args(args).output().expect("run aws CLI");
        assert!(
            out.status.success(),
            "aws {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&out.stdout).expect("aws CLI prints JSON")
    }

    /// Kill the server now, as an endpoint that goes away mid-apply.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Forget everything the server holds (moto's reset API).
    pub fn reset(&self) {
        http_request(self.port, "POST", "/moto-api/reset").expect("reset moto");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace root: the nearest ancestor of this crate holding `scripts/setup.sh`.
fn repo_root() -> PathBuf {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .find(|p| p.join("scripts/setup.sh").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("no scripts/setup.sh above {}", start.display()))
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_until_answering(child: &mut Child, port: u16) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            return Err(format!("exited with {status}: {}", err.trim()));
        }
        if http_request(port, "GET", "/moto-api/").is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "no answer on port {port} after {} s",
        START_TIMEOUT.as_secs()
    ))
}

/// A bare HTTP/1.0 request; returns the status line. Enough to probe and reset the server.
fn http_request(port: u16, method: &str, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )
    .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.lines().next().unwrap_or_default().to_string();
    if status.starts_with("HTTP/") {
        Ok(status)
    } else {
        Err(format!("not HTTP: {status}"))
    }
}
