//! vibes' own source, packed at build time by `build.rs`. The worker image builds the vibes binary
//! it runs from this archive, and the archive's SHA-256 is part of the worker image's identity: a
//! vibes built from other source plans a new worker image, and the compile runs again on it.

use std::sync::OnceLock;
use vibes_core::apply::SourceArchive;
use vibes_core::Desired;

/// The gzipped tar of the source this binary was built from.
pub static VIBES_SOURCE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vibes-src.tar.gz"));

/// The archive as the apply hands it to the worker image build, hashed once per run.
pub fn engine_source() -> SourceArchive {
    static SOURCE: OnceLock<SourceArchive> = OnceLock::new();
    SOURCE
        .get_or_init(|| SourceArchive::new(VIBES_SOURCE))
        .clone()
}

/// Makes this binary's source part of the desired worker image (when the config has one).
pub fn add_to(desired: &mut Desired) {
    vibes_core::config::add_engine_source(desired, engine_source().sha256());
}

#[cfg(test)]
#[allow(dead_code)]
#[path = "../build.rs"]
mod build_script;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::path::Path;

    /// (path, mode, mtime, uid, gid, body) of every entry.
    fn entries(archive: &[u8]) -> Vec<(String, u32, u64, u64, u64, Vec<u8>)> {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        tar.entries()
            .expect("a tar")
            .map(|e| {
                let mut e = e.expect("an entry");
                let h = e.header().clone();
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                (
                    path,
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    body,
                )
            })
            .collect()
    }

    #[test]
    fn the_binary_carries_a_gzip_tar_of_the_workspace_it_builds_from() {
        let entries = entries(VIBES_SOURCE);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        for needed in [
            "Cargo.toml",
            "Cargo.lock",
            "build.rs",
            "src/main.rs",
            "crates/vibes-core/Cargo.toml",
            "crates/vibes-core/src/lib.rs",
        ] {
            assert!(
                names.contains(&needed),
                "{needed} is missing from {names:?}"
            );
        }
        for name in &names {
            let in_src = name.starts_with("src/") || name.split('/').nth(2) == Some("src");
            let platform = build_script::PLATFORM_DIRS
                .iter()
                .any(|dir| name.starts_with(&format!("{dir}/")));
            let manifest = matches!(*name, "Cargo.toml" | "Cargo.lock" | "build.rs")
                || name.ends_with("/Cargo.toml")
                || name.ends_with("/build.rs");
            assert!(
                in_src || manifest || platform,
                "{name} should not be in the source archive"
            );
            assert!(
                !name.starts_with("target/")
                    && !name.contains("/tests/")
                    && !name.starts_with("fuzz/"),
                "{name}"
            );
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "entries are in path order");
        for (name, mode, mtime, uid, gid, _) in &entries {
            assert!(*mode == 0o644 || *mode == 0o755, "{name} has mode {mode:o}");
            assert_eq!((*mtime, *uid, *gid), (0, 0, 0), "{name}");
        }
    }

    #[test]
    fn the_archive_carries_the_platform_the_binary_embeds() {
        // The worker builds vibes from this archive, and vibes-platform embeds these files at
        // build time: one missing here would fail the worker image's build.
        let entries: std::collections::BTreeMap<String, Vec<u8>> = entries(VIBES_SOURCE)
            .into_iter()
            .map(|e| (e.0, e.5))
            .collect();
        assert!(!vibes_platform::FILES.is_empty());
        for f in vibes_platform::FILES {
            assert_eq!(
                entries.get(f.path).map(Vec::as_slice),
                Some(f.body),
                "{} is not in the source archive as embedded",
                f.path
            );
        }
    }

    #[test]
    fn the_gzip_header_names_no_file_and_no_time() {
        // RFC 1952: bytes 3 (flags: FNAME is 0x08) and 4..8 (MTIME).
        assert_eq!(&VIBES_SOURCE[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(VIBES_SOURCE[3] & 0x08, 0, "no file name");
        assert_eq!(&VIBES_SOURCE[4..8], &[0, 0, 0, 0], "mtime 0");
    }

    fn write(root: &Path, rel: &str, body: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    fn small_workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "Cargo.toml",
            "[workspace]\nmembers = [\".\", \"crates/a\"]\n",
        );
        write(root, "Cargo.lock", "version = 4\n");
        write(root, "build.rs", "fn main() {}\n");
        write(root, "src/main.rs", "fn main() {}\n");
        write(root, "src/cli/mod.rs", "// cli\n");
        write(root, "src/.main.rs.swp", "swap");
        write(root, "crates/a/Cargo.toml", "[package]\nname = \"a\"\n");
        write(root, "crates/a/src/lib.rs", "pub fn a() {}\n");
        write(root, "crates/a/tests/it.rs", "#[test] fn t() {}\n");
        write(root, "crates/notes/README.md", "not a crate\n");
        write(root, "tests/cli.rs", "#[test] fn t() {}\n");
        write(root, "fuzz/Cargo.toml", "[package]\nname = \"fuzz\"\n");
        write(root, "target/debug/vibes", "binary");
        write(root, "cfn/vpc.yaml", "Resources: {}\n");
        write(root, "platform/server/serve.sh", "#!/bin/sh\n");
        write(root, "docs/notes.md", "not source\n");
        write(root, ".venv/bin/python", "python");
        dir
    }

    #[test]
    fn the_same_source_packs_to_the_same_bytes_whatever_its_timestamps() {
        let dir = small_workspace();
        let first = build_script::pack(dir.path()).unwrap();
        // Touch every file: timestamps must not reach the archive.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        for rel in ["Cargo.toml", "src/main.rs", "crates/a/src/lib.rs"] {
            std::fs::File::options()
                .write(true)
                .open(dir.path().join(rel))
                .unwrap()
                .set_modified(later)
                .unwrap();
        }
        assert_eq!(first, build_script::pack(dir.path()).unwrap());

        let names: Vec<String> = entries(&first).into_iter().map(|e| e.0).collect();
        assert_eq!(
            names,
            [
                "Cargo.lock",
                "Cargo.toml",
                "build.rs",
                "cfn/vpc.yaml",
                "crates/a/Cargo.toml",
                "crates/a/src/lib.rs",
                "platform/server/serve.sh",
                "src/cli/mod.rs",
                "src/main.rs"
            ]
        );
    }

    #[test]
    fn a_changed_source_file_changes_the_archive() {
        let dir = small_workspace();
        let before = build_script::pack(dir.path()).unwrap();
        write(
            dir.path(),
            "crates/a/src/lib.rs",
            "pub fn a() { println!(\"new\") }\n",
        );
        assert_ne!(before, build_script::pack(dir.path()).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn executable_files_keep_their_executable_bit_and_nothing_else() {
        use std::os::unix::fs::PermissionsExt;
        let dir = small_workspace();
        let script = dir.path().join("src/gen.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(
            dir.path().join("src/main.rs"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let modes: Vec<(String, u32)> = entries(&build_script::pack(dir.path()).unwrap())
            .into_iter()
            .map(|e| (e.0, e.1))
            .collect();
        assert!(
            modes.contains(&("src/gen.sh".to_string(), 0o755)),
            "{modes:?}"
        );
        assert!(
            modes.contains(&("src/main.rs".to_string(), 0o644)),
            "{modes:?}"
        );
    }

    #[test]
    fn the_worker_image_identity_includes_this_source() {
        let mut desired = Desired::empty("tunes");
        desired.images.insert(
            "worker".into(),
            vibes_core::model::ImageSpec {
                recipe: "packer/worker.pkr.hcl".into(),
                files: [("packer/worker.pkr.hcl".to_string(), "ab".repeat(32))].into(),
                built_in: Default::default(),
                recipe_hash: String::new(),
                parameter: "/tunes/ami/worker".into(),
                keep: 1,
                arch: Default::default(),
            },
        );
        add_to(&mut desired);
        let worker = &desired.images["worker"];
        assert_eq!(
            worker
                .files
                .get("packer/vibes-src.tar.gz")
                .map(String::as_str),
            Some(engine_source().sha256())
        );
        assert_eq!(
            worker.recipe_hash,
            vibes_core::config::recipe_hash(&worker.files)
        );
    }
}
