//! Instances and images: a launch from a launch template with tags at creation, waits, the
//! builds volume attached once, terminates that converge (also of an instance that never was),
//! and images found by their tags.

use super::subject::AZ;
use super::Subject;
use crate::support::tags;
use std::collections::BTreeMap;
use std::time::Duration;
use vibes_core::cloud::{CloudError, InstanceRequest};
use vibes_core::tags::{ADDRESS, PROJECT};

const WAIT: Duration = Duration::from_secs(30);

async fn request(s: &Subject, project: &str, address: &str, token: &str) -> InstanceRequest {
    InstanceRequest {
        launch_template: s.launch_template(&format!("{project}-template")).await,
        image_id: s.launchable_image().await,
        instance_type: "t3.small".into(),
        tags: tags(project, address),
        client_token: token.into(),
        volumes: BTreeMap::new(),
        volume_sizes: Default::default(),
        empty_volumes: Default::default(),
        spot: false,
    }
}

pub async fn run_from_a_launch_template_and_terminate(s: &Subject) {
    let cloud = s.cloud();
    let req = request(s, "in", "server", "in-server-1").await;
    let id = cloud.run_instance(&req).await.unwrap();
    assert!(id.starts_with("i-"), "{id}");
    let running = cloud.wait_instance(&id, &["running"], WAIT).await.unwrap();
    assert_eq!(running.instance_id, id);
    assert_eq!(running.state.as_str(), "running");
    assert_eq!(
        running.tags.get(ADDRESS).map(String::as_str),
        Some("server")
    );
    assert!(running.private_ip.is_some());
    // Its console is read (decoded text: whatever it printed so far); an instance that never
    // was has none.
    cloud
        .console_output(&id)
        .await
        .expect("a running instance's console");
    let no_console = cloud
        .console_output("i-0123456789abcdef0")
        .await
        .unwrap_err();
    assert!(
        matches!(no_console, CloudError::NotFound { .. }),
        "{no_console}"
    );
    let seen = cloud.observe("in", None).await.unwrap();
    assert_eq!(seen.instances.keys().collect::<Vec<_>>(), [&id]);
    assert_eq!(
        seen.instances[&id].tags.get(PROJECT).map(String::as_str),
        Some("in")
    );

    // An existing volume cannot be given at launch: it is attached afterwards.
    let mut with_volume = request(s, "in", "compile", "in-compile-1").await;
    with_volume
        .volumes
        .insert("/dev/sdf".into(), "vol-0123456789abcdef0".into());
    let refused = cloud.run_instance(&with_volume).await.unwrap_err();
    assert!(matches!(refused, CloudError::Permanent { .. }), "{refused}");

    cloud.terminate_instance(&id).await.unwrap();
    let ended = cloud
        .wait_instance(&id, &["terminated"], WAIT)
        .await
        .unwrap();
    assert_eq!(ended.state.as_str(), "terminated");
    // Waiting for a state an ended instance will never reach fails at once.
    let never = cloud
        .wait_instance(&id, &["running"], WAIT)
        .await
        .unwrap_err();
    assert!(matches!(never, CloudError::Permanent { .. }), "{never}");
    cloud
        .terminate_instance(&id)
        .await
        .expect("terminating a terminated instance succeeds");
    cloud
        .terminate_instance("i-0123456789abcdef0")
        .await
        .expect("terminating an instance that never was succeeds");
    let missing = cloud
        .wait_instance("i-0123456789abcdef0", &["running"], WAIT)
        .await
        .unwrap_err();
    assert!(matches!(missing, CloudError::NotFound { .. }), "{missing}");
    assert!(
        cloud
            .observe("in", None)
            .await
            .unwrap()
            .instances
            .is_empty(),
        "terminated instances are left out"
    );
}

pub async fn a_volume_is_attached_once(s: &Subject) {
    let cloud = s.cloud();
    let volume = cloud
        .create_volume(10, AZ, &tags("at", "volume.builds"), "at-volume-builds-1")
        .await
        .unwrap();
    let worker = cloud
        .run_instance(&request(s, "at", "compile", "at-compile-1").await)
        .await
        .unwrap();
    cloud
        .attach_volume(&worker, &volume, "/dev/sdf", WAIT)
        .await
        .unwrap();
    cloud
        .attach_volume(&worker, &volume, "/dev/sdf", WAIT)
        .await
        .expect("attaching again what is attached here succeeds");
    let missing = cloud
        .attach_volume(&worker, "vol-0123456789abcdef0", "/dev/sdg", WAIT)
        .await
        .unwrap_err();
    assert!(matches!(missing, CloudError::NotFound { .. }), "{missing}");
    // Attached, it is not deleted: EC2's VolumeInUse, for the caller to try again later.
    let held = cloud.delete_volume(&volume).await.unwrap_err();
    assert!(matches!(held, CloudError::InUse { .. }), "{held}");

    // Once the worker is gone the volume is free for the next one.
    cloud.terminate_instance(&worker).await.unwrap();
    cloud
        .wait_instance(&worker, &["terminated"], WAIT)
        .await
        .unwrap();
    let next = cloud
        .run_instance(&request(s, "at", "compile", "at-compile-2").await)
        .await
        .unwrap();
    cloud
        .attach_volume(&next, &volume, "/dev/sdf", WAIT)
        .await
        .unwrap();
    cloud.terminate_instance(&next).await.unwrap();
}

pub async fn images_are_found_by_their_tags(s: &Subject) {
    let cloud = s.cloud();
    let mut wanted = tags("im", "image.worker");
    wanted.insert("vibes:recipe".into(), "abc123".into());
    let image = s.register_image("im-worker-abc123", &wanted).await;

    let found = cloud
        .find_image(&wanted)
        .await
        .unwrap()
        .expect("found by its tags");
    assert_eq!(found.image_id, image);
    assert_eq!(found.state.as_str(), "available");
    assert_eq!(
        found.tags.get(ADDRESS).map(String::as_str),
        Some("image.worker")
    );
    let mut other = wanted.clone();
    other.insert("vibes:recipe".into(), "def456".into());
    assert_eq!(cloud.find_image(&other).await.unwrap(), None);
    assert!(cloud
        .observe("im", None)
        .await
        .unwrap()
        .images
        .contains_key(&image));

    cloud.deregister_image(&image).await.unwrap();
    assert_eq!(cloud.find_image(&wanted).await.unwrap(), None);
    cloud
        .deregister_image(&image)
        .await
        .expect("deregistering a gone image succeeds");
}

/// The worker's builds volume lives only while it runs: mapped at launch (empty of a size the
/// first time, from a snapshot after), found through the instance's block device mappings,
/// snapshotted once the worker stopped, and deleted with it.
pub async fn a_builds_volume_is_mapped_at_launch_and_goes_with_the_worker(s: &Subject) {
    let cloud = s.cloud();
    let mut first = request(s, "mv", "compile", "mv-compile-1").await;
    first.empty_volumes.insert("/dev/sdf".into(), 12);
    let worker = cloud.run_instance(&first).await.unwrap();
    // Running, or already stopped: the fake's worker compiles at once once it has its volume.
    let running = cloud
        .wait_instance(&worker, &["running", "stopped"], WAIT)
        .await
        .unwrap();
    let volume = running.volumes.get("/dev/sdf").cloned().expect("mapped");
    let seen = cloud.observe("mv", None).await.unwrap();
    assert_eq!(seen.volumes[&volume].size_gib, 12);
    assert_eq!(
        seen.volumes[&volume].tags.get(ADDRESS).map(String::as_str),
        Some("compile"),
        "a mapped volume carries the launch's tags"
    );
    let snapshot = cloud
        .create_snapshot(&volume, &tags("mv", "snapshot.builds"))
        .await
        .unwrap();
    cloud.wait_snapshot(&snapshot, WAIT).await.unwrap();
    cloud.terminate_instance(&worker).await.unwrap();
    cloud
        .wait_instance(&worker, &["terminated"], WAIT)
        .await
        .unwrap();
    let seen = cloud.observe("mv", None).await.unwrap();
    assert!(
        !seen.volumes.contains_key(&volume),
        "the volume is deleted with its instance: {:?}",
        seen.volumes
    );
    assert_eq!(seen.snapshots[&snapshot].volume_id, volume);

    let mut next = request(s, "mv", "compile", "mv-compile-2").await;
    next.volumes.insert("/dev/sdf".into(), snapshot.clone());
    let worker = cloud.run_instance(&next).await.unwrap();
    let running = cloud
        .wait_instance(&worker, &["running", "stopped"], WAIT)
        .await
        .unwrap();
    let from_snapshot = running.volumes.get("/dev/sdf").cloned().expect("mapped");
    assert_ne!(from_snapshot, volume);
    assert_eq!(
        cloud
            .observe("mv", None)
            .await
            .unwrap()
            .volumes
            .get(&from_snapshot)
            .map(|v| v.size_gib),
        Some(12),
        "a volume from a snapshot has the snapshot's size"
    );
    cloud.terminate_instance(&worker).await.unwrap();
}

/// A Spot worker's mapped volume is kept when the instance terminates (an interruption, or
/// the power-off that ends a one-time Spot instance), for the next compile to resume on; the
/// caller deletes it.
pub async fn a_spot_workers_volume_outlives_it(s: &Subject) {
    let cloud = s.cloud();
    let mut req = request(s, "sp", "compile", "sp-compile-1").await;
    req.empty_volumes.insert("/dev/sdf".into(), 8);
    req.spot = true;
    let worker = cloud.run_instance(&req).await.unwrap();
    let seen = cloud
        .wait_instance(&worker, &["running", "stopped", "terminated"], WAIT)
        .await
        .unwrap();
    // The fake's worker may have compiled and powered off already: its volume is then known
    // from the observed volumes only.
    let volume = match seen.volumes.get("/dev/sdf") {
        Some(v) => v.clone(),
        None => cloud
            .observe("sp", None)
            .await
            .unwrap()
            .volumes
            .into_keys()
            .next()
            .expect("the mapped volume"),
    };
    cloud.terminate_instance(&worker).await.unwrap();
    cloud
        .wait_instance(&worker, &["terminated"], WAIT)
        .await
        .unwrap();
    let seen = cloud.observe("sp", None).await.unwrap();
    let kept = seen
        .volumes
        .get(&volume)
        .unwrap_or_else(|| panic!("the Spot worker's volume is kept: {:?}", seen.volumes));
    assert_eq!(kept.size_gib, 8);
    assert_eq!(kept.state.as_str(), "available");
    cloud.delete_volume(&volume).await.unwrap();
    assert!(!cloud
        .observe("sp", None)
        .await
        .unwrap()
        .volumes
        .contains_key(&volume));
}

/// An Elastic IP is allocated with the project's tags, becomes the public address of the
/// instance it is associated with, moves to another instance, and is released (associated or
/// not, and again once gone).
pub async fn an_elastic_ip_is_allocated_moved_and_released(s: &Subject) {
    let cloud = s.cloud();
    let (allocation, ip) = cloud.allocate_address(&tags("ea", "server")).await.unwrap();
    let seen = cloud.observe("ea", None).await.unwrap();
    let address = &seen.addresses[&allocation];
    assert_eq!(address.public_ip, ip);
    assert_eq!(address.instance_id, None);
    assert_eq!(
        address.tags.get(ADDRESS).map(String::as_str),
        Some("server")
    );

    let mut ids = Vec::new();
    for token in ["ea-server-1", "ea-server-2"] {
        let id = cloud
            .run_instance(&request(s, "ea", "server", token).await)
            .await
            .unwrap();
        cloud.wait_instance(&id, &["running"], WAIT).await.unwrap();
        cloud.associate_address(&allocation, &id).await.unwrap();
        let seen = cloud.observe("ea", None).await.unwrap();
        assert_eq!(
            seen.addresses[&allocation].instance_id.as_deref(),
            Some(id.as_str())
        );
        assert_eq!(seen.instances[&id].public_ip.as_deref(), Some(ip.as_str()));
        ids.push(id);
    }
    cloud.release_address(&allocation).await.unwrap();
    assert!(cloud
        .observe("ea", None)
        .await
        .unwrap()
        .addresses
        .is_empty());
    cloud.release_address(&allocation).await.unwrap();
    for id in ids {
        cloud.terminate_instance(&id).await.unwrap();
    }
}

/// A builds snapshot is mapped onto a volume of at least the size asked (`builds_volume_gib`
/// grown since the snapshot was taken), and of the snapshot's own size when that is more.
pub async fn a_snapshot_is_mapped_onto_a_volume_at_least_as_big_as_asked(s: &Subject) {
    let cloud = s.cloud();
    let mut first = request(s, "grow", "compile", "grow-compile-1").await;
    first.empty_volumes.insert("/dev/sdf".into(), 8);
    let worker = cloud.run_instance(&first).await.unwrap();
    let running = cloud
        .wait_instance(&worker, &["running", "stopped"], WAIT)
        .await
        .unwrap();
    let volume = running.volumes["/dev/sdf"].clone();
    let snapshot = cloud
        .create_snapshot(&volume, &tags("grow", "snapshot.builds"))
        .await
        .unwrap();
    cloud.wait_snapshot(&snapshot, WAIT).await.unwrap();
    cloud.terminate_instance(&worker).await.unwrap();

    for (token, asked, made) in [("grow-compile-2", 20, 20), ("grow-compile-3", 5, 8)] {
        let mut next = request(s, "grow", "compile", token).await;
        next.volumes.insert("/dev/sdf".into(), snapshot.clone());
        next.volume_sizes.insert("/dev/sdf".into(), asked);
        let worker = cloud.run_instance(&next).await.unwrap();
        let running = cloud
            .wait_instance(&worker, &["running", "stopped"], WAIT)
            .await
            .unwrap();
        let mapped = running.volumes["/dev/sdf"].clone();
        let seen = cloud.observe("grow", None).await.unwrap();
        assert_eq!(
            seen.volumes[&mapped].size_gib, made,
            "an 8 GiB snapshot mapped asking for {asked} GiB"
        );
        cloud.terminate_instance(&worker).await.unwrap();
    }
}

/// The zones that offer instance types: each one of the region, sorted, and only zones that
/// offer every type asked for (an x86 and an arm64 type here; no zone offers a type that does
/// not exist).
pub async fn zones_offering_instance_types_are_of_the_region_and_sorted(s: &Subject) {
    let cloud = s.cloud();
    let both = cloud
        .zones_offering(&["c7a.large".to_string(), "t4g.micro".to_string()])
        .await
        .unwrap();
    assert!(!both.is_empty(), "no zone offers c7a.large and t4g.micro");
    assert!(both.iter().all(|z| z.starts_with("us-east-1")), "{both:?}");
    let mut sorted = both.clone();
    sorted.sort();
    assert_eq!(both, sorted);
    let none = cloud
        .zones_offering(&["c7a.large".to_string(), "bogus.large".to_string()])
        .await
        .unwrap();
    assert_eq!(none, Vec::<String>::new());
}
