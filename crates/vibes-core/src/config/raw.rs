//! `vibes.toml` as written: every value with the span it came from, so that the checks that
//! follow can point at it. A field is `None` when the key is absent or its value had the wrong
//! type (that fault is already reported); sections keep the span of their name.

use std::ops::Range;
use toml::Spanned;

pub type Span = Range<usize>;

#[derive(Debug, Default)]
pub struct RawConfig {
    pub project: Option<RawProject>,
    pub network: Option<RawNetwork>,
    pub stacks: Vec<RawStack>,
    pub sources: Option<RawSources>,
    pub keys: Vec<RawKey>,
    pub images: Vec<RawImage>,
    pub profiles: Vec<RawProfile>,
    pub compile: Option<RawCompile>,
    pub snapshots: Option<RawSnapshots>,
    pub server: Option<RawServer>,
    pub budget: Option<RawBudget>,
    pub prices: Option<RawPrices>,
}

/// `[prices]`, in USD; absent keys keep the table's price.
#[derive(Debug, Default)]
pub struct RawPrices {
    /// Instance type → price per hour.
    pub instance_hour: Vec<(String, Spanned<f64>)>,
    pub gp3_gib_month: Option<Spanned<f64>>,
    pub snapshot_gib_month: Option<Spanned<f64>>,
    pub s3_gib_month: Option<Spanned<f64>>,
    pub public_ipv4_hour: Option<Spanned<f64>>,
    pub codebuild_minute: Option<Spanned<f64>>,
}

#[derive(Debug)]
pub struct RawBudget {
    pub max_run_usd: Option<Spanned<f64>>,
    pub max_idle_usd_month: Option<Spanned<f64>>,
}

#[derive(Debug)]
pub struct RawProject {
    pub name: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct RawNetwork {
    pub span: Span,
    pub create: Option<Spanned<bool>>,
    pub template: Option<Spanned<String>>,
    pub vpc_id: Option<Spanned<String>>,
    pub subnet_id: Option<Spanned<String>>,
    pub availability_zone: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct RawStack {
    pub name: Spanned<String>,
    pub template: Option<Spanned<String>>,
    /// In file order: parameter name → value.
    pub parameters: Vec<(Spanned<String>, Spanned<String>)>,
    pub depends_on: Vec<Spanned<String>>,
}

#[derive(Debug)]
pub struct RawSources {
    pub span: Span,
    pub path: Option<Spanned<String>>,
    pub delete: Option<Spanned<bool>>,
    pub format: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct RawKey {
    pub name: Spanned<String>,
    pub public_key: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct RawImage {
    pub name: Spanned<String>,
    pub recipe: Option<Spanned<String>>,
    pub files: Vec<Spanned<String>>,
    pub keep: Option<Spanned<i64>>,
    pub arch: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct RawProfile {
    pub name: Spanned<String>,
    pub config: Option<Spanned<String>>,
    pub encoder: Option<Spanned<String>>,
    pub flags: Option<Spanned<String>>,
    /// Inline `CONFIG_*` keys, in file order.
    pub settings: Vec<(Spanned<String>, Spanned<String>)>,
}

#[derive(Debug)]
pub struct RawCompile {
    pub span: Span,
    pub instance_type: Option<Spanned<String>>,
    pub builds_volume_gib: Option<Spanned<i64>>,
    pub timeout_minutes: Option<Spanned<i64>>,
    pub spot: Option<Spanned<bool>>,
}

#[derive(Debug)]
pub struct RawSnapshots {
    pub keep: Option<Spanned<i64>>,
}

#[derive(Debug)]
pub struct RawServer {
    pub span: Span,
    pub running: Option<Spanned<bool>>,
    pub instance_type: Option<Spanned<String>>,
    pub elastic_ip: Option<Spanned<bool>>,
}
