//! Extended m3u playlists: one per directory that asked with `playlist+`, listing the encoded
//! tracks at and beneath it, by path relative to the playlist.

use std::path::{Path, PathBuf};

use crate::source::Tags;

/// Where a directory's playlist goes: `<dir>/<dir name>.m3u`; the root's is `<profile>.m3u`.
pub fn path_for(dir: &Path, profile: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| profile.to_string());
    dir.join(format!("{name}.m3u"))
}

/// One m3u line's text: newlines and other control characters become spaces. A line break in
/// a title would otherwise start a line of its own, which every player reads as an entry (a
/// URL it fetches, a path it opens).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The playlist text for `entries` (output path relative to the profile root, tags), paths
/// relative to `dir`, where the playlist is.
pub fn render(dir: &Path, title: Option<&str>, entries: &[(PathBuf, &Tags)]) -> String {
    let mut text = String::from("#EXTM3U\n");
    if let Some(title) = title {
        text.push_str(&format!("#PLAYLIST:{}\n", one_line(title)));
    }
    for (output, tags) in entries {
        let rel = output.strip_prefix(dir).unwrap_or(output);
        let title = tags.first("TITLE").map(str::to_string).unwrap_or_else(|| {
            rel.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        });
        let label = match tags.first("ARTIST") {
            Some(artist) => format!("{artist} - {title}"),
            None => title,
        };
        let rel: Vec<_> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        text.push_str(&format!(
            "#EXTINF:-1,{}\n{}\n",
            one_line(&label),
            one_line(&rel.join("/"))
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_tracks_relative_to_the_playlist() {
        let mut tags = Tags::default();
        tags.set("TITLE", "Proud Mary");
        tags.set("ARTIST", "CCR");
        let dir = Path::new("ccr/bayou");
        let text = render(
            dir,
            None,
            &[(PathBuf::from("ccr/bayou/1/03-proud_mary.mp3"), &tags)],
        );
        assert_eq!(
            text,
            "#EXTM3U\n#EXTINF:-1,CCR - Proud Mary\n1/03-proud_mary.mp3\n"
        );
        assert_eq!(path_for(dir, "phone"), Path::new("ccr/bayou/bayou.m3u"));
        assert_eq!(path_for(Path::new(""), "phone"), Path::new("phone.m3u"));
    }

    #[test]
    fn a_title_with_line_breaks_or_control_characters_stays_on_its_line() {
        let mut tags = Tags::default();
        tags.set(
            "TITLE",
            "Song\nhttp://evil.example/x.mp3\r\n/etc/shadow\u{7}",
        );
        let text = render(
            Path::new(""),
            Some("Mix\n/etc/passwd"),
            &[(PathBuf::from("a/01.mp3"), &tags)],
        );
        assert_eq!(
            text,
            "#EXTM3U\n#PLAYLIST:Mix /etc/passwd\n#EXTINF:-1,Song http://evil.example/x.mp3  /etc/shadow \na/01.mp3\n"
        );
        assert_eq!(text.lines().count(), 4, "{text}");
    }
}
