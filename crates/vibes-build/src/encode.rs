//! Running the encoders and writing each format's tags: the real programs, as processes
//! without a shell. FLAC inputs are decoded with `flac -d -c` and piped into the encoder, so
//! that no tag of the input file leaks into an output: the tree's tags are the only ones.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::picture::LoadedPicture;
use crate::profile::{Encoder, Profile};
use crate::source::{InputFormat, Tags, Trim};

/// What one output is made of.
pub struct Job<'a> {
    pub input: &'a Path,
    pub format: InputFormat,
    pub tags: &'a Tags,
    pub pictures: &'a [LoadedPicture],
    /// Only this part of the input is encoded.
    pub trim: Option<&'a Trim>,
    /// The ID3v2 version an MP3 output's tags are written in.
    pub id3_version: crate::profile::Id3Version,
}

/// Why a track failed: the program and what it said.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{program}` failed ({status}){}", stderr_block(.stderr))]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("cannot cut {path}: {source}", path = .path.display())]
    Cut {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: a trim of an AIFF input can only be encoded by flac", path = .path.display())]
    TrimAiff { path: std::path::PathBuf },
    #[error("writing ID3v2.4 tags to {path}: {source}", path = .path.display())]
    Id3 {
        path: std::path::PathBuf,
        source: id3::Error,
    },
}

fn stderr_block(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(":\n{trimmed}")
    }
}

/// Encodes `job` into `out` (a temporary file: the caller renames it into place), tags included.
pub fn encode(profile: &Profile, job: &Job, out: &Path) -> Result<(), EncodeError> {
    // A trim is flac's --skip/--until wherever flac reads the input (decoding a FLAC input, or
    // encoding to FLAC); any other encoder reads a WAVE cut here, on its stdin.
    let flac_trim = job.trim.filter(|_| profile.encoder == Encoder::Flac);
    let cut = match (job.trim, job.format) {
        (Some(trim), InputFormat::Wave) if flac_trim.is_none() => Some(
            crate::wavecut::open(job.input, trim).map_err(|source| EncodeError::Cut {
                path: job.input.to_path_buf(),
                source,
            })?,
        ),
        (Some(_), InputFormat::Aiff) if flac_trim.is_none() => {
            return Err(EncodeError::TrimAiff {
                path: job.input.to_path_buf(),
            })
        }
        _ => None,
    };
    let input_arg = if job.format == InputFormat::Flac || cut.is_some() {
        "-".as_ref()
    } else {
        job.input.as_os_str()
    };
    let mut cmd = Command::new(profile.encoder.program());
    cmd.args(&profile.flags);
    match profile.encoder {
        Encoder::Flac => {
            if job.format != InputFormat::Flac {
                cmd.args(flac_trim.map(Trim::flac_args).unwrap_or_default());
            }
            cmd.arg("--force").arg("-o").arg(out).arg(input_arg);
        }
        Encoder::Lame => {
            cmd.arg(input_arg).arg(out);
        }
        Encoder::Oggenc => {
            cmd.arg("-o").arg(out).arg(input_arg);
        }
        Encoder::Opusenc => {
            for (key, value) in job.tags.pairs() {
                cmd.arg("--comment").arg(format!("{key}={value}"));
            }
            for p in job.pictures {
                cmd.arg("--picture").arg(format!(
                    "{}|{}|{}||{}",
                    p.kind,
                    p.mime,
                    p.description,
                    p.path.display()
                ));
            }
            cmd.arg(input_arg).arg(out);
        }
    }
    if job.format == InputFormat::Flac {
        let mut decoder = Command::new("flac");
        decoder.args(["-d", "-c", "-s"]);
        decoder.args(job.trim.map(Trim::flac_args).unwrap_or_default());
        decoder.arg(job.input);
        run_piped(decoder, cmd)?;
    } else if let Some(cut) = cut {
        run(cmd, Some(Box::new(cut)))?;
    } else {
        run(cmd, None)?;
    }
    write_tags(profile.encoder, job, out, true)
}

/// Rewrites the tags of an existing output copy at `out` without encoding again.
pub fn retag(encoder: Encoder, job: &Job, out: &Path) -> Result<(), EncodeError> {
    write_tags(encoder, job, out, false)
}

fn write_tags(encoder: Encoder, job: &Job, out: &Path, fresh: bool) -> Result<(), EncodeError> {
    match encoder {
        Encoder::Flac => {
            if !fresh {
                let mut rm = Command::new("metaflac");
                rm.args(["--remove", "--block-type=PICTURE"]).arg(out);
                run(rm, None)?;
            }
            let mut cmd = Command::new("metaflac");
            cmd.arg("--remove-all-tags");
            for (key, value) in job.tags.pairs() {
                cmd.arg(format!("--set-tag={key}={value}"));
            }
            for p in job.pictures {
                cmd.arg(format!(
                    "--import-picture-from={}|{}|{}||{}",
                    p.kind,
                    p.mime,
                    p.description,
                    p.path.display()
                ));
            }
            cmd.arg(out);
            run(cmd, None)
        }
        Encoder::Oggenc => {
            // Comments go through stdin: a cover's base64 can be longer than one argument may be.
            let mut text = String::new();
            for (key, value) in job.tags.pairs() {
                text.push_str(&format!("{key}={value}\n"));
            }
            for p in job.pictures {
                text.push_str(&format!(
                    "METADATA_BLOCK_PICTURE={}\n",
                    p.vorbis_comment_value()
                ));
            }
            let mut cmd = Command::new("vorbiscomment");
            cmd.args(["-w", "-R"]).arg(out);
            run(cmd, Some(Box::new(std::io::Cursor::new(text.into_bytes()))))
        }
        Encoder::Lame => crate::id3tags::write(job.tags, job.pictures, job.id3_version, out)
            .map_err(|source| EncodeError::Id3 {
                path: out.to_path_buf(),
                source,
            }),
        Encoder::Opusenc if fresh => Ok(()),
        Encoder::Opusenc => unreachable!("opus outputs are encoded again, never retagged"),
    }
}

fn spawn(cmd: &mut Command) -> Result<Child, EncodeError> {
    cmd.spawn().map_err(|source| EncodeError::Spawn {
        program: program_of(cmd),
        source,
    })
}

fn program_of(cmd: &Command) -> String {
    cmd.get_program().to_string_lossy().into_owned()
}

/// Runs `cmd` to completion, feeding it `stdin`; a non-zero exit is an error carrying stderr.
fn run(mut cmd: Command, stdin: Option<Box<dyn Read + Send>>) -> Result<(), EncodeError> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = spawn(&mut cmd)?;
    let feeder = stdin.map(|mut input| {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        std::thread::spawn(move || {
            // A program that exits early closes the pipe; its exit status tells why.
            let _ = std::io::copy(&mut input, &mut pipe);
        })
    });
    let output = child
        .wait_with_output()
        .map_err(|source| EncodeError::Spawn {
            program: program_of(&cmd),
            source,
        })?;
    if let Some(f) = feeder {
        let _ = f.join();
    }
    check(&cmd, output.status, &output.stderr)
}

/// Runs `producer | consumer` without a shell; both must succeed.
fn run_piped(mut producer: Command, mut consumer: Command) -> Result<(), EncodeError> {
    producer
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut first = spawn(&mut producer)?;
    let pipe = first.stdout.take().expect("stdout is piped");
    consumer
        .stdin(Stdio::from(pipe))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut first_err = first.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = first_err.read_to_end(&mut s);
        s
    });
    let second = match spawn(&mut consumer) {
        Ok(c) => c,
        Err(e) => {
            let _ = first.kill();
            let _ = first.wait();
            return Err(e);
        }
    };
    let output = second
        .wait_with_output()
        .map_err(|source| EncodeError::Spawn {
            program: program_of(&consumer),
            source,
        })?;
    let status = first.wait().map_err(|source| EncodeError::Spawn {
        program: program_of(&producer),
        source,
    })?;
    let first_stderr = reader.join().unwrap_or_default();
    check(&producer, status, &first_stderr)?;
    check(&consumer, output.status, &output.stderr)
}

fn check(
    cmd: &Command,
    status: std::process::ExitStatus,
    stderr: &[u8],
) -> Result<(), EncodeError> {
    if status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(stderr);
    // Encoders print progress to stderr; the end holds the reason.
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(EncodeError::Failed {
        program: program_of(cmd),
        status: status.to_string(),
        stderr: tail,
    })
}

/// The first line of `program --version`, identifying the encoder in every output's key.
pub fn version(program: &str) -> Result<String, std::io::Error> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    let text = String::from_utf8_lossy(&text);
    Ok(text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string())
}
