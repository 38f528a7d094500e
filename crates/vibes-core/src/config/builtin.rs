//! The built-in platform, as the config sees it: which template a stack without `template` is
//! made from, and which files an image without `recipe` is built from. The bytes are carried in
//! the binary ([`vibes_platform`]); the paths are the ones they have in vibes' repository, so an
//! image built from the built-in recipe has the identity of one built from a checkout.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The template of the vpc stack (`[network] create = true`).
pub const VPC_TEMPLATE: &str = "cfn/vpc.yaml";
/// The template of the main stack (buckets, roles, CodeBuild projects, launch templates).
pub const MAIN_TEMPLATE: &str = "cfn/main.yaml";
/// The images with a built-in recipe, sorted.
pub const IMAGES: [&str; 3] = ["server", "volmgr", "worker"];
/// The Packer plugin requirements that the image build copies in beside the recipe
/// (`cfn/main.yaml`, ImageBuildProject): every image build uploads one.
pub const PLUGINS_FILE: &str = "plugins.pkr.hcl.txt";

/// The text of a built-in template. Every template vibes defaults to is carried; a binary without
/// one is a broken build, caught by the tests of `vibes-platform`.
pub fn template(path: &str) -> &'static str {
    vibes_platform::file(path)
        .and_then(|f| f.text())
        .unwrap_or_else(|| panic!("the built-in platform has no template {path}"))
}

/// The built-in file at `path`, if there is one.
pub fn file(path: &str) -> Option<&'static [u8]> {
    vibes_platform::file(path).map(|f| f.body)
}

/// Hex SHA-256 of bytes: how an image's files enter its identity.
pub fn sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The built-in recipe of an image: the recipe, the files under `packer/files/<image>/`, and the
/// plugin requirements beside the recipe. `None` for a name without one.
pub fn recipe(image: &str) -> Option<BuiltinRecipe> {
    if !IMAGES.contains(&image) {
        return None;
    }
    let recipe = vibes_platform::file(&format!("packer/{image}.pkr.hcl"))?;
    let plugins = vibes_platform::file(&format!("packer/{PLUGINS_FILE}"))?;
    let files: BTreeMap<String, String> = vibes_platform::under(&format!("packer/files/{image}"))
        .chain([recipe, plugins])
        .map(|f| (f.path.to_string(), sha256(f.body)))
        .collect();
    Some(BuiltinRecipe {
        recipe: recipe.path,
        files,
    })
}

/// An image's built-in recipe and every file of it, each by its path and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinRecipe {
    pub recipe: &'static str,
    pub files: BTreeMap<String, String>,
}

/// Where a file named `name` sits beside `recipe`: in the recipe's directory, which is where the
/// image build runs Packer. Relative to the config (or the platform), `/`-separated, like every
/// entry of an image's files.
pub fn beside_recipe(recipe: &Path, name: &str) -> String {
    let dir: Vec<String> = recipe
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match dir.is_empty() {
        true => name.to_string(),
        false => format!("{}/{name}", dir.join("/")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_built_in_image_has_its_recipe_its_files_and_the_plugins() {
        for image in IMAGES {
            let r = recipe(image).unwrap_or_else(|| panic!("no built-in {image} recipe"));
            assert_eq!(r.recipe, format!("packer/{image}.pkr.hcl"));
            assert!(r.files.contains_key(r.recipe), "{image}: {:?}", r.files);
            assert!(
                r.files.contains_key("packer/plugins.pkr.hcl.txt"),
                "{image}"
            );
            assert!(
                r.files
                    .contains_key(&format!("packer/files/{image}/install.sh")),
                "{image}: {:?}",
                r.files
            );
            let others = r.files.keys().filter(|p| {
                p.starts_with("packer/files/") && !p.starts_with(&format!("packer/files/{image}/"))
            });
            assert_eq!(others.count(), 0, "{image} carries another image's files");
        }
        assert_eq!(recipe("builder"), None);
    }

    #[test]
    fn the_built_in_templates_are_carried() {
        assert!(template(VPC_TEMPLATE).contains("AWSTemplateFormatVersion"));
        assert!(template(MAIN_TEMPLATE).contains("ImageBuildProject"));
    }

    #[test]
    fn files_beside_a_recipe_share_its_directory() {
        assert_eq!(
            beside_recipe(Path::new("packer/worker.pkr.hcl"), PLUGINS_FILE),
            "packer/plugins.pkr.hcl.txt"
        );
        assert_eq!(
            beside_recipe(Path::new("./images/w.pkr.hcl"), "x"),
            "images/x"
        );
        assert_eq!(beside_recipe(Path::new("w.pkr.hcl"), "x"), "x");
    }
}
