//! `<name>.pl.yaml` at the root of a mustup tree: a title and tracks (paths from the root,
//! without extension), compiled into `<name>.m3u` at the root of each profile.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::yaml::{Doc, PlaylistSpec};
use crate::source::{Broken, Playlist, SourceError, SourceTree};

pub fn read(root: &Path, tree: &mut SourceTree) -> Result<(), SourceError> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map_err(|source| SourceError::Io {
            path: root.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".pl.yaml") && !n.starts_with('.'))
        .collect();
    names.sort();
    if names.is_empty() {
        return Ok(());
    }
    let by_path: HashMap<String, usize> = tree
        .tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let stem = t.rel.with_file_name(&t.base);
            let parts: Vec<_> = stem
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            (parts.join("/"), i)
        })
        .collect();
    let broken: Vec<String> = tree
        .broken
        .iter()
        .filter_map(|b| {
            let base = b.base.as_ref()?;
            Some(crate::relpath::slash(&b.rel.with_file_name(base)))
        })
        .collect();
    for name in names {
        let stem = name.trim_end_matches(".pl.yaml").to_string();
        let spec =
            Doc::read(&root.join(&name)).and_then(|doc| Ok((doc.parse::<PlaylistSpec>()?, doc)));
        let (spec, doc) = match spec {
            Ok((Some(spec), doc)) => (spec, doc),
            Ok((None, _)) => continue,
            // The playlist is left as it was; the rest of the tree builds.
            Err(e) => {
                tree.broken.push(Broken {
                    rel: PathBuf::from(&name),
                    base: Some(stem),
                    fault: e.to_string(),
                });
                continue;
            }
        };
        let mut tracks = Vec::with_capacity(spec.tracks.len());
        let mut from = 0;
        for track in &spec.tracks {
            let key = track.trim_start_matches("./");
            let (at, _, _) = doc.find(track, from);
            from = at;
            match by_path.get(key) {
                Some(&i) => tracks.push(i),
                // Its track is left out of this build for a fault of its own, named with it.
                None if broken.iter().any(|b| b == key) => {}
                // mustup's own playlist generator does not check entries at all: a line that
                // names no track is left out, with a warning and the nearest track's path.
                None => tree.warnings.push(doc.warning(
                    track,
                    at,
                    &super::super::hint::with_hint(
                        format!("warning: `{track}` is no track of the tree (tracks are named by path from the root, without extension): left out of {stem}.m3u"),
                        key,
                        by_path.keys().map(String::as_str),
                    ),
                )),
            }
        }
        tree.playlists.push(Playlist {
            dir: PathBuf::new(),
            tracks,
            file: Some(PathBuf::from(format!("{stem}.m3u"))),
            title: spec.title,
        });
    }
    Ok(())
}
