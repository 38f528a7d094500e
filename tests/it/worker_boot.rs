//! The worker's boot script (`platform/worker/vibes-compile.sh`), run off EC2: temp directories stand in for
//! the volumes, and small stand-in commands for `aws`, `mount`, `blkid`, `mkfs`, `poweroff` and `vibes` record
//! how they were called. The script must compile every profile, record the status JSON, unmount and power
//! off, and still record "failed" and power off when something goes wrong.

use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/platform/worker/vibes-compile.sh"
);

/// Every stand-in appends one line `NAME ARGS...` to `$CALLS`.
const STUB: &str = r#"#!/usr/bin/env bash
name=$1; shift
printf '%s %s\n' "$name" "$*" >>"$CALLS"
case $name in
  blkid) [[ -n ${FS_EXISTS:-} ]] || exit 2 ;; # a new volume: no file system yet, unless told
esac
"#;

/// `aws`: ssm reads parameters from files under `$FAKE_SSM` (the parameter name is the path below
/// it); put-parameter is recorded. Anything else (an `s3 sync` of the whole bucket) fails.
const AWS: &str = r#"#!/usr/bin/env bash
printf 'aws %s\n' "$*" >>"$CALLS"
printf '%s\n' "${AWS_DEFAULT_REGION:-unset}" >>"$CALLS.region"
arg() { local want=$1; shift; while (($#)); do [[ $1 == "$want" ]] && { echo "$2"; return; }; shift; done; }
case "$1 $2" in
  "ssm get-parameters-by-path")
    path=$(arg --path "$@")
    names=()
    for f in "$FAKE_SSM$path"*; do [[ -f $f ]] && names+=("${f#"$FAKE_SSM"}"); done
    if ((${#names[@]})); then (IFS=$'\t'; echo "${names[*]}"); else echo None; fi ;;
  "ssm get-parameter")
    cat "$FAKE_SSM$(arg --name "$@")" ;;
  "ssm put-parameter")
    value=$(arg --value "$@")
    # A Standard parameter holds 4096 characters at most; SSM refuses more.
    if ((${#value} > 4096)); then
      echo "An error occurred (ValidationException) when calling the PutParameter operation: Member must have length less than or equal to 4096" >&2
      exit 254
    fi
    printf '%s' "$value" >"$FAKE_SSM_STATUS" ;;
  *) echo "aws stand-in: unexpected call: $*" >&2; exit 1 ;;
esac
"#;

/// A `vibes build` that reads the sources from a directory standing in for the bucket, then writes
/// one file per profile into `--out`, named after the profile file.
const VIBES_OK: &str = r#"#!/usr/bin/env bash
printf 'vibes %s\n' "$*" >>"$CALLS"
[[ $1 == build ]] || exit 64
shift
while (($#)); do
  case $1 in
    --format) [[ $2 == "${EXPECT_FORMAT:-auto}" ]] || { echo "format $2" >&2; exit 64; }; shift 2 ;;
    --progress-file) printf '{"done": 0, "total": 2}\n' >"$2"; shift 2 ;;
    --summary-file) printf '{"encoded": 2, "retagged": 0, "up_to_date": 0, "failed": 0, "seconds": 1.5, "read_files": 3, "read_bytes": 100}\n' >"$2"; shift 2 ;;
    --sources) sources=$2; shift 2 ;;
    --sources-bucket) bucket=$2; shift 2 ;;
    --rebuild) shift ;;
    --sources-prefix) mkdir -p "$sources"; cp -R "$FAKE_S3/$bucket/$2." "$sources/"; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --profile-file) p=$(basename "$2" .config); mkdir -p "$out/$p"; cp -R "$sources/." "$out/$p/"; cp "$2" "$out/$p/profile"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 64 ;;
  esac
done
echo "compiled"
"#;

/// A `vibes build` that takes long: it says it started, then waits.
const VIBES_SLOW: &str = r#"#!/usr/bin/env bash
printf 'vibes %s\n' "$*" >>"$CALLS"
sleep 60
"#;

const VIBES_FAILS: &str = r#"#!/usr/bin/env bash
printf 'vibes %s\n' "$*" >>"$CALLS"
echo "lame: encoder exploded on ccr/bayou_country/1/1-born_on_the_bayou.wav" >&2
exit 3
"#;

struct Worker {
    dir: tempfile::TempDir,
}

impl Worker {
    /// A bucket holding a small sources tree and two profiles in SSM, for project `tunes`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let w = Worker { dir };
        write(&w.path("bin/stub"), STUB, true);
        write(&w.path("bin/aws"), AWS, true);
        write(&w.path("bin/vibes-ok"), VIBES_OK, true);
        write(&w.path("bin/vibes-fails"), VIBES_FAILS, true);
        write(&w.path("bin/vibes-slow"), VIBES_SLOW, true);
        write(
            &w.path("s3/tunes-sources/ccr/tags.vc"),
            "ARTIST=Creedence Clearwater Revival\n",
            false,
        );
        write(
            &w.path("s3/tunes-sources/ccr/bayou_country/1/1-born_on_the_bayou.wav"),
            "RIFF",
            false,
        );
        write(
            &w.path("ssm/tunes/profiles/phone"),
            "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n",
            false,
        );
        write(
            &w.path("ssm/tunes/profiles/archive"),
            "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s --best\n",
            false,
        );
        write(&w.path("builds-device"), "", false);
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, vibes_bin: &str) -> Command {
        let bin = self.path("bin");
        let stub = |name: &str| format!("{} {name}", bin.join("stub").display());
        let mut c = Command::new("bash");
        c.arg(SCRIPT)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("CALLS", self.path("calls.log"))
            .env("FAKE_S3", self.path("s3"))
            .env("FAKE_SSM", self.path("ssm"))
            .env("FAKE_SSM_STATUS", self.path("ssm-status.json"))
            .env("VIBES_CONFIG", self.path("no-such-config.env"))
            .env("VIBES_PROJECT", "tunes")
            .env("VIBES_BUILT_FROM", "3f9a0c1d2e4b5a69")
            .env("VIBES_SOURCES_BUCKET", "tunes-sources")
            .env("VIBES_BUILDS_DEVICE", self.path("builds-device"))
            .env("VIBES_BUILDS_DIR", self.path("mnt/builds"))
            .env("VIBES_SOURCES_DIR", self.path("sources"))
            .env("VIBES_PROFILES_DIR", self.path("profiles"))
            .env("VIBES_DEVICE_WAIT", "4")
            .env("VIBES_BIN", bin.join(vibes_bin))
            .env("VIBES_AWS", bin.join("aws"))
            .env("VIBES_MOUNT", stub("mount"))
            .env("VIBES_UMOUNT", stub("umount"))
            .env("VIBES_MKFS", stub("mkfs"))
            .env("VIBES_BLKID", stub("blkid"))
            .env("VIBES_RESIZE", stub("resize2fs"))
            .env("VIBES_SYNC", stub("sync"))
            .env("VIBES_POWEROFF", stub("poweroff"))
            .env("VIBES_STATUS_FILE", self.path("status.json"));
        c
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.path("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn status(&self, file: &str) -> Value {
        let text = fs::read_to_string(self.path(file))
            .unwrap_or_else(|e| panic!("no status in {file}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("status is not JSON ({e}): {text}"))
    }
}

fn write(path: &Path, text: &str, executable: bool) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    if executable {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn run(mut c: Command) -> Output {
    let out = c.output().expect("bash runs");
    eprintln!("stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn position(calls: &[String], prefix: &str) -> usize {
    calls
        .iter()
        .position(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no call {prefix:?} in {calls:#?}"))
}

fn assert_finished_recently(status: &Value) {
    let finished = status["finished"].as_str().unwrap();
    assert_eq!(finished.len(), "2024-01-01T00:00:00Z".len(), "{finished}");
    assert!(
        finished.ends_with('Z') && finished.as_bytes()[10] == b'T',
        "not RFC 3339 UTC: {finished}"
    );
}

#[test]
fn a_successful_compile_records_succeeded_unmounts_and_powers_off() {
    let w = Worker::new();
    let out = run(w.command("vibes-ok"));
    assert!(out.status.success(), "exit {:?}", out.status);

    let status = w.status("status.json");
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["built_from"], "3f9a0c1d2e4b5a69");
    assert_eq!(status["message"], "compiled 2 profile(s): archive phone");
    assert_finished_recently(&status);

    // Every profile compiled from the synced sources, with the profile text from SSM.
    for profile in ["archive", "phone"] {
        let built = w.path("mnt/builds").join(profile);
        assert!(
            built
                .join("ccr/bayou_country/1/1-born_on_the_bayou.wav")
                .is_file(),
            "{profile} not built"
        );
        let text = fs::read_to_string(built.join("profile")).unwrap();
        let expected =
            fs::read_to_string(w.path(&format!("ssm/tunes/profiles/{profile}"))).unwrap();
        assert_eq!(text.trim_end(), expected.trim_end());
    }

    // A new volume is formatted, mounted, flushed and unmounted before power-off, in that order.
    let calls = w.calls();
    let device = w.path("builds-device").display().to_string();
    let mnt = w.path("mnt/builds").display().to_string();
    let mkfs = position(&calls, &format!("mkfs -q -L vibes-builds {device}"));
    let mount = position(&calls, &format!("mount {device} {mnt}"));
    let build = position(&calls, "vibes build --sources");
    let umount = position(&calls, &format!("umount {mnt}"));
    let poweroff = position(&calls, "poweroff");
    assert!(
        mkfs < mount && mount < build && build < umount && umount < poweroff,
        "{calls:#?}"
    );
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("poweroff")).count(),
        1
    );
    assert!(calls[build].contains(&format!(
        "--profile-file {}",
        w.path("profiles/archive.config").display()
    )));
    assert!(calls[build].contains(&format!(
        "--profile-file {}",
        w.path("profiles/phone.config").display()
    )));
}

#[test]
fn a_failing_compile_records_failed_with_the_reason_and_still_powers_off() {
    let w = Worker::new();
    let out = run(w.command("vibes-fails"));
    assert!(!out.status.success());

    let status = w.status("status.json");
    assert_eq!(status["status"], "failed");
    assert_eq!(status["built_from"], "3f9a0c1d2e4b5a69");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with("compiling from s3://") && message.contains("failed (exit 3)"),
        "{message}"
    );
    assert!(
        message.contains("encoder exploded"),
        "the tail of the build output is kept: {message}"
    );
    assert_finished_recently(&status);

    let calls = w.calls();
    let umount = position(
        &calls,
        &format!("umount {}", w.path("mnt/builds").display()),
    );
    assert!(
        umount < position(&calls, "poweroff"),
        "the volume is unmounted before power-off: {calls:#?}"
    );
}

#[test]
fn without_profiles_nothing_is_compiled_and_the_status_says_why() {
    let w = Worker::new();
    fs::remove_dir_all(w.path("ssm/tunes/profiles")).unwrap();
    fs::create_dir_all(w.path("ssm/tunes/profiles")).unwrap();
    let out = run(w.command("vibes-ok"));
    assert!(!out.status.success());

    let status = w.status("status.json");
    assert_eq!(status["status"], "failed");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("no profiles under /tunes/profiles/"),
        "{message}"
    );
    let calls = w.calls();
    assert!(!calls.iter().any(|c| c.starts_with("vibes")), "{calls:#?}");
    position(&calls, "poweroff");
}

#[test]
fn a_volume_that_never_appears_fails_the_compile_and_powers_off() {
    let w = Worker::new();
    fs::remove_file(w.path("builds-device")).unwrap();
    let out = run(w.command("vibes-ok"));
    assert!(!out.status.success());

    let status = w.status("status.json");
    assert_eq!(status["status"], "failed");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with("mounting the builds volume failed"),
        "{message}"
    );
    assert!(message.contains("did not appear within 4 s"), "{message}");
    position(&w.calls(), "poweroff");
}

#[test]
fn on_ec2_the_status_goes_to_the_compile_status_parameter_as_json() {
    let w = Worker::new();
    let mut c = w.command("vibes-ok");
    c.env_remove("VIBES_STATUS_FILE");
    let out = run(c);
    assert!(out.status.success());

    let calls = w.calls();
    let put = position(
        &calls,
        "aws ssm put-parameter --name /tunes/compile/status --type String --overwrite",
    );
    // The status is recorded after the volume is unmounted: a "succeeded" means the snapshot is consistent.
    assert!(position(&calls, "umount") < put && put < position(&calls, "poweroff"));
    // The build's last count is published as it ends, however short it was: before the status.
    let progress = position(
        &calls,
        "aws ssm put-parameter --name /tunes/compile/progress --type String --overwrite",
    );
    assert!(
        position(&calls, "vibes build") < progress && progress < put,
        "{calls:#?}"
    );
    let status = w.status("ssm-status.json");
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["built_from"], "3f9a0c1d2e4b5a69");
}

#[test]
fn a_builds_volume_from_a_snapshot_is_grown_to_fill_its_volume_and_a_new_one_is_formatted() {
    // From a snapshot (a file system is there): mounted, then grown online into a volume that
    // `builds_volume_gib` made bigger than the snapshot. Never formatted.
    let w = Worker::new();
    let mut c = w.command("vibes-ok");
    c.env("FS_EXISTS", "1");
    assert!(run(c).status.success());
    let calls = w.calls();
    let device = w.path("builds-device").display().to_string();
    assert!(
        position(&calls, "mount ") < position(&calls, &format!("resize2fs {device}")),
        "{calls:#?}"
    );
    assert!(!calls.iter().any(|c| c.starts_with("mkfs")), "{calls:#?}");

    // A new volume: formatted, and nothing to grow.
    let w = Worker::new();
    assert!(run(w.command("vibes-ok")).status.success());
    let calls = w.calls();
    assert!(calls.iter().any(|c| c.starts_with("mkfs")), "{calls:#?}");
    assert!(
        !calls.iter().any(|c| c.starts_with("resize2fs")),
        "{calls:#?}"
    );
}

#[test]
fn a_failure_whose_output_escapes_long_still_fits_the_status_parameter() {
    // 1,500 control characters become 9,000 once escaped for JSON: the status must still fit
    // the 4096 characters of a Standard parameter, or no status is recorded at all.
    let w = Worker::new();
    write(
        &w.path("bin/vibes-fails"),
        "#!/usr/bin/env bash\nhead -c 1500 /dev/zero | tr '\\0' '\\001' >&2\necho 'the last words' >&2\nexit 1\n",
        true,
    );
    let mut c = w.command("vibes-fails");
    c.env_remove("VIBES_STATUS_FILE");
    let out = run(c);
    assert!(!out.status.success());
    let text = fs::read_to_string(w.path("ssm-status.json")).expect("a status was recorded");
    assert!(text.len() <= 4096, "{} characters", text.len());
    let status: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status["status"], "failed");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("the last words"), "{message:?}");
}

#[test]
fn messages_with_quotes_and_newlines_stay_valid_json() {
    let w = Worker::new();
    write(
        &w.path("bin/vibes-fails"),
        "#!/usr/bin/env bash\nprintf 'bad \"tag\" \\\\ here\\n\\tsecond line\\n' >&2\nexit 1\n",
        true,
    );
    let out = run(w.command("vibes-fails"));
    assert!(!out.status.success());
    let message = w.status("status.json")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("bad \"tag\" \\ here\n\tsecond line"),
        "{message:?}"
    );
}

#[test]
fn settings_come_from_the_config_the_user_data_writes() {
    let w = Worker::new();
    write(
        &w.path("compile.env"),
        "VIBES_PROJECT=tunes\nVIBES_SOURCES_BUCKET=tunes-sources\nAWS_DEFAULT_REGION=eu-west-1\n",
        false,
    );
    let mut c = w.command("vibes-ok");
    c.env("VIBES_CONFIG", w.path("compile.env"))
        .env_remove("VIBES_PROJECT")
        .env_remove("VIBES_SOURCES_BUCKET");
    let out = run(c);
    assert!(out.status.success());
    assert_eq!(w.status("status.json")["status"], "succeeded");
    // The region reaches every aws call.
    let regions = fs::read_to_string(w.path("calls.log.region")).unwrap();
    assert!(
        !regions.is_empty() && regions.lines().all(|r| r == "eu-west-1"),
        "{regions}"
    );
}

#[test]
fn the_sources_format_vibes_toml_names_reaches_the_compile() {
    let w = Worker::new();
    let mut c = w.command("vibes-ok");
    c.env("VIBES_SOURCES_FORMAT", "mustup")
        .env("EXPECT_FORMAT", "mustup");
    let out = run(c);
    assert!(out.status.success(), "exit {:?}", out.status);
    assert_eq!(w.status("status.json")["status"], "succeeded");
}

#[test]
fn a_rebuild_asked_for_reaches_the_compile_and_only_then() {
    for (asked, expected) in [(Some("all"), true), (None, false)] {
        let w = Worker::new();
        let mut c = w.command("vibes-ok");
        if let Some(value) = asked {
            c.env("VIBES_REBUILD", value);
        }
        let out = run(c);
        assert!(out.status.success(), "exit {:?}", out.status);
        let calls = w.calls();
        let build = &calls[position(&calls, "vibes build")];
        assert_eq!(build.contains(" --rebuild"), expected, "{build}");
    }
}

#[test]
fn the_builds_figures_reach_the_compile_status() {
    let w = Worker::new();
    let out = run(w.command("vibes-ok"));
    assert!(out.status.success(), "exit {:?}", out.status);
    let status = w.status("status.json");
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["build"]["encoded"], 2, "{status:#}");
    assert_eq!(status["build"]["read_bytes"], 100, "{status:#}");
    let report: vibes_core::status::CompileReport = serde_json::from_value(status).unwrap();
    assert_eq!(report.build.unwrap().seconds, 1.5);
}

/// Shut down from outside mid-compile (EC2 reclaiming a Spot instance's capacity shuts the OS
/// down: systemd sends every process of the unit SIGTERM): the status says "interrupted", not
/// "failed", so that vibes keeps the builds volume for the next attempt; the worker still
/// unmounts and powers off.
#[test]
fn a_worker_shut_down_mid_compile_records_interrupted_and_powers_off() {
    use std::os::unix::process::CommandExt;
    let w = Worker::new();
    let mut c = w.command("vibes-slow");
    c.process_group(0);
    let child = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !w.calls().iter().any(|c| c.starts_with("vibes build")) {
        assert!(
            started.elapsed().as_secs() < 30,
            "the build never started: {:#?}",
            w.calls()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-TERM", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let status = w.status("status.json");
    assert_eq!(status["status"], "interrupted", "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("shut down from outside"),
        "{status}"
    );
    let calls = w.calls();
    assert!(
        position(&calls, "umount") < position(&calls, "poweroff"),
        "{calls:#?}"
    );
}
