//! `--target ADDR`: a plan limited to the targets and what they depend on, never what depends
//! on them, and always marked as partial.

use crate::support::apply::*;
use vibes_core::{plan, Address, Observed, Plan, PlanOptions};

fn targeted(targets: &[&str]) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let d = full_desired(dir.path());
    let targets = targets
        .iter()
        .map(|t| t.parse::<Address>().unwrap())
        .collect();
    plan(
        &d,
        &Observed::default(),
        &PlanOptions {
            targets,
            ..Default::default()
        },
    )
    .unwrap()
}

fn addresses(p: &Plan) -> Vec<String> {
    p.actions.iter().map(|a| a.address.to_string()).collect()
}

#[test]
fn a_target_with_no_dependencies_plans_only_itself() {
    let p = targeted(&["profile.phone"]);
    assert_eq!(addresses(&p), ["profile.phone"]);
}

#[test]
fn a_target_brings_what_it_depends_on_and_not_what_depends_on_it() {
    let p = targeted(&["stack.main"]);
    assert_eq!(
        addresses(&p),
        ["stack.vpc", "stack.main"],
        "images and the server wait on stack.main but are left out"
    );
    let p = targeted(&["image.worker"]);
    assert_eq!(
        addresses(&p),
        ["stack.vpc", "stack.main", "key.builds", "image.worker"]
    );
}

#[test]
fn the_compile_brings_everything_it_is_built_from() {
    let p = targeted(&["compile"]);
    let mut got = addresses(&p);
    got.sort();
    let mut want = [
        "stack.vpc",
        "stack.main",
        "key.builds",
        "key.worker",
        "profile.phone",
        "profile.archive",
        "image.worker",
        "sources",
        "compile",
    ];
    want.sort();
    assert_eq!(got, want, "{}", summary(&p));
}

#[test]
fn several_targets_are_united_and_each_appears_once() {
    let p = targeted(&["profile.phone", "image.worker", "key.builds"]);
    assert_eq!(
        addresses(&p),
        [
            "stack.vpc",
            "stack.main",
            "key.builds",
            "profile.phone",
            "image.worker"
        ]
    );
    // Dependencies keep their order: edges still point forward.
    assert!(p.edges.iter().all(|(a, b)| a < b));
    let image = p
        .actions
        .iter()
        .position(|a| a.address == Address::image("worker"))
        .unwrap();
    let deps: Vec<String> = p
        .dependencies(image)
        .map(|i| p.actions[i].address.to_string())
        .collect();
    assert!(
        deps.contains(&"stack.main".to_string()) && deps.contains(&"key.builds".to_string()),
        "{deps:?}"
    );
}

#[test]
fn a_targeted_plan_says_it_is_partial_and_names_its_targets() {
    let p = targeted(&["profile.phone", "server"]);
    let note = p
        .notes
        .iter()
        .find(|n| n.contains("partial"))
        .expect("a partial-plan note");
    assert!(
        note.contains("profile.phone") && note.contains("server"),
        "{note}"
    );
    let untargeted = targeted(&[]);
    assert!(
        untargeted.notes.iter().all(|n| !n.contains("partial")),
        "{:?}",
        untargeted.notes
    );
}

#[test]
fn a_target_with_nothing_to_do_gives_an_empty_partial_plan() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = full_desired(dir.path());
    d.stacks.clear();
    d.images.clear();
    d.sources = None;
    d.compile = None;
    d.snapshots = None;
    d.server = None;
    // The account already holds the phone profile as the config says, owned by this project.
    let spec = &d.profiles["phone"];
    let mut o = Observed::default();
    let address = Address::profile("phone");
    let tags = vibes_core::tags::Tags::from([
        (vibes_core::tags::PROJECT.to_string(), PROJECT.to_string()),
        (vibes_core::tags::ADDRESS.to_string(), address.to_string()),
        (
            vibes_core::tags::FINGERPRINT.to_string(),
            vibes_core::tags::fingerprint_of(&spec.text),
        ),
    ]);
    o.parameters.insert(
        spec.parameter.clone(),
        vibes_core::observed::ObservedParameter {
            name: spec.parameter.clone(),
            secure: false,
            value: Some(spec.text.clone()),
            tags,
            version: 1,
        },
    );
    let full = plan(&d, &o, &PlanOptions::default()).unwrap();
    assert!(
        full.find(&address).is_none() && !full.is_empty(),
        "the rest still has work: {}",
        summary(&full)
    );
    let p = plan(
        &d,
        &o,
        &PlanOptions {
            targets: vec![address],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(p.is_empty(), "{}", summary(&p));
    assert!(p.notes.iter().any(|n| n.contains("partial")));
}

#[test]
fn addresses_that_are_not_addresses_are_refused_with_the_reason() {
    for bad in ["", "profile", "nonsense.phone", "profile.", "server.extra"] {
        assert!(bad.parse::<Address>().is_err(), "{bad:?} is not an address");
    }
}

fn excluded(exclude: &[&str]) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let d = full_desired(dir.path());
    plan(
        &d,
        &Observed::default(),
        &PlanOptions {
            exclude: exclude.iter().map(|t| t.parse().unwrap()).collect(),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn an_exclusion_leaves_out_the_address_and_what_waits_on_it_and_says_so() {
    let all = addresses(&excluded(&[]));
    let p = excluded(&["server"]);
    let expected: Vec<String> = all.iter().filter(|a| *a != "server").cloned().collect();
    assert_eq!(addresses(&p), expected);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("--exclude leaves out server")),
        "{:?}",
        p.notes
    );

    // The sources go, and with them the compile, its snapshot's retention and the server.
    let p = excluded(&["sources"]);
    let names = addresses(&p);
    for gone in ["sources", "compile", "snapshot.builds", "server"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} in {names:?}");
    }
    for kept in ["stack.main", "key.builds", "profile.phone", "image.worker"] {
        assert!(names.iter().any(|n| n == kept), "{kept} not in {names:?}");
    }
}

#[test]
fn an_exclusion_is_kept_in_a_saved_plan() {
    let options = PlanOptions {
        exclude: vec!["server".parse().unwrap()],
        ..Default::default()
    };
    let saved = vibes_core::saved::SavedPlan::new(excluded(&["server"]), &options);
    let back = vibes_core::saved::SavedPlan::from_json(&saved.to_json(), "plan.json").unwrap();
    assert_eq!(back.options().exclude, options.exclude);
}

/// `[sources] format` reaches the worker as its `vibes:sources-format` tag and is part of what
/// the builds are made from; unnamed, nothing changes.
#[test]
fn a_named_sources_format_tags_the_worker_and_is_part_of_what_the_builds_are_made_from() {
    fn compile(format: Option<&str>) -> (String, vibes_core::tags::Tags) {
        let dir = tempfile::tempdir().unwrap();
        let mut d = full_desired(dir.path());
        d.sources.as_mut().unwrap().format = format.map(str::to_string);
        let p = plan(&d, &Observed::default(), &PlanOptions::default()).unwrap();
        let a = p
            .actions
            .iter()
            .find(|a| a.address.to_string() == "compile")
            .unwrap();
        a.effects
            .iter()
            .find_map(|e| match e {
                vibes_core::plan::Effect::RunCompile {
                    built_from,
                    instance_tags,
                    ..
                } => Some((built_from.clone(), instance_tags.clone())),
                _ => None,
            })
            .unwrap()
    }
    let (plain, plain_tags) = compile(None);
    assert_eq!(compile(Some("auto")).0, plain);
    assert!(!plain_tags.contains_key(vibes_core::tags::SOURCES_FORMAT));
    let (mustup, tags) = compile(Some("mustup"));
    assert_ne!(mustup, plain);
    assert_eq!(
        tags.get(vibes_core::tags::SOURCES_FORMAT)
            .map(String::as_str),
        Some("mustup")
    );
}

/// `[budget] max_run_usd`: what would take the apply past it is blocked with the figures, and
/// so is what waits on it; the rest goes on, and the closing cost counts only what runs.
#[test]
fn a_budget_blocks_what_would_pass_it_and_what_waits_on_that() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = full_desired(dir.path());
    d.budget = Some(vibes_core::model::BudgetSpec {
        max_run_usd: Some(0.10),
        max_idle_usd_month: None,
    });
    let p = plan(&d, &Observed::default(), &PlanOptions::default()).unwrap();
    let op = |addr: &str| {
        p.actions
            .iter()
            .find(|a| a.address.to_string() == addr)
            .unwrap_or_else(|| panic!("{addr}"))
    };
    // Each image build costs ~$0.08: the first fits, the second would pass $0.10.
    let images = [op("image.server"), op("image.worker")];
    assert_eq!(
        images
            .iter()
            .filter(|a| a.op == vibes_core::plan::Op::Blocked)
            .count(),
        1,
        "{:?}",
        images
            .iter()
            .map(|a| (&a.address, a.op, &a.reason))
            .collect::<Vec<_>>()
    );
    let blocked = images
        .iter()
        .find(|a| a.op == vibes_core::plan::Op::Blocked)
        .unwrap();
    assert!(
        blocked.reason.contains("past [budget] max_run_usd = $0.10"),
        "{}",
        blocked.reason
    );
    assert!(blocked.effects.is_empty());
    // The compile needs the worker image (and the server the compile) or is over budget too.
    assert_eq!(
        op("compile").op,
        vibes_core::plan::Op::Blocked,
        "{}",
        op("compile").reason
    );
    assert_eq!(
        op("server").op,
        vibes_core::plan::Op::Blocked,
        "{}",
        op("server").reason
    );
    assert_ne!(op("profile.phone").op, vibes_core::plan::Op::Blocked);
    assert!(p.cost.as_ref().unwrap().once_usd <= 0.10, "{:?}", p.cost);
    for (from, to) in &p.edges {
        assert!(
            p.actions[*from].op != vibes_core::plan::Op::Blocked
                && p.actions[*to].op != vibes_core::plan::Op::Blocked,
            "a blocked action waits on nothing and nothing waits on it"
        );
    }
}

/// `[budget] max_idle_usd_month`: what would raise the idle cost past it (the compile's
/// snapshot, the server) is blocked, with the figures.
#[test]
fn an_idle_budget_blocks_what_would_raise_the_idle_cost_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = full_desired(dir.path());
    d.budget = Some(vibes_core::model::BudgetSpec {
        max_run_usd: None,
        max_idle_usd_month: Some(1.0),
    });
    let p = plan(&d, &Observed::default(), &PlanOptions::default()).unwrap();
    for addr in ["compile", "server"] {
        let a = p
            .actions
            .iter()
            .find(|a| a.address.to_string() == addr)
            .unwrap();
        assert_eq!(a.op, vibes_core::plan::Op::Blocked, "{addr}: {}", a.reason);
    }
    let compile = p
        .actions
        .iter()
        .find(|a| a.address.to_string() == "compile")
        .unwrap();
    assert!(
        compile
            .reason
            .contains("past [budget] max_idle_usd_month = $1.00"),
        "{}",
        compile.reason
    );
    assert!(
        p.cost.as_ref().unwrap().idle_after_usd_month < 1.0,
        "{:?}",
        p.cost
    );
}

/// A compile is priced at the pace the last compile recorded (its build figures), not at the
/// typical one, once it encoded enough for the figure to mean something.
#[test]
fn a_compile_is_priced_at_the_pace_the_last_compile_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = full_desired(dir.path());
    let compile_cost = |observed: &Observed| {
        let p = plan(&d, observed, &PlanOptions::default()).unwrap();
        let a = p
            .actions
            .iter()
            .find(|a| a.address.to_string() == "compile")
            .unwrap();
        a.attributes
            .iter()
            .find(|at| at.name == "cost")
            .and_then(|at| at.value.clone())
            .unwrap_or_default()
    };
    let typical = compile_cost(&Observed::default());
    assert!(!typical.contains("last compile"), "{typical}");

    let mut observed = Observed::default();
    let name = vibes_core::status::compile_report_parameter(PROJECT);
    let report = r#"{"built_from":"x","status":"succeeded","message":"","finished":"2026-12-01T00:00:00Z","build":{"encoded":200,"retagged":0,"up_to_date":0,"failed":0,"seconds":1200.0}}"#;
    observed.parameters.insert(
        name.clone(),
        vibes_core::observed::ObservedParameter {
            name,
            secure: false,
            value: Some(report.into()),
            tags: Default::default(),
            version: 1,
        },
    );
    let paced = compile_cost(&observed);
    assert!(
        paced.contains("at the last compile's 6.0 s each"),
        "{paced}"
    );
    let usd = |text: &str| -> f64 {
        text.split('$')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(usd(&paced) > usd(&typical), "{paced} vs {typical}");
}
