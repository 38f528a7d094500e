//! Instances boot their images under their own systemd, as on EC2: what systemd does with the
//! image's units is what vibes meets, and what it says on the console is what vibes shows.

use crate::platform::collection;
use crate::support::{copy_recipes, own_recipe, project, LocalCloud};

/// The worker unit as it once was: ordered after cloud-final.service, which Debian 12 orders
/// after multi-user.target, the target the unit is wanted by.
const CYCLIC_ORDER: &str = "After=cloud-final.service";

#[test]
fn a_worker_unit_systemd_skips_fails_the_compile_with_the_consoles_words() {
    let cloud = LocalCloud::start();
    let dir = project(
        "cycle",
        &format!(
            "[network]\ncreate = true\n\n[sources]\npath = \"music\"\n\n[keys.builds]\n[keys.worker]\n\n[profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 6\"\n\n{}\n[compile]\ninstance_type = \"c7a.large\"\ntimeout_minutes = 10\n",
            own_recipe("worker")
        ),
    );
    collection(&dir.path().join("music"));
    copy_recipes(dir.path());
    let unit = dir.path().join("packer/files/worker/vibes-compile.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    let cyclic: String = text
        .lines()
        .map(|l| {
            if l.starts_with("After=") {
                CYCLIC_ORDER.to_string()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    assert_ne!(cyclic, text, "the unit has an After= line to put back");
    std::fs::write(&unit, cyclic).unwrap();

    let run = cloud.vibes(dir.path(), &["apply", "--auto-approve"]);
    let said = run.all();
    assert_ne!(run.code, 0, "the apply succeeded:\n{said}");
    assert!(
        said.contains("will never compile: systemd did not start vibes-compile.service"),
        "{said}\n{}",
        cloud.logs()
    );
    // systemd's own words, as many of them as its console had printed when vibes read it:
    // "Job vibes-compile.service/start deleted to break ordering cycle …", then "Ordering cycle
    // found, skipping vibes-compile.service".
    let quoted: Vec<&str> = said.lines().filter(|l| l.contains("    | ")).collect();
    assert!(
        quoted
            .iter()
            .any(|l| l.contains("vibes-compile.service")
                && l.to_lowercase().contains("ordering cycle")),
        "apply quotes systemd's own words:\n{said}"
    );
    let workers = cloud.instances("cycle", "compile");
    assert!(
        workers.iter().all(|(_, state)| state != "running"),
        "the idle worker is not left running: {workers:?}"
    );
}

/// The worker's policy as the template grants it, less one permission: the profiles cannot be
/// listed.
const WORKER_POLICY_WITHOUT_LISTING: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"},
  {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": "*"}
]}"#;

#[test]
fn the_worker_calls_aws_as_its_role_and_iam_refuses_what_the_role_does_not_allow() {
    let cloud = LocalCloud::start();
    let dir = project(
        "iam",
        "[network]\ncreate = true\n\n[sources]\npath = \"music\"\n\n[keys.builds]\n[keys.worker]\n\n[profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 6\"\n\n[images.worker]\n\n[compile]\ninstance_type = \"c7a.large\"\ntimeout_minutes = 10\n",
    );
    collection(&dir.path().join("music"));
    cloud
        .vibes(
            dir.path(),
            &["apply", "--auto-approve", "--exclude", "compile"],
        )
        .expect(0, &cloud);
    let role = cloud.role("iam-main-WorkerRole");
    cloud.grant_only(&role, WORKER_POLICY_WITHOUT_LISTING);

    let failed = cloud
        .vibes(dir.path(), &["apply", "--auto-approve"])
        .expect(1, &cloud);
    let out = failed.all();
    assert!(
        out.contains(&format!(
            "AccessDeniedException) when calling the GetParametersByPath operation: User: arn:aws:sts::123456789012:assumed-role/{role}/"
        )),
        "the worker's own call is refused, naming its role:\n{out}\n{}",
        cloud.logs()
    );
    assert!(
        out.contains("is not authorized to perform: ssm:GetParametersByPath on resource: arn:aws:ssm:us-east-1:123456789012:parameter/iam/profiles/"),
        "and the action and resource:\n{out}\n{}",
        cloud.logs()
    );
}
