//! A hand-built project and the accounts it meets, for the renderer's golden tests.
//!
//! `desired()` is a full project: stacks vpc and main, three keys (two generated, one imported),
//! two profiles, the worker and server images, a small music tree, a compile, two builds snapshots kept and
//! a running server. `in_place(&desired)` is the account as `vibes apply` leaves it: every
//! resource tagged with `vibes:project`, `vibes:address` and `vibes:fingerprint`, the
//! fingerprints computed as the planner computes them.

#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use vibes_core::address::Address;
use vibes_core::model::{
    CompileSpec, Desired, FileEntry, ImageSpec, KeySpec, Manifest, ProfileSpec, ServerSpec,
    SnapshotsSpec, SourcesSpec, StackSpec, Value, ENGINE_VERSION,
};
use vibes_core::observed::{
    ObservedBucket, ObservedImage, ObservedInstance, ObservedKeyPair, ObservedObject,
    ObservedParameter, ObservedSnapshot, ObservedStack, ObservedVolume,
};
use vibes_core::plan::outputs;
use vibes_core::tags::{self, fingerprint_of, ownership, Tags};
use vibes_core::Observed;

pub const PROJECT: &str = "vibes";
pub const SOURCES_BUCKET: &str = "vibes-main-sourcesbucket-1q2w3e4r5t6y";
pub const WORKER_IMAGE: &str = "ami-0f1e2d3c4b5a69788";
pub const SERVER_IMAGE: &str = "ami-05a4b3c2d1e0f9a8b";
pub const BUILDS_VOLUME: &str = "vol-0b1c2d3e4f5a6b7c8";
/// The newest builds snapshot, made from the current sources, profiles and worker image.
pub const NEWEST_SNAPSHOT: &str = "snap-0c0ffee0c0ffee002";
/// An older builds snapshot, made from an earlier sources revision.
pub const OLDER_SNAPSHOT: &str = "snap-0c0ffee0c0ffee001";
pub const SERVER_INSTANCE: &str = "i-0a5e4d3c2b1a09876";

pub const PHONE_PROFILE: &str =
    "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\nCONFIG_PLAYLISTS=y\n";
pub const ARCHIVE_PROFILE: &str = "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s --best\n";

const VPC_TEMPLATE: &str = "\
AWSTemplateFormatVersion: '2010-09-09'
Description: vibes network
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.42.0.0/16
      EnableDnsHostnames: true
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.42.1.0/24
      MapPublicIpOnLaunch: true
Outputs:
  VpcId:
    Value: !Ref Vpc
  SubnetId:
    Value: !Ref Subnet
";

/// The main stack's template: long enough that a plan summarises it rather than listing it.
pub fn main_template() -> String {
    let mut t = String::from(
        "AWSTemplateFormatVersion: '2010-09-09'\nDescription: vibes buckets, roles, build projects and launch templates\nParameters:\n  VpcId:\n    Type: AWS::EC2::VPC::Id\n  SubnetId:\n    Type: AWS::EC2::Subnet::Id\nResources:\n",
    );
    for bucket in ["SourcesBucket", "ArtifactsBucket"] {
        t.push_str(&format!(
            "  {bucket}:\n    Type: AWS::S3::Bucket\n    Properties:\n      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n        BlockPublicPolicy: true\n        IgnorePublicAcls: true\n        RestrictPublicBuckets: true\n"
        ));
    }
    for role in ["WorkerRole", "ServerRole", "ImageBuildRole"] {
        t.push_str(&format!(
            "  {role}:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n            Principal: {{ Service: ec2.amazonaws.com }}\n            Action: sts:AssumeRole\n"
        ));
    }
    t.push_str("Outputs:\n");
    for out in [
        outputs::SOURCES_BUCKET,
        outputs::ARTIFACTS_BUCKET,
        outputs::IMAGE_BUILD_PROJECT,
        outputs::WORKER_LAUNCH_TEMPLATE,
        outputs::SERVER_LAUNCH_TEMPLATE,
        outputs::AVAILABILITY_ZONE,
    ] {
        t.push_str(&format!("  {out}:\n    Value: !Ref {out}\n"));
    }
    t
}

fn sha256(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

/// The music tree: one album, one disc, two tracks and their tags.
pub fn manifest() -> Manifest {
    let mut files = BTreeMap::new();
    for (path, content, size) in [
        (
            "ccr/bayou_country/tags.vc",
            "ARTIST=Creedence Clearwater Revival\nALBUM=Bayou Country\nDATE=1969\n",
            70,
        ),
        (
            "ccr/bayou_country/1/1-born_on_the_bayou.flac",
            "flac stream 1",
            31_457_280,
        ),
        (
            "ccr/bayou_country/1/1-born_on_the_bayou.tags.vc",
            "TITLE=Born on the Bayou\n",
            24,
        ),
        (
            "ccr/bayou_country/1/2-bootleg.flac",
            "flac stream 2",
            17_825_792,
        ),
    ] {
        files.insert(
            path.to_string(),
            FileEntry {
                size,
                sha256: sha256(content),
            },
        );
    }
    Manifest { files }
}

pub fn desired() -> Desired {
    let mut d = Desired::empty(PROJECT);
    d.project.region = Some("eu-west-1".into());
    d.stacks.insert(
        "vpc".into(),
        StackSpec {
            stack_name: "vibes-vpc".into(),
            template_path: "cfn/vpc.yaml".into(),
            template_built_in: false,
            template_body: VPC_TEMPLATE.into(),
            parameters: BTreeMap::new(),
            depends_on: vec![],
        },
    );
    let vpc_output = |output: &str| Value::Output {
        address: Address::stack("vpc"),
        output: output.into(),
    };
    d.stacks.insert(
        "main".into(),
        StackSpec {
            stack_name: "vibes-main".into(),
            template_path: "cfn/main.yaml".into(),
            template_built_in: false,
            template_body: main_template(),
            parameters: BTreeMap::from([
                ("VpcId".into(), vpc_output("VpcId")),
                ("SubnetId".into(), vpc_output("SubnetId")),
            ]),
            depends_on: vec![Address::stack("vpc")],
        },
    );
    for name in ["builds", "worker"] {
        d.keys.insert(
            name.into(),
            KeySpec {
                key_name: format!("vibes-{name}"),
                private_key_path: format!("/vibes/ec2/keys/{name}"),
                public_key: None,
            },
        );
    }
    d.keys.insert(
        "server".into(),
        KeySpec {
            key_name: "vibes-server".into(),
            private_key_path: "/vibes/ec2/keys/server".into(),
            public_key: Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFake me@laptop\n".into()),
        },
    );
    for (name, text, encoder) in [
        ("phone", PHONE_PROFILE, "lame"),
        ("archive", ARCHIVE_PROFILE, "flac"),
    ] {
        d.profiles.insert(
            name.into(),
            ProfileSpec {
                parameter: format!("/vibes/profiles/{name}"),
                text: text.into(),
                encoder: encoder.into(),
            },
        );
    }
    let files = BTreeMap::from([
        (
            "packer/worker.pkr.hcl".to_string(),
            sha256("source \"amazon-ebs\" \"worker\" {}"),
        ),
        (
            "packer/worker/provision.sh".to_string(),
            sha256("apt-get install -y flac lame vorbis-tools opus-tools"),
        ),
    ]);
    d.images.insert(
        "worker".into(),
        ImageSpec {
            recipe: "packer/worker.pkr.hcl".into(),
            recipe_hash: fingerprint_of(&files),
            files,
            built_in: BTreeMap::new(),
            parameter: "/vibes/ami/worker".into(),
            keep: 2,
            arch: Default::default(),
        },
    );
    let files = BTreeMap::from([(
        "packer/server.pkr.hcl".to_string(),
        sha256("source \"amazon-ebs\" \"server\" {}"),
    )]);
    d.images.insert(
        "server".into(),
        ImageSpec {
            recipe: "packer/server.pkr.hcl".into(),
            recipe_hash: fingerprint_of(&files),
            files,
            built_in: BTreeMap::new(),
            parameter: "/vibes/ami/server".into(),
            keep: 2,
            arch: Default::default(),
        },
    );
    d.sources = Some(SourcesSpec {
        path: "music".into(),
        delete: false,
        format: None,
        parameter: "/vibes/sources".into(),
        manifest: Some(manifest()),
        faults: Vec::new(),
    });
    d.compile = Some(CompileSpec {
        instance_type: "c6i.2xlarge".into(),
        builds_volume_gib: 200,
        timeout_minutes: 240,
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

fn owned(address: &Address, fingerprint: &str) -> Tags {
    ownership(PROJECT, address, fingerprint)
}

/// What a builds snapshot made from this desired state is tagged with, as the planner computes it:
/// the `vibes:built-from` hash over sources revision, profiles, engine and worker recipe.
pub fn built_from(d: &Desired) -> (String, Tags) {
    let revision = d
        .sources
        .as_ref()
        .and_then(|s| s.manifest.as_ref())
        .expect("a scanned tree")
        .revision();
    let profiles: BTreeMap<&String, &String> =
        d.profiles.iter().map(|(k, v)| (k, &v.text)).collect();
    let profiles_hash = fingerprint_of(&profiles);
    let worker = d
        .images
        .get("worker")
        .map(|i| i.recipe_hash.clone())
        .unwrap_or_default();
    let built_from = fingerprint_of(&(&revision, &profiles_hash, ENGINE_VERSION, &worker));
    let mut t = Tags::new();
    t.insert(tags::BUILT_FROM.into(), built_from.clone());
    t.insert(tags::SOURCES_REVISION.into(), revision);
    t.insert("vibes:profiles".into(), profiles_hash);
    t.insert("vibes:engine".into(), ENGINE_VERSION.into());
    t.insert("vibes:worker-image".into(), worker);
    (built_from, t)
}

pub fn parameter(name: &str, value: Option<&str>, secure: bool, tags: Tags) -> ObservedParameter {
    ObservedParameter {
        name: name.into(),
        secure,
        value: value.map(Into::into),
        tags,
        version: 1,
    }
}

/// The account as `vibes apply` of `d` leaves it.
pub fn in_place(d: &Desired) -> Observed {
    let mut o = Observed::default();

    let vpc_outputs = BTreeMap::from([
        ("VpcId".to_string(), "vpc-0a1b2c3d4e5f60718".to_string()),
        (
            "SubnetId".to_string(),
            "subnet-0f9e8d7c6b5a40312".to_string(),
        ),
    ]);
    let main_outputs = BTreeMap::from([
        (
            outputs::SOURCES_BUCKET.to_string(),
            SOURCES_BUCKET.to_string(),
        ),
        (
            outputs::ARTIFACTS_BUCKET.to_string(),
            "vibes-main-artifactsbucket-9o8i7u6y5t4r".to_string(),
        ),
        (
            outputs::IMAGE_BUILD_PROJECT.to_string(),
            "vibes-image-build".to_string(),
        ),
        (
            outputs::WORKER_LAUNCH_TEMPLATE.to_string(),
            "lt-0aaaabbbbccccdddd".to_string(),
        ),
        (
            outputs::SERVER_LAUNCH_TEMPLATE.to_string(),
            "lt-0eeeeffff00001111".to_string(),
        ),
        (
            outputs::AVAILABILITY_ZONE.to_string(),
            "eu-west-1a".to_string(),
        ),
    ]);
    for (name, spec) in &d.stacks {
        let address = Address::stack(name);
        let parameters = spec
            .parameters
            .iter()
            .map(|(k, v)| {
                let resolved = match v {
                    Value::Literal { value } => value.clone(),
                    Value::Output { output, .. } => vpc_outputs[output].clone(),
                };
                (k.clone(), resolved)
            })
            .collect();
        o.stacks.insert(
            spec.stack_name.clone(),
            ObservedStack {
                stack_name: spec.stack_name.clone(),
                stack_id: format!(
                    "arn:aws:cloudformation:eu-west-1:123456789012:stack/{}/0000-{name}",
                    spec.stack_name
                ),
                status: "CREATE_COMPLETE".into(),
                template_body: spec.template_body.clone(),
                parameters,
                outputs: if name == "vpc" {
                    vpc_outputs.clone()
                } else {
                    main_outputs.clone()
                },
                tags: owned(
                    &address,
                    &fingerprint_of(&(&spec.template_body, &spec.parameters)),
                ),
            },
        );
    }

    for (name, spec) in &d.keys {
        let address = Address::key(name);
        let fp = match &spec.public_key {
            Some(pk) => fingerprint_of(&("import", pk.trim())),
            None => fingerprint_of(&("generate",)),
        };
        o.key_pairs.insert(
            spec.key_name.clone(),
            ObservedKeyPair {
                key_name: spec.key_name.clone(),
                key_pair_id: format!("key-0{name}"),
                tags: owned(&address, &fp),
            },
        );
        if spec.public_key.is_none() {
            o.parameters.insert(
                spec.private_key_path.clone(),
                parameter(&spec.private_key_path, None, true, owned(&address, &fp)),
            );
        }
    }

    for (name, spec) in &d.profiles {
        let tags = owned(&Address::profile(name), &fingerprint_of(&spec.text));
        o.parameters.insert(
            spec.parameter.clone(),
            parameter(&spec.parameter, Some(&spec.text), false, tags),
        );
    }

    for (name, spec) in &d.images {
        let tags = owned(&Address::image(name), &spec.recipe_hash);
        let id = if name == "worker" {
            WORKER_IMAGE
        } else {
            SERVER_IMAGE
        };
        o.images.insert(
            id.into(),
            ObservedImage {
                image_id: id.into(),
                name: format!("vibes-{name}-{}", spec.recipe_hash),
                state: "available".into(),
                created: "2024-05-01T10:00:00.000Z".into(),
                tags: tags.clone(),
                architecture: None,
            },
        );
        o.parameters.insert(
            spec.parameter.clone(),
            parameter(&spec.parameter, Some(id), false, tags),
        );
    }

    if let Some(sources) = &d.sources {
        let manifest = sources.manifest.as_ref().expect("a scanned tree");
        o.sources_bucket = Some(ObservedBucket {
            bucket: SOURCES_BUCKET.into(),
            objects: manifest
                .files
                .iter()
                .map(|(k, f)| {
                    (
                        k.clone(),
                        ObservedObject {
                            size: f.size,
                            sha256: Some(f.sha256.clone()),
                        },
                    )
                })
                .collect(),
        });
        let tags = owned(&Address::sources(), &manifest.revision());
        o.parameters.insert(
            sources.parameter.clone(),
            parameter(&sources.parameter, Some(SOURCES_BUCKET), false, tags),
        );
    }

    // Two builds snapshots: the newest from what the config names now, an older one from an
    // earlier sources revision.
    let (current, current_tags) = built_from(d);
    let snapshot_address = Address::snapshot("builds");
    let mut newest = owned(&snapshot_address, &current);
    newest.extend(current_tags.clone());
    let mut older_tags = current_tags;
    older_tags.insert(tags::BUILT_FROM.into(), "0ld0ld0ld0ld0ld0".into());
    older_tags.insert(tags::SOURCES_REVISION.into(), "5ca1ab1e5ca1ab1e".into());
    let mut older = owned(&snapshot_address, "0ld0ld0ld0ld0ld0");
    older.extend(older_tags);
    for (id, started, tags) in [
        (OLDER_SNAPSHOT, "2024-05-02T08:00:00.000Z", older),
        (NEWEST_SNAPSHOT, "2024-05-09T08:00:00.000Z", newest),
    ] {
        o.snapshots.insert(
            id.into(),
            ObservedSnapshot {
                snapshot_id: id.into(),
                volume_id: BUILDS_VOLUME.into(),
                state: "completed".into(),
                started: started.into(),
                tags,
            },
        );
    }

    if let Some(server) = d.server.as_ref().filter(|s| s.running) {
        let fp = fingerprint_of(&server.instance_type);
        let mut tags = owned(&Address::server(), &fp);
        tags.insert("Name".into(), "vibes-server".into());
        tags.insert("vibes:snapshot".into(), NEWEST_SNAPSHOT.into());
        o.instances.insert(
            SERVER_INSTANCE.into(),
            ObservedInstance {
                instance_id: SERVER_INSTANCE.into(),
                state: "running".into(),
                public_ip: Some("203.0.113.17".into()),
                private_ip: Some("10.42.1.17".into()),
                tags,
                volumes: Default::default(),
                state_reason: None,
            },
        );
    }
    o
}

/// A standing builds volume as an earlier vibes made it (the compile's volume now lives only
/// while it runs): tagged ours, of the configured size (200 GiB without `[compile]`).
pub fn standing_builds_volume(d: &Desired, o: &mut Observed) {
    let size = d.compile.as_ref().map_or(200, |c| c.builds_volume_gib);
    let address = Address::volume("builds");
    o.volumes.insert(
        BUILDS_VOLUME.into(),
        ObservedVolume {
            volume_id: BUILDS_VOLUME.into(),
            size_gib: size,
            state: "available".into(),
            tags: owned(&address, &fingerprint_of(&size)),
        },
    );
}
