//! `<name>.pl.yaml` at the root of a mustup tree: a title and tracks (paths from the root,
//! without extension), compiled into `<name>.m3u` at the root of each profile.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::yaml::{Doc, PlaylistSpec};
use crate::source::{Playlist, SourceError, SourceTree};

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
    for name in names {
        let doc = Doc::read(&root.join(&name))?;
        let Some(spec) = doc.parse::<PlaylistSpec>()? else {
            continue;
        };
        let mut tracks = Vec::with_capacity(spec.tracks.len());
        for track in &spec.tracks {
            let key = track.trim_start_matches("./");
            match by_path.get(key) {
                Some(&i) => tracks.push(i),
                None => {
                    return Err(doc.error(
                        track,
                        0,
                        format!("`{track}` is no track of the tree (tracks are named by path from the root, without extension)"),
                    ))
                }
            }
        }
        let stem = name.trim_end_matches(".pl.yaml");
        tree.playlists.push(Playlist {
            dir: PathBuf::new(),
            tracks,
            file: Some(PathBuf::from(format!("{stem}.m3u"))),
            title: spec.title,
        });
    }
    Ok(())
}
