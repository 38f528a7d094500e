//! Images built from vibes' built-in recipes: the apply uploads the recipe files carried in the
//! binary (no checkout of vibes next to the config), each where the image build looks for it, and
//! refuses a plan whose built-in files are not the ones this vibes carries.

use crate::support::apply::*;
use std::path::Path;
use std::sync::Arc;
use vibes_core::apply::Outcome;
use vibes_core::config::{self, builtin};
use vibes_core::model::ImageSpec;
use vibes_core::{Address, Desired};
use vibes_fake::FakeCloud;

const ARTIFACTS: &str = "tunes-artifacts";

/// The image `name` as a config in `dir` without a recipe resolves it.
fn built_in_image(dir: &Path, name: &str) -> ImageSpec {
    let text =
        format!("[project]\nname = \"{PROJECT}\"\n[network]\ncreate = true\n[images.{name}]\n");
    let d = config::load_str(&text, "vibes.toml", dir).unwrap_or_else(|e| panic!("{e:?}"));
    d.images[name].clone()
}

/// The full desired state with the server image built from its built-in recipe.
fn desired(dir: &Path) -> Desired {
    let mut d = full_desired(dir);
    d.images
        .insert("server".into(), built_in_image(dir, "server"));
    // The files full_desired wrote for a server recipe of its own: none of them is to be read.
    for stale in ["packer/server.pkr.hcl", "packer/server.sh"] {
        std::fs::remove_file(dir.join(stale)).unwrap();
    }
    // Built for the server type of the full desired state, as the config reader would.
    d.settle_image_arches();
    d
}

#[tokio::test]
async fn a_built_in_recipe_is_uploaded_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let desired = desired(dir.path());
    let server = &desired.images["server"];
    let cloud = Arc::new(FakeCloud::new());

    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));

    let prefix = format!("recipes/server/{}/", server.recipe_hash);
    let mut uploaded: Vec<String> = cloud
        .calls()
        .into_iter()
        .filter(|c| c.op == "put_object" && c.target.starts_with(&prefix))
        .map(|c| c.target[prefix.len()..].to_string())
        .collect();
    uploaded.sort();
    let expected: Vec<String> = builtin::recipe("server")
        .unwrap()
        .files
        .into_keys()
        .collect();
    assert_eq!(uploaded, expected);
    assert!(
        uploaded.contains(&"packer/plugins.pkr.hcl.txt".to_string()),
        "the plugin requirements the image build copies in: {uploaded:?}"
    );
    for path in &expected {
        let object = cloud.object(ARTIFACTS, &format!("{prefix}{path}")).unwrap();
        assert_eq!(
            object.size,
            builtin::file(path).unwrap().len() as u64,
            "{path}"
        );
    }
    assert!(
        !dir.path().join("packer/server.pkr.hcl").exists()
            && !dir.path().join("packer/files").exists(),
        "nothing of the built-in recipe is on disk"
    );

    let again = plan(&desired, &cloud).await.0;
    assert!(again.is_empty(), "{}", summary(&again));
}

#[tokio::test]
async fn a_plan_whose_built_in_files_this_vibes_does_not_carry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = desired(dir.path());
    // As a plan made by a vibes whose built-in server recipe differs.
    let server = desired.images.get_mut("server").unwrap();
    let other = "0".repeat(64);
    server
        .files
        .insert("packer/server.pkr.hcl".into(), other.clone());
    server.recipe_hash = config::recipe_hash(&server.files);
    let cloud = Arc::new(FakeCloud::new());

    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    let at = p
        .actions
        .iter()
        .position(|a| a.address == Address::image("server"))
        .unwrap();
    match &report.outcomes[at] {
        Outcome::Failed { error } => {
            assert!(
                error.contains("the plan was made by another vibes"),
                "{error}"
            );
            assert!(
                error.contains("packer/server.pkr.hcl") && error.contains(&other),
                "{error}"
            );
            assert!(error.ends_with("run vibes plan again"), "{error}");
        }
        outcome => panic!("{outcome:?}"),
    }
    assert_eq!(
        cloud.count("start_image_build"),
        1,
        "only the worker image, from the config's own recipe, is built"
    );
}

#[test]
fn a_plan_shows_which_recipe_is_built_in() {
    let dir = tempfile::tempdir().unwrap();
    let desired = desired(dir.path());
    assert_eq!(
        desired.images["server"].recipe_shown(),
        "(built in) packer/server.pkr.hcl"
    );
    assert_eq!(
        desired.images["worker"].recipe_shown(),
        "packer/worker.pkr.hcl",
        "a recipe of the config's own reads as its path"
    );
}
