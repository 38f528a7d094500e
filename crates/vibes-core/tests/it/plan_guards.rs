//! Guards against mass loss in the planner: a sources sync that would delete every object (an
//! empty local tree, as when the disk holding it is not mounted) or most of them is blocked
//! unless `--allow-mass-delete` asks for it, and the plan's counts show what a sync deletes.

use std::collections::BTreeMap;
use vibes_core::model::*;
use vibes_core::observed::*;
use vibes_core::plan::{plan, Effect, Op, Plan, PlanOptions};
use vibes_core::render;
use vibes_core::Address;

fn files(names: impl IntoIterator<Item = String>) -> Manifest {
    Manifest {
        files: names
            .into_iter()
            .map(|p| {
                (
                    p,
                    FileEntry {
                        size: 2,
                        sha256: format!("{:0>64}", "aa"),
                    },
                )
            })
            .collect(),
    }
}

fn desired(local: Manifest) -> Desired {
    let mut d = Desired::empty("vibes");
    d.sources = Some(SourcesSpec {
        path: "music".into(),
        delete: true,
        format: None,
        parameter: "/vibes/sources".into(),
        manifest: Some(local),
        faults: Vec::new(),
    });
    d
}

/// A bucket holding `a/0.flac` … `a/{n-1}.flac`, each as the local tree would have it.
fn observed(n: usize) -> Observed {
    Observed {
        sources_bucket: Some(ObservedBucket {
            bucket: "vibes-sources".into(),
            objects: (0..n)
                .map(|i| {
                    (
                        format!("a/{i}.flac"),
                        ObservedObject {
                            size: 2,
                            sha256: Some(format!("{:0>64}", "aa")),
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }),
        ..Default::default()
    }
}

fn local(range: std::ops::Range<usize>) -> Manifest {
    files(range.map(|i| format!("a/{i}.flac")))
}

fn sources(p: &Plan) -> &vibes_core::plan::Action {
    p.find(&Address::sources()).expect("a sources action")
}

fn deleted(p: &Plan) -> usize {
    sources(p)
        .effects
        .iter()
        .map(|e| match e {
            Effect::SyncSources { delete, .. } => delete.len(),
            _ => 0,
        })
        .sum()
}

#[test]
fn an_empty_local_tree_never_empties_the_bucket() {
    let p = plan(
        &desired(Manifest::default()),
        &observed(20),
        &PlanOptions::default(),
    )
    .unwrap();
    let a = sources(&p);
    assert_eq!(a.op, Op::Blocked, "{}", a.reason);
    assert!(a.effects.is_empty());
    assert!(a.reason.contains("music is empty"), "{}", a.reason);
    assert!(a.reason.contains("20 objects"), "{}", a.reason);
    assert!(a.reason.contains("--allow-mass-delete"), "{}", a.reason);
    // --include-data allows deleting data the config no longer names, not this.
    let p = plan(
        &desired(Manifest::default()),
        &observed(20),
        &PlanOptions {
            include_data: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(sources(&p).op, Op::Blocked);
}

#[test]
fn a_sync_deleting_more_than_half_of_the_bucket_is_blocked() {
    // 6 of 10 objects gone from the tree: 60 % > 50 %.
    let p = plan(
        &desired(local(6..10)),
        &observed(10),
        &PlanOptions::default(),
    )
    .unwrap();
    let a = sources(&p);
    assert_eq!(a.op, Op::Blocked, "{}", a.reason);
    assert!(a.effects.is_empty());
    assert!(
        a.reason.contains("delete 6 of the 10 objects"),
        "{}",
        a.reason
    );
    assert!(a.reason.contains("60%"), "{}", a.reason);
    assert!(a.reason.contains("--allow-mass-delete"), "{}", a.reason);
    // Exactly half is still an ordinary sync.
    let p = plan(
        &desired(local(5..10)),
        &observed(10),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(sources(&p).op, Op::Run, "{}", sources(&p).reason);
    assert_eq!(deleted(&p), 5);
}

#[test]
fn allow_mass_delete_lets_the_sync_delete() {
    let allow = PlanOptions {
        allow_mass_delete: true,
        ..Default::default()
    };
    let p = plan(&desired(Manifest::default()), &observed(20), &allow).unwrap();
    assert_eq!(sources(&p).op, Op::Run, "{}", sources(&p).reason);
    assert_eq!(deleted(&p), 20);
    let p = plan(&desired(local(6..10)), &observed(10), &allow).unwrap();
    assert_eq!(deleted(&p), 6);
}

#[test]
fn the_summary_and_the_json_count_the_objects_a_sync_deletes() {
    let allow = PlanOptions {
        allow_mass_delete: true,
        ..Default::default()
    };
    let p = plan(&desired(Manifest::default()), &observed(20), &allow).unwrap();
    let text = render::human(
        &p,
        &render::Style {
            color: false,
            full_lists: false,
        },
    );
    assert!(
        text.contains("Deletes 20 objects from the sources bucket."),
        "{text}"
    );
    let json = render::json(&p);
    assert_eq!(json["summary"]["objects_to_delete"], 20, "{json}");
    // Nothing deleted: the JSON says 0, the text has no such line.
    let p = plan(&desired(local(0..20)), &observed(20), &allow).unwrap();
    assert_eq!(render::json(&p)["summary"]["objects_to_delete"], 0);
}
