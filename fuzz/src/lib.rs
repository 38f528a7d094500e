//! The hostile-input targets: each takes arbitrary bytes and must answer with a value or an
//! error, never a panic or a hang. Besides "no panic", each checks what its parser promises:
//! a parsed profile writes back to text that parses to the same profile, a saved plan loads
//! back from its own JSON, and a config error renders as a report.

pub mod mutate;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// vibes.toml: `vibes_core::config::load_str`.
    Config,
    /// tup.config profiles: `vibes_core::profile::ProfileConfig::parse`.
    Profile,
    /// `tags.vc` Vorbis comments: `vibes_build::source::tags::TagFile::parse`.
    TagsVc,
    /// `vibes.txt` options: `vibes_build::source::options::OptionFile::parse`.
    VibesTxt,
    /// `vibes plan --out` files: `vibes_core::saved::SavedPlan::from_json`.
    SavedPlan,
    /// mustup's YAML files (manifest, metadata, playlist): `vibes_build::source::mustup::yaml`.
    MustupYaml,
}

impl Target {
    pub const ALL: [Target; 6] = [
        Target::Config,
        Target::Profile,
        Target::TagsVc,
        Target::VibesTxt,
        Target::SavedPlan,
        Target::MustupYaml,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Config => "config",
            Target::Profile => "profile",
            Target::TagsVc => "tags_vc",
            Target::VibesTxt => "vibes_txt",
            Target::SavedPlan => "saved_plan",
            Target::MustupYaml => "mustup_yaml",
        }
    }

    pub fn by_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Feeds one input to the parser. Panics only when a promise is broken.
    pub fn run(self, data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        match self {
            Target::Config => config(&text),
            Target::Profile => profile(&text),
            Target::TagsVc => {
                let _ =
                    vibes_build::source::tags::TagFile::parse(Path::new("album/tags.vc"), &text);
            }
            Target::VibesTxt => {
                let _ = vibes_build::source::options::OptionFile::parse(
                    Path::new("album/vibes.txt"),
                    &text,
                );
            }
            Target::SavedPlan => saved_plan(&text),
            Target::MustupYaml => mustup_yaml(&text),
        }
    }
}

/// A config directory the loader may read from: a template, a sources tree, and a symlink that
/// leads out of it (which the loader must refuse to follow).
fn config_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vibes-fuzz-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("cfn"));
        let _ = std::fs::create_dir_all(dir.join("music/a/b"));
        let _ = std::fs::create_dir_all(dir.join("profiles"));
        let _ = std::fs::write(
            dir.join("cfn/main.yaml"),
            "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n",
        );
        let _ = std::fs::write(dir.join("music/a/b/1-x.wav"), b"RIFF");
        let _ = std::fs::write(
            dir.join("profiles/phone.config"),
            "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=-V 6\n",
        );
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink("/etc", dir.join("outside"));
        dir
    })
}

fn config(text: &str) {
    match vibes_core::config::load_str(text, "vibes.toml", config_dir()) {
        Ok(desired) => {
            // Whatever loads stays inside the config directory.
            for stack in desired.stacks.values() {
                assert!(
                    !stack.template_path.is_absolute() && !stack.template_path.starts_with(".."),
                    "template {:?} escapes",
                    stack.template_path
                );
            }
        }
        Err(e) => {
            // Every error renders, with its spans, without panicking.
            let _ = format!("{e}\n{e:?}");
        }
    }
}

fn profile(text: &str) {
    // Writing is canonical: a written profile parses back to the same values, and a write and a
    // read of it change nothing.
    if let Ok(p) = vibes_core::profile::ProfileConfig::parse(text) {
        let written = vibes_core::profile::ProfileConfig::parse(&p.to_text())
            .expect("a written profile parses");
        assert_eq!(
            written.values, p.values,
            "writing a profile keeps every value"
        );
        let again = vibes_core::profile::ProfileConfig::parse(&written.to_text())
            .expect("a rewritten profile parses");
        assert_eq!(
            again.to_text(),
            written.to_text(),
            "a written profile survives a read and a write"
        );
    }
}

fn mustup_yaml(text: &str) {
    use std::collections::BTreeMap;
    use vibes_build::source::mustup::yaml::{Doc, Entry, Metadata, PlaylistSpec};
    let doc = Doc {
        path: PathBuf::from("album/mustup-manifest.yaml"),
        text: text.to_string(),
    };
    // Every fault renders with a position inside the text.
    let check = |e: vibes_build::source::SourceError| {
        let _ = e.to_string();
    };
    match doc.parse::<BTreeMap<String, Option<Entry>>>() {
        Ok(Some(tracks)) => {
            for name in tracks.keys() {
                let (at, line, _) = doc.find_key(name);
                assert!(at <= text.len() && line >= 1, "a key is placed in the text");
            }
        }
        Ok(None) => {}
        Err(e) => check(e),
    }
    if let Err(e) = doc.parse::<Metadata>() {
        check(e);
    }
    if let Err(e) = doc.parse::<PlaylistSpec>() {
        check(e);
    }
}

fn saved_plan(text: &str) {
    if let Ok(saved) = vibes_core::saved::SavedPlan::from_json(text, "plan.json") {
        let json = saved.to_json();
        let again = vibes_core::saved::SavedPlan::from_json(&json, "plan.json")
            .expect("a saved plan loads from its own JSON");
        assert_eq!(
            again.to_json(),
            json,
            "a saved plan survives a write and a read"
        );
    }
}
