//! `[server] running = true | false`: apply launches the rsync server from the newest builds
//! snapshot, the plan names the instance and its rsync address, a new compile replaces the
//! server so it serves the new snapshot, and `running = false` terminates it.

use crate::support::apply::*;
use std::sync::Arc;
use vibes_core::observed::ObservedInstance;
use vibes_core::plan::{Action, Op};
use vibes_core::{tags, Plan};
use vibes_fake::FakeCloud;

fn servers(cloud: &FakeCloud) -> Vec<ObservedInstance> {
    cloud
        .instances()
        .into_iter()
        .filter(|i| i.tags.get(tags::ADDRESS).map(String::as_str) == Some("server"))
        .collect()
}

fn running_server(cloud: &FakeCloud) -> ObservedInstance {
    let up: Vec<_> = servers(cloud)
        .into_iter()
        .filter(|i| i.state.as_str() == "running")
        .collect();
    assert_eq!(up.len(), 1, "exactly one server runs: {up:?}");
    up.into_iter().next().unwrap()
}

fn server_action(p: &Plan) -> &Action {
    p.actions
        .iter()
        .find(|a| a.address.to_string() == "server")
        .unwrap_or_else(|| panic!("no server action in:\n{}", summary(p)))
}

fn attribute<'a>(a: &'a Action, name: &str) -> Vec<&'a str> {
    a.attributes
        .iter()
        .filter(|at| at.name == name)
        .filter_map(|at| at.value.as_deref())
        .collect()
}

async fn newest_snapshot(cloud: &FakeCloud) -> String {
    let o = observe(cloud).await;
    let mut snaps: Vec<_> = o
        .snapshots
        .values()
        .filter(|s| s.state.as_str() == "completed")
        .collect();
    snaps.sort_by(|a, b| a.started.cmp(&b.started));
    snaps.last().expect("a builds snapshot").snapshot_id.clone()
}

async fn apply_plan(
    desired: &vibes_core::Desired,
    cloud: &Arc<FakeCloud>,
    dir: &std::path::Path,
) -> Plan {
    let (p, o) = plan(desired, cloud).await;
    let (report, _) = run(&p, &o, cloud, &options(dir)).await;
    assert!(
        report.succeeded(),
        "{}\n{}",
        summary(&p),
        failures(&p, &report)
    );
    p
}

#[tokio::test]
async fn the_server_serves_the_newest_snapshot_follows_new_compiles_and_stops_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());

    // First apply: compile, then the server from the snapshot the compile made.
    let first = apply_plan(&desired, &cloud, dir.path()).await;
    let created = server_action(&first);
    assert_eq!(created.op, Op::Create, "{}", summary(&first));
    assert_eq!(
        attribute(created, "snapshot"),
        ["the builds snapshot the compile makes"]
    );
    let server = running_server(&cloud);
    let snapshot = newest_snapshot(&cloud).await;
    assert_eq!(
        cloud.attached(&server.instance_id).get("/dev/sdf"),
        Some(&snapshot),
        "serves the newest builds snapshot"
    );
    assert_eq!(server.tags.get("vibes:snapshot"), Some(&snapshot));
    let (again, _) = plan(&desired, &cloud).await;
    assert!(again.is_empty(), "converged:\n{}", summary(&again));

    // A new compile: the server is replaced to serve the new snapshot; the plan names the old one.
    write(
        dir.path(),
        "music/artist/album_2/1/1-intro.tags.vc",
        "TITLE=Intro (Live)\n",
    );
    desired.sources.as_mut().unwrap().manifest = Some(manifest(&dir.path().join("music")));
    let (p, _) = plan(&desired, &cloud).await;
    let replace = server_action(&p);
    assert_eq!(replace.op, Op::Replace, "{}", summary(&p));
    assert!(
        replace
            .reason
            .contains("the compile makes a new builds snapshot"),
        "{}",
        replace.reason
    );
    let addr = server
        .public_ip
        .clone()
        .or(server.private_ip.clone())
        .expect("the fake gives servers an address");
    assert_eq!(
        attribute(replace, "replaces"),
        [format!("{} rsync://{addr}/", server.instance_id).as_str()]
    );
    apply_plan(&desired, &cloud, dir.path()).await;
    let replaced = running_server(&cloud);
    assert_ne!(replaced.instance_id, server.instance_id);
    let new_snapshot = newest_snapshot(&cloud).await;
    assert_ne!(new_snapshot, snapshot);
    assert_eq!(
        cloud.attached(&replaced.instance_id).get("/dev/sdf"),
        Some(&new_snapshot)
    );
    assert_eq!(
        cloud.instance(&server.instance_id).unwrap().state.as_str(),
        "terminated",
        "the old server is terminated"
    );
    let (again, _) = plan(&desired, &cloud).await;
    assert!(again.is_empty(), "converged:\n{}", summary(&again));

    // running = false: the plan shows which instance goes, and apply terminates it.
    desired.server.as_mut().unwrap().running = false;
    let (p, _) = plan(&desired, &cloud).await;
    let stop = server_action(&p);
    assert_eq!(
        (stop.op, stop.reason.as_str()),
        (Op::Delete, "[server] running = false")
    );
    let addr = replaced
        .public_ip
        .clone()
        .or(replaced.private_ip.clone())
        .unwrap();
    assert_eq!(
        attribute(stop, "instance"),
        [format!("{} rsync://{addr}/", replaced.instance_id).as_str()]
    );
    apply_plan(&desired, &cloud, dir.path()).await;
    assert!(
        servers(&cloud)
            .iter()
            .all(|i| i.state.as_str() == "terminated"),
        "{:?}",
        servers(&cloud)
    );
    let (again, _) = plan(&desired, &cloud).await;
    assert!(
        again.is_empty(),
        "no server, none wanted:\n{}",
        summary(&again)
    );

    // And running = true again serves the newest snapshot without compiling anything.
    desired.server.as_mut().unwrap().running = true;
    let p = apply_plan(&desired, &cloud, dir.path()).await;
    assert_eq!(p.actions.len(), 1, "{}", summary(&p));
    assert_eq!(
        attribute(server_action(&p), "snapshot"),
        [new_snapshot.as_str()]
    );
    let back = running_server(&cloud);
    assert_eq!(
        cloud.attached(&back.instance_id).get("/dev/sdf"),
        Some(&new_snapshot)
    );
}

/// `[server] elastic_ip = true`: the server is reached at one Elastic IP of the project's. A
/// replacement starts the new server before the old one stops and moves the address to it;
/// `running = false` keeps the address; `elastic_ip = false` releases it.
#[tokio::test]
async fn the_elastic_ip_stays_while_servers_come_and_go_and_a_new_server_starts_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = full_desired(dir.path());
    desired.server.as_mut().unwrap().elastic_ip = true;
    let cloud = Arc::new(FakeCloud::new());
    let p = apply_plan(&desired, &cloud, dir.path()).await;
    assert_eq!(
        attribute(server_action(&p), "elastic_ip"),
        ["(allocated by apply)"]
    );
    let first = running_server(&cloud);
    let o = observe(&cloud).await;
    let eips: Vec<_> = o.addresses.values().collect();
    assert_eq!(eips.len(), 1, "{eips:?}");
    let ip = eips[0].public_ip.clone();
    assert_eq!(
        first.public_ip.as_deref(),
        Some(ip.as_str()),
        "served at the Elastic IP"
    );
    assert_eq!(
        eips[0].instance_id.as_deref(),
        Some(first.instance_id.as_str())
    );
    let (again, _) = plan(&desired, &cloud).await;
    assert!(again.is_empty(), "{}", summary(&again));

    // A new instance type: the new server runs before the old one is terminated, and the
    // address moves to it.
    desired.server.as_mut().unwrap().instance_type = "t3.medium".into();
    let (p, o) = plan(&desired, &cloud).await;
    let a = server_action(&p);
    assert_eq!(a.op, Op::Replace);
    let order: Vec<&str> = a.effects.iter().map(|e| e.name()).collect();
    assert_eq!(
        order,
        ["launch server", "associate address", "terminate instance"],
        "start before stop"
    );
    assert_eq!(attribute(a, "elastic_ip"), [ip.as_str()]);
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let second = running_server(&cloud);
    assert_ne!(second.instance_id, first.instance_id);
    assert_eq!(second.public_ip.as_deref(), Some(ip.as_str()));
    let calls = cloud.calls();
    let launched = calls.iter().rfind(|c| c.op == "run_instance").unwrap();
    let stopped = calls
        .iter()
        .find(|c| c.op == "terminate_instance" && c.target == first.instance_id)
        .unwrap();
    assert!(
        launched.end <= stopped.start,
        "the old server stops only after the new one runs"
    );
    assert_eq!(
        observe(&cloud).await.addresses.len(),
        1,
        "one address, moved"
    );

    // Stopped, the server keeps its address; without elastic_ip it is released.
    desired.server.as_mut().unwrap().running = false;
    apply_plan(&desired, &cloud, dir.path()).await;
    let o = observe(&cloud).await;
    assert_eq!(o.addresses.len(), 1, "kept while the server is stopped");
    assert_eq!(o.addresses.values().next().unwrap().instance_id, None);
    desired.server.as_mut().unwrap().elastic_ip = false;
    let p = apply_plan(&desired, &cloud, dir.path()).await;
    assert!(
        server_action(&p)
            .reason
            .contains(&format!("Elastic IP {ip} is released")),
        "{}",
        summary(&p)
    );
    assert!(observe(&cloud).await.addresses.is_empty());
    let (again, _) = plan(&desired, &cloud).await;
    assert!(again.is_empty(), "{}", summary(&again));
}

/// A replacement whose new server fails to launch leaves the old one serving.
#[tokio::test]
async fn a_server_whose_replacement_fails_to_launch_goes_on_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    apply_plan(&desired, &cloud, dir.path()).await;
    let old = running_server(&cloud);
    desired.server.as_mut().unwrap().instance_type = "t3.medium".into();
    let (p, o) = plan(&desired, &cloud).await;
    assert_eq!(server_action(&p).op, Op::Replace);
    cloud.fail_always("run_instance", vibes_fake::FaultKind::Permanent);
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(!report.succeeded());
    assert_eq!(
        running_server(&cloud).instance_id,
        old.instance_id,
        "the old server serves on"
    );
}
