//! `vibes apply` on an empty account builds everything, and `vibes plan` afterwards says
//! "no changes": the executor leaves the cloud exactly as the planner wants it.

use crate::support::apply::*;
use std::sync::Arc;
use std::time::Duration;
use vibes_core::plan::Op;
use vibes_core::tags;
use vibes_fake::FakeCloud;

#[tokio::test]
async fn apply_on_an_empty_account_converges_to_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_latency("stack", Duration::from_millis(5));
    cloud.set_latency("image_build", Duration::from_millis(5));
    cloud.set_latency("compile_run", Duration::from_millis(5));

    let (plan, observed) = plan(&desired, &cloud).await;
    assert!(
        plan.actions.iter().all(|a| a.op != Op::Blocked),
        "{}",
        summary(&plan)
    );
    let (report, _) = run(&plan, &observed, &cloud, &options(dir.path())).await;
    assert!(
        report.succeeded(),
        "{}\n{:?}",
        failures(&plan, &report),
        report.outcomes
    );

    let again = replan(&desired, &cloud).await;
    assert!(
        again.is_empty(),
        "a second plan should have no changes, got:\n{}",
        summary(&again)
    );

    // What the account holds now.
    let o = observe(&cloud).await;
    let bucket = o
        .sources_bucket
        .as_ref()
        .expect("the sources bucket is listed");
    assert_eq!(bucket.objects.len(), 7 * 4);
    let private = o
        .parameters
        .get("/tunes/ec2/keys/builds")
        .expect("private key kept");
    assert!(
        private.secure && private.value.is_none(),
        "observe never reads SecureString values"
    );
    assert!(cloud
        .parameter("/tunes/ec2/keys/builds")
        .unwrap()
        .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let snapshots: Vec<_> = o.snapshots.values().collect();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(snapshots[0].state.as_str(), "completed");
    assert!(snapshots[0].tags.contains_key(tags::BUILT_FROM));
    let running: Vec<_> = o.instances.values().collect();
    assert_eq!(
        running.len(),
        1,
        "only the server runs; the worker is terminated: {running:?}"
    );
    assert_eq!(
        running[0].tags.get(tags::ADDRESS).map(String::as_str),
        Some("server")
    );
    assert_eq!(
        cloud.attached(&running[0].instance_id).get("/dev/sdf"),
        Some(&snapshots[0].snapshot_id)
    );
    let workers: Vec<_> = cloud
        .instances()
        .into_iter()
        .filter(|i| i.tags.get(tags::ADDRESS).map(String::as_str) == Some("compile"))
        .collect();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].state.as_str(), "terminated");
    assert_eq!(o.images.len(), 2);
    let worker_ami = o
        .images
        .values()
        .find(|i| i.tags.get(tags::ADDRESS).map(String::as_str) == Some("image.worker"))
        .unwrap();
    assert_eq!(
        o.parameters["/tunes/ami/worker"].value.as_deref(),
        Some(worker_ami.image_id.as_str())
    );
    assert_eq!(
        o.parameters["/tunes/sources"].value.as_deref(),
        Some("tunes-sources")
    );
}

#[tokio::test]
async fn a_changed_source_file_recompiles_and_converges_again() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));

    write(
        dir.path(),
        "music/artist/album_0/1/1-intro.tags.vc",
        "TITLE=Intro (Remastered)\n",
    );
    write(dir.path(), "music/artist/album_9/1/1-new.flac", "fLaC new");
    std::fs::remove_file(dir.path().join("music/artist/album_1/1/2-song.wav")).unwrap();
    let desired = full_desired_keeping_sources(dir.path(), desired);
    let (p, o) = plan(&desired, &cloud).await;
    let ops: Vec<_> = p
        .actions
        .iter()
        .map(|a| (a.address.to_string(), a.op))
        .collect();
    assert!(
        ops.contains(&("sources".into(), Op::Run)) && ops.contains(&("compile".into(), Op::Run)),
        "{}",
        summary(&p)
    );
    let (report, reporter) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let sources = p
        .actions
        .iter()
        .position(|a| a.address.to_string() == "sources")
        .unwrap();
    assert!(
        reporter
            .progress(sources)
            .iter()
            .any(|m| m.starts_with("2/2 files")),
        "{:?}",
        reporter.progress(sources)
    );

    let again = replan(&desired, &cloud).await;
    assert!(again.is_empty(), "{}", summary(&again));
    let o = observe(&cloud).await;
    let objects = &o.sources_bucket.unwrap().objects;
    assert!(objects.contains_key("artist/album_9/1/1-new.flac"));
    assert!(
        !objects.contains_key("artist/album_1/1/2-song.wav"),
        "deleted locally, so deleted in the bucket"
    );
    assert_eq!(o.snapshots.len(), 2, "retention keeps 2");
}

/// The same desired state, with the sources manifest read again from disk (without rewriting
/// the tree, which `full_desired` does).
fn full_desired_keeping_sources(
    dir: &std::path::Path,
    mut d: vibes_core::Desired,
) -> vibes_core::Desired {
    d.sources.as_mut().unwrap().manifest = Some(manifest(&dir.join("music")));
    d
}

/// The plan after an apply: a server launched in the same apply as its compile serves the
/// snapshot that compile made, so nothing is left to do for it either.
async fn replan(desired: &vibes_core::Desired, cloud: &Arc<FakeCloud>) -> vibes_core::Plan {
    plan(desired, cloud).await.0
}

/// A stack parameter declared `NoEcho` reads back as `****` (the fake masks it as
/// CloudFormation does): vibes compares it through the salted hash its last write kept in the
/// stack's `vibes:noecho` tag, so an unchanged secret is no change, a changed one is an update
/// — and neither plan nor tag ever shows the value.
#[tokio::test]
async fn a_noecho_parameter_converges_and_a_changed_one_is_an_update_that_never_shows_it() {
    use vibes_core::model::Value;
    let dir = tempfile::tempdir().unwrap();
    let mut desired = vibes_core::Desired::empty(PROJECT);
    let with_secret = |secret: &str| {
        let mut s = vibes_core::model::StackSpec {
            stack_name: format!("{PROJECT}-db"),
            template_path: "cfn/db.yaml".into(),
            template_built_in: false,
            template_body: "Parameters:\n  Password:\n    Type: String\n    NoEcho: true\n  Size:\n    Type: String\nResources: {}\n".into(),
            parameters: Default::default(),
            depends_on: vec![],
        };
        s.parameters
            .insert("Password".into(), Value::literal(secret));
        s.parameters.insert("Size".into(), Value::literal("small"));
        s
    };
    desired
        .stacks
        .insert("db".into(), with_secret("correct horse"));
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    let shown = vibes_core::render::human(&p, &Default::default());
    assert!(!shown.contains("correct horse"), "{shown}");
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let seen = observe(&cloud).await;
    let stack = &seen.stacks[&format!("{PROJECT}-db")];
    assert_eq!(stack.parameters["Password"], "****", "masked as AWS does");
    assert!(!stack.tags[tags::NOECHO].contains("correct horse"));

    let again = replan(&desired, &cloud).await;
    assert!(again.is_empty(), "unchanged secret: {}", summary(&again));

    desired
        .stacks
        .insert("db".into(), with_secret("battery staple"));
    let changed = replan(&desired, &cloud).await;
    assert_eq!(changed.actions.len(), 1, "{}", summary(&changed));
    assert_eq!(changed.actions[0].op, Op::Update);
    let shown = vibes_core::render::human(&changed, &Default::default());
    assert!(
        shown.contains("parameter Password = (sensitive)"),
        "{shown}"
    );
    assert!(!shown.contains("battery staple"), "{shown}");
    let o = observe(&cloud).await;
    let (report, _) = run(&changed, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&changed, &report));
    let again = replan(&desired, &cloud).await;
    assert!(again.is_empty(), "{}", summary(&again));
}

/// `--replace image.worker` builds the worker image again from an unchanged recipe (for the
/// newest base image and packages); the new image is then the one in use.
#[tokio::test]
async fn replace_builds_an_image_again_from_the_same_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let before = cloud.parameter("/tunes/ami/worker").unwrap();

    let options_replace = vibes_core::PlanOptions {
        replace: vec!["image.worker".parse().unwrap()],
        ..Default::default()
    };
    let o = observe(&cloud).await;
    let p = vibes_core::plan(&desired, &o, &options_replace).unwrap();
    let image = p
        .actions
        .iter()
        .find(|a| a.address.to_string() == "image.worker")
        .unwrap_or_else(|| panic!("{}", summary(&p)));
    assert_eq!(image.op, Op::Replace, "{}", summary(&p));
    assert!(
        image.reason.contains("built again from the same recipe"),
        "{}",
        image.reason
    );
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    assert_ne!(cloud.parameter("/tunes/ami/worker").unwrap(), before);
}

/// `--replace compile` (after an encoder bug): on an account where everything is up to date,
/// a compile runs all the same and its worker is told to encode every output again; the
/// snapshot it leaves is made from the same things, so the next plan has no changes.
#[tokio::test]
async fn replace_compile_reruns_an_up_to_date_compile_as_a_full_rebuild_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_latency("compile_run", Duration::from_millis(5));
    let (first, observed) = plan(&desired, &cloud).await;
    let (report, _) = run(&first, &observed, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&first, &report));
    assert!(replan(&desired, &cloud).await.is_empty());

    let observed = observe(&cloud).await;
    let options_replace = vibes_core::PlanOptions {
        replace: vec![vibes_core::Address::compile()],
        ..Default::default()
    };
    let forced = vibes_core::plan(&desired, &observed, &options_replace).unwrap();
    let compile = forced
        .actions
        .iter()
        .find(|a| a.address == vibes_core::Address::compile())
        .unwrap_or_else(|| panic!("a compile is planned: {}", summary(&forced)));
    assert_eq!(compile.op, Op::Run);
    assert_eq!(
        compile.reason,
        "--replace compile: every output is encoded again"
    );
    let rebuild = compile.effects.iter().find_map(|e| match e {
        vibes_core::plan::Effect::RunCompile { instance_tags, .. } => {
            instance_tags.get(tags::REBUILD).cloned()
        }
        _ => None,
    });
    assert_eq!(rebuild.as_deref(), Some("all"));
    assert!(
        forced
            .notes
            .iter()
            .all(|n| !n.contains("--replace compile")),
        "{:?}",
        forced.notes
    );
    let (report, _) = run(&forced, &observed, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&forced, &report));
    assert!(
        replan(&desired, &cloud).await.is_empty(),
        "a rebuild's snapshot is made from the same things: nothing more to do"
    );
}

/// `vibes destroy --include-data` after a full apply returns the account to empty. The main
/// stack's artifacts bucket holds the image recipes vibes uploaded, and CloudFormation deletes
/// only an empty bucket (the fake's stack delete fails as AWS's does): the delete empties it
/// first.
#[tokio::test]
async fn destroy_with_data_after_a_full_apply_leaves_the_account_empty() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (plan, observed) = plan(&desired, &cloud).await;
    let (report, _) = run(&plan, &observed, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&plan, &report));
    let artifacts = format!("{PROJECT}-artifacts");
    assert!(
        cloud.object_count(&artifacts) > 0,
        "the image builds' recipes are in {artifacts}"
    );

    let o = observe(&cloud).await;
    let destroy = vibes_core::plan(
        &desired,
        &o,
        &vibes_core::plan::PlanOptions {
            destroy: true,
            include_data: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        destroy.actions.iter().all(|a| a.op != Op::Blocked),
        "{}",
        summary(&destroy)
    );
    let (report, _) = run(&destroy, &o, &cloud, &options(dir.path())).await;
    assert!(
        report.succeeded(),
        "destroy: {}",
        failures(&destroy, &report)
    );

    let left = observe(&cloud).await;
    let live_stacks: Vec<_> = left
        .stacks
        .values()
        .filter(|s| !s.status.is_deleted())
        .map(|s| format!("{} {}", s.stack_name, s.status))
        .collect();
    assert!(live_stacks.is_empty(), "stacks left: {live_stacks:?}");
    assert!(left.key_pairs.is_empty(), "{:?}", left.key_pairs.keys());
    assert!(left.parameters.is_empty(), "{:?}", left.parameters.keys());
    let images: Vec<_> = left
        .images
        .values()
        .filter(|i| !i.state.is_deregistered())
        .collect();
    assert!(images.is_empty(), "{images:?}");
    assert!(left.snapshots.is_empty(), "{:?}", left.snapshots.keys());
    assert!(left.volumes.is_empty(), "{:?}", left.volumes.keys());
    assert!(
        left.instances.values().all(|i| !i.state.is_live()),
        "{:?}",
        left.instances
    );
    assert!(left.addresses.is_empty());
    assert_eq!(cloud.buckets(), Vec::<String>::new(), "buckets left");
}

/// A stack changed and then changed back converges each time. CloudFormation takes a
/// ClientRequestToken it has seen for a retry of that request and starts nothing (the fake
/// does the same), so the token of an update back to an earlier template must differ from the
/// one that first made that template: each apply's tokens carry its run id.
#[tokio::test]
async fn a_stack_changed_and_changed_back_is_updated_both_times() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let apply = |d: vibes_core::Desired| {
        let cloud = cloud.clone();
        let dir = dir.path().to_path_buf();
        async move {
            let (p, o) = plan(&d, &cloud).await;
            let (report, _) = run(&p, &o, &cloud, &options(&dir)).await;
            assert!(report.succeeded(), "{}", failures(&p, &report));
            let again = replan(&d, &cloud).await;
            assert!(again.is_empty(), "not converged: {}", summary(&again));
        }
    };
    let first = desired.stacks["vpc"].template_body.clone();
    apply(desired.clone()).await;
    desired.stacks.get_mut("vpc").unwrap().template_body = format!("{first}# a second look\n");
    apply(desired.clone()).await;
    desired.stacks.get_mut("vpc").unwrap().template_body = first;
    apply(desired).await;
}
