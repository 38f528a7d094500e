//! `vibes fetch PROFILE DEST`: copy one compiled profile from the running server to a local
//! directory, with rsync (the server's image runs an rsync daemon with one module per profile
//! over the builds snapshot).

use crate::cli::{Cli, FetchArgs};
use miette::{miette, Result};
use std::ffi::OsString;
use std::path::Path;
use vibes_core::observed::{Observed, ObservedInstance};
use vibes_core::tags::{ADDRESS, PROJECT};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("no server runs for project {project}: set [server] running = true in vibes.toml and run vibes apply")]
    NoServer { project: String },
    #[error("server {instance_id} has no IP address yet (it is {state}); try again in a minute")]
    NoAddress { instance_id: String, state: String },
    #[error("there is no profile `{profile}` in vibes.toml (profiles: {known})")]
    UnknownProfile { profile: String, known: String },
}

/// The running server of `project` and the address to reach it by: its public IP, else its
/// private one (from inside the VPC or over a VPN).
pub fn server_address<'a>(
    observed: &'a Observed,
    project: &str,
) -> Result<(&'a ObservedInstance, String), FetchError> {
    let mut servers: Vec<&ObservedInstance> = observed
        .instances
        .values()
        .filter(|i| i.tags.get(PROJECT).map(String::as_str) == Some(project))
        .filter(|i| i.tags.get(ADDRESS).map(String::as_str) == Some("server"))
        .filter(|i| matches!(i.state.as_str(), "running" | "pending"))
        .collect();
    // A running server before one still starting (a replace in flight).
    servers.sort_by_key(|i| (i.state != "running", i.instance_id.clone()));
    let server = servers
        .into_iter()
        .next()
        .ok_or_else(|| FetchError::NoServer {
            project: project.to_string(),
        })?;
    let ip = server
        .public_ip
        .clone()
        .or_else(|| server.private_ip.clone())
        .ok_or_else(|| FetchError::NoAddress {
            instance_id: server.instance_id.clone(),
            state: server.state.clone(),
        })?;
    Ok((server, ip))
}

/// rsync's arguments: the profile's module into DEST, deleting what the profile no longer
/// holds only once every file has arrived (`--delete-after`), with one overall progress line.
/// `dry_run`: rsync lists what it would do and changes nothing.
pub fn rsync_args(ip: &str, profile: &str, dest: &Path, dry_run: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-a", "--delete-after", "--info=progress2"]
        .iter()
        .map(OsString::from)
        .collect();
    if dry_run {
        args.push("--dry-run".into());
        args.push("--itemize-changes".into());
    }
    // IPv6 literals go in brackets in an rsync:// URL.
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    args.push(format!("rsync://{host}/{profile}/").into());
    // The trailing slash: the module's content goes into DEST, not into DEST/PROFILE.
    let mut d = dest.as_os_str().to_os_string();
    if !d.to_string_lossy().ends_with('/') {
        d.push("/");
    }
    args.push(d);
    args
}

pub async fn run(cli: &Cli, args: &FetchArgs) -> Result<i32> {
    let (desired, _) = crate::session::load_desired(&cli.config)?;
    if !desired.profiles.contains_key(&args.profile) {
        let known = desired
            .profiles
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        return Err(miette!(
            "{}",
            FetchError::UnknownProfile {
                profile: args.profile.clone(),
                known
            }
        ));
    }
    let opts = vibes_aws::ConnectOptions {
        region: cli
            .region
            .clone()
            .or_else(|| desired.project.region.clone()),
        endpoint_url: cli.endpoint_url.clone(),
        profile: None,
    };
    let cloud = vibes_aws::connect(&opts)
        .await
        .map_err(|e| miette!("{e}"))?;
    let project = &desired.project.name;
    let observed = vibes_core::cloud::Cloud::observe(&cloud, project, None)
        .await
        .map_err(|e| miette!("reading AWS: {e}"))?;
    let (server, ip) = server_address(&observed, project).map_err(|e| miette!("{e}"))?;
    let rsync_args = rsync_args(&ip, &args.profile, &args.dest, args.dry_run);
    if !cli.quiet {
        eprintln!(
            "Fetching profile {} from server {} ({ip}) into {}",
            args.profile,
            server.instance_id,
            args.dest.display()
        );
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
        Some(code) => Err(miette!("rsync exited with status {code}")),
        None => Err(miette!("rsync was stopped by a signal")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vibes_core::tags::Tags;

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
    fn rsync_copies_the_profile_module_into_dest() {
        let args = rsync_args("203.0.113.7", "phone", Path::new("/media/phone"), false);
        assert_eq!(
            args,
            [
                "-a",
                "--delete-after",
                "--info=progress2",
                "rsync://203.0.113.7/phone/",
                "/media/phone/"
            ]
        );
        let dry = rsync_args("10.0.1.5", "archive", Path::new("out/"), true);
        assert_eq!(
            dry,
            [
                "-a",
                "--delete-after",
                "--info=progress2",
                "--dry-run",
                "--itemize-changes",
                "rsync://10.0.1.5/archive/",
                "out/"
            ]
        );
        assert_eq!(
            rsync_args("2001:db8::1", "p", Path::new("d"), false)[3],
            "rsync://[2001:db8::1]/p/"
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
        assert!(e.to_string().contains("set [server] running = true"), "{e}");
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
