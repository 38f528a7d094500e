//! Cutting a WAVE file to a trim without decoding it: the encoders other than flac have no
//! option to skip into their input, so they read a WAVE stream made of the source's `fmt `
//! chunk and the slice of its `data` chunk the trim keeps.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::source::Trim;

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// A reader of `path` cut to `trim`, as a complete WAVE stream.
pub fn open(path: &Path, trim: &Trim) -> io::Result<impl Read + Send> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut riff = [0u8; 12];
    file.read_exact(&mut riff)?;
    if &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
        return Err(bad("not a RIFF WAVE file"));
    }
    let mut fmt: Option<Vec<u8>> = None;
    let (data_at, data_len) = loop {
        let mut head = [0u8; 8];
        file.read_exact(&mut head)
            .map_err(|_| bad("no `data` chunk"))?;
        let len = u64::from(u32::from_le_bytes(head[4..].try_into().unwrap()));
        match &head[..4] {
            b"fmt " => {
                let mut body = vec![0u8; len as usize];
                file.read_exact(&mut body)?;
                if len % 2 == 1 {
                    file.seek(SeekFrom::Current(1))?;
                }
                fmt = Some(body);
            }
            b"data" => {
                let at = file.stream_position()?;
                // A streamed WAVE may leave the size at its maximum: the file's end bounds it.
                break (at, len.min(file_len.saturating_sub(at)));
            }
            _ => {
                file.seek(SeekFrom::Current((len + len % 2) as i64))?;
            }
        }
    };
    let fmt = fmt.ok_or_else(|| bad("no `fmt ` chunk before the `data` chunk"))?;
    if fmt.len() < 16 {
        return Err(bad("`fmt ` chunk too short"));
    }
    let rate = u64::from(u32::from_le_bytes(fmt[4..8].try_into().unwrap()));
    let align = u64::from(u16::from_le_bytes(fmt[12..14].try_into().unwrap()));
    if rate == 0 || align == 0 {
        return Err(bad("`fmt ` chunk gives no sample rate or frame size"));
    }
    let frames = data_len / align;
    let (start, end) = trim.frames(rate);
    let end = end.unwrap_or(frames).min(frames);
    if start >= end {
        return Err(bad(format!(
            "the trim keeps nothing: it starts at frame {start} of {frames}, ends at {end}"
        )));
    }
    let kept = (end - start) * align;
    let kept32 = u32::try_from(kept).map_err(|_| bad("the cut is too long for a WAVE file"))?;

    let mut header = Vec::with_capacity(28 + fmt.len());
    header.extend_from_slice(b"RIFF");
    let riff_len = 4 + 8 + fmt.len() as u64 + fmt.len() as u64 % 2 + 8 + kept;
    header.extend_from_slice(&u32::try_from(riff_len).unwrap_or(u32::MAX).to_le_bytes());
    header.extend_from_slice(b"WAVE");
    header.extend_from_slice(b"fmt ");
    header.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    header.extend_from_slice(&fmt);
    if fmt.len() % 2 == 1 {
        header.push(0);
    }
    header.extend_from_slice(b"data");
    header.extend_from_slice(&kept32.to_le_bytes());
    file.seek(SeekFrom::Start(data_at + start * align))?;
    Ok(io::Cursor::new(header).chain(file.take(kept)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::trim::{End, Time};

    fn wave(frames: u32) -> Vec<u8> {
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&(36 + 2 * frames).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes()); // PCM
        w.extend_from_slice(&1u16.to_le_bytes()); // mono
        w.extend_from_slice(&1000u32.to_le_bytes());
        w.extend_from_slice(&2000u32.to_le_bytes());
        w.extend_from_slice(&2u16.to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        w.extend_from_slice(b"data");
        w.extend_from_slice(&(2 * frames).to_le_bytes());
        for i in 0..frames {
            w.extend_from_slice(&(i as u16).to_le_bytes());
        }
        w
    }

    #[test]
    fn keeps_the_frames_between_start_and_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wave");
        std::fs::write(&path, wave(3000)).unwrap();
        let time = |s, f: &str| Time {
            minutes: 0,
            seconds: s,
            fraction: f.into(),
        };
        let trim = Trim {
            start: Some(time(0, "5")),
            end: Some(End::After(time(1, ""))),
        };
        let mut out = Vec::new();
        open(&path, &trim).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 44 + 2000);
        assert_eq!(&out[40..44], &2000u32.to_le_bytes());
        assert_eq!(&out[44..46], &500u16.to_le_bytes());
        let late = Trim {
            start: Some(time(5, "")),
            end: None,
        };
        assert!(open(&path, &late).is_err());
    }
}
