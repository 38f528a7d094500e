//! The planner's rules, on hand-made desired and observed states: what it does, in what
//! order, and what it declines to do.

use std::collections::BTreeMap;
use std::path::PathBuf;
use vibes_core::model::*;
use vibes_core::observed::*;
use vibes_core::plan::{plan, Effect, Op, Plan, PlanOptions};
use vibes_core::tags::{self, fingerprint_of, Tags};
use vibes_core::Address;

fn manifest(files: &[(&str, &str)]) -> Manifest {
    Manifest {
        files: files
            .iter()
            .map(|(p, c)| {
                (
                    p.to_string(),
                    FileEntry {
                        size: c.len() as u64,
                        sha256: format!("{:0>64}", c),
                    },
                )
            })
            .collect(),
    }
}

/// The whole platform: network, keys, profiles, an image, sources, compile, retention, server.
fn full() -> Desired {
    let mut d = Desired::empty("vibes");
    let stack = |name: &str, params: &[(&str, Value)], deps: Vec<Address>| StackSpec {
        stack_name: format!("vibes-{name}"),
        template_path: PathBuf::from(format!("cfn/{name}.yaml")),
        template_built_in: false,
        template_body: format!("Description: {name}\n"),
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        depends_on: deps,
    };
    d.stacks.insert(
        "vpc".into(),
        stack("vpc", &[("Project", Value::literal("vibes"))], vec![]),
    );
    d.stacks.insert(
        "main".into(),
        stack(
            "main",
            &[
                ("Project", Value::literal("vibes")),
                (
                    "VpcId",
                    Value::Output {
                        address: Address::stack("vpc"),
                        output: "VpcId".into(),
                    },
                ),
            ],
            vec![Address::stack("vpc")],
        ),
    );
    for k in ["builds", "worker", "server"] {
        d.keys.insert(
            k.into(),
            KeySpec {
                key_name: format!("vibes-{k}"),
                private_key_path: format!("/vibes/ec2/keys/{k}"),
                public_key: None,
            },
        );
    }
    d.profiles.insert(
        "phone".into(),
        ProfileSpec {
            parameter: "/vibes/profiles/phone".into(),
            text: "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=-V 6\n".into(),
            encoder: "lame".into(),
        },
    );
    for (image, hash) in [("worker", "r1"), ("server", "s1")] {
        d.images.insert(
            image.into(),
            ImageSpec {
                recipe: format!("packer/{image}.pkr.hcl").into(),
                files: BTreeMap::new(),
                built_in: BTreeMap::new(),
                recipe_hash: hash.into(),
                parameter: format!("/vibes/ami/{image}"),
                keep: 2,
                arch: Default::default(),
            },
        );
    }
    d.sources = Some(SourcesSpec {
        path: "music".into(),
        delete: false,
        format: None,
        parameter: "/vibes/sources".into(),
        manifest: Some(manifest(&[("a/1-x.wav", "aa")])),
        faults: Vec::new(),
    });
    d.compile = Some(CompileSpec {
        instance_type: "c7a.xlarge".into(),
        builds_volume_gib: 100,
        timeout_minutes: 60,
        spot: false,
    });
    d.snapshots = Some(SnapshotsSpec { keep: 2 });
    d.server = Some(ServerSpec {
        running: true,
        instance_type: "t4g.small".into(),
        elastic_ip: false,
    });
    d.settle_image_arches();
    d
}

fn run(d: &Desired, o: &Observed) -> Plan {
    plan(d, o, &PlanOptions::default()).expect("a valid plan")
}

fn position(p: &Plan, addr: &str) -> usize {
    p.actions
        .iter()
        .position(|a| a.address.to_string() == addr)
        .unwrap_or_else(|| panic!("{addr} not in plan"))
}

fn op(p: &Plan, addr: &str) -> Op {
    p.actions[position(p, addr)].op
}

fn ours(addr: &str, fp: &str) -> Tags {
    tags::ownership("vibes", &addr.parse().unwrap(), fp)
}

fn snapshot(id: &str, started: &str, tags: Tags) -> ObservedSnapshot {
    ObservedSnapshot {
        snapshot_id: id.into(),
        volume_id: "vol-1".into(),
        state: "completed".into(),
        started: started.into(),
        tags,
    }
}

#[test]
fn an_empty_account_gets_everything_in_dependency_order() {
    let p = run(&full(), &Observed::default());
    let before = |a: &str, b: &str| {
        assert!(
            position(&p, a) < position(&p, b),
            "{a} must come before {b}"
        );
        let (i, j) = (position(&p, a), position(&p, b));
        assert!(p.edges.contains(&(i, j)), "edge {a} -> {b}");
    };
    before("stack.vpc", "stack.main");
    before("stack.main", "image.worker");
    before("key.builds", "image.worker");
    before("image.worker", "compile");
    before("profile.phone", "compile");
    before("sources", "compile");
    before("compile", "server");
    before("image.server", "server");
    assert_eq!(op(&p, "compile"), Op::Run);
    assert_eq!(
        p.find(&Address::compile()).unwrap().reason,
        "no builds snapshot yet"
    );
    assert_eq!(op(&p, "server"), Op::Create);
    // No two keys wait on each other: they can run in parallel.
    let keys: Vec<usize> = ["key.builds", "key.worker", "key.server"]
        .iter()
        .map(|k| position(&p, k))
        .collect();
    assert!(!p
        .edges
        .iter()
        .any(|(a, b)| keys.contains(a) && keys.contains(b)));
}

#[test]
fn instances_without_their_image_are_blocked_with_the_reason() {
    let mut d = full();
    d.images.clear();
    let p = run(&d, &Observed::default());
    let c = p.find(&Address::compile()).unwrap();
    assert_eq!(c.op, Op::Blocked);
    assert!(c.reason.contains("[images.worker]"), "{}", c.reason);
    assert_eq!(op(&p, "server"), Op::Blocked);
}

#[test]
fn plans_are_deterministic() {
    let (d, o) = (full(), Observed::default());
    let a = serde_json::to_string(&run(&d, &o)).unwrap();
    let b = serde_json::to_string(&run(&d, &o)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn untagged_resources_with_the_seeds_names_are_adopted_not_recreated() {
    let mut d = Desired::empty("vibes");
    d.keys = full().keys;
    d.profiles = full().profiles;
    let mut o = Observed::default();
    o.key_pairs.insert(
        "vibes-builds".into(),
        ObservedKeyPair {
            key_name: "vibes-builds".into(),
            key_pair_id: "key-1".into(),
            tags: Tags::new(),
        },
    );
    o.parameters.insert(
        "/vibes/ec2/keys/builds".into(),
        ObservedParameter {
            name: "/vibes/ec2/keys/builds".into(),
            secure: true,
            value: None,
            tags: Tags::new(),
            version: 1,
        },
    );
    o.parameters.insert(
        "/vibes/profiles/phone".into(),
        ObservedParameter {
            name: "/vibes/profiles/phone".into(),
            secure: false,
            value: Some("CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=-V 6\n".into()),
            tags: Tags::new(),
            version: 3,
        },
    );
    let p = run(&d, &o);
    assert_eq!(op(&p, "key.builds"), Op::Adopt);
    let adopt = p.find(&Address::key("builds")).unwrap();
    assert!(
        adopt
            .effects
            .iter()
            .all(|e| matches!(e, Effect::TagKeyPair { .. } | Effect::TagParameter { .. })),
        "adopting only tags"
    );
    assert_eq!(op(&p, "profile.phone"), Op::Adopt);
    assert!(p
        .find(&Address::profile("phone"))
        .unwrap()
        .effects
        .iter()
        .all(|e| matches!(e, Effect::TagParameter { .. })));
    assert_eq!(op(&p, "key.worker"), Op::Create);
}

#[test]
fn a_generated_key_whose_private_key_is_gone_is_replaced() {
    let mut d = Desired::empty("vibes");
    d.keys = full().keys;
    d.keys.retain(|k, _| k == "builds");
    let mut o = Observed::default();
    let fp = fingerprint_of(&("generate",));
    o.key_pairs.insert(
        "vibes-builds".into(),
        ObservedKeyPair {
            key_name: "vibes-builds".into(),
            key_pair_id: "key-1".into(),
            tags: ours("key.builds", &fp),
        },
    );
    let p = run(&d, &o);
    assert_eq!(op(&p, "key.builds"), Op::Replace);
    assert!(p.actions[0].reason.contains("/vibes/ec2/keys/builds"));
}

#[test]
fn removing_a_profile_deletes_it_and_leaves_other_peoples_parameters_alone() {
    let d = Desired::empty("vibes");
    let mut o = Observed::default();
    o.parameters.insert(
        "/vibes/profiles/old".into(),
        ObservedParameter {
            name: "/vibes/profiles/old".into(),
            secure: false,
            value: Some("CONFIG_ENCODER=flac\n".into()),
            tags: ours("profile.old", "x"),
            version: 1,
        },
    );
    o.parameters.insert(
        "/vibes/profiles/hand".into(),
        ObservedParameter {
            name: "/vibes/profiles/hand".into(),
            secure: false,
            value: Some("CONFIG_ENCODER=flac\n".into()),
            tags: Tags::new(),
            version: 1,
        },
    );
    let p = run(&d, &o);
    assert_eq!(p.actions.len(), 1);
    assert_eq!(op(&p, "profile.old"), Op::Delete);
    assert_eq!(p.actions[0].changes[0].after, None);
}

#[test]
fn snapshots_are_data_deleted_only_with_include_data() {
    let d = Desired::empty("vibes");
    let mut o = Observed::default();
    o.snapshots.insert(
        "snap-1".into(),
        snapshot(
            "snap-1",
            "2026-01-01T00:00:00Z",
            ours("snapshot.builds", "x"),
        ),
    );
    let p = run(&d, &o);
    assert_eq!(op(&p, "snapshot.builds"), Op::Blocked);
    assert!(p.actions[0].reason.contains("--include-data"));
    assert!(p.actions[0].effects.is_empty());
    let p = plan(
        &d,
        &o,
        &PlanOptions {
            include_data: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(op(&p, "snapshot.builds"), Op::Delete);
}

fn built_from_tags(d: &Desired) -> Tags {
    // A compile with nothing changed: learn the tags from the compile the planner would run.
    let p = run(d, &Observed::default());
    let compile = p.find(&Address::compile()).unwrap();
    let Some(Effect::RunCompile { snapshot_tags, .. }) = compile
        .effects
        .iter()
        .find(|e| matches!(e, Effect::RunCompile { .. }))
    else {
        panic!()
    };
    snapshot_tags.clone()
}

#[test]
fn compile_runs_when_sources_change_and_says_which() {
    let d = full();
    let tags_now = built_from_tags(&d);
    let mut o = Observed::default();
    o.snapshots.insert(
        "snap-1".into(),
        snapshot("snap-1", "2026-01-01T00:00:00Z", tags_now.clone()),
    );
    let p = run(&d, &o);
    assert!(
        p.find(&Address::compile()).is_none(),
        "nothing changed: no compile"
    );

    let mut d2 = d.clone();
    d2.sources.as_mut().unwrap().manifest = Some(manifest(&[("a/1-x.wav", "ab")]));
    let p = run(&d2, &o);
    let c = p.find(&Address::compile()).unwrap();
    assert_eq!(c.op, Op::Run);
    assert!(c.reason.starts_with("sources changed"), "{}", c.reason);
    assert!(!c.reason.contains("profiles"), "{}", c.reason);
}

#[test]
fn retention_keeps_the_newest_and_counts_the_coming_snapshot() {
    let d = full();
    let t = built_from_tags(&d);
    let mut o = Observed::default();
    for (i, day) in ["01", "02", "03"].iter().enumerate() {
        let mut tags = t.clone();
        if i < 2 {
            tags.insert(tags::BUILT_FROM.into(), format!("old{i}"));
        }
        o.snapshots.insert(
            format!("snap-{i}"),
            snapshot(
                &format!("snap-{i}"),
                &format!("2026-01-{day}T00:00:00Z"),
                tags,
            ),
        );
    }
    // keep = 2, 3 snapshots, nothing to compile: the oldest goes.
    let p = run(&d, &o);
    let r = p.find(&Address::snapshot("builds")).unwrap();
    assert_eq!(
        r.effects,
        vec![Effect::DeleteSnapshot {
            snapshot_id: "snap-0".into()
        }]
    );
    // A compile coming: room for one of today's beside it.
    o.snapshots
        .get_mut("snap-2")
        .unwrap()
        .tags
        .insert(tags::BUILT_FROM.into(), "old2".into());
    let p = run(&d, &o);
    let r = p.find(&Address::snapshot("builds")).unwrap();
    assert_eq!(r.effects.len(), 2);
    assert!(
        position(&p, "compile") < position(&p, "snapshot.builds"),
        "retention waits for the compile"
    );
}

#[test]
fn retention_never_deletes_the_snapshot_a_server_serves() {
    let d = full();
    let t = built_from_tags(&d);
    let mut o = Observed::default();
    for (i, day) in ["01", "02", "03"].iter().enumerate() {
        let mut tags = t.clone();
        // Built from something else: a compile is coming, room for one of today's.
        tags.insert(tags::BUILT_FROM.into(), format!("old{i}"));
        o.snapshots.insert(
            format!("snap-{i}"),
            snapshot(
                &format!("snap-{i}"),
                &format!("2026-01-{day}T00:00:00Z"),
                tags,
            ),
        );
    }
    let mut server_tags = ours("server", "x");
    server_tags.insert("vibes:snapshot".into(), "snap-0".into());
    o.instances.insert(
        "i-s".into(),
        ObservedInstance {
            instance_id: "i-s".into(),
            state: "running".into(),
            public_ip: None,
            private_ip: None,
            tags: server_tags,
            volumes: Default::default(),
            state_reason: None,
        },
    );
    // The compile that is coming relaunches the server over its snapshot: what the old server
    // served may go, but only once the relaunch is done (a failed relaunch skips retention).
    let p = run(&d, &o);
    let r = p.find(&Address::snapshot("builds")).unwrap();
    assert_eq!(
        r.effects.len(),
        2,
        "snap-1 and the served snap-0; snap-2 is the newest good one"
    );
    let at = |a: Address| p.actions.iter().position(|x| x.address == a).unwrap();
    let (server, retention) = (at(Address::server()), at(Address::snapshot("builds")));
    assert!(
        p.edges.contains(&(server, retention)),
        "retention waits for the server: {:?}",
        p.edges
    );
    // Once no server names it, it goes.
    o.instances.get_mut("i-s").unwrap().state = "terminated".into();
    let p = run(&d, &o);
    let r = p.find(&Address::snapshot("builds")).unwrap();
    assert_eq!(r.effects.len(), 2);
}

#[test]
fn leftover_workers_are_terminated() {
    let d = full();
    let mut o = Observed::default();
    o.snapshots.insert(
        "snap-1".into(),
        snapshot("snap-1", "2026-01-01T00:00:00Z", built_from_tags(&d)),
    );
    o.instances.insert(
        "i-1".into(),
        ObservedInstance {
            instance_id: "i-1".into(),
            state: "running".into(),
            public_ip: None,
            private_ip: None,
            tags: ours("compile", "x"),
            volumes: Default::default(),
            state_reason: None,
        },
    );
    let p = run(&d, &o);
    let c = p.find(&Address::compile()).unwrap();
    assert_eq!(c.op, Op::Delete);
    assert!(c.reason.contains("left over"));
    assert_eq!(
        c.effects,
        vec![Effect::TerminateInstance {
            instance_id: "i-1".into()
        }]
    );
}

#[test]
fn target_limits_the_plan_to_the_target_and_what_it_needs() {
    let d = full();
    let o = Observed::default();
    let only = |t: &str| {
        let p = plan(
            &d,
            &o,
            &PlanOptions {
                targets: vec![t.parse().unwrap()],
                ..Default::default()
            },
        )
        .unwrap();
        assert!(p.notes.iter().any(|n| n.contains("partial")));
        p.actions
            .iter()
            .map(|a| a.address.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(only("profile.phone"), ["profile.phone"]);
    assert_eq!(
        only("image.worker"),
        ["stack.vpc", "stack.main", "key.builds", "image.worker"]
    );
}

#[test]
fn destroy_deletes_what_is_owned_in_reverse_order_and_blocks_data() {
    let d = full();
    let mut o = Observed::default();
    o.stacks.insert(
        "vibes-vpc".into(),
        ObservedStack {
            stack_name: "vibes-vpc".into(),
            stack_id: "s1".into(),
            status: "CREATE_COMPLETE".into(),
            template_body: "x".into(),
            parameters: BTreeMap::new(),
            outputs: BTreeMap::new(),
            tags: ours("stack.vpc", "x"),
        },
    );
    let mut main = o.stacks["vibes-vpc"].clone();
    main.stack_name = "vibes-main".into();
    main.tags = ours("stack.main", "x");
    o.stacks.insert("vibes-main".into(), main);
    o.instances.insert(
        "i-9".into(),
        ObservedInstance {
            instance_id: "i-9".into(),
            state: "running".into(),
            public_ip: Some("203.0.113.9".into()),
            private_ip: None,
            tags: ours("server", "x"),
            volumes: Default::default(),
            state_reason: None,
        },
    );
    o.snapshots.insert(
        "snap-1".into(),
        snapshot(
            "snap-1",
            "2026-01-01T00:00:00Z",
            ours("snapshot.builds", "x"),
        ),
    );
    let p = plan(
        &d,
        &o,
        &PlanOptions {
            destroy: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(op(&p, "server"), Op::Delete);
    assert_eq!(op(&p, "stack.main"), Op::Delete);
    assert_eq!(op(&p, "snapshot.builds"), Op::Blocked);
    assert!(position(&p, "server") < position(&p, "stack.main"));
    assert!(position(&p, "stack.main") < position(&p, "stack.vpc"));
}

#[test]
fn a_target_the_config_does_not_name_pulls_in_nothing() {
    let mut d = full();
    d.server = None;
    let p = plan(
        &d,
        &Observed::default(),
        &PlanOptions {
            targets: vec![Address::server()],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        p.actions.is_empty(),
        "no stacks or keys for a server the config does not ask for"
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("--target server: the config does not name it")),
        "{:?}",
        p.notes
    );
}

fn standing_volume(o: &mut Observed, id: &str, tags: Tags) {
    o.volumes.insert(
        id.into(),
        ObservedVolume {
            volume_id: id.into(),
            size_gib: 100,
            state: "available".into(),
            tags,
        },
    );
}

fn run_compile(p: &Plan) -> (Option<Value>, u32) {
    let c = p.find(&Address::compile()).expect("a compile");
    c.effects
        .iter()
        .find_map(|e| match e {
            Effect::RunCompile {
                builds_snapshot,
                builds_volume_gib,
                ..
            } => Some((builds_snapshot.clone(), *builds_volume_gib)),
            _ => None,
        })
        .expect("the compile runs")
}

#[test]
fn the_builds_volume_is_made_for_each_compile_from_the_newest_good_snapshot() {
    // The first compile: no standing volume is planned, the worker gets an empty one.
    let p = run(&full(), &Observed::default());
    assert!(p.find(&Address::volume("builds")).is_none());
    assert_eq!(run_compile(&p), (None, 100));

    // Later: from the newest completed builds snapshot, not a newer pending or failed one.
    let mut o = Observed::default();
    let old = ours("snapshot.builds", "old");
    o.snapshots.insert(
        "snap-1".into(),
        snapshot("snap-1", "2024-01-01T00:00:00Z", old.clone()),
    );
    o.snapshots.insert(
        "snap-2".into(),
        snapshot("snap-2", "2024-01-02T00:00:00Z", old.clone()),
    );
    let mut pending = snapshot("snap-3", "2024-01-03T00:00:00Z", old.clone());
    pending.state = "pending".into();
    o.snapshots.insert("snap-3".into(), pending);
    let mut failed = snapshot("snap-4", "2024-01-04T00:00:00Z", old);
    failed.state = "error".into();
    o.snapshots.insert("snap-4".into(), failed);
    let p = run(&full(), &o);
    assert_eq!(run_compile(&p), (Some(Value::literal("snap-2")), 100));
    assert!(p.find(&Address::volume("builds")).is_none());
}

#[test]
fn a_standing_builds_volume_is_retired_once_a_snapshot_of_it_holds_its_builds() {
    let mut o = Observed::default();
    o.snapshots.insert(
        "snap-1".into(),
        snapshot(
            "snap-1",
            "2024-01-01T00:00:00Z",
            ours("snapshot.builds", "old"),
        ),
    );
    standing_volume(&mut o, "vol-1", ours("volume.builds", "x"));
    let p = run(&full(), &o);
    let a = p.find(&Address::volume("builds")).unwrap();
    assert_eq!(a.op, Op::Delete);
    assert!(
        a.reason.contains("held by completed snapshot snap-1"),
        "{}",
        a.reason
    );
    assert_eq!(
        a.effects,
        [Effect::DeleteVolume {
            volume_id: "vol-1".into(),
            size_gib: 100
        }]
    );
    assert!(
        a.attributes.iter().any(|at| at.name == "saves"
            && at
                .value
                .as_deref()
                .is_some_and(|v| v.contains("$8.00/month"))),
        "{:?}",
        a.attributes
    );
    // The compile runs from the snapshot, after the volume is gone (no worker holds it then).
    assert_eq!(run_compile(&p).0, Some(Value::literal("snap-1")));
    let (v, c) = (position(&p, "volume.builds"), position(&p, "compile"));
    assert!(p.edges.contains(&(v, c)));

    // A pending snapshot of it does not hold its builds yet: snapshot first, and the compile
    // starts from that snapshot.
    o.snapshots.get_mut("snap-1").unwrap().state = "pending".into();
    let p = run(&full(), &o);
    let a = p.find(&Address::volume("builds")).unwrap();
    assert_eq!(a.op, Op::Delete);
    assert!(a.reason.contains("snapshotted first"), "{}", a.reason);
    assert!(matches!(
        a.effects.as_slice(),
        [Effect::SnapshotVolume { volume_id, .. }, Effect::DeleteVolume { .. }] if volume_id == "vol-1"
    ));
    assert_eq!(
        run_compile(&p).0,
        Some(Value::Output {
            address: Address::volume("builds"),
            output: "SnapshotId".into()
        })
    );
}

#[test]
fn a_builds_volume_vibes_did_not_make_is_never_touched() {
    let mut o = Observed::default();
    let mut theirs = ours("volume.builds", "x");
    theirs.insert(tags::PROJECT.into(), "other".into());
    standing_volume(&mut o, "vol-theirs", theirs);
    let mut untagged = Tags::new();
    untagged.insert(tags::ADDRESS.into(), "volume.builds".into());
    standing_volume(&mut o, "vol-hand", untagged);
    for d in [full(), Desired::empty("vibes")] {
        let p = plan(
            &d,
            &o,
            &PlanOptions {
                include_data: true,
                ..PlanOptions::default()
            },
        )
        .unwrap();
        assert!(p.find(&Address::volume("builds")).is_none());
        assert!(!p.actions.iter().flat_map(|a| &a.effects).any(|e| matches!(
            e,
            Effect::DeleteVolume { .. } | Effect::SnapshotVolume { .. }
        )));
    }
}

#[test]
fn without_compile_a_standing_builds_volume_is_deleted_only_with_include_data() {
    let mut o = Observed::default();
    standing_volume(&mut o, "vol-1", ours("volume.builds", "x"));
    let d = Desired::empty("vibes");
    let p = run(&d, &o);
    let a = p.find(&Address::volume("builds")).unwrap();
    assert_eq!(a.op, Op::Blocked);
    assert!(a.reason.contains("--include-data"), "{}", a.reason);
    let p = plan(
        &d,
        &o,
        &PlanOptions {
            include_data: true,
            ..PlanOptions::default()
        },
    )
    .unwrap();
    let a = p.find(&Address::volume("builds")).unwrap();
    assert_eq!(a.op, Op::Delete);
    assert_eq!(
        a.effects,
        [Effect::DeleteVolume {
            volume_id: "vol-1".into(),
            size_gib: 100
        }]
    );
}
