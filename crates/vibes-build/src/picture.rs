//! Cover art: reading a picture file, and the FLAC picture block that Ogg Vorbis carries
//! base64-encoded in a `METADATA_BLOCK_PICTURE` comment.

use std::sync::Arc;

use base64::Engine as _;

use crate::source::Picture;

/// A picture's bytes with what its header says about its size.
#[derive(Debug, Clone)]
pub struct LoadedPicture {
    pub kind: u8,
    pub mime: &'static str,
    /// The file in the sources tree: flac and opusenc read pictures by path.
    pub path: std::path::PathBuf,
    /// Shared: the tracks of an album embed the same cover, read once (see `picture_cache`).
    pub data: Arc<[u8]>,
    pub description: String,
}

impl LoadedPicture {
    pub fn load(p: &Picture) -> std::io::Result<Self> {
        Ok(LoadedPicture {
            kind: p.kind,
            mime: p.mime,
            path: p.path.clone(),
            data: std::fs::read(&p.path)?.into(),
            description: p.description.clone(),
        })
    }

    /// The FLAC METADATA_BLOCK_PICTURE body, base64-encoded, as Vorbis comments carry it.
    pub fn vorbis_comment_value(&self) -> String {
        let (width, height, depth) = dimensions(&self.data).unwrap_or((0, 0, 0));
        let mut block = Vec::with_capacity(self.data.len() + 64);
        for n in [u32::from(self.kind), self.mime.len() as u32] {
            block.extend_from_slice(&n.to_be_bytes());
        }
        block.extend_from_slice(self.mime.as_bytes());
        block.extend_from_slice(&(self.description.len() as u32).to_be_bytes());
        block.extend_from_slice(self.description.as_bytes());
        for n in [width, height, depth, 0, self.data.len() as u32] {
            block.extend_from_slice(&n.to_be_bytes());
        }
        block.extend_from_slice(&self.data);
        base64::engine::general_purpose::STANDARD.encode(block)
    }
}

/// Width, height and bits per pixel from a PNG or JPEG header.
pub fn dimensions(data: &[u8]) -> Option<(u32, u32, u32)> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") && data.len() >= 26 && &data[12..16] == b"IHDR" {
        let be = |i: usize| u32::from_be_bytes(data[i..i + 4].try_into().unwrap());
        let channels = match data[25] {
            0 => 1,
            2 => 3,
            3 => 1,
            4 => 2,
            _ => 4,
        };
        return Some((be(16), be(20), u32::from(data[24]) * channels));
    }
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if (0xC0..=0xCF).contains(&marker)
            && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
            && i + 9 < data.len()
        {
            let height = u32::from(u16::from_be_bytes([data[i + 5], data[i + 6]]));
            let width = u32::from(u16::from_be_bytes([data[i + 7], data[i + 8]]));
            return Some((
                width,
                height,
                u32::from(data[i + 4]) * u32::from(data[i + 9]),
            ));
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_png_and_jpeg_sizes() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 5, 8, 2, 0, 0, 0]);
        assert_eq!(dimensions(&png), Some((7, 5, 24)));
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8, 0, 2, 0, 3, 3, 0, 0, 0, 0,
        ];
        assert_eq!(dimensions(&jpeg), Some((3, 2, 24)));
        assert_eq!(dimensions(b"GIF89a"), None);
    }

    #[test]
    fn the_picture_block_follows_the_flac_layout() {
        let p = LoadedPicture {
            kind: 3,
            mime: "image/png",
            path: "p.png".into(),
            data: vec![1, 2, 3].into(),
            description: String::new(),
        };
        let block = base64::engine::general_purpose::STANDARD
            .decode(p.vorbis_comment_value())
            .unwrap();
        assert_eq!(&block[..4], &[0, 0, 0, 3]);
        assert_eq!(&block[4..8], &[0, 0, 0, 9]);
        assert_eq!(&block[8..17], b"image/png");
        assert_eq!(&block[block.len() - 7..], &[0, 0, 0, 3, 1, 2, 3]);
    }
}
