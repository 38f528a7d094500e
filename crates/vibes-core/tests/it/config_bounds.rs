//! Inputs are bounded: a config, a profile file or a saved plan over its limit is refused with
//! the limit named, after reading no more than the limit (a device that never ends included);
//! a profile is checked against what one SSM parameter holds; the project name is limited as
//! the platform's templates limit it; a plan is saved only where a plan may go, with mode 0600.

use crate::support::config::*;
use std::path::Path;
use std::time::{Duration, Instant};
use vibes_core::config::{self, FaultKind};
use vibes_core::saved::{SaveError, SavedPlan, SavedPlanError};

/// Quick enough that nothing was read past the limit (reading /dev/zero unbounded takes
/// minutes and gigabytes).
const QUICK: Duration = Duration::from_secs(5);

#[test]
fn a_config_over_one_mib_is_refused_naming_the_limit() {
    let dir = ConfigDir::bare();
    let body = format!("{PROJECT}# {}\n", "x".repeat(1 << 20));
    let path = dir.write("vibes.toml", &body);
    let e = config::load(&path).unwrap_err();
    let f = only(&e, FaultKind::NoConfig);
    assert!(
        f.message().contains("larger than 1.0 MiB"),
        "{}",
        render(&e)
    );
    assert!(
        f.help_text().unwrap().contains("--config"),
        "{}",
        render(&e)
    );

    let started = Instant::now();
    let e = config::load(Path::new("/dev/zero")).unwrap_err();
    assert!(started.elapsed() < QUICK, "read past the limit");
    assert!(render(&e).contains("larger than 1.0 MiB"), "{}", render(&e));
}

#[test]
fn a_profile_file_over_eight_kib_is_refused_at_the_setting() {
    let dir = ConfigDir::bare();
    dir.write(
        "big.config",
        &format!("CONFIG_ENCODER=flac\n# {}\n", "x".repeat(8 << 10)),
    );
    let e = dir.err(&format!(
        "{PROJECT}[profiles.big]\nconfig = \"big.config\"\n"
    ));
    let f = only(&e, FaultKind::InvalidValue);
    assert!(
        f.message().contains("larger than 8.0 KiB"),
        "{}",
        render(&e)
    );
    assert_eq!(at(f), "vibes.toml:4:10");
    assert!(f.help_text().is_some(), "{}", render(&e));
}

#[test]
fn a_profile_over_what_an_ssm_parameter_holds_is_refused_at_the_profile() {
    let dir = ConfigDir::bare();
    // 5,000 bytes: under the file limit, over the 4 KB of a standard parameter.
    let comment = format!("# {}\n", "x".repeat(4_900));
    dir.write(
        "long.config",
        &format!("CONFIG_ENCODER=flac\n{comment}CONFIG_FLAC_FLAGS=-s\n"),
    );
    let e = dir.err(&format!(
        "{PROJECT}[profiles.long]\nconfig = \"long.config\"\n"
    ));
    let f = only(&e, FaultKind::InvalidValue);
    assert!(f.message().contains("at most 4096"), "{}", render(&e));
    assert_eq!(at(f), "vibes.toml:4:10");
    assert!(f.help_text().unwrap().contains("SSM"), "{}", render(&e));

    // Inline, the fault points at the profile's name.
    let flags = "-V 6 ".repeat(900);
    let e = dir.err(&format!(
        "{PROJECT}[profiles.wordy]\nencoder = \"lame\"\nflags = \"{flags}\"\n"
    ));
    let f = only(&e, FaultKind::InvalidValue);
    assert!(f.message().contains("at most 4096"), "{}", render(&e));
    assert_eq!(at(f), "vibes.toml:3:11");
}

/// The `{0,N}` of the `Project` parameter's AllowedPattern in a template.
fn template_project_repeat(template: &str) -> usize {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../cfn")
            .join(template),
    )
    .unwrap();
    let after = &text[text.find("\n  Project:").expect("a Project parameter")..];
    let pattern = after
        .lines()
        .find(|l| l.trim_start().starts_with("AllowedPattern:"))
        .expect("Project has an AllowedPattern");
    let n = pattern
        .split("{0,")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    n.parse().unwrap()
}

#[test]
fn the_project_name_is_limited_as_the_templates_limit_it() {
    for template in ["main.yaml", "vpc.yaml"] {
        // One first character, then up to N more.
        let longest = template_project_repeat(template) + 1;
        let dir = ConfigDir::bare();
        let ok = "a".repeat(longest);
        dir.ok(&format!("[project]\nname = \"{ok}\"\n"));
        let long = "a".repeat(longest + 1);
        let e = dir.err(&format!("[project]\nname = \"{long}\"\n"));
        let f = only(&e, FaultKind::InvalidName);
        assert!(
            f.message().contains(&format!("{} characters", longest + 1)),
            "{template}: {}",
            render(&e)
        );
    }
}

#[test]
fn a_saved_plan_is_read_only_up_to_its_limit() {
    let started = Instant::now();
    for device in ["/dev/zero", "/dev/urandom"] {
        match SavedPlan::load(Path::new(device)) {
            Err(e @ SavedPlanError::TooLarge { .. }) => {
                assert!(e.to_string().contains("64.0 MiB"), "{e}")
            }
            other => panic!("{device}: {other:?}"),
        }
    }
    assert!(started.elapsed() < QUICK * 4, "read past the limit");
}

fn a_plan() -> SavedPlan {
    let desired = ConfigDir::bare().ok(PROJECT);
    let options = vibes_core::PlanOptions::default();
    let plan = vibes_core::plan(&desired, &vibes_core::Observed::default(), &options).unwrap();
    SavedPlan::new(plan, &options)
}

#[test]
fn a_plan_is_saved_owner_only_and_never_through_a_link() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let dir = ConfigDir::bare();
    let config = dir.write("vibes.toml", PROJECT);
    let out = dir.path().join("saved.plan");
    a_plan().save(&out, &config).unwrap();
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    SavedPlan::load(&out).unwrap();
    // Saved again over itself: still a plan, still 0600, no temporary file left.
    a_plan().save(&out, &config).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // A link at the destination is refused, and what it points to is untouched.
    let victim = dir.write("victim.txt", "precious\n");
    let link = dir.path().join("link.plan");
    symlink(&victim, &link).unwrap();
    let e = a_plan().save(&link, &config).unwrap_err();
    assert!(matches!(e, SaveError::Symlink { .. }), "{e}");
    assert!(!e.help().is_empty());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // Also a link to the plan already saved.
    let to_plan = dir.path().join("to-plan.plan");
    symlink(&out, &to_plan).unwrap();
    assert!(matches!(
        a_plan().save(&to_plan, &config),
        Err(SaveError::Symlink { .. })
    ));
}

#[test]
fn a_plan_is_never_saved_over_the_config_or_a_file_that_is_not_a_plan() {
    let dir = ConfigDir::bare();
    let config = dir.write("vibes.toml", PROJECT);
    let e = a_plan().save(&config, &config).unwrap_err();
    assert!(matches!(e, SaveError::IsConfig { .. }), "{e}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), PROJECT);

    let notes = dir.write("notes.txt", "my notes\n");
    let e = a_plan().save(&notes, &config).unwrap_err();
    assert!(matches!(e, SaveError::NotAPlan { .. }), "{e}");
    assert!(e.help().contains("another name"), "{}", e.help());
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
}
