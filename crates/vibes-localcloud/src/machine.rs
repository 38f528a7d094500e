//! Machines as on EC2: a Debian 12 root filesystem booted under its own systemd.
//!
//! The base is what an EC2 Debian image starts from — systemd, cloud-init, udev, dbus — made
//! once by `mmdebstrap` and kept in a cache directory named by its package list, so that a new
//! list makes a new base and an unchanged one is never made twice. A machine boots a copy of a
//! root filesystem under `systemd-nspawn --boot`: systemd is PID 1, cloud-init reads the
//! instance's user data from the NoCloud seed (`/var/lib/cloud/seed/nocloud`), and the units the
//! image enabled are started in systemd's own order — so a unit systemd would skip on EC2 (an
//! ordering cycle) is skipped here too, and its console says why.
//! (shared/notes/systemd-nspawn.md has the measurements this follows.)

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Debian release the images are built on (Debian 12, as packer/*.pkr.hcl's source AMIs).
pub const SUITE: &str = "bookworm";

/// What an EC2 Debian image boots with: systemd as init, cloud-init for the user data, sudo for
/// its `admin` user (the one Packer's recipes log in as).
pub const BASE_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "cloud-init",
    "dbus",
    "udev",
    "ca-certificates",
    "sudo",
];

/// What Debian's EC2 images set up for their default user, which cloud-init makes at the first
/// boot there and which is made here when the base is: `admin`, with password-less sudo. sudo
/// keeps `VIBES_PREBUILT_BIN` (the local cloud's prebuilt vibes, see packer/files/worker/install.sh).
const BASE_SETUP: &str = "useradd --create-home --shell /bin/bash --groups sudo admin \
 && echo 'admin ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-admin \
 && echo 'Defaults env_keep += \"VIBES_PREBUILT_BIN\"' > /etc/sudoers.d/91-localcloud \
 && chmod 0440 /etc/sudoers.d/90-admin /etc/sudoers.d/91-localcloud";

/// Names the cache of root filesystems when set.
pub const CACHE_ENV: &str = "VIBES_LOCALCLOUD_CACHE";

/// Where the cache of root filesystems lives: `$VIBES_LOCALCLOUD_CACHE`, else
/// `.localcloud-cache/` in the repository (git-ignored).
pub fn cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.localcloud-cache"),
    }
}

/// The base root filesystem for `packages`, made by mmdebstrap the first time it is asked for
/// and read from the cache after that. Concurrent callers wait for one build (a lock file).
pub fn base_rootfs(cache: &Path, packages: &[&str]) -> Result<PathBuf, String> {
    let mut list: Vec<&str> = packages.to_vec();
    list.sort_unstable();
    list.dedup();
    let key =
        hex::encode(&Sha256::digest(format!("{SUITE}\n{}\n{BASE_SETUP}", list.join("\n")))[..8]);
    let dir = cache.join(format!("debian-{SUITE}-{key}"));
    std::fs::create_dir_all(cache).map_err(|e| format!("create {}: {e}", cache.display()))?;
    let _lock = Lock::take(&cache.join(format!("debian-{SUITE}-{key}.lock")))?;
    if dir.join("etc/os-release").exists() {
        return Ok(dir);
    }
    let building = cache.join(format!("debian-{SUITE}-{key}.partial"));
    let _ = std::fs::remove_dir_all(&building);
    tracing::info!(dir = %dir.display(), "building the Debian base image (mmdebstrap, once)");
    let out = Command::new("mmdebstrap")
        .args(["--variant=minbase", "--quiet"])
        .arg(format!("--include={}", list.join(",")))
        .arg("--customize-hook=chroot \"$1\" sh -ec \"$VIBES_BASE_SETUP\"")
        .env("VIBES_BASE_SETUP", BASE_SETUP)
        .arg(SUITE)
        .arg(&building)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!("mmdebstrap: {e} (scripts/setup.sh installs it: apt-get install mmdebstrap)")
        })?;
    if !out.status.success() {
        return Err(format!(
            "mmdebstrap {SUITE} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    std::fs::rename(&building, &dir).map_err(|e| format!("rename {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Runs a host tool (cp, mount, losetup, …) to its end: what it printed, or an error of `what`
/// and the tool's own words.
pub fn run_tool(cmd: &mut Command, what: &str) -> Result<Vec<u8>, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

/// A copy of `from` at `to`, as a fresh instance's root disk is a copy of its image's snapshot.
pub fn copy_rootfs(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    run_tool(
        Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(from)
            .arg(to),
        &format!("copy {} to {}", from.display(), to.display()),
    )?;
    Ok(())
}

/// A machine's root disk: the image's root filesystem `image`, read only, under a writable
/// layer of the machine's own (overlayfs, `dir/upper`), mounted at `dir/root` — what a copy of
/// the image's snapshot is on EC2, made at once rather than copied.
pub fn overlay_rootfs(image: &Path, dir: &Path) -> Result<PathBuf, String> {
    let (upper, work, root) = (dir.join("upper"), dir.join("work"), dir.join("root"));
    for d in [&upper, &work, &root] {
        std::fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
    }
    run_tool(
        Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!(
                "lowerdir={},upperdir={},workdir={}",
                image.display(),
                upper.display(),
                work.display()
            ))
            .arg(&root),
        &format!("mount the root disk at {}", root.display()),
    )?;
    Ok(root)
}

/// Unmounts a root disk [`overlay_rootfs`] mounted; with `discard`, its writable layer goes too.
pub fn release_rootfs(dir: &Path, discard: bool) {
    let root = dir.join("root");
    let _ = Command::new("umount").arg(&root).output();
    if discard {
        for d in ["root", "upper", "work"] {
            let _ = std::fs::remove_dir_all(dir.join(d));
        }
    }
}

/// What cloud-init's NoCloud datasource reads at boot: the instance's id (a new id makes
/// cloud-init run its per-instance modules again) and its user data, as EC2 would serve them.
pub fn seed(rootfs: &Path, instance_id: &str, user_data: &str) -> Result<(), String> {
    let dir = rootfs.join("var/lib/cloud/seed/nocloud");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    std::fs::write(
        dir.join("meta-data"),
        format!("instance-id: {instance_id}\nlocal-hostname: {instance_id}\n"),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("user-data"), user_data).map_err(|e| e.to_string())?;
    Ok(())
}

/// One boot of a root filesystem, waited for (the tests' way; instances boot in the background).
#[cfg(test)]
#[derive(Debug, Clone)]
pub struct Boot {
    pub rootfs: PathBuf,
    /// Host directories given to the machine: host path → path inside.
    pub binds: Vec<(PathBuf, String)>,
    /// The machine is stopped (SIGKILL to systemd-nspawn) if it has not powered off by then.
    pub timeout: std::time::Duration,
}

/// How a boot ended.
#[cfg(test)]
#[derive(Debug)]
pub struct Booted {
    /// What the machine printed: systemd's boot and shutdown lines, and every unit's output
    /// that goes to the console.
    pub console: String,
    /// It powered itself off (systemd-nspawn exits 0 when the machine powers off).
    pub powered_off: bool,
    pub took: std::time::Duration,
}

#[cfg(test)]
impl Booted {
    /// The console lines that name `unit`, without terminal colours: what a test shows when
    /// a unit did not do its job.
    pub fn lines_about(&self, unit: &str) -> Vec<String> {
        self.console
            .lines()
            .map(strip_ansi)
            .filter(|l| l.contains(unit))
            .collect()
    }
}

/// The `systemd-nspawn` command that boots `rootfs` under its own systemd as the machine `name`,
/// with `binds` (host path → path inside; a block device's node binds as the device).
pub fn boot_command(rootfs: &Path, name: &str, binds: &[(PathBuf, String)]) -> Command {
    let mut cmd = Command::new("systemd-nspawn");
    // No system bus on the host to register with (shared/notes/systemd-nspawn.md).
    cmd.arg("--quiet")
        .arg("--register=no")
        .arg("--keep-unit")
        .arg("--boot")
        .arg(format!("--machine={name}"))
        .arg("--directory")
        .arg(rootfs);
    for (host, inside) in binds {
        cmd.arg(format!("--bind={}:{inside}", host.display()));
    }
    cmd
}

/// The command gets SIGTERM when the runner dies (PR_SET_PDEATHSIG): a machine or build whose
/// runner was killed shuts down rather than running on unowned (systemd-nspawn takes SIGTERM as
/// a poweroff). The signal follows the thread that spawned it: the runtime's worker threads
/// live as long as the runner.
#[allow(unsafe_code)] // prctl in the child between fork and exec: no safe wrapper.
pub fn ends_with_runner(cmd: &mut tokio::process::Command) {
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches only the child's state.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs `argv` in `rootfs` as `user` without booting it (no systemd: as Packer runs a
/// provisioner's commands over SSH on the build instance), with `env`, the host directories
/// `binds` and the host files `binds_ro` given read only. The host's network, as the build
/// instance has the internet.
pub fn run_in(
    rootfs: &Path,
    user: &str,
    env: &[(String, String)],
    binds: &[(PathBuf, String)],
    binds_ro: &[(PathBuf, String)],
    argv: &[&str],
) -> Result<std::process::Output, String> {
    let mut cmd = Command::new("systemd-nspawn");
    cmd.args(["--quiet", "--register=no", "--keep-unit"])
        .arg(format!("--user={user}"))
        .arg(format!(
            "--chdir={}",
            if user == "root" {
                "/root".to_string()
            } else {
                format!("/home/{user}")
            }
        ))
        .arg("--directory")
        .arg(rootfs);
    for (k, v) in env {
        cmd.arg(format!("--setenv={k}={v}"));
    }
    for (host, inside) in binds {
        cmd.arg(format!("--bind={}:{inside}", host.display()));
    }
    for (host, inside) in binds_ro {
        cmd.arg(format!("--bind-ro={}:{inside}", host.display()));
    }
    cmd.arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!("systemd-nspawn: {e} (scripts/setup.sh installs it: apt-get install systemd-container)")
        })
}

/// Boots `boot.rootfs` under its own systemd and waits until it powers off (or the timeout).
#[cfg(test)]
pub fn boot(boot: &Boot) -> Result<Booted, String> {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let name = boot
        .rootfs
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("machine")
        .to_string();
    let mut cmd = boot_command(&boot.rootfs, &name, &boot.binds);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("systemd-nspawn: {e} (scripts/setup.sh installs it: apt-get install systemd-container)")
        })?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if started.elapsed() > boot.timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut console = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    console.push_str(&String::from_utf8_lossy(&err.join().unwrap_or_default()));
    Ok(Booted {
        console,
        powered_off: status.is_some_and(|s| s.success()),
        took: started.elapsed(),
    })
}

/// A line without its terminal colour sequences (`ESC [ … m`).
#[cfg(test)]
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An exclusive lock on a file, released when dropped (flock(2)).
pub(crate) struct Lock {
    _file: std::fs::File,
}

impl Lock {
    #[allow(unsafe_code)] // flock: no safe wrapper among the dependencies.
    pub(crate) fn take(path: &Path) -> Result<Lock, String> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; it blocks until the lock is free.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(format!(
                "lock {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(Lock { _file: file })
    }

    /// The lock if no one holds it now (flock with LOCK_NB).
    #[allow(unsafe_code)] // flock: as in `take`.
    pub(crate) fn try_take(path: &Path) -> Option<Lock> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .ok()?;
        // SAFETY: flock on a descriptor this function owns; it does not block.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        (rc == 0).then_some(Lock { _file: file })
    }
}

#[cfg(test)]
mod tests;

/// How long an orderly shutdown from outside may take before the machine is killed.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// SIGTERM to systemd-nspawn (an orderly shutdown of the machine: its systemd stops every unit),
/// and SIGKILL if it is still there after the grace time.
#[allow(unsafe_code)] // kill: no safe wrapper among the dependencies, and nothing is shared.
pub fn shut_down(pid: u32) {
    let pid = pid as i32;
    // SAFETY: kill only sends a signal; a process already gone gives ESRCH, which is fine.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    std::thread::spawn(move || {
        std::thread::sleep(SHUTDOWN_GRACE);
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    });
}
