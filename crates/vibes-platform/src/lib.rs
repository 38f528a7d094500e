//! The platform vibes deploys, carried in the binary: the stack templates (`cfn/`), the image
//! recipes and their files (`packer/`), and the worker's and server's scripts (`platform/`). A
//! `vibes` installed anywhere (`cargo install --path .`) deploys the platform it was built with,
//! without a checkout next to the config.
//!
//! The list is made by the build script from the directories in [`PLATFORM_DIRS`], so a file added
//! there is carried without naming it anywhere else.

include!("dirs.rs");

/// One file of the platform.
#[derive(Debug, PartialEq, Eq)]
pub struct PlatformFile {
    /// Relative to the workspace root, `/`-separated: `cfn/main.yaml`, `packer/worker.pkr.hcl`.
    pub path: &'static str,
    pub body: &'static [u8],
}

impl PlatformFile {
    /// The body as text, for the files that are text (templates, recipes, scripts).
    pub fn text(&self) -> Option<&'static str> {
        std::str::from_utf8(self.body).ok()
    }
}

/// Every file of the platform, sorted by path.
pub static FILES: &[PlatformFile] = include!(concat!(env!("OUT_DIR"), "/platform_files.rs"));

/// The platform file at `path` (`cfn/vpc.yaml`), if the platform has one.
pub fn file(path: &str) -> Option<&'static PlatformFile> {
    FILES
        .binary_search_by(|f| f.path.cmp(path))
        .ok()
        .map(|i| &FILES[i])
}

/// The platform files under the directory `dir` (`packer/files/worker`), recursively, sorted.
pub fn under(dir: &str) -> impl Iterator<Item = &'static PlatformFile> + '_ {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    FILES.iter().filter(move |f| f.path.starts_with(&prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("crates/vibes-platform is two levels below the workspace root")
            .to_path_buf()
    }

    /// Every regular file under `dir` (symlinks followed, hidden files left out) by its path
    /// relative to `root`: what a checkout holds.
    fn on_disk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with('.') {
                continue;
            }
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                on_disk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(rel.replace('\\', "/"), std::fs::read(&path).unwrap());
            }
        }
    }

    #[test]
    fn the_binary_carries_exactly_the_platform_files_of_the_checkout() {
        let root = workspace_root();
        let mut disk = BTreeMap::new();
        for dir in PLATFORM_DIRS {
            on_disk(&root, &root.join(dir), &mut disk);
        }
        let embedded: BTreeMap<String, Vec<u8>> = FILES
            .iter()
            .map(|f| (f.path.to_string(), f.body.to_vec()))
            .collect();
        let missing: Vec<&String> = disk.keys().filter(|p| !embedded.contains_key(*p)).collect();
        let extra: Vec<&String> = embedded.keys().filter(|p| !disk.contains_key(*p)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "not carried: {missing:?}; carried but not on disk: {extra:?}"
        );
        for (path, body) in &disk {
            assert!(embedded[path] == *body, "{path} differs from the checkout");
        }
    }

    #[test]
    fn the_platform_holds_what_vibes_deploys_without_a_checkout() {
        for needed in [
            "cfn/vpc.yaml",
            "cfn/main.yaml",
            "packer/plugins.pkr.hcl.txt",
            "packer/worker.pkr.hcl",
            "packer/server.pkr.hcl",
            "packer/volmgr.pkr.hcl",
            "packer/files/worker/install.sh",
            "packer/files/server/install.sh",
            "packer/files/volmgr/install.sh",
            "platform/worker/vibes-compile.sh",
            "platform/server/rsyncd-gen.sh",
        ] {
            let f = file(needed).unwrap_or_else(|| panic!("{needed} is not carried"));
            assert!(f.text().is_some_and(|t| !t.is_empty()), "{needed} is empty");
        }
        // The recipes' files link to the platform's scripts: carried as the scripts themselves.
        assert_eq!(
            file("packer/files/worker/vibes-compile.sh").map(|f| f.body),
            file("platform/worker/vibes-compile.sh").map(|f| f.body)
        );
    }

    #[test]
    fn files_are_found_by_path_and_by_directory() {
        assert!(FILES.windows(2).all(|w| w[0].path < w[1].path), "sorted");
        assert!(file("cfn/nothing.yaml").is_none());
        let server: Vec<&str> = under("packer/files/server").map(|f| f.path).collect();
        assert!(
            server.contains(&"packer/files/server/install.sh"),
            "{server:?}"
        );
        assert!(server.iter().all(|p| p.starts_with("packer/files/server/")));
        assert_eq!(
            under("packer/files/server/").count(),
            server.len(),
            "a trailing slash names the same directory"
        );
        assert_eq!(under("packer/files/serv").count(), 0, "whole names only");
    }
}
