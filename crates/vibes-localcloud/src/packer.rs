//! The Packer stand-in a local build finds first on its PATH: `packer build` runs the real
//! `packer validate` on the recipe with the same variables, makes the image's root file system
//! by running the recipe's provisioners on a Debian 12 machine ([`crate::image_build`]), then
//! registers the image in the emulator carrying exactly the tags the recipe's `tags` variable
//! gives it (plus the `Name` the recipes add), as the real build's amazon-ebs builder would
//! (with `run_tags`). The image's root file system is recorded beside its id, for the instances
//! launched from it to boot ([`crate::instances`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The directory where an image's id is mapped to its root file system (a file per image).
pub const IMAGES_ENV: &str = "VIBES_LOCALCLOUD_IMAGES";
/// The vibes binary the build machine is offered (see [`crate::image_build`]).
pub const PREBUILT_ENV: &str = "VIBES_LOCALCLOUD_PREBUILT";

/// The runner's own keys, given to the stand-in under these names (`…AWS_ACCESS_KEY_ID`): the
/// build itself runs as its service role (see [`crate::codebuild`]).
pub const RUNNER_KEYS_PREFIX: &str = "VIBES_LOCALCLOUD_RUNNER_";

/// Puts the stand-in at `dir/packer`: a link to this binary, which answers as Packer when
/// called by that name.
pub fn install(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let link = dir.join("packer");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&exe, &link).map_err(|e| format!("link {}: {e}", link.display()))
}

/// The real packer: the first on PATH that is not this stand-in.
fn real_packer() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?.canonicalize().ok()?;
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("packer"))
        .find(|p| p.is_file() && p.canonicalize().ok().as_ref() != Some(&me))
}

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("version") | Some("-v") | Some("--version") => {
            println!("Packer (vibes local cloud stand-in: validates with the real packer, registers the image in the emulator)");
            ExitCode::SUCCESS
        }
        Some("init") => {
            println!("packer init: plugins are not needed by the stand-in");
            ExitCode::SUCCESS
        }
        Some("build") => match build(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Build 'amazon-ebs' errored: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("packer stand-in: only `version`, `init` and `build` are played");
            ExitCode::from(2)
        }
    }
}

fn build(args: &[String]) -> Result<(), String> {
    let mut vars = BTreeMap::new();
    let mut recipe = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-var" {
            let kv = it.next().ok_or("-var needs a value")?;
            let (k, v) = kv.split_once('=').ok_or("-var takes NAME=VALUE")?;
            vars.insert(k.to_string(), v.to_string());
        } else if let Some(kv) = a.strip_prefix("-var=") {
            let (k, v) = kv.split_once('=').ok_or("-var takes NAME=VALUE")?;
            vars.insert(k.to_string(), v.to_string());
        } else if a.starts_with('-') {
            // -color=false, -force, …: nothing to do for the stand-in.
        } else {
            recipe = Some(a.clone());
        }
    }
    let recipe = recipe.ok_or("no recipe given")?;
    let real = real_packer().ok_or("no real packer on PATH to validate the recipe with")?;
    let mut validate = Command::new(&real);
    validate.arg("validate");
    for (k, v) in &vars {
        validate.arg("-var").arg(format!("{k}={v}"));
    }
    let status = validate
        .arg(&recipe)
        .env("CHECKPOINT_DISABLE", "1")
        .status()
        .map_err(|e| format!("run {}: {e}", real.display()))?;
    if !status.success() {
        return Err(format!("packer validate {recipe} failed"));
    }
    println!("The configuration is valid: {recipe}");
    let recipe_path = Path::new(&recipe);
    let provisioners = crate::recipe::provisioners(recipe_path, &vars, &|k| std::env::var(k).ok())?;
    let images = std::env::var_os(IMAGES_ENV)
        .map(PathBuf::from)
        .ok_or_else(|| {
            format!("{IMAGES_ENV} is not set: the stand-in runs in the local cloud's builds")
        })?;
    let prebuilt = std::env::var_os(PREBUILT_ENV).map(PathBuf::from);
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let tags: BTreeMap<String, String> = match vars.get("tags") {
        Some(json) => serde_json::from_str(json).map_err(|e| format!("-var tags: {e}"))?,
        None => BTreeMap::new(),
    };
    let project = vars
        .get("project")
        .cloned()
        .unwrap_or_else(|| "vibes".into());
    let image = Path::new(&recipe)
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_end_matches(".pkr.hcl").to_string())
        .unwrap_or_else(|| "image".into());
    // As Packer sets a variable: `-var`, else PKR_VAR_<name>, else the recipe's default.
    let arch = vars
        .get("arch")
        .cloned()
        .or_else(|| std::env::var("PKR_VAR_arch").ok())
        .unwrap_or_else(|| RECIPE_DEFAULT_ARCH.into());
    let build_name = format!("amazon-ebs.{image}");
    let rootfs = crate::image_build::build(
        &crate::machine::cache_dir(),
        &crate::image_build::BuildInputs {
            provisioners: &provisioners,
            cwd: &cwd,
            prebuilt: prebuilt.as_deref(),
            name: &build_name,
        },
        &mut std::io::stdout(),
    )
    .map_err(|e| format!("provisioning the {image} image: {e}"))?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let ami = rt.block_on(register(&project, &image, &arch, tags))?;
    std::fs::create_dir_all(&images).map_err(|e| format!("create {}: {e}", images.display()))?;
    std::fs::write(images.join(&ami), rootfs.display().to_string())
        .map_err(|e| format!("record the root file system of {ami}: {e}"))?;
    let region = std::env::var("AWS_REGION").unwrap_or_default();
    println!("==> Builds finished. The artifacts of successful builds are:\n--> amazon-ebs.{image}: AMIs were created:\n{region}: {ami}");
    Ok(())
}

/// The `arch` variable's default in packer/*.pkr.hcl.
const RECIPE_DEFAULT_ARCH: &str = "arm64";

async fn register(
    project: &str,
    image: &str,
    arch: &str,
    mut tags: BTreeMap<String, String>,
) -> Result<String, String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .map_err(|_| "AWS_ENDPOINT_URL is not set: the stand-in only speaks to the local cloud")?;
    let mut config =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(endpoint);
    let runner_key = |k: &str| std::env::var(format!("{RUNNER_KEYS_PREFIX}{k}")).ok();
    if let (Some(id), Some(secret)) = (
        runner_key("AWS_ACCESS_KEY_ID"),
        runner_key("AWS_SECRET_ACCESS_KEY"),
    ) {
        config = config.credentials_provider(aws_sdk_ec2::config::Credentials::new(
            id,
            secret,
            None,
            None,
            "vibes-localcloud-runner",
        ));
    }
    let config = config.load().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let out = ec2
        .register_image()
        .name(format!("{project}-{image}-{stamp}"))
        .description(format!("vibes {image} image ({project})"))
        .root_device_name("/dev/xvda")
        .architecture(arch.into())
        .send()
        .await
        .map_err(|e| format!("RegisterImage: {e:?}"))?;
    let ami = out
        .image_id()
        .ok_or("RegisterImage returned no id")?
        .to_string();
    // What the recipes' `run_tags` give the image at CreateImage: `var.tags`, and a Name of
    // `<project>-<image>`. Tagged after registering: the emulator drops TagSpecifications on
    // RegisterImage.
    tags.insert("Name".into(), format!("{project}-{image}"));
    let mut req = ec2.create_tags().resources(&ami);
    for (k, v) in tags {
        req = req.tags(aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
    }
    req.send()
        .await
        .map_err(|e| format!("CreateTags {ami}: {e:?}"))?;
    Ok(ami)
}
