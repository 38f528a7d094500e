//! Walking a sources tree into the tracks to compile, with inherited tags and options.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::options::{OptionFile, Options, Picture};
use super::tags::{TagFile, Tags};
use super::{InputFormat, SourceError};

/// One audio file to compile.
#[derive(Debug, Clone)]
pub struct Track {
    /// Path of the audio file relative to the sources root.
    pub rel: PathBuf,
    /// Absolute path of the audio file.
    pub path: PathBuf,
    pub format: InputFormat,
    /// File name without its extension: the outputs are `<base>.<ext>`.
    pub base: String,
    pub tags: Tags,
    pub pictures: Vec<Picture>,
    /// Only this part of the audio is encoded (mustup's `trim`).
    pub trim: Option<super::Trim>,
}

impl Track {
    /// Relative path of this track's output with extension `ext`.
    pub fn output(&self, ext: &str) -> PathBuf {
        self.rel.with_file_name(format!("{}.{ext}", self.base))
    }
}

/// A directory that asked for a playlist, with the tracks at and beneath it in path order.
#[derive(Debug, Clone)]
pub struct Playlist {
    /// Relative to the sources root (empty for the root).
    pub dir: PathBuf,
    /// Indices into [`SourceTree::tracks`].
    pub tracks: Vec<usize>,
    /// Where the playlist goes, relative to the profile directory; `None`: the directory's
    /// own (`<dir>/<dir name>.m3u`).
    pub file: Option<PathBuf>,
    pub title: Option<String>,
}

/// A track the tree names that cannot be compiled as it stands (its metadata names a file that
/// is not there, its trim keeps nothing, …), or a directory whose tracks could not be listed:
/// left out of the build, while its outputs stay as they were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The audio file, or the directory, relative to the sources root.
    pub rel: PathBuf,
    /// The track's file name without extension; `None` for a directory.
    pub base: Option<String>,
    /// The fault: `path:line:column: message`.
    pub fault: String,
}

impl Broken {
    /// Whether the output at `key` (relative to the profile directory, `/`-separated) is one
    /// of this track's or lies in this directory.
    pub fn covers(&self, key: &str) -> bool {
        let rel = crate::relpath::slash(&self.rel);
        match &self.base {
            Some(base) => {
                let parent = crate::relpath::slash(self.rel.parent().unwrap_or(Path::new("")));
                let stem = if parent.is_empty() {
                    base.clone()
                } else {
                    format!("{parent}/{base}")
                };
                key.strip_prefix(&stem)
                    .is_some_and(|ext| ext.starts_with('.') && !ext[1..].contains('/'))
            }
            None => rel.is_empty() || key.starts_with(&format!("{rel}/")),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SourceTree {
    pub tracks: Vec<Track>,
    /// Tracks left out for a fault in the sources, each with it.
    pub broken: Vec<Broken>,
    pub playlists: Vec<Playlist>,
    /// Tracks left out by `encode-`.
    pub skipped: usize,
    /// Faults that do not stop a build (`path:line:column: message`).
    pub warnings: Vec<String>,
}

/// Reads the tree under `root`.
pub fn scan(root: &Path) -> Result<SourceTree, SourceError> {
    let io = |source| SourceError::Io {
        path: root.to_path_buf(),
        source,
    };
    let root = root.canonicalize().map_err(io)?;
    let mut tree = SourceTree::default();
    let mut walker = Walker {
        root: &root,
        tree: &mut tree,
        open: Vec::new(),
    };
    walker.visit(&root, Path::new(""), &Tags::default(), &Options::default())?;
    Ok(tree)
}

struct Walker<'a> {
    root: &'a Path,
    tree: &'a mut SourceTree,
    /// Canonical directories being read, to catch symlink loops.
    open: Vec<PathBuf>,
}

pub(super) enum Entry {
    Dir(String),
    File(String),
}

impl Walker<'_> {
    /// Returns the indices of the tracks found at and beneath `dir`.
    fn visit(
        &mut self,
        dir: &Path,
        rel: &Path,
        inherited: &Tags,
        inherited_opts: &Options,
    ) -> Result<Vec<usize>, SourceError> {
        let canonical = dir.canonicalize().map_err(|source| SourceError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if self.open.contains(&canonical) {
            return Err(SourceError::Loop {
                path: dir.to_path_buf(),
            });
        }
        self.open.push(canonical);
        let entries = entries(self.root, dir)?;
        let files: Vec<&str> = entries
            .iter()
            .filter_map(|e| {
                if let Entry::File(n) = e {
                    Some(n.as_str())
                } else {
                    None
                }
            })
            .collect();

        // A fault in the directory's own files leaves out every track at and below it (named
        // once, as the directory); the rest of the tree builds.
        let (tags, opts) = match self.directory_files(dir, &files, inherited, inherited_opts) {
            Ok(read) => read,
            Err(e) => {
                self.tree.broken.push(Broken {
                    rel: rel.to_path_buf(),
                    base: None,
                    fault: e.to_string(),
                });
                self.open.pop();
                return Ok(Vec::new());
            }
        };

        let mut found = Vec::new();
        let mut bases: HashMap<String, PathBuf> = HashMap::new();
        for name in &files {
            let path = dir.join(name);
            let Some(format) = InputFormat::from_path(&path) else {
                continue;
            };
            let base = Path::new(name)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(name)
                .to_string();
            let read = match bases.insert(base.clone(), path.clone()) {
                Some(first) => Err(SourceError::SameBase {
                    first,
                    second: path.clone(),
                    base: base.clone(),
                }),
                None => self.track_files(dir, &files, &base, &tags, &opts),
            };
            let (track_tags, track_opts) = match read {
                Ok(read) => read,
                Err(e) => {
                    self.tree.broken.push(Broken {
                        rel: rel.join(name),
                        base: Some(base),
                        fault: e.to_string(),
                    });
                    continue;
                }
            };
            if !track_opts.encode {
                self.tree.skipped += 1;
                continue;
            }
            found.push(self.tree.tracks.len());
            self.tree.tracks.push(Track {
                rel: rel.join(name),
                path,
                format,
                base,
                tags: track_tags,
                pictures: track_opts.pictures.into_values().collect(),
                trim: None,
            });
        }

        for entry in &entries {
            if let Entry::Dir(name) = entry {
                found.extend(self.visit(&dir.join(name), &rel.join(name), &tags, &opts)?);
            }
        }
        if opts.playlist && !found.is_empty() {
            self.tree.playlists.push(Playlist {
                dir: rel.to_path_buf(),
                tracks: found.clone(),
                file: None,
                title: None,
            });
        }
        self.open.pop();
        Ok(found)
    }
}

impl Walker<'_> {
    /// The tags and options in effect in `dir`: the inherited ones, with its own files'.
    fn directory_files(
        &self,
        dir: &Path,
        files: &[&str],
        inherited: &Tags,
        inherited_opts: &Options,
    ) -> Result<(Tags, Options), SourceError> {
        let mut tags = inherited.clone();
        if files.contains(&"tags.vc") {
            tags.merge(&TagFile::read(&dir.join("tags.vc"))?);
        }
        let mut opts = inherited_opts.clone();
        if files.contains(&"vibes.txt") {
            let path = dir.join("vibes.txt");
            opts.merge(&OptionFile::read(&path)?, &path, dir, self.root)?;
        }
        Ok((tags, opts))
    }

    /// One track's tags and options: the directory's, with its track number and its own files'.
    fn track_files(
        &self,
        dir: &Path,
        files: &[&str],
        base: &str,
        tags: &Tags,
        opts: &Options,
    ) -> Result<(Tags, Options), SourceError> {
        let mut track_tags = tags.clone();
        if let Some(n) = track_number(base) {
            track_tags.set("TRACKNUMBER", n.to_string());
        }
        let own_tags = format!("{base}.tags.vc");
        if files.contains(&own_tags.as_str()) {
            track_tags.merge(&TagFile::read(&dir.join(&own_tags))?);
        }
        let mut track_opts = opts.clone();
        let own_opts = format!("{base}.vibes.txt");
        if files.contains(&own_opts.as_str()) {
            let path = dir.join(&own_opts);
            track_opts.merge(&OptionFile::read(&path)?, &path, dir, self.root)?;
        }
        Ok((track_tags, track_opts))
    }
}

/// The visible entries of `dir`, sorted by name, with symlinks checked to stay inside the tree.
pub(super) fn entries(root: &Path, dir: &Path) -> Result<Vec<Entry>, SourceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Io { path, source }
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue; // vibes names files in UTF-8; anything else is not part of the collection
        };
        if name.starts_with('.') {
            continue;
        }
        names.push(name);
    }
    names.sort();
    let mut entries = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(&name);
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        let meta = if meta.file_type().is_symlink() {
            let target = path.canonicalize().map_err(io(&path))?;
            if !target.starts_with(root) {
                return Err(SourceError::Escape { path, target });
            }
            std::fs::metadata(&target).map_err(io(&path))?
        } else {
            meta
        };
        if meta.is_dir() {
            entries.push(Entry::Dir(name));
        } else if meta.is_file() {
            entries.push(Entry::File(name));
        }
    }
    Ok(entries)
}

/// `07-name` → 7.
fn track_number(base: &str) -> Option<u32> {
    let (prefix, rest) = base.split_once('-')?;
    if prefix.is_empty() || rest.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    prefix.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn track_numbers_come_from_the_name_prefix() {
        assert_eq!(track_number("07-born_on_the_bayou"), Some(7));
        assert_eq!(track_number("12-x-y"), Some(12));
        assert_eq!(track_number("intro"), None);
        assert_eq!(track_number("a1-intro"), None);
        assert_eq!(track_number("3-"), None);
    }

    #[test]
    fn tags_and_options_are_inherited_nearest_last() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir_all(r.join("ccr/bayou/1")).unwrap();
        fs::write(r.join("tags.vc"), "GENRE=Rock\n").unwrap();
        fs::write(r.join("ccr/tags.vc"), "ARTIST=CCR\nALBUMARTIST=CCR\n").unwrap();
        fs::write(
            r.join("ccr/bayou/tags.vc"),
            "ALBUM=Bayou Country\nDATE=1969\n",
        )
        .unwrap();
        fs::write(r.join("ccr/bayou/vibes.txt"), "playlist+\napic=3:jpeg:.\n").unwrap();
        fs::write(r.join("ccr/bayou/picture-03.jpeg"), b"\xff\xd8\xff\xd9").unwrap();
        fs::write(
            r.join("ccr/bayou/1/tags.vc"),
            "DISCNUMBER=1\nGENRE=Swamp Rock\n",
        )
        .unwrap();
        fs::write(r.join("ccr/bayou/1/01-born.wav"), b"").unwrap();
        fs::write(
            r.join("ccr/bayou/1/01-born.tags.vc"),
            "TITLE=Born on the Bayou\n",
        )
        .unwrap();
        fs::write(r.join("ccr/bayou/1/02-bootleg.aiff"), b"").unwrap();
        fs::write(r.join("ccr/bayou/1/02-bootleg.vibes.txt"), "encode-\n").unwrap();
        fs::write(r.join("ccr/bayou/1/notes.txt"), "not audio").unwrap();

        let tree = scan(r).unwrap();
        assert_eq!(tree.tracks.len(), 1);
        assert_eq!(tree.skipped, 1);
        let t = &tree.tracks[0];
        assert_eq!(t.rel, Path::new("ccr/bayou/1/01-born.wav"));
        assert_eq!(t.output("mp3"), Path::new("ccr/bayou/1/01-born.mp3"));
        let pairs: Vec<_> = t.tags.pairs().collect();
        assert_eq!(
            pairs,
            [
                ("ALBUM", "Bayou Country"),
                ("ALBUMARTIST", "CCR"),
                ("ARTIST", "CCR"),
                ("DATE", "1969"),
                ("DISCNUMBER", "1"),
                ("GENRE", "Swamp Rock"),
                ("TITLE", "Born on the Bayou"),
                ("TRACKNUMBER", "1"),
            ]
        );
        assert_eq!(t.pictures.len(), 1);
        assert!(t.pictures[0].path.ends_with("ccr/bayou/picture-03.jpeg"));
        let dirs: Vec<_> = tree.playlists.iter().map(|p| p.dir.clone()).collect();
        assert_eq!(
            dirs,
            [PathBuf::from("ccr/bayou/1"), PathBuf::from("ccr/bayou")]
        );
    }

    #[test]
    fn symlinks_may_not_leave_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir_all(src.join("a")).unwrap();
        fs::write(tmp.path().join("secret.wav"), b"").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret.wav"), src.join("a/1-x.wav")).unwrap();
        let err = scan(&src).unwrap_err().to_string();
        assert!(
            err.contains("symlink leads outside the sources tree"),
            "{err}"
        );

        fs::remove_file(src.join("a/1-x.wav")).unwrap();
        std::os::unix::fs::symlink(&src, src.join("a/loop")).unwrap();
        assert!(scan(&src).unwrap_err().to_string().contains("symlink loop"));
    }

    #[test]
    fn of_two_inputs_with_one_base_the_second_is_left_out_named() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("1-a.wav"), b"").unwrap();
        fs::write(tmp.path().join("1-a.flac"), b"").unwrap();
        let tree = scan(tmp.path()).unwrap();
        assert_eq!(tree.tracks.len(), 1);
        assert_eq!(tree.broken.len(), 1);
        assert_eq!(tree.broken[0].rel, Path::new("1-a.wav"));
        assert!(tree.broken[0].fault.contains("would both compile to `1-a`"));
    }

    #[test]
    fn a_fault_in_a_directorys_tags_leaves_out_that_directory_only() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("a")).unwrap();
        fs::create_dir_all(tmp.path().join("b/c")).unwrap();
        fs::write(tmp.path().join("a/1-x.wav"), b"").unwrap();
        fs::write(tmp.path().join("b/tags.vc"), b"not a comment\n").unwrap();
        fs::write(tmp.path().join("b/c/1-y.wav"), b"").unwrap();
        let tree = scan(tmp.path()).unwrap();
        assert_eq!(tree.tracks.len(), 1);
        assert_eq!(tree.broken.len(), 1, "{:?}", tree.broken);
        assert_eq!(tree.broken[0].rel, Path::new("b"));
        assert_eq!(tree.broken[0].base, None);
        assert!(tree.broken[0].covers("b/c/1-y.mp3"));
        assert!(!tree.broken[0].covers("a/1-x.mp3"));
        assert!(
            tree.broken[0].fault.contains("b/tags.vc:1"),
            "{}",
            tree.broken[0].fault
        );
    }
}
