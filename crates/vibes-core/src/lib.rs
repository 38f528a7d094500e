//! vibes core: `vibes.toml` → desired state; live AWS → observed state; a pure planner from
//! the two to a DAG of actions; renderers for people and machines; an executor that applies
//! a plan through the [`cloud::Cloud`] boundary.

pub mod address;
pub mod apply;
pub mod arch;
pub mod bounded;
pub mod bucket_manifest;
pub mod cloud;
pub mod compile_report;
pub mod config;
pub mod cost;
pub mod model;
pub mod noecho;
pub mod observed;
pub mod ops;
pub mod plan;
pub mod profile;
pub mod render;
pub mod saved;
pub mod scan;
pub mod secret;
pub mod stack_changes;
pub mod states;
pub mod status;
pub mod tags;
pub mod units;

pub use address::{Address, Kind};
pub use model::Desired;
pub use observed::Observed;
pub use plan::{plan, Plan, PlanOptions};
pub use secret::Secret;
