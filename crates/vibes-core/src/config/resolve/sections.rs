//! `[sources]`, `[compile]`, `[snapshots]` and `[server]`: small sections of settings with
//! defaults and bounds.

use super::{
    Resolver, DEFAULT_BUILDS_VOLUME_GIB, DEFAULT_COMPILE_INSTANCE, DEFAULT_SERVER_INSTANCE,
    DEFAULT_SNAPSHOT_KEEP, DEFAULT_TIMEOUT_MINUTES, MAX_VOLUME_GIB,
};
use crate::config::error::FaultKind;
use crate::config::files;
use crate::config::raw::*;
use crate::model::*;
use std::path::PathBuf;
use toml::Spanned;

/// The formats a sources tree may be in (docs/source-formats.md); `auto` reads it from its files.
pub const SOURCE_FORMATS: [&str; 3] = ["auto", "vibes", "mustup"];

impl Resolver<'_> {
    pub(super) fn sources(&mut self, raw: &RawSources, project: &Project) -> SourcesSpec {
        // Kept relative to the config's directory, as the config spells it (like templates and
        // recipes): the plan, a saved plan and the apply then mean the same tree whatever the
        // working directory, and whoever reads it joins the config's directory exactly once.
        let path = match &raw.path {
            Some(p) => {
                if let Err(e) = self.dir.dir(p.get_ref()) {
                    self.path_fault(p.span(), "[sources] path", &e);
                }
                files::relative(p.get_ref())
            }
            None => PathBuf::from("."),
        };
        let parameter = project.ssm_path("sources");
        self.claim(
            "SSM parameter",
            parameter.clone(),
            raw.span.clone(),
            "[sources]".into(),
        );
        let format = raw.format.as_ref().map(|f| {
            if !SOURCE_FORMATS.contains(&f.get_ref().as_str()) {
                self.fault(
                    FaultKind::InvalidValue,
                    f.span(),
                    format!("`{}` is not a sources format", f.get_ref()),
                    "expected \"vibes\" or \"mustup\" (or \"auto\": read from the tree's files)",
                );
            }
            f.get_ref().clone()
        });
        SourcesSpec {
            path,
            delete: raw.delete.as_ref().is_some_and(|d| *d.get_ref()),
            format,
            parameter,
            manifest: None,
            faults: Vec::new(),
        }
    }

    pub(super) fn compile(&mut self, raw: &RawCompile) -> CompileSpec {
        CompileSpec {
            instance_type: self.instance_type(raw.instance_type.as_ref(), DEFAULT_COMPILE_INSTANCE),
            builds_volume_gib: self.count(
                raw.builds_volume_gib.as_ref(),
                1,
                MAX_VOLUME_GIB,
                DEFAULT_BUILDS_VOLUME_GIB,
                "builds_volume_gib",
            ),
            timeout_minutes: self.count(
                raw.timeout_minutes.as_ref(),
                1,
                7 * 24 * 60,
                DEFAULT_TIMEOUT_MINUTES,
                "timeout_minutes",
            ),
            spot: raw.spot.as_ref().is_some_and(|s| *s.get_ref()),
        }
    }

    /// A number of dollars, 0 or more.
    fn usd(&mut self, v: Option<&Spanned<f64>>, key: &str) -> Option<f64> {
        let v = v?;
        let n = *v.get_ref();
        if !n.is_finite() || n < 0.0 {
            self.fault(
                FaultKind::InvalidValue,
                v.span(),
                format!("`{key}` must be a number of dollars, 0 or more"),
                format!("{n} is not"),
            );
            return None;
        }
        Some(n)
    }

    pub(super) fn budget(&mut self, raw: &RawBudget) -> BudgetSpec {
        BudgetSpec {
            max_run_usd: self.usd(raw.max_run_usd.as_ref(), "max_run_usd"),
            max_idle_usd_month: self.usd(raw.max_idle_usd_month.as_ref(), "max_idle_usd_month"),
        }
    }

    pub(super) fn prices(&mut self, raw: &RawPrices) -> PriceOverrides {
        let mut instance_hour = std::collections::BTreeMap::new();
        for (instance_type, usd) in &raw.instance_hour {
            if let Some(n) = self.usd(Some(usd), instance_type) {
                instance_hour.insert(instance_type.clone(), n);
            }
        }
        PriceOverrides {
            instance_hour,
            gp3_gib_month: self.usd(raw.gp3_gib_month.as_ref(), "gp3_gib_month"),
            snapshot_gib_month: self.usd(raw.snapshot_gib_month.as_ref(), "snapshot_gib_month"),
            s3_gib_month: self.usd(raw.s3_gib_month.as_ref(), "s3_gib_month"),
            public_ipv4_hour: self.usd(raw.public_ipv4_hour.as_ref(), "public_ipv4_hour"),
            codebuild_minute: self.usd(raw.codebuild_minute.as_ref(), "codebuild_minute"),
        }
    }

    pub(super) fn snapshots(&mut self, raw: &RawSnapshots) -> SnapshotsSpec {
        SnapshotsSpec {
            keep: self.count(
                raw.keep.as_ref(),
                1,
                i64::from(u32::MAX),
                DEFAULT_SNAPSHOT_KEEP,
                "keep",
            ),
        }
    }

    pub(super) fn server(&mut self, raw: &RawServer) -> ServerSpec {
        ServerSpec {
            running: raw.running.as_ref().map(|r| *r.get_ref()).unwrap_or(true),
            instance_type: self.instance_type(raw.instance_type.as_ref(), DEFAULT_SERVER_INSTANCE),
            elastic_ip: raw.elastic_ip.as_ref().is_some_and(|e| *e.get_ref()),
        }
    }

    fn instance_type(&mut self, raw: Option<&Spanned<String>>, default: &str) -> String {
        let Some(t) = raw else {
            return default.to_string();
        };
        let ok = t.get_ref().split_once('.').is_some_and(|(family, size)| {
            family
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
                && family
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !size.is_empty()
                && size
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
        if !ok {
            self.fault(
                FaultKind::InvalidValue,
                t.span(),
                format!("`{}` is not an EC2 instance type", t.get_ref()),
                format!("expected FAMILY.SIZE, such as {default}"),
            );
        }
        t.get_ref().clone()
    }
}
