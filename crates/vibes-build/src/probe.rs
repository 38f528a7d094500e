//! What a source holds, read from its header by vibes before any encoder runs: encoders differ
//! in what they make of a file that is not audio (lame "encodes" a header-only WAVE to a
//! tags-only MP3, oggenc to an empty stream, while flac refuses it), and of a trim past the end
//! (flac refuses it, the WAVE cut clamps it). Read once here, such a source fails its outputs
//! in every profile alike, named.

use std::path::Path;
use std::time::Duration;

use lofty::file::AudioFile;

use crate::source::trim::{End, Time};
use crate::source::Trim;

/// A source's audio, as its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    pub channels: u8,
    pub sample_rate: u32,
    pub duration: Duration,
}

/// Reads `path`'s header; Err says why it is no audio vibes can encode.
pub fn probe(path: &Path) -> Result<AudioInfo, String> {
    let not_audio = |why: String| format!("{} is not well-formed audio: {why}", path.display());
    // The header's properties only: the source's own tags (and any picture in them) are not
    // what vibes tags outputs with, and are neither read into memory nor held against it.
    let probe = lofty::probe::Probe::open(path)
        .map_err(|e| not_audio(e.to_string()))?
        .options(lofty::config::ParseOptions::new().read_tags(false));
    let probe = probe
        .guess_file_type()
        .map_err(|e| not_audio(e.to_string()))?;
    let file = probe.read().map_err(|e| not_audio(e.to_string()))?;
    let p = file.properties();
    let (Some(channels), Some(sample_rate)) = (
        p.channels().filter(|c| *c > 0),
        p.sample_rate().filter(|r| *r > 0),
    ) else {
        return Err(not_audio(
            "its header gives no channels or sample rate".into(),
        ));
    };
    if p.duration().is_zero() {
        return Err(format!("{} holds no audio (0 samples)", path.display()));
    }
    Ok(AudioInfo {
        channels,
        sample_rate,
        duration: p.duration(),
    })
}

/// Why `trim` cannot be cut from audio `duration` long: a start or an end past its end.
pub fn trim_fault(trim: &Trim, duration: Duration) -> Option<String> {
    let at = |t: &Time| Duration::from_nanos(t.frames(1_000_000_000));
    let length = format!("{:.3} s", duration.as_secs_f64());
    let start = trim.start.as_ref().map(at).unwrap_or_default();
    if start >= duration {
        return Some(format!(
            "the trim starts at {:.3} s, past the end of the source ({length})",
            start.as_secs_f64()
        ));
    }
    let end = match &trim.end {
        Some(End::At(t)) => at(t),
        Some(End::After(t)) => start.saturating_add(at(t)),
        None => return None,
    };
    // Header durations are rounded to the millisecond: an end within one is the end.
    (end > duration + Duration::from_millis(1)).then(|| {
        format!(
            "the trim ends at {:.3} s, past the end of the source ({length})",
            end.as_secs_f64()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: u64) -> Time {
        Time {
            minutes: 0,
            seconds,
            fraction: String::new(),
        }
    }

    #[test]
    fn a_trim_past_the_end_of_its_source_is_a_fault_whichever_way_it_ends() {
        let two = Duration::from_secs(2);
        let cut = |start: Option<u64>, end: Option<End>| {
            trim_fault(
                &Trim {
                    start: start.map(t),
                    end,
                },
                two,
            )
        };
        assert!(cut(Some(3), None)
            .unwrap()
            .contains("starts at 3.000 s, past the end"));
        assert!(cut(Some(2), None).is_some());
        assert!(cut(None, Some(End::At(t(3))))
            .unwrap()
            .contains("ends at 3.000 s"));
        assert!(cut(Some(1), Some(End::After(t(2))))
            .unwrap()
            .contains("ends at 3.000 s"));
        assert_eq!(cut(Some(1), Some(End::After(t(1)))), None);
        assert_eq!(cut(None, Some(End::At(t(2)))), None);
    }
}
