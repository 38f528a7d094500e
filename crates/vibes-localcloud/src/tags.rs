//! `vibes-localcloud tags DIR`: a line per audio file under DIR with the tags it carries, read
//! back with lofty — how the main job shows what it fetched.

use lofty::file::TaggedFileExt;
use lofty::prelude::{Accessor, ItemKey};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn main(args: &[String]) -> ExitCode {
    let Some(dir) = args.first() else {
        eprintln!("usage: vibes-localcloud tags DIR");
        return ExitCode::from(2);
    };
    let root = PathBuf::from(dir);
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    let mut failed = false;
    for f in files {
        let rel = f.strip_prefix(&root).unwrap_or(&f).display().to_string();
        match describe(&f) {
            Ok(Some(line)) => println!("{rel}: {line}"),
            Ok(None) => {}
            Err(e) => {
                failed = true;
                println!("{rel}: unreadable: {e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `artist – album – track. title (date)`; `None` for a file that is not audio (a playlist).
fn describe(path: &Path) -> Result<Option<String>, String> {
    let audio = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("flac" | "mp3" | "ogg" | "opus")
    );
    if !audio {
        return Ok(None);
    }
    let file = lofty::read_from_path(path).map_err(|e| e.to_string())?;
    let Some(tag) = file.primary_tag().or_else(|| file.first_tag()) else {
        return Ok(Some("no tags".into()));
    };
    let text = |s: Option<std::borrow::Cow<'_, str>>| {
        s.map(|s| s.into_owned()).unwrap_or_else(|| "?".into())
    };
    let date = tag
        .get_string(&ItemKey::RecordingDate)
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let pictures = if tag.pictures().is_empty() {
        String::new()
    } else {
        format!(", {} picture(s)", tag.pictures().len())
    };
    Ok(Some(format!(
        "{} - {} - {}. {}{date}{pictures}",
        text(tag.artist()),
        text(tag.album()),
        tag.track()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "?".into()),
        text(tag.title()),
    )))
}
