//! The worker image builds the vibes binary from vibes' own source: the apply uploads the source
//! archive next to the worker recipe, the archive is part of the worker image's identity (a new
//! vibes means a new worker image, and a new compile on it), and a vibes without its source
//! refuses to build the worker image rather than build one that cannot work.

use crate::support::apply::*;
use std::sync::Arc;
use vibes_core::apply::{ApplyOptions, Outcome, SourceArchive};
use vibes_core::plan::Op;
use vibes_core::{Address, Desired};
use vibes_fake::FakeCloud;

const ARTIFACTS: &str = "tunes-artifacts";

/// Stands in for the archive the vibes binary carries: any bytes will do, the apply only uploads them.
fn archive(version: &str) -> SourceArchive {
    SourceArchive::new(format!("source of vibes {version}").into_bytes())
}

/// The full desired state, with `source` made part of the worker image as the CLI does.
fn desired_with(dir: &std::path::Path, source: &SourceArchive) -> Desired {
    let mut d = full_desired(dir);
    assert!(vibes_core::config::add_engine_source(
        &mut d,
        source.sha256()
    ));
    d
}

fn options_with(dir: &std::path::Path, source: Option<&SourceArchive>) -> ApplyOptions {
    let mut o = options(dir);
    o.engine_source = source.cloned();
    o
}

fn uploaded_archives(cloud: &FakeCloud) -> Vec<String> {
    cloud
        .calls()
        .into_iter()
        .filter(|c| c.op == "put_object" && c.target.ends_with("/vibes-src.tar.gz"))
        .map(|c| c.target)
        .collect()
}

#[tokio::test]
async fn a_worker_image_build_uploads_the_source_archive_next_to_its_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let source = archive("1.0");
    let desired = desired_with(dir.path(), &source);
    let worker = &desired.images["worker"];
    assert_eq!(
        worker
            .files
            .get("packer/vibes-src.tar.gz")
            .map(String::as_str),
        Some(source.sha256())
    );
    let cloud = Arc::new(FakeCloud::new());

    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options_with(dir.path(), Some(&source))).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));

    let prefix = format!("recipes/worker/{}/", worker.recipe_hash);
    let uploaded = cloud
        .object(ARTIFACTS, &format!("{prefix}packer/vibes-src.tar.gz"))
        .expect("the archive sits next to the recipe");
    assert_eq!(uploaded.size, source.bytes().len() as u64);
    assert!(
        cloud
            .object(ARTIFACTS, &format!("{prefix}packer/worker.pkr.hcl"))
            .is_some(),
        "the recipe under the same prefix"
    );
    assert_eq!(
        uploaded_archives(&cloud),
        [format!("{prefix}packer/vibes-src.tar.gz")],
        "only the worker image gets the source"
    );
    assert!(
        !dir.path().join("packer/vibes-src.tar.gz").exists(),
        "the archive comes from vibes, not from disk"
    );

    let again = plan(&desired, &cloud).await.0;
    assert!(
        again.is_empty(),
        "the same vibes plans no changes:\n{}",
        summary(&again)
    );
}

#[tokio::test]
async fn a_new_vibes_rebuilds_the_worker_image_and_compiles_again() {
    let dir = tempfile::tempdir().unwrap();
    let old = archive("1.0");
    let cloud = Arc::new(FakeCloud::new());
    let desired = desired_with(dir.path(), &old);
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options_with(dir.path(), Some(&old))).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));

    let new = archive("1.1");
    let mut upgraded = desired.clone();
    assert!(vibes_core::config::add_engine_source(
        &mut upgraded,
        new.sha256()
    ));
    let (old_hash, new_hash) = (
        &desired.images["worker"].recipe_hash,
        &upgraded.images["worker"].recipe_hash,
    );
    assert_ne!(
        old_hash, new_hash,
        "the worker's identity includes the source"
    );
    assert_eq!(
        desired.images["server"], upgraded.images["server"],
        "other images do not carry the source"
    );

    let (p, o) = plan(&upgraded, &cloud).await;
    let ops: Vec<(String, Op)> = p
        .actions
        .iter()
        .map(|a| (a.address.to_string(), a.op))
        .collect();
    let worker = p
        .actions
        .iter()
        .find(|a| a.address == Address::image("worker"))
        .expect("the worker image is rebuilt");
    assert!(
        worker.reason.contains(old_hash.as_str()) && worker.reason.contains(new_hash.as_str()),
        "{}",
        worker.reason
    );
    assert!(
        ops.contains(&("compile".into(), Op::Run)),
        "the compile runs again on the new worker:\n{}",
        summary(&p)
    );
    assert!(
        !ops.iter().any(|(a, _)| a == "image.server"),
        "{}",
        summary(&p)
    );

    let (report, _) = run(&p, &o, &cloud, &options_with(dir.path(), Some(&new))).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let uploaded = cloud
        .object(
            ARTIFACTS,
            &format!("recipes/worker/{new_hash}/packer/vibes-src.tar.gz"),
        )
        .expect("the new source uploaded");
    assert_eq!(uploaded.size, new.bytes().len() as u64);
    let again = plan(&upgraded, &cloud).await.0;
    assert!(again.is_empty(), "{}", summary(&again));
}

#[tokio::test]
async fn a_vibes_without_its_source_refuses_to_build_the_worker_image() {
    let dir = tempfile::tempdir().unwrap();
    let source = archive("1.0");
    let desired = desired_with(dir.path(), &source);
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options_with(dir.path(), None)).await;
    match outcome_of(&p, &report, &Address::image("worker")) {
        Outcome::Failed { error } => {
            assert!(
                error.contains("this vibes carries no source to build the worker image from"),
                "{error}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        outcome_of(&p, &report, &Address::image("server")),
        &Outcome::Done,
        "the server image needs no source"
    );
    assert_eq!(
        cloud.count("start_image_build"),
        1,
        "only the server image is built"
    );
    assert!(uploaded_archives(&cloud).is_empty());
}

#[tokio::test]
async fn a_plan_made_by_another_vibes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let planned_with = archive("1.0");
    let desired = desired_with(dir.path(), &planned_with);
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    let applied_with = archive("1.1");
    let (report, _) = run(
        &p,
        &o,
        &cloud,
        &options_with(dir.path(), Some(&applied_with)),
    )
    .await;
    match outcome_of(&p, &report, &Address::image("worker")) {
        Outcome::Failed { error } => {
            assert!(
                error.contains("the plan was made by another vibes"),
                "{error}"
            );
            assert!(
                error.contains(planned_with.sha256()) && error.contains(applied_with.sha256()),
                "{error}"
            );
            assert!(error.ends_with("run vibes plan again"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(uploaded_archives(&cloud).is_empty());
}

#[test]
fn the_archive_sits_in_the_recipe_directory_where_packer_runs() {
    use std::path::Path;
    use vibes_core::config::source_archive_path;
    assert_eq!(
        source_archive_path(Path::new("packer/worker.pkr.hcl")),
        "packer/vibes-src.tar.gz"
    );
    assert_eq!(
        source_archive_path(Path::new("./images/worker/main.pkr.hcl")),
        "images/worker/vibes-src.tar.gz"
    );
    assert_eq!(
        source_archive_path(Path::new("worker.pkr.hcl")),
        "vibes-src.tar.gz"
    );
}

#[test]
fn a_config_without_a_worker_image_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = full_desired(dir.path());
    d.images.remove("worker");
    let before = d.clone();
    assert!(!vibes_core::config::add_engine_source(
        &mut d,
        &"ab".repeat(32)
    ));
    assert_eq!(d, before);
}

#[test]
fn the_archive_bytes_never_reach_debug_output() {
    let source = archive("1.0");
    let shown = format!(
        "{:?}",
        options_with(std::path::Path::new("."), Some(&source))
    );
    assert!(shown.contains(source.sha256()), "{shown}");
    assert!(!shown.contains("source of vibes"), "{shown}");
}
