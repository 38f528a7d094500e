//! `[prices]`: what the account pays where it differs from the table vibes ships.

use super::{Entry, Reader};
use crate::config::raw::RawPrices;

const KEYS: [&str; 6] = [
    "instance_hour",
    "gp3_gib_month",
    "snapshot_gib_month",
    "s3_gib_month",
    "public_ipv4_hour",
    "codebuild_minute",
];

impl Reader<'_> {
    pub(super) fn prices(&mut self, e: &Entry) -> Option<RawPrices> {
        let t = self.table(e, "[prices]")?;
        let mut p = RawPrices::default();
        for f in &t {
            match f.key {
                "instance_hour" => {
                    for i in self.table(f, "[prices.instance_hour]").unwrap_or_default() {
                        if let Some(usd) = self.number(&i) {
                            p.instance_hour.push((i.key.to_string(), usd));
                        }
                    }
                }
                "gp3_gib_month" => p.gp3_gib_month = self.number(f),
                "snapshot_gib_month" => p.snapshot_gib_month = self.number(f),
                "s3_gib_month" => p.s3_gib_month = self.number(f),
                "public_ipv4_hour" => p.public_ipv4_hour = self.number(f),
                "codebuild_minute" => p.codebuild_minute = self.number(f),
                _ => self.unknown(f, "[prices]", &KEYS),
            }
        }
        Some(p)
    }
}
