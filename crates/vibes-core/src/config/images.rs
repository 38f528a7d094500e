//! `[images.NAME]` → [`ImageSpec`]: the files an image is built from — a recipe of the config's
//! own with its `files`, or the built-in recipe carried in the binary — each hashed, and the
//! image's identity made from them.

use super::builtin::{self, PLUGINS_FILE};
use super::error::FaultKind;
use super::files::PathFault;
use super::names;
use super::raw::{RawImage, Span};
use super::resolve::{Resolver, DEFAULT_IMAGE_KEEP};
use crate::arch::Arch;
use crate::model::{ArchChoice, ArchSource, Desired, ImageSpec, Project};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The image whose recipe builds the vibes binary itself, from the source archive vibes carries.
pub use crate::model::WORKER_IMAGE;
/// The name of vibes' source archive, next to the worker recipe: the name the recipe reads it by.
pub const SOURCE_ARCHIVE: &str = "vibes-src.tar.gz";

/// The files of one image, before its identity is made from them.
struct RecipeFiles {
    recipe: PathBuf,
    /// Upload path → SHA-256.
    files: BTreeMap<String, String>,
    /// Upload path → platform path, for the files carried in the binary.
    built_in: BTreeMap<String, String>,
}

impl Resolver<'_> {
    pub(super) fn image(
        &mut self,
        raw: &RawImage,
        project: &Project,
    ) -> Option<(String, ImageSpec)> {
        let name = raw.name.get_ref();
        let valid = self.check_name(&raw.name, &names::RESOURCE, "image");
        let keep = self.count(
            raw.keep.as_ref(),
            1,
            i64::from(u32::MAX),
            DEFAULT_IMAGE_KEEP,
            "keep",
        );
        let recipe = match &raw.recipe {
            Some(recipe) => self.own_recipe(name, recipe, &raw.files),
            None => self.built_in_recipe(name, &raw.files),
        };
        let arch = raw.arch.as_ref().and_then(|a| self.arch(a));
        let RecipeFiles {
            recipe,
            files,
            built_in,
        } = recipe?;
        if !valid {
            return None;
        }
        let parameter = project.ssm_path(&format!("ami/{name}"));
        self.claim(
            "SSM parameter",
            parameter.clone(),
            raw.name.span(),
            format!("image {name}"),
        );
        Some((
            name.clone(),
            ImageSpec {
                recipe,
                recipe_hash: recipe_hash(&files),
                files,
                built_in,
                parameter,
                keep,
                // Settled once the sections that launch images are read
                // ([`Desired::settle_image_arches`]).
                arch: ArchChoice {
                    arch: arch.unwrap_or(Arch::RECIPE_DEFAULT),
                    from: if arch.is_some() {
                        ArchSource::Config
                    } else {
                        ArchSource::RecipeDefault
                    },
                },
            },
        ))
    }

    fn arch(&mut self, raw: &Spanned<String>) -> Option<Arch> {
        let arch = Arch::parse(raw.get_ref());
        if arch.is_none() {
            self.fault(
                FaultKind::InvalidValue,
                raw.span(),
                format!("`{}` is not an architecture vibes builds images for", raw.get_ref()),
                "arm64 or x86_64",
            )
            .set_help("arch = \"arm64\" (AWS Graviton types: c7g, t4g, …) or arch = \"x86_64\" (c7a, c7i, t3, …); without it, the image is built for the instance type that launches it");
        }
        arch
    }

    /// A recipe under the config's directory, its `files`, and the plugin requirements the image
    /// build copies from beside the recipe: the config's own file there, else the built-in one.
    fn own_recipe(
        &mut self,
        name: &str,
        recipe: &Spanned<String>,
        extra: &[Spanned<String>],
    ) -> Option<RecipeFiles> {
        let what = format!("recipe of image {name}");
        if let Err(e) = self.dir.file(recipe.get_ref()) {
            self.path_fault(recipe.span(), &what, &e);
            return None;
        }
        let mut files = BTreeMap::new();
        let mut complete = self.hash_files(recipe.get_ref(), recipe.span(), &what, &mut files);
        for f in extra {
            let what = format!("files of image {name}");
            complete &= self.hash_files(f.get_ref(), f.span(), &what, &mut files);
        }
        let plugins = builtin::beside_recipe(Path::new(recipe.get_ref()), PLUGINS_FILE);
        let mut built_in = BTreeMap::new();
        if !files.contains_key(&plugins) {
            match self.dir.resolve(&plugins) {
                Ok(_) => {
                    let what = format!("{PLUGINS_FILE} beside the recipe of image {name}");
                    complete &= self.hash_files(&plugins, recipe.span(), &what, &mut files);
                }
                Err(PathFault::Missing { .. }) => {
                    let platform = format!("packer/{PLUGINS_FILE}");
                    let body = builtin::file(&platform)
                        .unwrap_or_else(|| panic!("the built-in platform has no {platform}"));
                    files.insert(plugins.clone(), builtin::sha256(body));
                    built_in.insert(plugins, platform);
                }
                Err(e) => {
                    let what = format!("{PLUGINS_FILE} beside the recipe of image {name}");
                    self.path_fault(recipe.span(), &what, &e);
                    complete = false;
                }
            }
        }
        complete.then(|| RecipeFiles {
            recipe: recipe.get_ref().into(),
            files,
            built_in,
        })
    }

    /// The built-in recipe of `name`. `files` belong to a recipe of one's own: the built-in recipe
    /// brings its files, and a name without a built-in recipe was reported when the file was read.
    fn built_in_recipe(&mut self, name: &str, extra: &[Spanned<String>]) -> Option<RecipeFiles> {
        let built = builtin::recipe(name)?;
        if let Some(first) = extra.first() {
            self.fault(
                FaultKind::Conflict,
                first.span(),
                format!("[images.{name}] has `files` but no `recipe`"),
                "files for a recipe of your own",
            )
            .set_help(format!(
                "the built-in {name} recipe brings its own files: remove `files`, or add recipe = \"...\" to build from a recipe of your own"
            ));
            return None;
        }
        let built_in = built
            .files
            .keys()
            .map(|path| (path.clone(), path.clone()))
            .collect();
        Some(RecipeFiles {
            recipe: built.recipe.into(),
            files: built.files,
            built_in,
        })
    }

    /// Adds every file at `rel` (a file, or the files below a directory) with its SHA-256;
    /// faults are reported at `span`. Returns whether every file could be hashed.
    fn hash_files(
        &mut self,
        rel: &str,
        span: Span,
        what: &str,
        files: &mut BTreeMap<String, String>,
    ) -> bool {
        let paths = match self.dir.files_under(rel) {
            Ok(paths) => paths,
            Err(e) => {
                self.path_fault(span, what, &e);
                return false;
            }
        };
        let mut complete = true;
        for p in paths {
            match self.dir.sha256(&p) {
                Ok(sha) => {
                    files.insert(p, sha);
                }
                Err(e) => {
                    self.path_fault(span.clone(), what, &e);
                    complete = false;
                }
            }
        }
        complete
    }
}

/// An image's identity: the hash of its files' paths and SHA-256s. Any change to any file — or a
/// file added or removed — makes a new identity, and so a new image. Where a file's bytes come
/// from (the config's directory or the binary) is no part of it: the same files are the same image.
pub fn recipe_hash(files: &BTreeMap<String, String>) -> String {
    let pairs: Vec<&[u8]> = files
        .iter()
        .flat_map(|(p, sha)| [p.as_bytes(), sha.as_bytes()])
        .collect();
    crate::tags::short_hash(&pairs)
}

/// Where the source archive sits among an image's files: in the recipe's directory, which is where
/// the image build runs Packer. Paths are relative to the config, `/`-separated, like every other
/// entry of [`ImageSpec::files`].
pub fn source_archive_path(recipe: &Path) -> String {
    builtin::beside_recipe(recipe, SOURCE_ARCHIVE)
}

/// Makes vibes' own source part of the worker image: the archive (by its SHA-256) joins the
/// worker's files, and the worker's identity is recomputed, so a vibes built from other source
/// rebuilds the worker image — and the compile, which is made on it, runs again. Returns whether
/// the config has a worker image. The apply uploads the archive itself, from the bytes whose
/// hash this is, since it is not a file under the config.
pub fn add_engine_source(desired: &mut Desired, source_sha256: &str) -> bool {
    let Some(worker) = desired.images.get_mut(WORKER_IMAGE) else {
        return false;
    };
    worker.files.insert(
        source_archive_path(&worker.recipe),
        source_sha256.to_ascii_lowercase(),
    );
    worker.recipe_hash = recipe_hash(&worker.files);
    true
}
