//! A valid `vibes.toml` becomes the desired state: names derived from the project, defaults
//! filled in, files read and hashed, the implied stacks wired to the network and the keys.

use crate::support::config::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vibes_core::config::{self, builtin, DEFAULT_COMPILE_INSTANCE};
use vibes_core::model::*;
use vibes_core::Address;

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn output(stack: &str, name: &str) -> Value {
    Value::Output {
        address: Address::stack(stack),
        output: name.into(),
    }
}

/// A directory with every file the full config below names.
fn full_dir() -> ConfigDir {
    let dir = ConfigDir::new();
    dir.write("music/ccr/tags.vc", "ARTIST=Creedence Clearwater Revival\n");
    dir.write(
        "profiles/archive.config",
        "# archive\nCONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s --best",
    );
    dir.write("keys/me.pub", PUBLIC_KEY);
    dir.write(
        "packer/worker.pkr.hcl",
        "source \"amazon-ebs\" \"worker\" {}\n",
    );
    dir.write(
        "packer/files/worker/install.sh",
        "#!/bin/sh\napt-get install -y flac lame\n",
    );
    dir.write("packer/files/worker/etc/vibes.conf", "jobs=4\n");
    dir.write("cfn/alerts.yaml", "Resources: {}\n");
    dir
}

const FULL: &str = r#"
[project]
name = "music"
region = "eu-west-1"

[network]
create = true

[stacks.alerts]
template = "cfn/alerts.yaml"
parameters = { Vpc = "${stack.vpc.VpcId}", Topic = "alerts" }
depends_on = ["stack.main"]

[sources]
path = "music"

[keys.builds]
[keys.worker]
public_key = "keys/me.pub"
[keys.server]

[images.worker]
recipe = "packer/worker.pkr.hcl"
files = ["packer/files/worker"]

[profiles.archive]
config = "profiles/archive.config"

[profiles.phone]
encoder = "lame"
flags = "--quiet -V 6"
CONFIG_PLAYLIST = "y"

[compile]
builds_volume_gib = 50

[snapshots]
keep = 2

[server]
running = false
"#;

#[test]
fn a_full_config_resolves_to_the_desired_state() {
    let dir = full_dir();
    let d = dir.ok(FULL);

    assert_eq!(
        d.project,
        Project {
            name: "music".into(),
            region: Some("eu-west-1".into())
        }
    );
    assert_eq!(d.network, None);

    let vpc = &d.stacks["vpc"];
    assert_eq!(vpc.stack_name, "music-vpc");
    assert_eq!(vpc.template_path, PathBuf::from("cfn/vpc.yaml"));
    assert!(vpc.template_built_in);
    assert_eq!(
        vpc.template_body,
        builtin::template(builtin::VPC_TEMPLATE),
        "no template named: the built-in one, not the file at the same path"
    );
    assert_eq!(
        vpc.parameters,
        BTreeMap::from([("Project".into(), Value::literal("music"))])
    );
    assert!(vpc.depends_on.is_empty());

    let main = &d.stacks["main"];
    assert_eq!(main.stack_name, "music-main");
    assert_eq!(
        main.template_body,
        builtin::template(builtin::MAIN_TEMPLATE)
    );
    assert!(main.template_built_in);
    assert_eq!(
        main.parameters,
        BTreeMap::from([
            ("Project".into(), Value::literal("music")),
            ("VpcId".into(), output("vpc", "VpcId")),
            ("SubnetId".into(), output("vpc", "PublicSubnetId")),
            // Packer builds in the project's own public subnet, not the default VPC an
            // account may not have.
            ("ImageBuildSubnetId".into(), output("vpc", "PublicSubnetId")),
            ("WorkerSubnetId".into(), output("vpc", "WorkerSubnetId")),
            ("AvailabilityZone".into(), output("vpc", "AvailabilityZone")),
            ("WorkerKeyName".into(), Value::literal("music-worker")),
            ("ServerKeyName".into(), Value::literal("music-server")),
        ])
    );
    assert_eq!(main.depends_on, [Address::stack("vpc")]);

    let alerts = &d.stacks["alerts"];
    assert_eq!(alerts.stack_name, "music-alerts");
    assert_eq!(alerts.parameters["Vpc"], output("vpc", "VpcId"));
    assert_eq!(alerts.parameters["Topic"], Value::literal("alerts"));
    assert_eq!(
        alerts.depends_on,
        [Address::stack("main"), Address::stack("vpc")]
    );
    assert_eq!(d.stacks.len(), 3);

    assert_eq!(
        d.sources,
        Some(SourcesSpec {
            path: PathBuf::from("music"),
            delete: false,
            format: None,
            parameter: "/music/sources".into(),
            manifest: None,
            faults: Vec::new(),
        })
    );

    assert_eq!(
        d.keys.keys().collect::<Vec<_>>(),
        ["builds", "server", "worker"]
    );
    assert_eq!(
        d.keys["builds"],
        KeySpec {
            key_name: "music-builds".into(),
            private_key_path: "/music/ec2/keys/builds".into(),
            public_key: None
        }
    );
    assert_eq!(
        d.keys["worker"].public_key.as_deref(),
        Some(PUBLIC_KEY.trim())
    );

    let worker = &d.images["worker"];
    assert_eq!(worker.recipe, PathBuf::from("packer/worker.pkr.hcl"));
    let plugins = builtin::file("packer/plugins.pkr.hcl.txt").unwrap();
    assert_eq!(
        worker.files,
        BTreeMap::from([
            (
                "packer/files/worker/etc/vibes.conf".to_string(),
                sha("jobs=4\n")
            ),
            (
                "packer/files/worker/install.sh".to_string(),
                sha("#!/bin/sh\napt-get install -y flac lame\n")
            ),
            (
                "packer/plugins.pkr.hcl.txt".to_string(),
                builtin::sha256(plugins)
            ),
            (
                "packer/worker.pkr.hcl".to_string(),
                sha("source \"amazon-ebs\" \"worker\" {}\n")
            ),
        ])
    );
    assert_eq!(
        worker.built_in,
        BTreeMap::from([(
            "packer/plugins.pkr.hcl.txt".to_string(),
            "packer/plugins.pkr.hcl.txt".to_string()
        )]),
        "the recipe brings no plugin requirements: the built-in ones go beside it"
    );
    assert_eq!(worker.recipe_hash.len(), 16);
    assert_eq!(worker.parameter, "/music/ami/worker");
    assert_eq!(worker.keep, 2);

    let archive = &d.profiles["archive"];
    assert_eq!(archive.parameter, "/music/profiles/archive");
    assert_eq!(archive.encoder, "flac");
    assert_eq!(
        archive.text, "# archive\nCONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s --best\n",
        "the file as is, ending in a newline"
    );
    let phone = &d.profiles["phone"];
    assert_eq!(phone.encoder, "lame");
    assert_eq!(
        phone.text,
        "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\nCONFIG_PLAYLIST=y\n"
    );

    assert_eq!(
        d.compile,
        Some(CompileSpec {
            instance_type: DEFAULT_COMPILE_INSTANCE.into(),
            builds_volume_gib: 50,
            timeout_minutes: 240,
            spot: false,
        })
    );
    assert_eq!(d.snapshots, Some(SnapshotsSpec { keep: 2 }));
    assert_eq!(
        d.server,
        Some(ServerSpec {
            running: false,
            instance_type: "t4g.small".into(),
            elastic_ip: false,
        })
    );
}

#[test]
fn an_image_is_identified_by_the_content_of_its_recipe_files() {
    let dir = full_dir();
    let first = dir.ok(FULL).images["worker"].recipe_hash.clone();
    assert_eq!(
        dir.ok(FULL).images["worker"].recipe_hash,
        first,
        "the same files give the same identity"
    );
    dir.write(
        "packer/files/worker/install.sh",
        "#!/bin/sh\napt-get install -y flac lame opus-tools\n",
    );
    assert_ne!(
        dir.ok(FULL).images["worker"].recipe_hash,
        first,
        "a changed provisioning file is a new image"
    );
}

#[test]
fn a_reused_network_is_passed_to_the_main_stack_as_is() {
    let dir = ConfigDir::new();
    dir.write("music/a.flac", "x");
    let d = dir.ok(&format!("{PROJECT}[network]\nvpc_id = \"vpc-0123456789abcdef0\"\nsubnet_id = \"subnet-0123abcd\"\navailability_zone = \"eu-west-1a\"\n[sources]\npath = \"music\"\ndelete = true\n"));
    assert_eq!(
        d.network,
        Some(ExistingNetwork {
            vpc_id: "vpc-0123456789abcdef0".into(),
            subnet_id: "subnet-0123abcd".into(),
            availability_zone: "eu-west-1a".into()
        })
    );
    assert_eq!(d.stacks.keys().collect::<Vec<_>>(), ["main"]);
    let main = &d.stacks["main"];
    assert_eq!(
        main.parameters["VpcId"],
        Value::literal("vpc-0123456789abcdef0")
    );
    assert_eq!(
        main.parameters["SubnetId"],
        Value::literal("subnet-0123abcd")
    );
    assert_eq!(
        main.parameters["AvailabilityZone"],
        Value::literal("eu-west-1a"),
        "the builds volume's zone"
    );
    assert!(
        !main.parameters.contains_key("WorkerKeyName"),
        "no worker key is desired"
    );
    assert!(main.depends_on.is_empty());
    assert!(d.sources.unwrap().delete);
}

#[test]
fn explicit_main_parameters_override_and_extend_the_implied_ones() {
    let dir = ConfigDir::new();
    let d = dir.ok(&format!(
        "{PROJECT}[network]\ncreate = true\n[stacks.main]\nparameters = {{ SubnetId = \"${{stack.vpc.PrivateSubnetId}}\", RsyncCidr = \"203.0.113.0/24\" }}\n[server]\n"
    ));
    let main = &d.stacks["main"];
    assert_eq!(main.template_path, PathBuf::from("cfn/main.yaml"));
    assert!(main.template_built_in, "[stacks.main] without template");
    assert_eq!(
        main.parameters["SubnetId"],
        output("vpc", "PrivateSubnetId")
    );
    assert_eq!(main.parameters["VpcId"], output("vpc", "VpcId"));
    assert_eq!(
        main.parameters["RsyncCidr"],
        Value::literal("203.0.113.0/24")
    );
    assert_eq!(main.depends_on, [Address::stack("vpc")]);
}

#[test]
fn a_network_alone_makes_only_the_vpc_stack() {
    let d = ConfigDir::new().ok(&format!(
        "{PROJECT}[network]\ncreate = true\ntemplate = \"cfn/vpc.yaml\"\n"
    ));
    assert_eq!(d.stacks.keys().collect::<Vec<_>>(), ["vpc"]);
}

#[test]
fn stacks_without_a_template_use_the_built_in_ones_anywhere() {
    // No cfn/ beside the config: a vibes.toml in a music directory of its own.
    let dir = ConfigDir::bare();
    dir.write("music/a.flac", "x");
    let d = dir.ok(&format!(
        "{PROJECT}[network]\ncreate = true\n[sources]\npath = \"music\"\n"
    ));
    for (name, path) in [
        ("vpc", builtin::VPC_TEMPLATE),
        ("main", builtin::MAIN_TEMPLATE),
    ] {
        let stack = &d.stacks[name];
        assert!(stack.template_built_in, "{name}");
        assert_eq!(stack.template_path, Path::new(path));
        assert_eq!(
            stack.template_body.as_bytes(),
            vibes_platform::file(path).unwrap().body
        );
        assert_eq!(stack.template_shown(), format!("(built in) {path}"));
    }
}

#[test]
fn a_template_of_ones_own_overrides_the_built_in_one() {
    let dir = ConfigDir::new();
    let d = dir.ok(&format!(
        "{PROJECT}[network]\ncreate = true\ntemplate = \"cfn/vpc.yaml\"\n[stacks.main]\ntemplate = \"cfn/main.yaml\"\n"
    ));
    for (name, body) in [("vpc", VPC_TEMPLATE), ("main", MAIN_TEMPLATE)] {
        let stack = &d.stacks[name];
        assert!(!stack.template_built_in, "{name}");
        assert_eq!(stack.template_body, body, "{name}");
        assert_eq!(stack.template_shown(), format!("cfn/{name}.yaml"));
    }
}

#[test]
fn images_without_a_recipe_are_built_from_the_built_in_recipes() {
    let dir = ConfigDir::bare();
    let d = dir.ok(&format!(
        "{PROJECT}[network]\ncreate = true\n[images.worker]\n[images.server]\n[images.volmgr]\nkeep = 4\n"
    ));
    for name in builtin::IMAGES {
        let image = &d.images[name];
        let recipe = format!("packer/{name}.pkr.hcl");
        assert_eq!(image.recipe, Path::new(&recipe));
        assert_eq!(image.files, builtin::recipe(name).unwrap().files, "{name}");
        assert!(image.files.contains_key("packer/plugins.pkr.hcl.txt"));
        assert!(image
            .files
            .contains_key(&format!("packer/files/{name}/install.sh")));
        assert_eq!(
            image.built_in.keys().collect::<Vec<_>>(),
            image.files.keys().collect::<Vec<_>>(),
            "every file of {name} comes from the binary"
        );
        assert_eq!(image.recipe_hash, config::recipe_hash(&image.files));
        assert_eq!(image.recipe_shown(), format!("(built in) {recipe}"));
    }
    assert_eq!(d.images["volmgr"].keep, 4);
}

#[test]
fn an_image_is_its_files_wherever_they_come_from() {
    // The built-in worker recipe and a checkout's copy of it, named in the config, are one image.
    let dir = ConfigDir::bare();
    let built_in = builtin::recipe("worker").unwrap();
    for path in built_in.files.keys() {
        let body = builtin::file(path).unwrap();
        let target = dir.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, body).unwrap();
    }
    let own = dir.ok(&format!(
        "{PROJECT}[network]\ncreate = true\n[images.worker]\nrecipe = \"packer/worker.pkr.hcl\"\nfiles = [\"packer/files/worker\"]\n"
    ));
    let built = dir.ok(&format!(
        "{PROJECT}[network]\ncreate = true\n[images.worker]\n"
    ));
    assert!(
        own.images["worker"].built_in.is_empty(),
        "all read from the config's directory"
    );
    assert_eq!(own.images["worker"].files, built.images["worker"].files);
    assert_eq!(
        own.images["worker"].recipe_hash,
        built.images["worker"].recipe_hash
    );
    assert_eq!(own.images["worker"].recipe_shown(), "packer/worker.pkr.hcl");
}

#[test]
fn a_recipe_of_ones_own_takes_the_plugins_beside_it_else_the_built_in_ones() {
    let dir = ConfigDir::bare();
    dir.write("images/builder.pkr.hcl", "build {}\n");
    let config = format!(
        "{PROJECT}[network]\ncreate = true\n[images.builder]\nrecipe = \"images/builder.pkr.hcl\"\n"
    );
    let first = dir.ok(&config).images["builder"].clone();
    let built_in = builtin::file("packer/plugins.pkr.hcl.txt").unwrap();
    assert_eq!(
        first.files.get("images/plugins.pkr.hcl.txt"),
        Some(&builtin::sha256(built_in)),
        "beside the recipe, where the image build looks for it"
    );
    assert_eq!(
        first.built_in,
        BTreeMap::from([(
            "images/plugins.pkr.hcl.txt".to_string(),
            "packer/plugins.pkr.hcl.txt".to_string()
        )])
    );

    dir.write(
        "images/plugins.pkr.hcl.txt",
        "packer { required_plugins {} }\n",
    );
    let own = dir.ok(&config).images["builder"].clone();
    assert_eq!(
        own.files.get("images/plugins.pkr.hcl.txt"),
        Some(&sha("packer { required_plugins {} }\n"))
    );
    assert!(own.built_in.is_empty());
    assert_ne!(
        own.recipe_hash, first.recipe_hash,
        "other plugins, another image"
    );
}

#[test]
fn only_the_project_is_required() {
    let d = ConfigDir::bare().ok(PROJECT);
    assert_eq!(d, Desired::empty("vibes"));
}

#[test]
fn load_reads_paths_relative_to_the_config_file() {
    let dir = full_dir();
    let path = dir.write("vibes.toml", FULL);
    let d = config::load(&path).unwrap();
    // Kept relative to the config's directory: whoever reads it joins that directory once.
    assert_eq!(d.sources.unwrap().path, Path::new("music"));
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

#[test]
fn the_documented_vibes_toml_is_valid() {
    let path = repo_root().join("vibes.toml");
    let d = config::load(&path).unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(d.project.name, "vibes");
    assert_eq!(d.project.region.as_deref(), Some("us-east-1"));
    assert_eq!(d.stacks.keys().collect::<Vec<_>>(), ["main", "vpc"]);
    assert_eq!(
        d.keys.keys().collect::<Vec<_>>(),
        ["builds", "server", "worker"]
    );
    assert_eq!(
        d.profiles.keys().collect::<Vec<_>>(),
        ["archive", "car", "laptop", "phone"]
    );
    let encoders: Vec<_> = d.profiles.values().map(|p| p.encoder.as_str()).collect();
    assert_eq!(encoders, ["flac", "oggenc", "opusenc", "lame"]);
    // The main job runs the whole chain: built-in images, a compile, snapshots and a server.
    assert_eq!(d.images.keys().collect::<Vec<_>>(), ["server", "worker"]);
    assert!(d.stacks.values().all(|s| s.template_built_in));
    assert!(d.compile.is_some() && d.snapshots.is_some() && d.server.is_some());
}

#[test]
fn the_full_example_is_valid_where_it_stands() {
    let d = config::load(&repo_root().join("examples/full.toml"))
        .unwrap_or_else(|e| panic!("{}", render(&e)));
    assert_eq!(
        d.images.keys().collect::<Vec<_>>(),
        ["server", "volmgr", "worker"]
    );
    for (name, image) in &d.images {
        assert_eq!(image.files, builtin::recipe(name).unwrap().files, "{name}");
    }
    assert_eq!(
        repo_root()
            .join("examples")
            .join(&d.sources.as_ref().unwrap().path),
        repo_root().join("examples/music")
    );
    assert!(d.stacks.values().all(|s| s.template_built_in));
    assert_eq!(d.images["worker"].keep, 3);
    assert_eq!(
        d.stacks["main"].parameters["RsyncCidr"],
        Value::literal("203.0.113.0/24")
    );
    assert!(d.compile.is_some() && d.snapshots.is_some() && d.server.is_some());
    assert!(d.compile.as_ref().unwrap().spot && d.server.as_ref().unwrap().elastic_ip);
}
