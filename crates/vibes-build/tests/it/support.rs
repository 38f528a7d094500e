//! Small generated collections for the compile engine's tests: sine tones written as WAVE and
//! AIFF here, FLAC through the real `flac`, and a tiny JPEG cover.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use vibes_build::{BuildOptions, Progress, TrackEvent};

pub const FLAC: &str = "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s -5\n";
pub const MP3: &str = "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=\"--quiet -V 6\"\n";
pub const OGG: &str = "CONFIG_ENCODER=oggenc\nCONFIG_OGGENC_FLAGS=-Q -q 2\n";
pub const OPUS: &str = "CONFIG_ENCODER=opusenc\nCONFIG_OPUSENC_FLAGS=--quiet --bitrate 64\n";

/// A baseline 8×8 grey JPEG: quantisation table, frame, two one-code Huffman tables, a scan
/// holding a single block (DC 0, end of block).
pub fn tiny_jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00];
    j.extend([1u8; 64]);
    j.extend([
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00,
    ]);
    for class in [0x00, 0x10] {
        j.extend([0xFF, 0xC4, 0x00, 0x14, class, 0x01]);
        j.extend([0u8; 15]);
        j.push(0x00);
    }
    j.extend([
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x3F, 0xFF, 0xD9,
    ]);
    j
}

fn sine(seconds: f32, freq: f32) -> Vec<i16> {
    let frames = (44_100.0 * seconds) as usize;
    (0..frames)
        .flat_map(|i| {
            let v = ((i as f32 * freq * std::f32::consts::TAU / 44_100.0).sin() * 8000.0) as i16;
            [v, v]
        })
        .collect()
}

/// A stereo 44.1 kHz WAVE file of `data`: `format` 1 is integer PCM, 3 IEEE float; `bits` per
/// sample.
pub fn wave(format: u16, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = 2 * bits / 8;
    let mut b = Vec::with_capacity(44 + data.len());
    b.extend(b"RIFF");
    b.extend((36 + data.len() as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(format.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(44_100u32.to_le_bytes());
    b.extend((44_100u32 * u32::from(block)).to_le_bytes());
    b.extend(block.to_le_bytes());
    b.extend(bits.to_le_bytes());
    b.extend(b"data");
    b.extend((data.len() as u32).to_le_bytes());
    b.extend(data);
    b
}

/// 16-bit stereo 44.1 kHz WAVE.
pub fn write_wav(path: &Path, seconds: f32, freq: f32) {
    let data: Vec<u8> = sine(seconds, freq)
        .into_iter()
        .flat_map(i16::to_le_bytes)
        .collect();
    write(path, wave(1, 16, &data));
}

/// 16-bit stereo 44.1 kHz AIFF (big-endian samples, rate as an 80-bit extended float).
pub fn write_aiff(path: &Path, seconds: f32, freq: f32) {
    let samples = sine(seconds, freq);
    let frames = (samples.len() / 2) as u32;
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::new();
    b.extend(b"FORM");
    b.extend((4 + 26 + 16 + data_len).to_be_bytes());
    b.extend(b"AIFFCOMM");
    b.extend(18u32.to_be_bytes());
    b.extend(2u16.to_be_bytes());
    b.extend(frames.to_be_bytes());
    b.extend(16u16.to_be_bytes());
    // 44100 = 1.3458251953125 × 2^15: exponent 16383 + 15, mantissa 0xAC44 << 48.
    b.extend([0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]);
    b.extend(b"SSND");
    b.extend((8 + data_len).to_be_bytes());
    b.extend([0u8; 8]);
    for s in samples {
        b.extend(s.to_be_bytes());
    }
    write(path, &b);
}

/// FLAC through the real encoder, carrying a tag of its own that must not reach any output.
pub fn write_flac(path: &Path, seconds: f32, freq: f32) {
    let wav = path.with_extension("tmp.wav");
    write_wav(&wav, seconds, freq);
    let ok = std::process::Command::new("flac")
        .args(["-s", "-f", "-T", "LEAK=from the source file", "-o"])
        .arg(path)
        .arg(&wav)
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::remove_file(wav).unwrap();
}

pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Two artists: CCR with an inherited cover, a playlist, a WAVE, an AIFF and a skipped track;
/// the Kinks with a FLAC input.
pub fn collection(root: &Path) {
    write(&root.join("tags.vc"), "GENRE=Rock\n");
    write(
        &root.join("ccr/tags.vc"),
        "ARTIST=Creedence Clearwater Revival\nALBUMARTIST=Creedence Clearwater Revival\n",
    );
    write(
        &root.join("ccr/bayou_country/tags.vc"),
        "ALBUM=Bayou Country\nDATE=1969\n",
    );
    write(
        &root.join("ccr/bayou_country/vibes.txt"),
        "apic=3:jpeg:.\nplaylist+\n",
    );
    write(&root.join("ccr/bayou_country/picture-03.jpeg"), tiny_jpeg());
    write(
        &root.join("ccr/bayou_country/1/tags.vc"),
        "DISCNUMBER=1\nGENRE=Swamp Rock\n",
    );
    write_wav(
        &root.join("ccr/bayou_country/1/01-born_on_the_bayou.wav"),
        0.4,
        440.0,
    );
    write(
        &root.join("ccr/bayou_country/1/01-born_on_the_bayou.tags.vc"),
        "TITLE=Born on the Bayou\n",
    );
    write_aiff(
        &root.join("ccr/bayou_country/1/02-bootleg.aiff"),
        0.4,
        550.0,
    );
    write(
        &root.join("ccr/bayou_country/1/02-bootleg.tags.vc"),
        "TITLE=Bootleg\nCOMMENT=live take\n",
    );
    write_wav(&root.join("ccr/bayou_country/1/03-outtake.wav"), 0.2, 660.0);
    write(
        &root.join("ccr/bayou_country/1/03-outtake.vibes.txt"),
        "encode-\n",
    );
    write(
        &root.join("kinks/village_green/tags.vc"),
        "ARTIST=The Kinks\nALBUM=The Village Green Preservation Society\nDATE=1968\n",
    );
    write_flac(
        &root.join("kinks/village_green/01-village_green.flac"),
        0.4,
        330.0,
    );
    write(
        &root.join("kinks/village_green/01-village_green.tags.vc"),
        "TITLE=Village Green\n",
    );
}

pub fn all_profiles() -> Vec<(String, String)> {
    [
        ("archive", FLAC),
        ("phone", MP3),
        ("ogg", OGG),
        ("laptop", OPUS),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), t.to_string()))
    .collect()
}

pub fn options(sources: &Path, out: &Path, profiles: Vec<(String, String)>) -> BuildOptions {
    BuildOptions {
        sources: sources.to_path_buf(),
        out: out.to_path_buf(),
        profiles,
        jobs: 0,
        allow_empty: false,
        format: Default::default(),
        rebuild: false,
        fail_fast: false,
    }
}

/// Records every event, to check which outputs a build touched.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<(String, PathBuf, String)>>,
}

impl Progress for Recorder {
    fn start(&self, _outputs: usize, _work: usize) {}
    fn track(&self, e: &TrackEvent<'_>) {
        self.events.lock().unwrap().push((
            e.profile.to_string(),
            e.output.to_path_buf(),
            format!("{:?}", e.outcome),
        ));
    }
}

impl Recorder {
    /// `profile/output` of every event, sorted.
    pub fn touched(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|(p, o, _)| format!("{p}/{}", o.display()))
            .collect();
        v.sort();
        v
    }
}

/// Every file under `dir` (relative, sorted), the bookkeeping directory at the output root left
/// out.
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if dir == base && p.file_name().unwrap() == vibes_build::BOOKKEEPING_DIR {
                continue;
            }
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}
