//! The plan reads the sources tree with the compile engine's own reader, before anything is
//! paid for: a typo in an album's metadata blocks the compile, named with its file, line and
//! column and a hint, so that no worker is launched for it.

use crate::support::apply::summary;
use std::path::Path;
use std::sync::Arc;
use vibes_core::cloud::prelude::*;
use vibes_core::ops::Workspace;
use vibes_core::plan::{Effect, Op, Plan, PlanOptions};
use vibes_core::{Address, Desired};
use vibes_fake::FakeCloud;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A mustup collection of one album, its metadata naming its cover `picture`.
fn project(picture: &str) -> (tempfile::TempDir, Desired) {
    let dir = tempfile::tempdir().unwrap();
    let album = dir.path().join("music/ace_of_base/happy_nation");
    write(
        &album.join("mustup-metadata.yaml"),
        &format!("---\npictures:\n   APIC:\n      3:\n         path: {picture}\n"),
    );
    write(&album.join("cover-front.jpeg"), "jpeg");
    write(
        &album.join("mustup-manifest.yaml"),
        "---\n01-voulez-vous_danser.wave: {}\n04-all_that_she_wants.wave: {}\n",
    );
    write(&album.join("01-voulez-vous_danser.wave"), "RIFF");
    write(&album.join("04-all_that_she_wants.wave"), "RIFF");
    let text = "[project]\nname = \"tunes\"\n[network]\ncreate = true\n\
         [sources]\npath = \"music\"\nformat = \"mustup\"\n\
         [profiles.phone]\nencoder = \"lame\"\nflags = \"-V 6\"\n\
         [images.worker]\n[compile]\ninstance_type = \"c7a.large\"\n";
    let d = vibes_core::config::load_str(text, "vibes.toml", dir.path())
        .unwrap_or_else(|e| panic!("{e:?}"));
    (dir, d)
}

async fn planned(dir: &tempfile::TempDir, d: Desired) -> Plan {
    let cloud = Arc::new(FakeCloud::new());
    let mut ws = Workspace::new(d, dir.path().into(), cloud as Arc<dyn Cloud>);
    ws.observe_and_plan(&PlanOptions::default()).await.unwrap()
}

#[tokio::test]
async fn a_typo_in_the_sources_blocks_the_compile_before_a_worker_is_paid_for() {
    let (dir, d) = project("cover-front.png");
    let plan = planned(&dir, d).await;
    let compile = plan.find(&Address::compile()).expect("a compile action");
    assert_eq!(compile.op, Op::Blocked, "{}", summary(&plan));
    assert!(
        compile.reason.contains("the sources have 2 faults")
            && compile.reason.contains("ace_of_base/happy_nation/mustup-metadata.yaml:5:16: picture `cover-front.png` cannot be read")
            && compile.reason.contains("(did you mean `cover-front.jpeg`?)"),
        "{}",
        compile.reason
    );
    let named: Vec<&str> = compile.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        named,
        [
            "fault in ace_of_base/happy_nation/01-voulez-vous_danser.wave",
            "fault in ace_of_base/happy_nation/04-all_that_she_wants.wave"
        ]
    );
    let launches = plan
        .actions
        .iter()
        .flat_map(|a| &a.effects)
        .filter(|e| matches!(e, Effect::RunCompile { .. }))
        .count();
    assert_eq!(launches, 0);

    // Fixed, the compile runs.
    let (dir, d) = project("cover-front.jpeg");
    let plan = planned(&dir, d).await;
    let compile = plan.find(&Address::compile()).expect("a compile action");
    assert_eq!(compile.op, Op::Run, "{}", summary(&plan));
}
