//! The price table vibes ships: on-demand prices in USD for the few things a vibes deployment
//! pays for, dated, by region. Estimates, not a bill: AWS changes prices, and taxes, free tiers,
//! savings plans and data transfer out are left out. Rows are from the AWS price pages of the
//! date below; a region the table lacks falls back to us-east-1 and the plan says so.

use std::collections::BTreeMap;

/// When the table's prices were read.
pub const PRICES_DATE: &str = "2026-12-01";

/// Hours in a month, as AWS bills a month of a running resource (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    /// The region the prices are for.
    pub region: String,
    /// Set when the table has no row for the region asked and these are us-east-1's.
    pub fallback_from: Option<String>,
    /// EC2 Linux on-demand, per instance-hour, by instance type.
    pub instance_hour: BTreeMap<String, f64>,
    /// EBS gp3, per GiB-month.
    pub gp3_gib_month: f64,
    /// EBS snapshots (standard tier), per GiB-month of stored blocks.
    pub snapshot_gib_month: f64,
    /// S3 Standard, per GiB-month.
    pub s3_gib_month: f64,
    /// S3 PUT, COPY, POST, LIST requests, per 1,000.
    pub s3_put_per_1000: f64,
    /// A public IPv4 address, per hour (charged since February 2024, in use or not).
    pub public_ipv4_hour: f64,
    /// CodeBuild BUILD_GENERAL1_SMALL (Linux), per build minute.
    pub codebuild_minute: f64,
    /// How many of these prices `[prices]` in vibes.toml gave.
    pub overridden: usize,
}

/// us-east-1's EC2 prices for the instance types vibes defaults to or documents.
const US_EAST_1_INSTANCES: [(&str, f64); 23] = [
    ("c7a.large", 0.10264),
    ("c7a.xlarge", 0.20528),
    ("c7a.2xlarge", 0.41056),
    ("c7g.large", 0.0725),
    ("c7g.xlarge", 0.145),
    ("c7g.2xlarge", 0.29),
    ("c6i.large", 0.085),
    ("c6i.xlarge", 0.17),
    ("c6i.2xlarge", 0.34),
    ("c6g.large", 0.068),
    ("c6g.xlarge", 0.136),
    ("c7i.large", 0.08925),
    ("c7i.xlarge", 0.1785),
    ("m6i.large", 0.096),
    ("m7i.large", 0.1008),
    ("t3.medium", 0.0416),
    ("t4g.large", 0.0672),
    ("t3.micro", 0.0104),
    ("t3.small", 0.0208),
    ("t4g.micro", 0.0084),
    ("t4g.small", 0.0168),
    ("t4g.medium", 0.0336),
    ("m7g.large", 0.0816),
];

/// Per region: (EC2 price factor against us-east-1, gp3, snapshot, S3 Standard, CodeBuild).
/// The factor holds closely across the families vibes uses in these regions.
const REGIONS: [(&str, f64, f64, f64, f64, f64); 7] = [
    ("us-east-1", 1.0, 0.08, 0.05, 0.023, 0.005),
    ("us-east-2", 1.0, 0.08, 0.05, 0.023, 0.005),
    ("us-west-2", 1.0, 0.08, 0.05, 0.023, 0.005),
    ("eu-west-1", 1.12, 0.088, 0.05, 0.023, 0.005),
    ("eu-central-1", 1.16, 0.0952, 0.054, 0.0245, 0.006),
    ("eu-north-1", 1.06, 0.0836, 0.0475, 0.023, 0.005),
    ("ap-northeast-1", 1.27, 0.096, 0.05, 0.025, 0.005),
];

impl Prices {
    /// The table's prices for `region`, or us-east-1's (marked) when it has no row for it.
    pub fn for_region(region: &str) -> Prices {
        let row = REGIONS.iter().find(|r| r.0 == region);
        let (name, factor, gp3, snap, s3, codebuild) = *row.unwrap_or(&REGIONS[0]);
        Prices {
            region: name.to_string(),
            fallback_from: row.is_none().then(|| region.to_string()),
            instance_hour: US_EAST_1_INSTANCES
                .iter()
                .map(|(t, p)| (t.to_string(), round_to(p * factor, 5)))
                .collect(),
            gp3_gib_month: gp3,
            snapshot_gib_month: snap,
            s3_gib_month: s3,
            s3_put_per_1000: 0.005,
            public_ipv4_hour: 0.005,
            codebuild_minute: codebuild,
            overridden: 0,
        }
    }

    /// The prices a plan of `desired` uses: the table's for its region, with `[prices]` over
    /// them.
    pub fn for_desired(desired: &crate::Desired) -> Prices {
        let mut p = Prices::for_region(desired.project.region.as_deref().unwrap_or("us-east-1"));
        let Some(o) = &desired.prices else {
            return p;
        };
        p.instance_hour.extend(o.instance_hour.clone());
        for (price, given) in [
            (&mut p.gp3_gib_month, o.gp3_gib_month),
            (&mut p.snapshot_gib_month, o.snapshot_gib_month),
            (&mut p.s3_gib_month, o.s3_gib_month),
            (&mut p.public_ipv4_hour, o.public_ipv4_hour),
            (&mut p.codebuild_minute, o.codebuild_minute),
        ] {
            if let Some(given) = given {
                *price = given;
            }
        }
        p.overridden = o.count();
        p
    }

    /// The hourly price of `instance_type`, when the table has it.
    pub fn hourly(&self, instance_type: &str) -> Option<f64> {
        self.instance_hour.get(instance_type).copied()
    }

    /// Where the figures come from, for the plan's closing line.
    pub fn source(&self) -> String {
        let mut s = format!("prices of {} as of {PRICES_DATE}", self.region);
        if let Some(asked) = &self.fallback_from {
            s.push_str(&format!("; the table has no row for {asked}"));
        }
        match self.overridden {
            0 => {}
            1 => s.push_str("; 1 price from [prices]"),
            n => s.push_str(&format!("; {n} prices from [prices]")),
        }
        s
    }
}

fn round_to(v: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (v * m).round() / m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_in_the_table_has_its_own_prices_and_another_falls_back_and_says_so() {
        let dublin = Prices::for_region("eu-west-1");
        assert_eq!(dublin.fallback_from, None);
        assert!(
            dublin.hourly("c7a.xlarge").unwrap()
                > Prices::for_region("us-east-1")
                    .hourly("c7a.xlarge")
                    .unwrap()
        );
        let far = Prices::for_region("af-south-1");
        assert_eq!(far.region, "us-east-1");
        assert!(
            far.source().contains("no row for af-south-1"),
            "{}",
            far.source()
        );
        assert_eq!(far.hourly("x9.unknown"), None);
    }

    #[test]
    fn prices_in_the_config_replace_the_tables_and_the_source_says_so() {
        let mut d = crate::Desired::empty("tunes");
        d.project.region = Some("eu-west-1".into());
        let table = Prices::for_desired(&d);
        assert_eq!(table, Prices::for_region("eu-west-1"));
        d.prices = Some(crate::model::PriceOverrides {
            instance_hour: [("c7g.xlarge".to_string(), 0.1), ("x9.new".to_string(), 2.0)].into(),
            gp3_gib_month: Some(0.07),
            ..Default::default()
        });
        let p = Prices::for_desired(&d);
        assert_eq!(p.hourly("c7g.xlarge"), Some(0.1));
        assert_eq!(p.hourly("x9.new"), Some(2.0));
        assert_eq!(p.hourly("c7a.large"), table.hourly("c7a.large"));
        assert_eq!(p.gp3_gib_month, 0.07);
        assert_eq!(p.snapshot_gib_month, table.snapshot_gib_month);
        assert_eq!(
            p.source(),
            "prices of eu-west-1 as of 2026-12-01; 3 prices from [prices]"
        );
    }
}
