//! The desired state: typed resources with addresses, resolved from `vibes.toml` by `config`.
//! Nothing here does I/O; file contents (templates, recipes, profile texts, public keys) were
//! read by the loader and are carried as values.

use crate::address::Address;
pub use crate::arch::Arch;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything `vibes.toml` asks for, validated.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Desired {
    pub project: Project,
    /// Stacks by short name (`vpc`, `main`, or any named in `[stacks.NAME]`).
    pub stacks: BTreeMap<String, StackSpec>,
    pub keys: BTreeMap<String, KeySpec>,
    pub profiles: BTreeMap<String, ProfileSpec>,
    pub images: BTreeMap<String, ImageSpec>,
    pub sources: Option<SourcesSpec>,
    pub compile: Option<CompileSpec>,
    pub snapshots: Option<SnapshotsSpec>,
    pub server: Option<ServerSpec>,
    /// Network to reuse instead of a VPC stack (`[network] vpc_id/subnet_id`).
    pub network: Option<ExistingNetwork>,
    /// `[budget]`: what one apply and the idle platform may cost, in USD.
    pub budget: Option<BudgetSpec>,
    /// `[prices]`: what the account pays where it differs from vibes' price table.
    pub prices: Option<PriceOverrides>,
}

/// Prices in USD that replace the table's (savings plans, negotiated rates, a region the table
/// lacks). Each is optional: the table's price stands where none is given.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PriceOverrides {
    /// Instance type → price per hour.
    pub instance_hour: BTreeMap<String, f64>,
    pub gp3_gib_month: Option<f64>,
    pub snapshot_gib_month: Option<f64>,
    pub s3_gib_month: Option<f64>,
    pub public_ipv4_hour: Option<f64>,
    pub codebuild_minute: Option<f64>,
}

impl PriceOverrides {
    /// How many prices are given.
    pub fn count(&self) -> usize {
        self.instance_hour.len()
            + [
                self.gp3_gib_month,
                self.snapshot_gib_month,
                self.s3_gib_month,
                self.public_ipv4_hour,
                self.codebuild_minute,
            ]
            .iter()
            .filter(|p| p.is_some())
            .count()
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct BudgetSpec {
    /// Actions whose one-off cost would take the apply past this are blocked.
    pub max_run_usd: Option<f64>,
    /// Actions that would take the idle cost a month past this (and up) are blocked.
    pub max_idle_usd_month: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Project {
    /// Prefix of every AWS name and SSM path (`vibes` → `vibes-builds`, `/vibes/profiles/x`).
    pub name: String,
    pub region: Option<String>,
}

impl Project {
    /// SSM paths live under `/<project>/…`.
    pub fn ssm_path(&self, rest: &str) -> String {
        format!("/{}/{}", self.name, rest.trim_start_matches('/'))
    }
    /// AWS-side names: `<project>-<name>`.
    pub fn aws_name(&self, name: &str) -> String {
        format!("{}-{}", self.name, name)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExistingNetwork {
    pub vpc_id: String,
    pub subnet_id: String,
    /// The subnet's zone: the builds volume is made there, so that workers can attach it.
    pub availability_zone: String,
}

/// A value that is either known now or is an output of another resource, known after it is
/// applied (`${stack.vpc.VpcId}` in the config).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Value {
    Literal { value: String },
    Output { address: Address, output: String },
}

impl Value {
    pub fn literal(s: impl Into<String>) -> Self {
        Value::Literal { value: s.into() }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StackSpec {
    /// CloudFormation stack name: `<project>-<name>`.
    pub stack_name: String,
    /// The template path as written in the config (relative to the config file), or the path of
    /// the built-in template in vibes' platform.
    pub template_path: PathBuf,
    /// Whether the template is vibes' built-in one (the config names none), carried in the binary.
    pub template_built_in: bool,
    /// The template's text.
    pub template_body: String,
    pub parameters: BTreeMap<String, Value>,
    /// Stacks whose outputs this one's parameters use, and any declared `depends_on`.
    pub depends_on: Vec<Address>,
}

impl StackSpec {
    /// The template as a plan shows it.
    pub fn template_shown(&self) -> String {
        shown_path(&self.template_path, self.template_built_in)
    }
}

/// A platform file's path as a plan shows it: a built-in file is marked as such, so that nobody
/// looks for it on disk.
pub fn shown_path(path: &std::path::Path, built_in: bool) -> String {
    match built_in {
        true => format!("(built in) {}", path.display()),
        false => path.display().to_string(),
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeySpec {
    /// EC2 key pair name: `<project>-<name>`.
    pub key_name: String,
    /// Where the private key of a generated key lives: `/<project>/ec2/keys/<name>`.
    pub private_key_path: String,
    /// An OpenSSH public key to import instead of generating one.
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProfileSpec {
    /// `/<project>/profiles/<name>`.
    pub parameter: String,
    /// The profile in tup.config form, one `CONFIG_*=value` a line, ending in a newline.
    pub text: String,
    /// `flac`, `lame`, `oggenc` or `opusenc`.
    pub encoder: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageSpec {
    /// The Packer recipe, relative to the config file (or, built in, to vibes' platform).
    pub recipe: PathBuf,
    /// Every file of the recipe (the recipe and its provisioning files), relative path → SHA-256.
    /// The path is also where the file is uploaded for the image build, under the recipe prefix.
    pub files: BTreeMap<String, String>,
    /// The files of `files` whose body is vibes' built-in platform, carried in the binary, rather
    /// than a file under the config's directory: path in `files` → path in the platform. All of
    /// them for a built-in recipe; the plugin requirements beside a recipe of one's own that
    /// brings none.
    pub built_in: BTreeMap<String, String>,
    /// The image's identity: the hash of its recipe files. A new hash means a new image.
    pub recipe_hash: String,
    /// `/<project>/ami/<name>`: where the current image id is kept.
    pub parameter: String,
    /// How many images of this recipe to keep (the newest first). At least 1.
    pub keep: u32,
    /// What the image is built for (the recipe's `arch` variable), and why.
    pub arch: ArchChoice,
}

/// An image's architecture and where it comes from: EC2 launches an image only on an instance
/// type of its architecture, so an image is built for the type that launches it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArchChoice {
    pub arch: Arch,
    pub from: ArchSource,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum ArchSource {
    /// `[images.NAME] arch`.
    Config,
    /// The instance type of the section that launches the image (`[compile]` for the worker,
    /// `[server]` for the server).
    InstanceType {
        section: &'static str,
        instance_type: String,
    },
    /// Nothing in the config launches the image: the recipe's default.
    RecipeDefault,
}

/// The recipe's default, until the sections that launch the image are known.
impl Default for ArchChoice {
    fn default() -> Self {
        ArchChoice {
            arch: Arch::RECIPE_DEFAULT,
            from: ArchSource::RecipeDefault,
        }
    }
}

impl ArchChoice {
    /// As a plan shows it: `x86_64 (the [compile] instance type c7a.large)`.
    pub fn shown(&self) -> String {
        match &self.from {
            ArchSource::Config => format!("{} (arch in the config)", self.arch),
            ArchSource::InstanceType {
                section,
                instance_type,
            } => format!(
                "{} (the {section} instance type {instance_type})",
                self.arch
            ),
            ArchSource::RecipeDefault => format!("{} (the recipe's default)", self.arch),
        }
    }
}

impl ImageSpec {
    /// The recipe as a plan shows it.
    pub fn recipe_shown(&self) -> String {
        let recipe = self.recipe.to_string_lossy();
        shown_path(&self.recipe, self.built_in.contains_key(recipe.as_ref()))
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourcesSpec {
    /// The local tree, relative to the config's directory (`.` for the directory itself): the
    /// reader joins the config's directory, once.
    pub path: PathBuf,
    /// Whether objects that are no longer in the local tree may be deleted from the bucket.
    pub delete: bool,
    /// `[sources] format`: "vibes", "mustup" or "auto"; `None` (unset) is auto.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `/<project>/sources`: holds the sources bucket name.
    pub parameter: String,
    /// The local tree as the planner sees it. Filled by the local scan before planning;
    /// `None` while only validating.
    pub manifest: Option<Manifest>,
    /// What the compile engine finds wrong in the tree, read with the same code the compile
    /// runs (filled with the manifest): each would leave tracks out of a compile.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<SourceFault>,
}

/// A fault in the sources tree that would leave tracks out of a compile.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SourceFault {
    /// The track (or directory, or playlist) it leaves out, relative to the tree's root.
    pub source: String,
    /// `path:line:column: message`, with a hint where one is near.
    pub fault: String,
}

/// A tree of files: relative path (with `/`) → size and SHA-256.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Manifest {
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileEntry {
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

impl Manifest {
    /// The sources revision: a hash over every path and content hash.
    pub fn revision(&self) -> String {
        let mut parts: Vec<&[u8]> = Vec::new();
        for (path, e) in &self.files {
            parts.push(path.as_bytes());
            parts.push(e.sha256.as_bytes());
        }
        crate::tags::short_hash(&parts)
    }
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|e| e.size).sum()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CompileSpec {
    pub instance_type: String,
    pub builds_volume_gib: u32,
    /// Give up on a compile run after this long.
    pub timeout_minutes: u32,
    /// Run the worker on Spot capacity: an interruption is a failed attempt whose builds volume
    /// is kept, and the next apply resumes the compile on it.
    pub spot: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SnapshotsSpec {
    /// Keep the newest `keep` builds snapshots. At least 1.
    pub keep: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerSpec {
    pub running: bool,
    pub instance_type: String,
    /// Serve from an Elastic IP that stays when the server is replaced (and while it is
    /// stopped), rather than the address each new instance is given.
    pub elastic_ip: bool,
}

/// The image the compile's workers launch from (`[images.worker]`).
pub const WORKER_IMAGE: &str = "worker";
/// The stack name of the network vibes makes (`[network] create = true`).
pub const VPC_STACK: &str = "vpc";
/// The image the rsync server launches from (`[images.server]`).
pub const SERVER_IMAGE: &str = "server";

/// The version of the compile engine; a new version means the collection is compiled again.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

impl Desired {
    /// Each image not given an `arch` is built for the instance type that launches it: the
    /// worker image for `[compile] instance_type`, the server image for `[server]`'s. The
    /// config reader calls it once every section is read; a desired state made by hand calls it
    /// the same way.
    pub fn settle_image_arches(&mut self) {
        let launchers = [
            (
                WORKER_IMAGE,
                "[compile]",
                self.compile.as_ref().map(|c| c.instance_type.clone()),
            ),
            (
                SERVER_IMAGE,
                "[server]",
                self.server.as_ref().map(|s| s.instance_type.clone()),
            ),
        ];
        for (image, section, instance_type) in launchers {
            let Some(spec) = self.images.get_mut(image) else {
                continue;
            };
            if spec.arch.from != ArchSource::RecipeDefault {
                continue;
            }
            let Some(instance_type) = instance_type else {
                continue;
            };
            if let Some(arch) = Arch::of_instance_type(&instance_type) {
                spec.arch = ArchChoice {
                    arch,
                    from: ArchSource::InstanceType {
                        section,
                        instance_type,
                    },
                };
            }
        }
    }

    /// A desired state with only a project: the start of every hand-built one in tests.
    pub fn empty(project: &str) -> Self {
        Desired {
            project: Project {
                name: project.into(),
                region: None,
            },
            stacks: BTreeMap::new(),
            keys: BTreeMap::new(),
            profiles: BTreeMap::new(),
            images: BTreeMap::new(),
            sources: None,
            compile: None,
            snapshots: None,
            server: None,
            network: None,
            budget: None,
            prices: None,
        }
    }
}
