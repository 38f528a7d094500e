//! From an empty account to music on disk, and the compile cycle after it: the real vibes
//! binary against the local cloud, the worker's and server's own boot scripts, real encoders,
//! a real rsync daemon, and tags read back with lofty.

use crate::support::{project, project_in, read_tags, tree, write, write_wav, LocalCloud, Tags};
use std::path::Path;

const PROJECT: &str = "e2e";

/// Two artists, three tracks: (path of the WAVE, the tags the tree gives it).
pub(crate) fn collection(music: &Path) -> Vec<(&'static str, Tags)> {
    write(&music.join("nina/tags.vc"), "ARTIST=Nina Simone\n");
    write(
        &music.join("nina/pastel_blues/tags.vc"),
        "ALBUM=Pastel Blues\nDATE=1965\n",
    );
    write(
        &music.join("nina/pastel_blues/1-be_my_husband.tags.vc"),
        "TITLE=Be My Husband\n",
    );
    write(
        &music.join("nina/pastel_blues/2-nobodys_fault.tags.vc"),
        "TITLE=Nobody's Fault but Mine\n",
    );
    write(&music.join("sigur/tags.vc"), "ARTIST=Sigur Rós\n");
    write(
        &music.join("sigur/takk/tags.vc"),
        "ALBUM=Takk…\nDATE=2005\n",
    );
    write(
        &music.join("sigur/takk/3-hoppipolla.tags.vc"),
        "TITLE=Hoppípolla\n",
    );
    write_wav(
        &music.join("nina/pastel_blues/1-be_my_husband.wav"),
        0.6,
        220.0,
    );
    write_wav(
        &music.join("nina/pastel_blues/2-nobodys_fault.wav"),
        0.6,
        330.0,
    );
    write_wav(&music.join("sigur/takk/3-hoppipolla.wav"), 0.6, 440.0);
    let t = |artist: &str, album: &str, title: &str, track, date: &str| Tags {
        artist: artist.into(),
        album: album.into(),
        title: title.into(),
        track,
        date: date.into(),
    };
    vec![
        (
            "nina/pastel_blues/1-be_my_husband",
            t("Nina Simone", "Pastel Blues", "Be My Husband", 1, "1965"),
        ),
        (
            "nina/pastel_blues/2-nobodys_fault",
            t(
                "Nina Simone",
                "Pastel Blues",
                "Nobody's Fault but Mine",
                2,
                "1965",
            ),
        ),
        (
            "sigur/takk/3-hoppipolla",
            t("Sigur Rós", "Takk…", "Hoppípolla", 3, "2005"),
        ),
    ]
}

fn config() -> String {
    "[network]\ncreate = true\n\n[sources]\npath = \"music\"\n\n[keys.builds]\n[keys.worker]\n[keys.server]\n\n[profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 6\"\n\n[profiles.archive]\nencoder = \"flac\"\nflags = \"-s -5\"\n\n[images.worker]\n[images.server]\n\n[compile]\ninstance_type = \"c7a.large\"\nbuilds_volume_gib = 10\ntimeout_minutes = 10\n\n[snapshots]\nkeep = 1\n\n[server]\nrunning = true\n"
    .to_string()
}

fn fetch(cloud: &LocalCloud, dir: &Path, profile: &str, dest: &Path) {
    let url = cloud.rsync_url();
    cloud
        .vibes(
            dir,
            &["fetch", profile, dest.to_str().unwrap(), "--server", &url],
        )
        .expect(0, cloud);
}

/// `vibes status --json`, parsed.
/// Files in the sources tree, and how many of them are audio.
fn counts(music: &Path) -> (usize, usize) {
    fn walk(dir: &Path, n: &mut (usize, usize)) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, n);
            } else {
                n.0 += 1;
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                n.1 += usize::from(matches!(ext, "wav" | "flac" | "aiff"));
            }
        }
    }
    let mut n = (0, 0);
    walk(music, &mut n);
    n
}

/// `(read, of)` from the last compile's "Read N of M files" (the worker's vibes build says it).
fn files_read(status: &serde_json::Value) -> (usize, usize) {
    let message = status["last_compile"]["message"].as_str().unwrap_or("");
    let read = message
        .split("Read ")
        .nth(1)
        .unwrap_or_else(|| panic!("no read line in {message}"));
    let mut words = read.split_whitespace();
    let n = words.next().unwrap().parse().unwrap();
    assert_eq!(words.next(), Some("of"));
    let of = words.next().unwrap().parse().unwrap();
    (n, of)
}

fn status(cloud: &LocalCloud, dir: &Path) -> serde_json::Value {
    let run = cloud.vibes(dir, &["status", "--json"]).expect(0, cloud);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn empty_account_to_music_on_disk_then_a_tag_edit_then_a_broken_track() {
    let cloud = LocalCloud::start();
    let dir = project(PROJECT, &config());
    let music = dir.path().join("music");
    let tracks = collection(&music);

    let empty = cloud.vibes(dir.path(), &["status"]).expect(0, &cloud);
    assert!(
        empty.stdout.contains("server     none running"),
        "{}",
        empty.stdout
    );
    assert!(
        empty.stdout.contains("compile    none recorded"),
        "{}",
        empty.stdout
    );

    // Empty account → apply: stacks, keys, profiles, images, sync, compile, snapshot, server.
    // With -v (a terminal shows the same on the compile's progress bar), the worker's reports
    // come through as it compiles.
    let applied = cloud
        .vibes(dir.path(), &["-v", "apply", "--auto-approve"])
        .expect(0, &cloud);
    let out = applied.all();
    let progress: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("compile: ") && l.contains(" tracks"))
        .collect();
    assert!(!progress.is_empty(), "no compile progress in:\n{out}");
    let first = status(&cloud, dir.path());
    assert_eq!(first["last_compile"]["status"], "succeeded", "{first:#}");
    // The first compile reads the whole tree from the bucket, once, and reports its figures
    // (the next plan prices a compile at their pace).
    let (files, audio) = counts(&music);
    let build = &first["last_compile"]["build"];
    assert_eq!(
        build["encoded"].as_u64(),
        Some(2 * audio as u64),
        "{first:#}"
    );
    assert!(build["seconds"].as_f64().unwrap() > 0.0, "{first:#}");
    assert_eq!(
        files_read(&first),
        (files, files),
        "{}",
        first["last_compile"]["message"]
    );
    assert_eq!(first["snapshots"].as_array().unwrap().len(), 1, "{first:#}");
    assert_eq!(first["snapshots"][0]["served"], true, "{first:#}");
    assert_eq!(
        first["server"]["snapshot"], first["snapshots"][0]["snapshot_id"],
        "{first:#}"
    );
    assert!(
        first["images"]["worker"]["image_id"].is_string(),
        "{first:#}"
    );
    assert!(first["lock"].is_null(), "{first:#}");
    // The builds volume lived only while the compile ran: it went with the worker.
    for address in ["compile", "volume.builds"] {
        assert_eq!(
            cloud.volumes(PROJECT, address),
            Vec::<String>::new(),
            "no builds volume is left"
        );
    }
    // Idle, the project pays for its server, its address and the builds snapshot.
    assert!(first["idle_usd_month"].as_f64().unwrap() > 1.0, "{first:#}");
    let phone = dir.path().join("fetched/phone");
    let archive = dir.path().join("fetched/archive");
    fetch(&cloud, dir.path(), "phone", &phone);
    fetch(&cloud, dir.path(), "archive", &archive);
    for (track, tags) in &tracks {
        assert_eq!(
            &read_tags(&phone.join(format!("{track}.mp3"))),
            tags,
            "{track}.mp3"
        );
        assert_eq!(
            &read_tags(&archive.join(format!("{track}.flac"))),
            tags,
            "{track}.flac"
        );
    }
    assert!(
        tree(&phone).keys().all(|f| !f.contains(".vibes")),
        "bookkeeping reached the fetched profile: {:?}",
        tree(&phone).keys()
    );
    cloud
        .vibes(dir.path(), &["plan", "--detailed-exitcode"])
        .expect(0, &cloud);
    let first_snapshots = cloud.snapshots(PROJECT);
    assert_eq!(first_snapshots.len(), 1, "{first_snapshots:?}");

    // One edited tags file: one file to sync and a compile; only that output changes.
    write(
        &music.join("sigur/takk/3-hoppipolla.tags.vc"),
        "TITLE=Hoppípolla (live)\n",
    );
    let plan = cloud
        .vibes(dir.path(), &["plan", "--detailed-exitcode"])
        .expect(2, &cloud);
    assert!(plan.stdout.contains("1 file to upload"), "{}", plan.stdout);
    assert!(plan.stdout.contains("> compile"), "{}", plan.stdout);
    let before = tree(&phone);
    cloud
        .vibes(dir.path(), &["apply", "--auto-approve"])
        .expect(0, &cloud);
    fetch(&cloud, dir.path(), "phone", &phone);
    // The second compile's snapshot is the newest and the one served ([snapshots] keep = 1
    // let retention take the first once the server moved on).
    let second = status(&cloud, dir.path());
    // A tag edit reads no audio: the tree's small files (a fresh worker's disk) and nothing else;
    // the edited track is retagged in both profiles, nothing is encoded.
    let build = &second["last_compile"]["build"];
    assert_eq!(
        (build["encoded"].as_u64(), build["retagged"].as_u64()),
        (Some(0), Some(2)),
        "{second:#}"
    );
    assert_eq!(
        files_read(&second),
        (files - audio, files),
        "{}",
        second["last_compile"]["message"]
    );
    assert_eq!(
        second["snapshots"].as_array().unwrap().len(),
        1,
        "{second:#}"
    );
    assert_eq!(second["snapshots"][0]["served"], true, "{second:#}");
    assert_ne!(
        second["snapshots"][0]["snapshot_id"], first["snapshots"][0]["snapshot_id"],
        "{second:#}"
    );
    assert_ne!(
        second["last_compile"]["finished"],
        serde_json::Value::Null,
        "{second:#}"
    );
    assert_eq!(
        read_tags(&phone.join("sigur/takk/3-hoppipolla.mp3")).title,
        "Hoppípolla (live)"
    );
    let after = tree(&phone);
    let changed: Vec<&String> = after
        .iter()
        .filter(|(f, sha)| before.get(*f) != Some(sha))
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        changed,
        ["sigur/takk/3-hoppipolla.mp3"],
        "only the edited track changes"
    );
    // [snapshots] keep = 1 holds: the new snapshot replaced the first.
    let second_snapshots = cloud.snapshots(PROJECT);
    assert_eq!(second_snapshots.len(), 1, "keep = 1: {second_snapshots:?}");
    assert_ne!(second_snapshots, first_snapshots);
    cloud
        .vibes(dir.path(), &["plan", "--detailed-exitcode"])
        .expect(0, &cloud);

    // A changed profile: the next worker's builds volume is made from the snapshot, so the
    // archive outputs, up to date there, are not encoded again; only the phone ones are.
    let config_file = dir.path().join("vibes.toml");
    let text = std::fs::read_to_string(&config_file).unwrap();
    write(&config_file, text.replace("--quiet -V 6", "--quiet -V 5"));
    let workers_before = cloud.instances(PROJECT, "compile");
    cloud
        .vibes(dir.path(), &["apply", "--auto-approve"])
        .expect(0, &cloud);
    let worker = cloud
        .instances(PROJECT, "compile")
        .into_iter()
        .map(|(id, _)| id)
        .find(|id| !workers_before.iter().any(|(w, _)| w == id))
        .expect("a worker for the profile change");
    let console = cloud.console(&worker);
    let phone_tracks = tracks.len();
    assert!(
        console.contains(&format!(" tracks, {phone_tracks} to build")),
        "only the phone outputs are built:\n{console}"
    );
    assert!(
        console.contains(&format!(
            "{phone_tracks} encoded, {phone_tracks} up to date, 0 failed"
        )),
        "every archive output is up to date on the volume made from the snapshot:\n{console}"
    );
    assert!(!console.contains("encoded archive/"), "{console}");
    for address in ["compile", "volume.builds"] {
        assert_eq!(
            cloud.volumes(PROJECT, address),
            Vec::<String>::new(),
            "no builds volume is left"
        );
    }
    let second_snapshots = cloud.snapshots(PROJECT);
    let after = {
        fetch(&cloud, dir.path(), "phone", &phone);
        tree(&phone)
    };

    // A corrupt WAVE: the compile fails naming the track and what is wrong with it, the worker
    // is gone, no snapshot is taken, and the server still serves the previous builds.
    write(
        &music.join("nina/pastel_blues/2-nobodys_fault.wav"),
        b"RIFF\x04\0\0\0WAVEjunk",
    );
    let failed = cloud
        .vibes(dir.path(), &["apply", "--auto-approve"])
        .expect(1, &cloud);
    let out = failed.all();
    assert!(
        out.contains("2-nobodys_fault.wav"),
        "the track is named:\n{out}"
    );
    // vibes reads the header itself before any encoder (lame would take such a file without
    // complaint, flac would not): every profile fails it alike.
    assert!(
        out.contains("is not well-formed audio"),
        "the source's fault:\n{out}"
    );
    assert!(out.contains("compile"), "{out}");
    let workers = cloud.instances(PROJECT, "compile");
    assert!(
        workers.iter().all(|(_, state)| state == "terminated"),
        "no worker is left: {workers:?}"
    );
    assert_eq!(
        cloud.snapshots(PROJECT),
        second_snapshots,
        "no snapshot of a failed compile"
    );
    let again = dir.path().join("fetched/phone-again");
    fetch(&cloud, dir.path(), "phone", &again);
    assert_eq!(
        tree(&again),
        after,
        "the server still serves the previous builds"
    );
}

/// What the account holds in the local cloud's `region`, by kind: every stack not deleted,
/// bucket, image, snapshot, VPC, gateway, volume, instance not terminated, key pair and
/// parameter of the project.
fn account(cloud: &LocalCloud, region: &str, project: &str) -> Vec<String> {
    let tagged = format!("Name=tag:vibes:project,Values={project}");
    let path = format!("/{project}");
    // (what, the aws CLI's arguments, the answer's list, the field that names each)
    let kinds: [(&str, Vec<&str>, &str, &str); 11] = [
        (
            "stack",
            vec!["cloudformation", "describe-stacks"],
            "Stacks",
            "StackName",
        ),
        ("bucket", vec!["s3api", "list-buckets"], "Buckets", "Name"),
        (
            "image",
            vec!["ec2", "describe-images", "--owners", "self"],
            "Images",
            "ImageId",
        ),
        (
            "snapshot",
            vec!["ec2", "describe-snapshots", "--filters", &tagged],
            "Snapshots",
            "SnapshotId",
        ),
        (
            "vpc",
            vec!["ec2", "describe-vpcs", "--filters", &tagged],
            "Vpcs",
            "VpcId",
        ),
        (
            "internet gateway",
            vec!["ec2", "describe-internet-gateways"],
            "InternetGateways",
            "InternetGatewayId",
        ),
        (
            "volume",
            vec!["ec2", "describe-volumes", "--filters", &tagged],
            "Volumes",
            "VolumeId",
        ),
        (
            "key pair",
            vec!["ec2", "describe-key-pairs"],
            "KeyPairs",
            "KeyName",
        ),
        (
            "parameter",
            vec![
                "ssm",
                "get-parameters-by-path",
                "--path",
                &path,
                "--recursive",
            ],
            "Parameters",
            "Name",
        ),
        (
            "log group",
            vec!["logs", "describe-log-groups"],
            "logGroups",
            "logGroupName",
        ),
        (
            "instance",
            vec!["ec2", "describe-instances", "--filters", &tagged],
            "Reservations",
            "",
        ),
    ];
    let mut left = Vec::new();
    for (what, args, list, field) in kinds {
        let answer = cloud.aws(&[&args[..], &["--region", region]].concat());
        for item in answer[list].as_array().into_iter().flatten() {
            if list == "Reservations" {
                let live = item["Instances"].as_array().into_iter().flatten();
                for i in live.filter(|i| i["State"]["Name"] != "terminated") {
                    left.push(format!("{what} {} {}", i["InstanceId"], i["State"]["Name"]));
                }
            } else {
                left.push(format!("{what} {}", item[field]));
            }
        }
    }
    left
}

/// The platform in another region than the local cloud's default: every request is answered
/// in the region its signature names, as AWS does (the runner once served us-east-1 only, and
/// a project in eu-west-1 stopped at its image builds). Empty account → music on disk → no
/// changes → `vibes destroy --include-data` → an empty account.
#[test]
fn the_platform_in_eu_west_1_from_an_empty_account_to_music_and_back_to_nothing() {
    const REGION: &str = "eu-west-1";
    let cloud = LocalCloud::start_in(REGION);
    let dir = project_in("west", REGION, &config());
    let tracks = collection(&dir.path().join("music"));
    cloud
        .vibes(dir.path(), &["apply", "--auto-approve"])
        .expect(0, &cloud);
    let phone = dir.path().join("fetched/phone");
    fetch(&cloud, dir.path(), "phone", &phone);
    for (track, tags) in &tracks {
        assert_eq!(
            &read_tags(&phone.join(format!("{track}.mp3"))),
            tags,
            "{track}.mp3"
        );
    }
    cloud
        .vibes(dir.path(), &["plan", "--detailed-exitcode"])
        .expect(0, &cloud);
    // The image builds' log group is the main stack's, and expires its logs.
    let groups = cloud.aws(&["logs", "describe-log-groups", "--region", REGION]);
    assert!(
        groups["logGroups"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|g| g["logGroupName"] == "/vibes/west/image-builds" && g["retentionInDays"] == 30),
        "{groups}"
    );
    let servers = cloud.instances("west", "server");
    assert!(
        servers.iter().any(|(_, state)| state == "running"),
        "the server runs in {REGION}: {servers:?}"
    );

    cloud
        .vibes(dir.path(), &["destroy", "--auto-approve", "--include-data"])
        .expect(0, &cloud);
    let left = account(&cloud, REGION, "west");
    assert!(
        left.is_empty(),
        "left in {REGION} after destroy --include-data: {left:#?}"
    );
}
