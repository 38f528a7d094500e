//! Architectures: EC2 launches an image only on an instance type of its architecture, so each
//! image is built for the type that launches it, and a mismatch is refused in the plan — before
//! an image is built or a worker paid for — rather than by RunInstances.

use crate::support::apply::{full_desired, options, plan, run, summary};
use std::collections::BTreeMap;
use std::sync::Arc;
use vibes_core::arch::Arch;
use vibes_core::config;
use vibes_core::model::{ArchChoice, ArchSource, FileEntry, Manifest};
use vibes_core::observed::{ObservedImage, ObservedParameter};
use vibes_core::plan::{Effect, Op, Plan, PlanOptions};
use vibes_core::tags;
use vibes_fake::FakeCloud;

/// A config whose compile and server types are given, with built-in images.
fn config(worker_type: &str, server_type: &str, worker_arch: Option<&str>) -> vibes_core::Desired {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("music")).unwrap();
    let arch = worker_arch
        .map(|a| format!("arch = \"{a}\"\n"))
        .unwrap_or_default();
    let text = format!(
        "[project]\nname = \"tunes\"\n[network]\ncreate = true\n[sources]\npath = \"music\"\n\
         [profiles.phone]\nencoder = \"lame\"\nflags = \"-V 6\"\n\
         [images.worker]\n{arch}[images.server]\n\
         [compile]\ninstance_type = \"{worker_type}\"\n[snapshots]\nkeep = 1\n\
         [server]\nrunning = true\ninstance_type = \"{server_type}\"\n"
    );
    let mut d =
        config::load_str(&text, "vibes.toml", dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
    d.sources.as_mut().unwrap().manifest = Some(Manifest {
        files: BTreeMap::from([(
            "a/1-x.wav".to_string(),
            FileEntry {
                size: 4,
                sha256: "ab".repeat(32),
            },
        )]),
    });
    d
}

fn action<'p>(p: &'p Plan, address: &str) -> &'p vibes_core::plan::Action {
    p.actions
        .iter()
        .find(|a| a.address.to_string() == address)
        .unwrap_or_else(|| panic!("{address} is not in the plan"))
}

fn build_arch(p: &Plan, address: &str) -> Arch {
    action(p, address)
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::BuildImage { arch, .. } => Some(*arch),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{address} builds no image"))
}

#[test]
fn each_image_is_built_for_the_instance_type_that_launches_it() {
    let d = config("c7a.xlarge", "t4g.small", None);
    let p = vibes_core::plan(&d, &Default::default(), &PlanOptions::default()).unwrap();
    assert_eq!(
        build_arch(&p, "image.worker"),
        Arch::X86_64,
        "{}",
        summary(&p)
    );
    assert_eq!(build_arch(&p, "image.server"), Arch::Arm64);
    assert_eq!(
        d.images["worker"].arch.shown(),
        "x86_64 (the [compile] instance type c7a.xlarge)"
    );
    assert!(
        p.actions.iter().all(|a| a.op != Op::Blocked),
        "{}",
        summary(&p)
    );
}

#[test]
fn an_arm64_worker_image_for_an_x86_worker_is_refused_in_the_plan() {
    let d = config("c7a.xlarge", "t4g.small", Some("arm64"));
    assert_eq!(d.images["worker"].arch.from, ArchSource::Config);
    let p = vibes_core::plan(&d, &Default::default(), &PlanOptions::default()).unwrap();
    let compile = action(&p, "compile");
    assert_eq!(compile.op, Op::Blocked, "{}", summary(&p));
    assert!(compile.effects.is_empty(), "nothing is launched");
    for words in [
        "c7a.xlarge runs x86_64",
        "image.worker is built for arm64",
        "arch = \"x86_64\" under [images.worker]",
    ] {
        assert!(
            compile.reason.contains(words),
            "the reason should say {words:?}: {}",
            compile.reason
        );
    }
}

#[test]
fn an_unknown_arch_is_a_config_fault_with_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[project]\nname = \"tunes\"\n[network]\ncreate = true\n[images.worker]\narch = \"sparc\"\n";
    let faults = config::load_str(text, "vibes.toml", dir.path()).unwrap_err();
    let shown = format!("{faults:?}");
    assert!(shown.contains("`sparc` is not an architecture"), "{shown}");
    assert!(shown.contains("arm64 or x86_64"), "{shown}");
}

/// The plan of `d` on an account holding the worker image an earlier apply built from the
/// same recipe: asked for `asked` (its `vibes:arch` tag) and registered for `registered`, and
/// the pointer to it.
fn plan_with_worker_image(d: &vibes_core::Desired, registered: Arch, asked: Arch) -> Plan {
    let spec = &d.images["worker"];
    let address = "image.worker".parse().unwrap();
    let mut t = tags::ownership(&d.project.name, &address, &spec.recipe_hash);
    t.insert(tags::ARCH.into(), asked.as_str().into());
    let image = ObservedImage {
        image_id: "ami-worker".into(),
        name: "tunes-worker".into(),
        state: "available".into(),
        created: "2026-12-01T00:00:00Z".into(),
        tags: t,
        architecture: Some(registered),
    };
    let pointer = ObservedParameter {
        name: spec.parameter.clone(),
        secure: false,
        value: Some(image.image_id.clone()),
        tags: tags::ownership(&d.project.name, &address, &spec.recipe_hash),
        version: 1,
    };
    let mut o = vibes_core::observed::Observed::default();
    o.parameters.insert(pointer.name.clone(), pointer);
    o.images.insert(image.image_id.clone(), image);
    vibes_core::plan(d, &o, &PlanOptions::default()).unwrap()
}

#[test]
fn an_image_built_for_the_old_worker_type_is_built_again_for_the_new_one() {
    // The worker was c7g (arm64) and is now c7a (x86_64): the recipe is the same, the image is not.
    let d = config("c7a.xlarge", "t4g.small", None);
    let p = plan_with_worker_image(&d, Arch::Arm64, Arch::Arm64);
    let worker = action(&p, "image.worker");
    assert_eq!(worker.op, Op::Replace, "{}", summary(&p));
    assert_eq!(build_arch(&p, "image.worker"), Arch::X86_64);
    assert!(
        worker
            .reason
            .contains("image ami-worker is built for arm64")
            && worker
                .reason
                .contains("x86_64 (the [compile] instance type c7a.xlarge)"),
        "{}",
        worker.reason
    );
    // The compile launches the image this plan builds, not the arm64 one.
    let compile = action(&p, "compile");
    assert_ne!(compile.op, Op::Blocked, "{}", compile.reason);
    let launched = compile.effects.iter().find_map(|e| match e {
        Effect::RunCompile { image, .. } => Some(image.clone()),
        _ => None,
    });
    assert!(
        matches!(&launched, Some(vibes_core::model::Value::Output { address, .. }) if address.to_string() == "image.worker"),
        "{launched:?}"
    );
}

#[test]
fn a_recipe_that_ignores_its_arch_variable_is_blocked_rather_than_built_forever() {
    // Asked for x86_64 (its vibes:arch tag), registered as arm64: building again makes the same.
    let d = config("c7a.xlarge", "t4g.small", None);
    let p = plan_with_worker_image(&d, Arch::Arm64, Arch::X86_64);
    let worker = action(&p, "image.worker");
    assert_eq!(worker.op, Op::Blocked, "{}", summary(&p));
    assert!(
        worker
            .reason
            .contains("does not build for its `arch` variable"),
        "{}",
        worker.reason
    );
}

#[test]
fn an_image_of_the_right_arch_is_kept() {
    let d = config("c7a.xlarge", "t4g.small", None);
    let p = plan_with_worker_image(&d, Arch::X86_64, Arch::X86_64);
    assert!(
        p.actions
            .iter()
            .all(|a| a.address.to_string() != "image.worker"),
        "{}",
        summary(&p)
    );
}

/// On the fake, as on EC2: an image of another architecture than the instance type's is
/// refused by RunInstances. The plan never asks for one; a worker image made by hand is how it
/// could still happen, and the launch then fails with EC2's words rather than booting nothing.
#[tokio::test]
async fn the_fake_refuses_an_image_of_another_architecture_as_ec2_does() {
    use vibes_core::cloud::prelude::*;
    use vibes_core::cloud::InstanceRequest;
    let cloud = FakeCloud::new();
    let image = cloud.add_image_for("arm", Default::default(), Arch::Arm64);
    let launch = |instance_type: &str| InstanceRequest {
        launch_template: "lt-1".into(),
        image_id: image.clone(),
        instance_type: instance_type.into(),
        tags: Default::default(),
        client_token: format!("t-{instance_type}"),
        volumes: Default::default(),
        volume_sizes: Default::default(),
        empty_volumes: Default::default(),
        spot: false,
    };
    let refused = cloud.run_instance(&launch("c7a.xlarge")).await.unwrap_err();
    assert!(
        refused.to_string().contains("The architecture 'x86_64' of the specified instance type does not match the architecture 'arm64'"),
        "{refused}"
    );
    cloud.run_instance(&launch("c7g.xlarge")).await.unwrap();
}

/// A full apply on the fake builds each image for its launcher's architecture and launches
/// both; with the arch of the config contradicting the type, nothing is built or launched.
#[tokio::test]
async fn a_full_apply_builds_for_each_launcher_and_a_mismatch_launches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", summary(&p));
    let observed = crate::support::apply::observe(&cloud).await;
    for (name, instance_type) in [
        ("worker", &desired.compile.as_ref().unwrap().instance_type),
        ("server", &desired.server.as_ref().unwrap().instance_type),
    ] {
        let image = observed
            .images
            .values()
            .find(|i| {
                i.tags.get(tags::ADDRESS).map(String::as_str) == Some(&format!("image.{name}"))
            })
            .unwrap_or_else(|| panic!("image.{name} was built"));
        assert_eq!(
            image.architecture,
            Arch::of_instance_type(instance_type),
            "{name}"
        );
    }

    let mut mismatched = full_desired(dir.path());
    mismatched.images.get_mut("worker").unwrap().arch = ArchChoice {
        arch: Arch::Arm64,
        from: ArchSource::Config,
    };
    let other = Arc::new(FakeCloud::new());
    let (p, o) = plan(&mismatched, &other).await;
    assert_eq!(action(&p, "compile").op, Op::Blocked, "{}", summary(&p));
    let _ = run(&p, &o, &other, &options(dir.path())).await;
    let workers: Vec<_> = other
        .instances()
        .into_iter()
        .filter(|i| i.tags.get(tags::ADDRESS).map(String::as_str) == Some("compile"))
        .collect();
    assert!(workers.is_empty(), "no worker is launched: {workers:?}");
}
