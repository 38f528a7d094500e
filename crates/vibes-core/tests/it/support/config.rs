//! A config directory in a temp dir, with the files a config names.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use vibes_core::config::{self, ConfigError, Fault, FaultKind};
use vibes_core::Desired;

pub struct ConfigDir {
    dir: tempfile::TempDir,
}

pub const VPC_TEMPLATE: &str = "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n";
pub const MAIN_TEMPLATE: &str =
    "AWSTemplateFormatVersion: '2010-09-09'\nDescription: main\nResources: {}\n";
pub const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2yK3e0vNn0b1Qm9bN2gWkqk0aQ2bX2Xo8xO8a0a0a0 me@laptop\n";

impl ConfigDir {
    /// A directory with stack templates of its own at the paths of the built-in ones: they are
    /// used only where the config names them.
    pub fn new() -> Self {
        let d = Self::bare();
        d.write("cfn/vpc.yaml", VPC_TEMPLATE);
        d.write("cfn/main.yaml", MAIN_TEMPLATE);
        d
    }

    pub fn bare() -> Self {
        ConfigDir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Loads `text` as `vibes.toml` in this directory.
    pub fn load(&self, text: &str) -> Result<Desired, ConfigError> {
        config::load_str(text, "vibes.toml", self.dir.path())
    }

    pub fn ok(&self, text: &str) -> Desired {
        match self.load(text) {
            Ok(d) => d,
            Err(e) => panic!("expected a valid config, got:\n{}", render(&e)),
        }
    }

    pub fn err(&self, text: &str) -> ConfigError {
        match self.load(text) {
            Ok(d) => panic!("expected faults, got {d:#?}"),
            Err(e) => e,
        }
    }
}

/// The only fault of an error, checked to be of `kind`.
pub fn only(e: &ConfigError, kind: FaultKind) -> &Fault {
    assert_eq!(
        e.faults().len(),
        1,
        "expected one fault, got:\n{}",
        render(e)
    );
    let f = &e.faults()[0];
    assert_eq!(f.kind(), kind, "unexpected fault:\n{}", render(e));
    f
}

/// `file:line:column` of a fault.
pub fn at(f: &Fault) -> String {
    f.location().expect("fault has a location").to_string()
}

/// The report as people see it, without colour.
pub fn render(e: &ConfigError) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, e)
        .unwrap();
    out
}

pub const PROJECT: &str = "[project]\nname = \"vibes\"\n";
