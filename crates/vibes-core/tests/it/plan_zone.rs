//! The network's availability zone: not every zone offers every instance type, and the builds
//! volume attaches only in its own zone, so the network vibes makes goes in a zone that offers
//! both the worker's and the server's types — chosen when the vpc stack is made, and kept after.

use crate::support::apply::{options, run, summary};
use std::sync::Arc;
use vibes_core::cloud::prelude::*;
use vibes_core::model::Value;
use vibes_core::ops::Workspace;
use vibes_core::plan::{Effect, Op, Plan, PlanOptions};
use vibes_core::{Address, Desired};
use vibes_fake::FakeCloud;

/// A project that makes its network, with a c7a.large worker and a t4g.micro server.
fn project() -> (tempfile::TempDir, Desired) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("music")).unwrap();
    let text =
        "[project]\nname = \"tunes\"\n[network]\ncreate = true\n[sources]\npath = \"music\"\n\
         [profiles.phone]\nencoder = \"lame\"\nflags = \"-V 6\"\n\
         [compile]\ninstance_type = \"c7a.large\"\n\
         [server]\nrunning = true\ninstance_type = \"t4g.micro\"\n";
    let d = vibes_core::config::load_str(text, "vibes.toml", dir.path())
        .unwrap_or_else(|e| panic!("{e:?}"));
    (dir, d)
}

async fn planned(cloud: &Arc<FakeCloud>, dir: &tempfile::TempDir, d: &Desired) -> Plan {
    let mut ws = Workspace::new(
        d.clone(),
        dir.path().into(),
        cloud.clone() as Arc<dyn Cloud>,
    );
    ws.observe_and_plan(&PlanOptions::default()).await.unwrap()
}

/// The zone the vpc stack's create or update names.
fn zone_applied(plan: &Plan) -> Option<String> {
    let a = plan.find(&Address::stack("vpc"))?;
    a.effects.iter().find_map(|e| match e {
        Effect::CreateStack { parameters, .. } | Effect::UpdateStack { parameters, .. } => {
            match parameters.get("AvailabilityZone") {
                Some(Value::Literal { value }) => Some(value.clone()),
                _ => None,
            }
        }
        _ => None,
    })
}

#[tokio::test]
async fn the_network_goes_in_a_zone_that_offers_the_worker_and_server_types_and_stays_there() {
    let (dir, d) = project();
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_offerings("c7a.large", &["us-east-1b", "us-east-1c"]);
    cloud.set_offerings("t4g.micro", &["us-east-1a", "us-east-1c"]);

    let plan = planned(&cloud, &dir, &d).await;
    assert_eq!(
        zone_applied(&plan).as_deref(),
        Some("us-east-1c"),
        "{}",
        summary(&plan)
    );
    let observed = cloud.observe("tunes", None).await.unwrap();
    let (report, _) = run(&plan, &observed, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{:?}", report.failures());

    // Once made, the zone is the stack's: other offerings later change nothing.
    cloud.set_offerings("c7a.large", &["us-east-1a"]);
    cloud.set_offerings("t4g.micro", &["us-east-1a"]);
    let again = planned(&cloud, &dir, &d).await;
    let vpc = again.find(&Address::stack("vpc"));
    assert!(vpc.is_none(), "{}", summary(&again));
}

#[tokio::test]
async fn no_zone_offering_both_types_blocks_the_network_naming_them() {
    let (dir, d) = project();
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_offerings("c7a.large", &["us-east-1a"]);
    cloud.set_offerings("t4g.micro", &["us-east-1b"]);

    let plan = planned(&cloud, &dir, &d).await;
    let vpc = plan.find(&Address::stack("vpc")).expect("a vpc action");
    assert_eq!(vpc.op, Op::Blocked, "{}", summary(&plan));
    assert!(
        vpc.reason.contains("offers c7a.large and t4g.micro"),
        "{}",
        vpc.reason
    );
}
