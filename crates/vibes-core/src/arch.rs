//! CPU architectures: what an instance type runs and what an image is built for. EC2 refuses to
//! launch an image on an instance type of another architecture, so vibes builds each image for
//! the type that launches it and refuses a mismatch in the plan, before anything is paid for.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An EC2 image architecture, named as EC2 and the Packer recipes' `arch` variable name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Arch {
    #[serde(rename = "arm64")]
    Arm64,
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Arch {
    /// The recipes' default (`variable "arch"` in packer/*.pkr.hcl): what an image is built for
    /// when no instance type of the config launches it.
    pub const RECIPE_DEFAULT: Arch = Arch::Arm64;

    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// EC2's `Architecture` of an image; `None` for the ones vibes does not build (`i386`,
    /// the Mac architectures).
    pub fn parse(s: &str) -> Option<Arch> {
        match s {
            "arm64" => Some(Arch::Arm64),
            "x86_64" => Some(Arch::X86_64),
            _ => None,
        }
    }

    /// The architecture of an instance type, read from its name as EC2's naming convention
    /// gives it: `FAMILY GENERATION [OPTIONS].SIZE`, where the option `g` means AWS Graviton
    /// (arm64), `a` AMD and `i` Intel (x86_64), and the first Graviton family is `a1`
    /// (<https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html>).
    /// So `c7g.xlarge`, `t4g.small`, `im4gn.large`, `x2gd.medium` are arm64, and `c7a.xlarge`,
    /// `t3.small`, `g4ad.xlarge` are x86_64. `None` for a name that does not read as an
    /// instance type, and for Mac instances (which vibes' images do not run on).
    pub fn of_instance_type(instance_type: &str) -> Option<Arch> {
        let (family, size) = instance_type.split_once('.')?;
        if size.is_empty() || family.starts_with("mac") {
            return None;
        }
        if family == "a1" {
            return Some(Arch::Arm64);
        }
        let series_end = family.find(|c: char| c.is_ascii_digit())?;
        if series_end == 0 {
            return None;
        }
        let after_generation =
            family[series_end..].trim_start_matches(|c: char| c.is_ascii_digit());
        let options: String = after_generation
            .chars()
            .take_while(|c| c.is_ascii_lowercase())
            .collect();
        Some(if options.contains('g') {
            Arch::Arm64
        } else {
            Arch::X86_64
        })
    }
}

impl Default for Arch {
    fn default() -> Self {
        Arch::RECIPE_DEFAULT
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_types_read_as_their_architecture() {
        let arm = [
            "c7g.xlarge",
            "t4g.small",
            "m6g.medium",
            "c7gn.large",
            "r7gd.2xlarge",
            "im4gn.large",
            "is4gen.medium",
            "x2gd.medium",
            "a1.large",
            "g5g.xlarge",
            "hpc7g.4xlarge",
            "c8g.xlarge",
            "i8ge.large",
        ];
        let x86 = [
            "c7a.xlarge",
            "c7a.large",
            "c7i.xlarge",
            "t3.small",
            "t3a.nano",
            "m5.large",
            "g4ad.xlarge",
            "g4dn.xlarge",
            "p5en.48xlarge",
            "inf2.xlarge",
            "trn1.2xlarge",
            "u-6tb1.112xlarge",
            "x2iedn.32xlarge",
            "c6in.large",
        ];
        for t in arm {
            assert_eq!(Arch::of_instance_type(t), Some(Arch::Arm64), "{t}");
        }
        for t in x86 {
            assert_eq!(Arch::of_instance_type(t), Some(Arch::X86_64), "{t}");
        }
        for t in ["", "c7g", "mac2.metal", "xlarge", ".large", "c7g."] {
            assert_eq!(Arch::of_instance_type(t), None, "{t:?}");
        }
    }
}
