//! An image made as Packer's amazon-ebs builder makes it: a build machine started from the
//! source image (the Debian 12 base, [`crate::machine`]), the recipe's provisioners run on it in
//! order — `file` uploads as the SSH user `admin`, `shell` scripts as `admin` (who uses sudo as
//! on EC2) — and its root file system kept as the image's.
//!
//! Images are kept in the cache (`images/<key>/`), keyed by everything that goes into them:
//! the base, each provisioner with the content of every file it uploads or runs, and the
//! prebuilt vibes offered to the build. A build whose inputs are all unchanged reuses the
//! root file system the identical build made; any change builds again from the base.
//!
//! Where the local cloud differs from a build on EC2: the machine is the host's architecture
//! (`arch` is recorded on the image, and the instance types checked against it, but an arm64
//! recipe is built for this machine); it has the host's network (the package mirror, which
//! `apt-get` reaches as on EC2); and it offers a vibes binary built on this machine as
//! `VIBES_PREBUILT_BIN` (packer/files/worker/install.sh installs it instead of fetching a Rust
//! toolchain and building the source tarball, which needs the internet).

use crate::machine::{self, Lock};
use crate::recipe::Provisioner;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Images kept in the cache whatever their age: the most recently used.
const KEEP_IMAGES: usize = 6;
/// An image used within this long is kept too (another local cloud may still boot it).
const KEEP_USED_WITHIN: std::time::Duration = std::time::Duration::from_secs(3600);

/// The user Packer's recipes log in as on Debian's images.
const SSH_USER: &str = "admin";
/// Where the prebuilt vibes is given to the build machine (read only).
const PREBUILT_INSIDE: &str = "/run/localcloud-vibes";

/// What an image build is given beyond its recipe.
pub struct BuildInputs<'a> {
    pub provisioners: &'a [Provisioner],
    /// Relative `file` sources and `script`s are read from here (where `packer build` runs).
    pub cwd: &'a Path,
    /// A vibes binary for the image, offered as `VIBES_PREBUILT_BIN`.
    pub prebuilt: Option<&'a Path>,
    /// The build's name, for `PACKER_BUILD_NAME`.
    pub name: &'a str,
}

/// The image's root file system: made by running the provisioners on a copy of the base, or
/// the one an identical build made. Progress goes to `log` (the build's output).
pub fn build(cache: &Path, inputs: &BuildInputs, log: &mut dyn Write) -> Result<PathBuf, String> {
    let base = machine::base_rootfs(cache, machine::BASE_PACKAGES)?;
    let key = key(&base, inputs)?;
    let images = cache.join("images");
    std::fs::create_dir_all(&images).map_err(|e| format!("create {}: {e}", images.display()))?;
    let dir = images.join(&key);
    let _lock = Lock::take(&images.join(format!("{key}.lock")))?;
    // Its last use, which the cache's pruning goes by.
    let _ = std::fs::write(images.join(format!("{key}.used")), key.as_bytes());
    prune(&images, &key);
    if dir.join("etc/os-release").exists() {
        let _ = writeln!(
            log,
            "==> local cloud: the image's inputs are those of an earlier build ({key}): its root file system is reused"
        );
        return Ok(dir);
    }
    let machine = BuildMachine {
        rootfs: images.join(format!("{key}.partial")),
        tmp: images.join(format!("{key}.tmp")),
    };
    machine.remove();
    machine::copy_rootfs(&base, &machine.rootfs)?;
    std::fs::create_dir_all(&machine.tmp).map_err(|e| e.to_string())?;
    std::fs::set_permissions(
        &machine.tmp,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .map_err(|e| e.to_string())?;
    let provisioned = inputs
        .provisioners
        .iter()
        .enumerate()
        .try_for_each(|(n, p)| run(&machine, n, p, inputs, log));
    if let Err(e) = provisioned {
        machine.remove();
        return Err(e);
    }
    std::fs::rename(&machine.rootfs, &dir).map_err(|e| format!("rename {}: {e}", dir.display()))?;
    machine.remove();
    Ok(dir)
}

/// The build instance: its root file system, and its /tmp, which lasts from one provisioner to
/// the next as on the instance (systemd-nspawn would give each command a tmpfs of its own).
struct BuildMachine {
    rootfs: PathBuf,
    tmp: PathBuf,
}

impl BuildMachine {
    /// `path` on the machine, as a host path.
    fn host_path(&self, path: &str) -> PathBuf {
        if path == "/tmp" || path.starts_with("/tmp/") {
            return self
                .tmp
                .join(path.trim_start_matches("/tmp").trim_start_matches('/'));
        }
        let relative = if path.starts_with('/') {
            path.trim_start_matches('/').to_string()
        } else {
            format!("home/{SSH_USER}/{path}")
        };
        self.rootfs.join(relative)
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.rootfs);
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// A digest of everything the image is made from: the base, each provisioner (its sources
/// named as the recipe names them, relative to where the build runs, which differs from one
/// build to the next) with the content of what it uploads or runs, and the prebuilt vibes.
fn key(base: &Path, inputs: &BuildInputs) -> Result<String, String> {
    let relative = |s: &str| {
        Path::new(s)
            .strip_prefix(inputs.cwd)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| s.to_string())
    };
    let mut h = Sha256::new();
    h.update(base.display().to_string());
    for p in inputs.provisioners {
        match p {
            Provisioner::Shell {
                shebang,
                inline,
                scripts,
                env,
            } => {
                h.update(format!("\nshell {shebang:?} {inline:?} {env:?}\n"));
                for s in scripts {
                    h.update(relative(&s.display().to_string()));
                    hash_tree(&mut h, &inputs.cwd.join(s), Path::new(""))?;
                }
            }
            Provisioner::File {
                sources,
                destination,
            } => {
                h.update(format!("\nfile {destination:?}\n"));
                for s in sources {
                    h.update(relative(s));
                    hash_tree(&mut h, &inputs.cwd.join(s), Path::new(""))?;
                }
            }
        }
    }
    if let Some(bin) = inputs.prebuilt {
        hash_tree(&mut h, bin, Path::new(""))?;
    }
    Ok(hex::encode(&h.finalize()[..10]))
}

/// Names (under `name`), modes and contents of a file or of every file under a directory, in
/// order; links followed, as an upload follows them.
fn hash_tree(h: &mut Sha256, path: &Path, name: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    h.update(format!(
        "{}:{:o}\n",
        name.display(),
        meta.permissions().mode()
    ));
    if meta.is_dir() {
        let mut entries: Vec<(PathBuf, std::ffi::OsString)> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| (e.path(), e.file_name())))
            .collect();
        entries.sort();
        for (e, n) in entries {
            hash_tree(h, &e, &name.join(n))?;
        }
    } else {
        let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        std::io::copy(&mut f, h).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Removes the images least recently used, but for the newest [`KEEP_IMAGES`] and any used
/// within [`KEEP_USED_WITHIN`]; never `keep`, and never one whose build is under way (locked).
fn prune(images: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(images) else {
        return;
    };
    let mut used: Vec<(std::time::SystemTime, String)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let key = name.strip_suffix(".used")?.to_string();
            Some((e.metadata().ok()?.modified().ok()?, key))
        })
        .collect();
    used.sort_by_key(|u| std::cmp::Reverse(u.0));
    for (at, key) in used.into_iter().skip(KEEP_IMAGES) {
        let recent = at.elapsed().is_ok_and(|d| d < KEEP_USED_WITHIN);
        if recent || key == keep {
            continue;
        }
        // Taken without waiting: a build or a reuse under way keeps its image.
        let Some(_lock) = Lock::try_take(&images.join(format!("{key}.lock"))) else {
            continue;
        };
        tracing::info!(image = %key, "pruning an image not used lately");
        let _ = std::fs::remove_dir_all(images.join(&key));
        let _ = std::fs::remove_file(images.join(format!("{key}.used")));
    }
}

fn run(
    machine: &BuildMachine,
    n: usize,
    p: &Provisioner,
    inputs: &BuildInputs,
    log: &mut dyn Write,
) -> Result<(), String> {
    match p {
        Provisioner::File {
            sources,
            destination,
        } => {
            for s in sources {
                let _ = writeln!(log, "==> amazon-ebs: Uploading {s} => {destination}");
                upload(machine, &inputs.cwd.join(s), s.ends_with('/'), destination)?;
            }
            Ok(())
        }
        Provisioner::Shell {
            shebang,
            inline,
            scripts,
            env,
        } => {
            let mut programs = Vec::new();
            if !inline.is_empty() {
                programs.push(format!("#!{shebang}\n{}\n", inline.join("\n")));
            }
            for s in scripts {
                let path = inputs.cwd.join(s);
                programs.push(
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("script {}: {e}", path.display()))?,
                );
            }
            for (m, program) in programs.iter().enumerate() {
                let _ = writeln!(
                    log,
                    "==> amazon-ebs: Provisioning with shell script ({n}.{m})"
                );
                shell(machine, &format!("{n}-{m}"), program, env, inputs, log)?;
            }
            Ok(())
        }
    }
}

/// The file provisioner's upload: a directory's contents when its source ends with `/`, else
/// the file or directory itself, into `destination` (which must exist when it is a directory
/// to upload into), owned by the SSH user and refused where that user may not write.
fn upload(
    machine: &BuildMachine,
    source: &Path,
    contents: bool,
    destination: &str,
) -> Result<(), String> {
    let dest = machine.host_path(destination);
    let meta =
        std::fs::metadata(source).map_err(|e| format!("upload {}: {e}", source.display()))?;
    let (target_dir, copy_from) = if meta.is_dir() {
        if !dest.is_dir() {
            return Err(format!(
                "upload {}: the destination directory {destination} does not exist on the build instance",
                source.display()
            ));
        }
        if contents {
            (dest.clone(), format!("{}/.", source.display()))
        } else {
            (dest.clone(), source.display().to_string())
        }
    } else if destination.ends_with('/') || dest.is_dir() {
        (dest.clone(), source.display().to_string())
    } else {
        (
            dest.parent().map(Path::to_path_buf).unwrap_or(dest.clone()),
            source.display().to_string(),
        )
    };
    let (uid, gid) = user_ids(&machine.rootfs, SSH_USER)?;
    if !writable_by(&target_dir, uid) {
        return Err(format!(
            "upload {}: permission denied: {SSH_USER} may not write to {destination} on the build instance",
            source.display()
        ));
    }
    machine::run_tool(
        std::process::Command::new("cp")
            .args(["-rL", "--no-preserve=ownership"])
            .arg(&copy_from)
            .arg(&dest),
        &format!("upload {}", source.display()),
    )?;
    machine::run_tool(
        std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{gid}"))
            .arg(&dest),
        &format!("chown {}", dest.display()),
    )?;
    Ok(())
}

/// Runs one shell program as the SSH user, as Packer does: uploaded to /tmp, made executable,
/// run with the provisioner's environment, removed afterwards.
fn shell(
    machine: &BuildMachine,
    name: &str,
    program: &str,
    env: &[(String, String)],
    inputs: &BuildInputs,
    log: &mut dyn Write,
) -> Result<(), String> {
    let script = format!("/tmp/script_{name}.sh");
    let host = machine.host_path(&script);
    std::fs::write(&host, program).map_err(|e| format!("write {}: {e}", host.display()))?;
    let (uid, gid) = user_ids(&machine.rootfs, SSH_USER)?;
    std::os::unix::fs::chown(&host, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
    let mut vars: Vec<(String, String)> = vec![
        ("PACKER_BUILD_NAME".into(), inputs.name.into()),
        ("PACKER_BUILDER_TYPE".into(), "amazon-ebs".into()),
    ];
    vars.extend(env.iter().cloned());
    let mut binds = Vec::new();
    if let Some(bin) = inputs.prebuilt {
        vars.push(("VIBES_PREBUILT_BIN".into(), PREBUILT_INSIDE.into()));
        binds.push((bin.to_path_buf(), PREBUILT_INSIDE.to_string()));
    }
    let command = format!("chmod +x {script}; {script}");
    let tmp = [(machine.tmp.clone(), "/tmp".to_string())];
    let out = machine::run_in(
        &machine.rootfs,
        SSH_USER,
        &vars,
        &tmp,
        &binds,
        &["/bin/sh", "-c", &command],
    )?;
    let _ = std::fs::remove_file(&host);
    let _ = log.write_all(&out.stdout);
    let _ = log.write_all(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "Script exited with non-zero exit status: {}. Allowed exit codes are: [0]",
            out.status.code().unwrap_or(-1)
        ));
    }
    Ok(())
}

/// A user's uid and gid, from the machine's /etc/passwd.
fn user_ids(rootfs: &Path, user: &str) -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).map_err(|e| e.to_string())?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&user) && f.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| format!("no user {user} on the build machine"))
}

/// Whether `uid` may write into the directory `dir` (its owner, or it is writable by all).
fn writable_by(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).is_ok_and(|m| {
        (m.uid() == uid && m.mode() & 0o200 != 0) || m.mode() & 0o002 != 0 || uid == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recipe's files as a build finds them, in a directory of its own.
    fn build_dir(install: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("files/worker")).unwrap();
        std::fs::write(dir.path().join("files/worker/install.sh"), install).unwrap();
        dir
    }

    fn key_of(dir: &Path) -> String {
        let provisioners = [
            Provisioner::File {
                sources: vec![format!("{}/files/worker/", dir.display())],
                destination: "/tmp/vibes-files".into(),
            },
            Provisioner::Shell {
                shebang: "/bin/sh -e".into(),
                inline: vec!["sudo bash /tmp/vibes-files/install.sh".into()],
                scripts: vec![],
                env: vec![],
            },
        ];
        key(
            Path::new("/cache/debian-bookworm-0"),
            &BuildInputs {
                provisioners: &provisioners,
                cwd: dir,
                prebuilt: None,
                name: "amazon-ebs.worker",
            },
        )
        .unwrap()
    }

    #[test]
    fn the_same_recipe_in_another_build_directory_is_the_same_image_and_a_changed_file_is_not() {
        let (a, b) = (
            build_dir("apt-get install flac\n"),
            build_dir("apt-get install flac\n"),
        );
        assert_eq!(key_of(a.path()), key_of(b.path()));
        let changed = build_dir("apt-get install flac lame\n");
        assert_ne!(key_of(a.path()), key_of(changed.path()));
    }
}
