//! What the apply tests share: a whole desired state built by hand over a temporary tree of
//! recipe files and sources, and a quick way to plan, apply and plan again against the fake.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vibes_core::apply::{self, ApplyOptions, ApplyReport, Outcome, RecordingReporter, RetryPolicy};
use vibes_core::cloud::prelude::*;
use vibes_core::model::*;
use vibes_core::plan::outputs;
use vibes_core::{Address, Desired, Observed, Plan, PlanOptions};
use vibes_fake::FakeCloud;

pub const PROJECT: &str = "tunes";

pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn write(dir: &Path, rel: &str, body: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// The local tree as the sources scan would see it.
pub fn manifest(root: &Path) -> Manifest {
    fn walk(root: &Path, dir: &Path, m: &mut Manifest) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, m);
            } else {
                let body = std::fs::read(&p).unwrap();
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                m.files.insert(
                    rel,
                    FileEntry {
                        size: body.len() as u64,
                        sha256: sha(&body),
                    },
                );
            }
        }
    }
    let mut m = Manifest::default();
    walk(root, root, &mut m);
    m
}

fn image(dir: &Path, name: &str) -> ImageSpec {
    let recipe = format!("packer/{name}.pkr.hcl");
    let script = format!("packer/{name}.sh");
    write(
        dir,
        &recipe,
        &format!("source \"amazon-ebs\" \"{name}\" {{}}\n"),
    );
    write(
        dir,
        &script,
        &format!("#!/bin/sh\necho provisioning {name}\n"),
    );
    let mut files = BTreeMap::new();
    for rel in [&recipe, &script] {
        files.insert(rel.clone(), sha(&std::fs::read(dir.join(rel)).unwrap()));
    }
    let parts: Vec<Vec<u8>> = files
        .iter()
        .flat_map(|(k, v)| [k.as_bytes().to_vec(), v.as_bytes().to_vec()])
        .collect();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    ImageSpec {
        recipe: recipe.into(),
        files,
        built_in: BTreeMap::new(),
        recipe_hash: vibes_core::tags::short_hash(&refs),
        parameter: format!("/{PROJECT}/ami/{name}"),
        keep: 2,
        arch: Default::default(),
    }
}

fn stack(name: &str, parameters: BTreeMap<String, Value>, depends_on: Vec<Address>) -> StackSpec {
    StackSpec {
        stack_name: format!("{PROJECT}-{name}"),
        template_path: format!("cfn/{name}.yaml").into(),
        template_built_in: false,
        template_body: format!("AWSTemplateFormatVersion: '2010-09-09'\nDescription: {name}\n"),
        parameters,
        depends_on,
    }
}

fn out(stack: &str, output: &str) -> Value {
    Value::Output {
        address: Address::stack(stack),
        output: output.into(),
    }
}

/// Everything vibes manages: two stacks, three keys, two profiles, two images, sources over a
/// tree of files, the compile, snapshot retention and a server. Files are written under `dir`.
pub fn full_desired(dir: &Path) -> Desired {
    let mut d = Desired::empty(PROJECT);
    d.stacks
        .insert("vpc".into(), stack("vpc", BTreeMap::new(), vec![]));
    let params = BTreeMap::from([
        ("VpcId".to_string(), out("vpc", "VpcId")),
        ("SubnetId".to_string(), out("vpc", "PrivateSubnetId")),
        ("Project".to_string(), Value::literal(PROJECT)),
    ]);
    d.stacks.insert(
        "main".into(),
        stack("main", params, vec![Address::stack("vpc")]),
    );
    for name in ["worker", "builds"] {
        d.keys.insert(
            name.into(),
            KeySpec {
                key_name: format!("{PROJECT}-{name}"),
                private_key_path: format!("/{PROJECT}/ec2/keys/{name}"),
                public_key: None,
            },
        );
    }
    d.keys.insert(
        "server".into(),
        KeySpec {
            key_name: format!("{PROJECT}-server"),
            private_key_path: format!("/{PROJECT}/ec2/keys/server"),
            public_key: Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1 me@laptop".into()),
        },
    );
    for (name, encoder, text) in [
        (
            "phone",
            "lame",
            "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n",
        ),
        (
            "archive",
            "flac",
            "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s --best\n",
        ),
    ] {
        d.profiles.insert(
            name.into(),
            ProfileSpec {
                parameter: format!("/{PROJECT}/profiles/{name}"),
                text: text.into(),
                encoder: encoder.into(),
            },
        );
    }
    for name in ["worker", "server"] {
        d.images.insert(name.into(), image(dir, name));
    }
    write_sources(dir, 7);
    d.sources = Some(SourcesSpec {
        path: "music".into(),
        delete: true,
        format: None,
        parameter: format!("/{PROJECT}/sources"),
        manifest: Some(manifest(&dir.join("music"))),
        faults: Vec::new(),
    });
    d.compile = Some(CompileSpec {
        instance_type: "c6i.large".into(),
        builds_volume_gib: 50,
        timeout_minutes: 60,
        spot: false,
    });
    d.snapshots = Some(SnapshotsSpec { keep: 2 });
    d.server = Some(ServerSpec {
        running: true,
        instance_type: "t3.small".into(),
        elastic_ip: false,
    });
    d.settle_image_arches();
    d
}

/// `count` albums of a few tracks in the vibes source format.
pub fn write_sources(dir: &Path, count: usize) {
    for a in 0..count {
        let album = format!("music/artist/album_{a}");
        write(
            dir,
            &format!("{album}/tags.vc"),
            &format!("ARTIST=Artist\nALBUM=Album {a}\n"),
        );
        write(
            dir,
            &format!("{album}/1/1-intro.flac"),
            &format!("fLaC album {a} track 1"),
        );
        write(dir, &format!("{album}/1/1-intro.tags.vc"), "TITLE=Intro\n");
        write(
            dir,
            &format!("{album}/1/2-song.wav"),
            &"RIFF".repeat(100 + a),
        );
    }
}

pub fn options(dir: &Path) -> ApplyOptions {
    let mut o = ApplyOptions::new(PROJECT, dir);
    o.retry = RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
        jitter_seed: Some(1),
    };
    o
}

pub async fn observe(cloud: &FakeCloud) -> Observed {
    // The sources bucket is named by the main stack: observe, then list it.
    let o = cloud.observe(PROJECT, None).await.unwrap();
    let bucket = o
        .stacks
        .get(&format!("{PROJECT}-main"))
        .and_then(|s| s.outputs.get(outputs::SOURCES_BUCKET))
        .cloned();
    match bucket {
        Some(b) => cloud.observe(PROJECT, Some(&b)).await.unwrap(),
        None => o,
    }
}

pub async fn plan(d: &Desired, cloud: &FakeCloud) -> (Plan, Observed) {
    let o = observe(cloud).await;
    (vibes_core::plan(d, &o, &PlanOptions::default()).unwrap(), o)
}

pub async fn run(
    plan: &Plan,
    observed: &Observed,
    cloud: &Arc<FakeCloud>,
    options: &ApplyOptions,
) -> (ApplyReport, Arc<RecordingReporter>) {
    let reporter = Arc::new(RecordingReporter::new());
    let report = apply::apply(
        plan,
        cloud.clone(),
        observed,
        options,
        reporter.clone(),
        CancellationToken::new(),
    )
    .await;
    (report, reporter)
}

/// `apply` in a task of its own, for a test that acts while it runs: the task, and the token
/// that interrupts it as Ctrl-C does.
pub fn spawn_apply(
    plan: &Plan,
    observed: &Observed,
    cloud: &Arc<FakeCloud>,
    dir: &Path,
) -> (tokio::task::JoinHandle<ApplyReport>, CancellationToken) {
    let cancel = CancellationToken::new();
    let (plan, observed, cloud, token) = (
        plan.clone(),
        observed.clone(),
        cloud.clone(),
        cancel.clone(),
    );
    let opts = options(dir);
    let task = tokio::spawn(async move {
        apply::apply(
            &plan,
            cloud,
            &observed,
            &opts,
            Arc::new(RecordingReporter::new()),
            token,
        )
        .await
    });
    (task, cancel)
}

/// Waits until `done` holds, looking every millisecond; fails with `what` after 10 s.
pub async fn eventually(what: impl Fn() -> String, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{}", what());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A readable summary of a plan, for assertion messages.
pub fn summary(plan: &Plan) -> String {
    plan.actions
        .iter()
        .map(|a| format!("{} {}: {}", a.op.as_str(), a.address, a.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn failures(plan: &Plan, report: &ApplyReport) -> String {
    report
        .failures()
        .iter()
        .map(|(i, e)| format!("{}: {e}", plan.actions[*i].address))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The outcome of the action at `address` of plan `p`.
pub fn outcome_of<'a>(p: &Plan, report: &'a ApplyReport, address: &Address) -> &'a Outcome {
    &report.outcomes[p
        .actions
        .iter()
        .position(|a| &a.address == address)
        .expect("planned")]
}
