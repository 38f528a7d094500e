//! `vibes fetch PROFILE DEST`: copy one compiled profile from the running server to a local
//! directory, with rsync (the server's image runs an rsync daemon with one module per profile
//! over the builds snapshot). The server is found in AWS, or named with `--server` (a tunnel, a
//! bastion, a local emulator), and then AWS is not asked at all.

mod server;

pub use server::RsyncServer;

use crate::cli::{Cli, FetchArgs};
use miette::{miette, Result};
use std::ffi::OsString;
use std::path::Path;
use vibes_core::observed::{Observed, ObservedInstance};
use vibes_core::Desired;

#[derive(Debug, thiserror::Error, miette::Diagnostic, PartialEq, Eq)]
pub enum FetchError {
    #[error("no server runs for project {project}")]
    #[diagnostic(help(
        "set [server] running = true in vibes.toml and run vibes apply, or name a server with --server"
    ))]
    NoServer { project: String },
    #[error("server {instance_id} has no IP address yet (it is {state})")]
    #[diagnostic(help("try again in a minute: `vibes status` shows when it runs"))]
    NoAddress { instance_id: String, state: String },
    #[error("there is no profile `{profile}` in vibes.toml (profiles: {known})")]
    #[diagnostic(help("fetch one of the profiles vibes.toml names"))]
    UnknownProfile { profile: String, known: String },
}

/// The running server of `project` and the address to reach it by: its public IP, else its
/// private one (from inside the VPC or over a VPN).
pub fn server_address<'a>(
    observed: &'a Observed,
    project: &str,
) -> Result<(&'a ObservedInstance, String), FetchError> {
    let server = observed
        .server(project)
        .filter(|i| i.state.is_up())
        .ok_or_else(|| FetchError::NoServer {
            project: project.to_string(),
        })?;
    let ip = server
        .public_ip
        .clone()
        .or_else(|| server.private_ip.clone())
        .ok_or_else(|| FetchError::NoAddress {
            instance_id: server.instance_id.clone(),
            state: server.state.to_string(),
        })?;
    Ok((server, ip))
}

/// How a fetch treats DEST.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchMode {
    /// List what would change, change nothing.
    pub dry_run: bool,
    /// Delete local files the profile does not hold. Off unless asked: DEST may be a music
    /// directory that holds more than this profile.
    pub delete: bool,
}

/// rsync's arguments: the profile's module into DEST, with one overall progress line. With
/// `delete`, what the profile no longer holds goes too, only once every file has arrived
/// (`--delete-after`).
pub fn rsync_args(
    server: &RsyncServer,
    profile: &str,
    dest: &Path,
    mode: FetchMode,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-a".into()];
    if mode.delete {
        args.push("--delete-after".into());
    }
    args.push("--info=progress2".into());
    if mode.dry_run {
        args.push("--dry-run".into());
        args.push("--itemize-changes".into());
    }
    args.push(server.module_url(profile).into());
    // The trailing slash: the module's content goes into DEST, not into DEST/PROFILE.
    let mut d = dest.as_os_str().to_os_string();
    if !d.to_string_lossy().ends_with('/') {
        d.push("/");
    }
    args.push(d);
    args
}

/// Refuses a profile the config does not name, listing the ones it does.
fn check_profile(desired: &Desired, profile: &str) -> Result<(), FetchError> {
    if desired.profiles.contains_key(profile) {
        return Ok(());
    }
    let known = desired
        .profiles
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    Err(FetchError::UnknownProfile {
        profile: profile.to_string(),
        known,
    })
}

pub async fn run(cli: &Cli, args: &FetchArgs) -> Result<i32> {
    let (server, name) = match &args.server {
        // Named: no AWS. The profile is checked against vibes.toml when there is one; without
        // it (fetching on a machine that only has a tunnel), the server's module list decides.
        Some(server) => {
            if cli.config.exists() {
                let (desired, _) = crate::session::load_desired(&cli.config)?;
                check_profile(&desired, &args.profile)?;
            }
            (server.clone(), server.to_string())
        }
        None => {
            let (desired, _) = crate::session::load_desired(&cli.config)?;
            check_profile(&desired, &args.profile)?;
            let (instance, ip) = find_server(cli, &desired).await?;
            (RsyncServer::at_ip(&ip), format!("server {instance} ({ip})"))
        }
    };
    let mode = FetchMode {
        dry_run: args.dry_run,
        delete: args.delete,
    };
    let rsync_args = rsync_args(&server, &args.profile, &args.dest, mode);
    if !cli.quiet {
        errln!(
            "Fetching profile {} from {name} into {}",
            args.profile,
            args.dest.display()
        );
    }
    // rsync makes DEST itself but not its parents: `vibes fetch phone ~/Music/new/phone` works.
    if !args.dry_run {
        std::fs::create_dir_all(&args.dest).map_err(|e| {
            miette!(
                help = "choose a DEST you can write to",
                "cannot create {}: {e}",
                args.dest.display()
            )
        })?;
    }
    tracing::debug!("rsync {:?}", rsync_args);
    // rsync as a process of its own, no shell: the profile name and DEST are never interpreted.
    let status = tokio::process::Command::new("rsync")
        .args(&rsync_args)
        .status()
        .await
        .map_err(|e| miette!("cannot run rsync: {e} (install rsync)"))?;
    match status.code() {
        Some(0) => Ok(super::exit::OK),
        Some(code) => Err(miette!(
            help = "rsync's message above says why; check the profile is built and the server is reachable",
            "rsync exited with status {code}"
        )),
        None => Err(miette!("rsync was stopped by a signal")),
    }
}

/// The running server instance of the project, as AWS has it: its id and IP address.
async fn find_server(cli: &Cli, desired: &Desired) -> Result<(String, String)> {
    let cloud = crate::session::connect(cli, desired).await?;
    let project = &desired.project.name;
    let observed = vibes_core::cloud::Observe::observe(&cloud, project, None)
        .await
        .map_err(|e| miette!("reading AWS: {e}"))?;
    let (server, ip) = server_address(&observed, project)?;
    Ok((server.instance_id.clone(), ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vibes_core::tags::Tags;
    use vibes_core::tags::{ADDRESS, PROJECT};

    fn instance(
        id: &str,
        state: &str,
        address: &str,
        public: Option<&str>,
        private: Option<&str>,
    ) -> ObservedInstance {
        let mut tags = Tags::new();
        tags.insert(PROJECT.into(), "tunes".into());
        tags.insert(ADDRESS.into(), address.into());
        ObservedInstance {
            instance_id: id.into(),
            state: state.into(),
            public_ip: public.map(str::to_string),
            private_ip: private.map(str::to_string),
            tags,
            volumes: Default::default(),
            state_reason: None,
        }
    }

    fn observed(instances: Vec<ObservedInstance>) -> Observed {
        Observed {
            instances: instances
                .into_iter()
                .map(|i| (i.instance_id.clone(), i))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn rsync_copies_the_profile_module_into_dest_deleting_only_when_asked() {
        let server = RsyncServer::at_ip("203.0.113.7");
        let args = rsync_args(
            &server,
            "phone",
            Path::new("/media/phone"),
            FetchMode::default(),
        );
        assert_eq!(
            args,
            [
                "-a",
                "--info=progress2",
                "rsync://203.0.113.7/phone/",
                "/media/phone/"
            ]
        );
        let server: RsyncServer = "127.0.0.1:8873".parse().unwrap();
        let dry = rsync_args(
            &server,
            "archive",
            Path::new("out/"),
            FetchMode {
                dry_run: true,
                delete: true,
            },
        );
        assert_eq!(
            dry,
            [
                "-a",
                "--delete-after",
                "--info=progress2",
                "--dry-run",
                "--itemize-changes",
                "rsync://127.0.0.1:8873/archive/",
                "out/"
            ]
        );
    }

    #[test]
    fn the_server_is_reached_by_its_public_ip_else_its_private_one() {
        let o = observed(vec![instance(
            "i-1",
            "running",
            "server",
            Some("203.0.113.7"),
            Some("10.0.1.5"),
        )]);
        assert_eq!(server_address(&o, "tunes").unwrap().1, "203.0.113.7");
        let o = observed(vec![instance(
            "i-1",
            "running",
            "server",
            None,
            Some("10.0.1.5"),
        )]);
        assert_eq!(server_address(&o, "tunes").unwrap().1, "10.0.1.5");
        let o = observed(vec![instance("i-1", "pending", "server", None, None)]);
        assert!(matches!(
            server_address(&o, "tunes"),
            Err(FetchError::NoAddress { .. })
        ));
    }

    #[test]
    fn without_a_running_server_the_error_says_how_to_start_one() {
        let o = observed(vec![
            instance("i-w", "running", "compile", Some("203.0.113.8"), None),
            instance("i-old", "stopped", "server", Some("203.0.113.9"), None),
        ]);
        let e = server_address(&o, "tunes").unwrap_err();
        assert_eq!(
            e,
            FetchError::NoServer {
                project: "tunes".into()
            }
        );
        let help = miette::Diagnostic::help(&e).unwrap().to_string();
        assert!(help.contains("set [server] running = true"), "{help}");
        assert!(matches!(
            server_address(&o, "other"),
            Err(FetchError::NoServer { .. })
        ));
    }

    #[test]
    fn a_running_server_wins_over_one_still_starting() {
        let o = observed(vec![
            instance("i-a", "pending", "server", Some("203.0.113.1"), None),
            instance("i-b", "running", "server", Some("203.0.113.2"), None),
        ]);
        assert_eq!(server_address(&o, "tunes").unwrap().0.instance_id, "i-b");
    }
}
