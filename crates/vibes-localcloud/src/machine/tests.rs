//! The platform's units booted as on EC2: a Debian 12 root filesystem under its own systemd,
//! cloud-init reading the launch template's own user data (cfn/main.yaml, evaluated as
//! CloudFormation would), the unit installed and enabled as the image recipe does. The unit's
//! program is a stand-in that says it ran and powers off: what is under test is that systemd
//! starts the unit at all, after cloud-init has written its settings.

use super::*;
use crate::template::{Scope, Template};
use std::collections::BTreeMap;
use std::time::Duration;

/// A deadline for a machine that never powers off, not a measure: Debian boots here in a few
/// seconds, but a loaded machine (CI's two cores, four tests at once, each booting one) once
/// took past 30.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The user data of `launch_template` in cfn/main.yaml, as EC2 hands it to the instance.
fn user_data(launch_template: &str) -> String {
    use base64::Engine;
    let body = std::fs::read_to_string(repo().join("cfn/main.yaml")).unwrap();
    let t = Template::parse(&body).unwrap();
    let given: BTreeMap<String, String> = [
        ("Project".to_string(), "demo".to_string()),
        ("SourcesBucketName".to_string(), "demo-sources".to_string()),
    ]
    .into();
    let scope = Scope {
        stack_name: "demo-main",
        region: "eu-west-1",
        parameters: t.parameters_with_defaults(&given),
        physical: BTreeMap::new(),
    };
    let encoded = t
        .eval(
            t.property(launch_template, &["LaunchTemplateData", "UserData"])
                .expect("the launch template has user data"),
            &scope,
        )
        .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .expect("Fn::Base64");
    String::from_utf8(decoded).unwrap()
}

/// A machine whose image has `unit` (from platform/) installed and enabled, its program
/// replaced by a stand-in that records its environment and powers the machine off.
fn machine_with(dir: &Path, unit: &str, program: &str) -> PathBuf {
    let base = base_rootfs(&cache_dir(), BASE_PACKAGES).expect("the Debian base image");
    let root = dir.join("root");
    copy_rootfs(&base, &root).unwrap();
    let units = root.join("etc/systemd/system");
    std::fs::copy(
        repo().join("platform").join(unit),
        units.join(file_name(unit)),
    )
    .unwrap();
    let stand_in = root.join("usr/local/bin").join(program);
    std::fs::write(
        &stand_in,
        "#!/bin/sh\nenv > /var/log/unit-ran\nsystemctl poweroff\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &stand_in,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // As the recipe's install.sh does on the build instance.
    let enabled = Command::new("systemd-nspawn")
        .args(["--quiet", "--register=no", "--keep-unit", "--directory"])
        .arg(&root)
        .args(["systemctl", "enable", file_name(unit)])
        .output()
        .expect("systemd-nspawn");
    assert!(
        enabled.status.success(),
        "systemctl enable {unit}: {}",
        String::from_utf8_lossy(&enabled.stderr)
    );
    root
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap()
}

fn boots_and_runs(unit: &str, program: &str, launch_template: &str, env_line: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let root = machine_with(dir.path(), unit, program);
    seed(&root, "i-0123456789abcdef0", &user_data(launch_template)).unwrap();
    let booted = boot(&Boot {
        rootfs: root.clone(),
        binds: Vec::new(),
        timeout: BOOT_TIMEOUT,
    })
    .unwrap();
    let name = file_name(unit);
    let ran = std::fs::read_to_string(root.join("var/log/unit-ran"));
    assert!(
        ran.is_ok(),
        "systemd never started {name} (took {:?}, powered off: {}); what the console says of it:\n{}",
        booted.took,
        booted.powered_off,
        booted.lines_about(name).join("\n")
    );
    assert!(
        booted.powered_off,
        "the machine did not power off within {BOOT_TIMEOUT:?}"
    );
    if let Some(line) = env_line {
        assert!(
            ran.unwrap().lines().any(|l| l == line),
            "{name} ran without {line} from cloud-init's /etc/vibes file"
        );
    }
}

#[test]
fn the_worker_unit_starts_under_systemd_after_cloud_init_wrote_its_settings() {
    boots_and_runs(
        "worker/vibes-compile.service",
        "vibes-compile",
        "WorkerLaunchTemplate",
        Some("VIBES_SOURCES_BUCKET=demo-sources"),
    );
}

#[test]
fn the_server_unit_starts_under_systemd() {
    boots_and_runs(
        "server/vibes-rsyncd.service",
        "vibes-serve",
        "ServerLaunchTemplate",
        None,
    );
}
