//! One build: scan the tree, decide per output what to do, do it on a pool, then playlists,
//! removals and the manifests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::deferred::Deferred;
use crate::encode::{self, Job};
use crate::hashcache::HashCache;
use crate::manifest::{Manifest, OutputRecord, StoredManifest};
use crate::picture::LoadedPicture;
use crate::picture_cache::PictureCache;
use crate::profile::{Encoder, Profile, ProfileSetupError};
use crate::relpath::slash;
pub use crate::report::{BuildSummary, Failure, Outcome, Progress, TrackEvent};
use crate::source::{self, SourceError, SourceFormat, SourceTree, Track};
use crate::{atomic, bookkeeping, playlist, pool};

/// Bumped when the way outputs are made changes, so that every output is made again.
const RECIPE: &str = "vibes-build/1";

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub sources: PathBuf,
    pub out: PathBuf,
    /// (name, tup.config text) for each profile to build.
    pub profiles: Vec<(String, String)>,
    /// Encoders run at once; 0 means one per core.
    pub jobs: usize,
    /// Build even when the sources tree has no track while the output holds outputs, which
    /// removes them all. Without it such a build is refused: an empty tree is far more often
    /// a disk that is not mounted (or a sync that went wrong) than a collection emptied on purpose.
    pub allow_empty: bool,
    /// The sources tree's format; `Auto` reads it from the tree's files.
    pub format: SourceFormat,
    /// Encode every output again, whatever the records say (after an encoder bug, or a build
    /// volume whose outputs are not to be trusted).
    pub rebuild: bool,
    /// Stop at the first fault in the sources, before anything is written. Without it, a
    /// track (or directory) with a fault is left out, its outputs kept as they were, and
    /// every other track is built.
    pub fail_fast: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BuildError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Profile(#[from] ProfileSetupError),
    #[error("{0} (--fail-fast: nothing is built while the sources have a fault)")]
    FailFast(String),
    #[error("no profile to build: name one with --profile or give a --profile-file")]
    NoProfiles,
    #[error("profile `{0}` is given twice")]
    DuplicateProfile(String),
    #[error("`{program}` is needed for profile `{profile}` but cannot be run: {source}")]
    #[diagnostic(help(
        "install it (the worker image has every encoder vibes uses), or remove the profile"
    ))]
    MissingProgram {
        program: String,
        profile: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the output directory {out} lies inside the sources tree {sources}", out = .out.display(), sources = .sources.display())]
    OutInsideSources { out: PathBuf, sources: PathBuf },
    #[error("the sources tree {sources} has no track, and building it would remove all {outputs} outputs under {out}; check that the sources are there (a disk not mounted?), or pass --allow-empty to remove them", sources = .sources.display(), out = .out.display())]
    EmptySources {
        sources: PathBuf,
        out: PathBuf,
        outputs: usize,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What to do for one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    Encode,
    Retag,
}

struct Item {
    profile: usize,
    track: usize,
    output: PathBuf,
    work: Work,
    record: OutputRecord,
}

/// Compiles `opts.sources` into every profile under `opts.out`.
pub fn build(opts: &BuildOptions, progress: &dyn Progress) -> Result<BuildSummary, BuildError> {
    build_with(opts, progress, None)
}

/// [`build`] over a tree whose audio may stand as placeholders ([`Deferred`]): their hashes
/// are taken as given, and only the ones an output is encoded from are fetched.
pub fn build_with(
    opts: &BuildOptions,
    progress: &dyn Progress,
    deferred: Option<&Deferred<'_>>,
) -> Result<BuildSummary, BuildError> {
    let started = Instant::now();
    let profiles = parse_profiles(&opts.profiles)?;
    let tree = source::scan_as(&opts.sources, opts.format)?;
    if let (true, Some(first)) = (opts.fail_fast, tree.broken.first()) {
        return Err(BuildError::FailFast(first.fault.clone()));
    }
    let versions = probe_tools(&profiles)?;

    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;
    let out = opts.out.canonicalize().map_err(io_err(&opts.out))?;
    let sources_root = opts.sources.canonicalize().map_err(io_err(&opts.sources))?;
    if out.starts_with(&sources_root) {
        return Err(BuildError::OutInsideSources {
            out,
            sources: sources_root,
        });
    }
    if tree.tracks.is_empty() && !opts.allow_empty {
        // Before anything is written or removed: an empty tree would remove every output.
        let outputs: usize = profiles
            .iter()
            .map(|p| StoredManifest::load(&out, &p.name).manifest.outputs.len())
            .sum();
        if outputs > 0 {
            return Err(BuildError::EmptySources {
                sources: sources_root,
                out,
                outputs,
            });
        }
    }
    let jobs = if opts.jobs == 0 {
        pool::cores()
    } else {
        opts.jobs
    };
    // Temporary files of records a killed build was writing.
    atomic::clean_temps(&out.join(bookkeeping::DIR)).map_err(io_err(&out))?;
    let cache = HashCache::load(&out);

    // Content hashes of every input and picture, read in parallel (cached by size and mtime).
    let mut files: Vec<PathBuf> = tree.tracks.iter().map(|t| t.path.clone()).collect();
    let picture_paths: HashSet<PathBuf> = tree
        .tracks
        .iter()
        .flat_map(|t| t.pictures.iter().map(|p| p.path.clone()))
        .collect();
    files.extend(picture_paths);
    let hashes: HashMap<PathBuf, Result<String, String>> = files
        .iter()
        .cloned()
        .zip(pool::map(&files, jobs, |f| {
            match deferred.and_then(|d| d.hash_of(&sources_root, f)) {
                Some(known) => Ok(known.clone()),
                None => cache
                    .hash(f)
                    .map_err(|e| format!("cannot read {}: {e}", f.display())),
            }
        }))
        .collect();
    // Pictures are read when a track is written, not here: a collection's covers can be more
    // than the machine's memory.
    let pictures = PictureCache::for_jobs(jobs);

    let mut summary = BuildSummary {
        skipped: tree.skipped,
        warnings: tree.warnings.clone(),
        left_out: tree.broken.clone(),
        ..Default::default()
    };
    let mut manifests = Vec::new();
    let mut items = Vec::new();
    let mut early_failures: Vec<(usize, usize, PathBuf, String)> = Vec::new();
    for (pi, profile) in profiles.iter().enumerate() {
        let dir = out.join(&profile.name);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        atomic::clean_temps(&dir).map_err(io_err(&dir))?;
        let mut stored = StoredManifest::load(&out, &profile.name);
        let manifest = &mut stored.manifest;
        let mut wanted = HashSet::new();
        for (ti, track) in tree.tracks.iter().enumerate() {
            summary.tracks += 1;
            let output = track.output(profile.extension());
            let key = slash(&output);
            wanted.insert(key.clone());
            let record = match record_for(profile, track, &versions[&profile.encoder], &hashes) {
                Ok(r) => r,
                Err(message) => {
                    manifest.outputs.remove(&key);
                    early_failures.push((pi, ti, output, message));
                    continue;
                }
            };
            let exists = dir.join(&output).is_file();
            let work = match manifest.outputs.get(&key).filter(|_| !opts.rebuild) {
                Some(old) if exists && old.audio == record.audio && old.tags == record.tags => None,
                Some(old) if exists && old.audio == record.audio && profile.encoder.can_retag() => {
                    Some(Work::Retag)
                }
                _ => Some(Work::Encode),
            };
            match work {
                None => summary.up_to_date += 1,
                Some(work) => items.push(Item {
                    profile: pi,
                    track: ti,
                    output,
                    work,
                    record,
                }),
            }
        }
        // Outputs whose source is gone or now skipped; those of a track left out for a fault
        // stay as they were.
        let stale: Vec<String> = manifest
            .outputs
            .keys()
            .filter(|k| !wanted.contains(*k) && !left_out(&tree, k))
            .cloned()
            .collect();
        for key in stale {
            atomic::remove_with_empty_parents(&dir.join(&key), &dir)
                .map_err(io_err(&dir.join(&key)))?;
            manifest.outputs.remove(&key);
            summary.removed += 1;
        }
        manifests.push(Mutex::new((stored, Instant::now())));
    }

    // The audio still to fetch is what an encode reads; a retag rewrites the output alone.
    let unfetched = deferred
        .map(|d| {
            let encoded = items.iter().filter(|i| i.work == Work::Encode);
            d.fetch_needed(
                &sources_root,
                encoded.map(|i| tree.tracks[i.track].path.clone()),
            )
        })
        .unwrap_or_default();
    progress.start(summary.tracks, items.len() + early_failures.len());
    for (pi, ti, output, message) in early_failures {
        let outcome = Outcome::Failed(message.clone());
        progress.track(&TrackEvent {
            profile: &profiles[pi].name,
            output: &output,
            source: &tree.tracks[ti].rel,
            outcome: &outcome,
        });
        summary.failed.push(Failure {
            profile: profiles[pi].name.clone(),
            source: tree.tracks[ti].rel.clone(),
            output,
            message,
        });
    }

    let outcomes = pool::map(&items, jobs, |item| {
        let profile = &profiles[item.profile];
        let track = &tree.tracks[item.track];
        let dir = out.join(&profile.name);
        let ran = match unfetched.get(&track.path) {
            Some(why) => Err(why.clone()),
            None => run_item(profile, track, item, &dir, &pictures),
        };
        let outcome = match ran {
            Ok(()) => {
                let mut guard = manifests[item.profile]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                guard
                    .0
                    .manifest
                    .outputs
                    .insert(slash(&item.output), item.record.clone());
                // Saved now and then, so that a killed build keeps most of its work.
                if guard.1.elapsed() > Duration::from_secs(2) {
                    let _ = guard.0.save();
                    guard.1 = Instant::now();
                }
                if item.work == Work::Encode {
                    Outcome::Encoded
                } else {
                    Outcome::Retagged
                }
            }
            Err(message) => {
                manifests[item.profile]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .0
                    .manifest
                    .outputs
                    .remove(&slash(&item.output));
                Outcome::Failed(message)
            }
        };
        progress.track(&TrackEvent {
            profile: &profile.name,
            output: &item.output,
            source: &track.rel,
            outcome: &outcome,
        });
        outcome
    });
    for (item, outcome) in items.iter().zip(outcomes) {
        match outcome {
            Outcome::Encoded => summary.encoded += 1,
            Outcome::Retagged => summary.retagged += 1,
            Outcome::UpToDate => summary.up_to_date += 1,
            Outcome::Failed(message) => summary.failed.push(Failure {
                profile: profiles[item.profile].name.clone(),
                source: tree.tracks[item.track].rel.clone(),
                output: item.output.clone(),
                message,
            }),
        }
    }

    for (profile, manifest) in profiles.iter().zip(manifests) {
        let dir = out.join(&profile.name);
        let (mut stored, _) = manifest.into_inner().unwrap_or_else(|p| p.into_inner());
        let (written, removed) = write_playlists(profile, &tree, &dir, &mut stored.manifest)?;
        summary.playlists_written += written;
        summary.removed += removed;
        let record = bookkeeping::manifest_path(&out, &profile.name);
        stored.save().map_err(io_err(&record))?;
    }
    let keep: HashSet<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    cache
        .save(&keep)
        .map_err(io_err(&bookkeeping::hashes_path(&out)))?;

    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Whether the output or playlist at `key` is one of a track (or directory, or playlist) left
/// out for a fault: it stays as it was.
fn left_out(tree: &SourceTree, key: &str) -> bool {
    tree.broken.iter().any(|b| b.covers(key))
}

fn parse_profiles(given: &[(String, String)]) -> Result<Vec<Profile>, BuildError> {
    if given.is_empty() {
        return Err(BuildError::NoProfiles);
    }
    let mut seen = HashSet::new();
    given
        .iter()
        .map(|(name, text)| {
            if !seen.insert(name.as_str()) {
                return Err(BuildError::DuplicateProfile(name.clone()));
            }
            Ok(Profile::parse(name, text)?)
        })
        .collect()
}

/// Each encoder's version (and its tagger's), asked once per build: a new encoder version
/// makes new outputs.
fn probe_tools(profiles: &[Profile]) -> Result<HashMap<Encoder, String>, BuildError> {
    let mut versions = HashMap::new();
    for p in profiles {
        if versions.contains_key(&p.encoder) {
            continue;
        }
        let mut programs = vec![p.encoder.program()];
        match p.encoder {
            Encoder::Flac => programs.push("metaflac"),
            Encoder::Oggenc => programs.push("vorbiscomment"),
            Encoder::Lame | Encoder::Opusenc => {}
        }
        let mut parts = Vec::new();
        for program in programs {
            let v = encode::version(program).map_err(|source| BuildError::MissingProgram {
                program: program.to_string(),
                profile: p.name.clone(),
                source,
            })?;
            parts.push(v);
        }
        versions.insert(p.encoder, parts.join("; "));
    }
    // FLAC inputs are decoded by flac whatever the profile's encoder.
    if !versions.contains_key(&Encoder::Flac) {
        if let Ok(v) = encode::version("flac") {
            versions
                .values_mut()
                .for_each(|s| s.push_str(&format!("; decoder {v}")));
        }
    }
    Ok(versions)
}

fn record_for(
    profile: &Profile,
    track: &Track,
    version: &str,
    hashes: &HashMap<PathBuf, Result<String, String>>,
) -> Result<OutputRecord, String> {
    let input = hashes[&track.path].clone()?;
    let config = profile.config.to_text();
    let mut audio_parts = vec![RECIPE, &input, &config, version];
    // Only a trimmed track hashes its trim: every other output keeps the key it had.
    let trim = track.trim.as_ref().map(|t| format!("trim {}", t.key()));
    audio_parts.extend(trim.as_deref());
    let audio = digest(&audio_parts);
    let mut tag_parts: Vec<String> = vec![RECIPE.into(), version.into()];
    tag_parts.extend(track.tags.pairs().map(|(k, v)| format!("{k}={v}")));
    for p in &track.pictures {
        let h = hashes[&p.path].clone()?;
        tag_parts.push(format!("picture {} {} {h}", p.kind, p.mime));
        // Only a described picture hashes its description: other outputs keep their keys.
        if !p.description.is_empty() {
            tag_parts.push(format!("description {}", p.description));
        }
    }
    let tags = digest(&tag_parts.iter().map(String::as_str).collect::<Vec<_>>());
    Ok(OutputRecord {
        source: slash(&track.rel),
        audio,
        tags,
    })
}

/// SHA-256 over length-prefixed parts, so that no two lists of parts hash alike.
fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

fn run_item(
    profile: &Profile,
    track: &Track,
    item: &Item,
    dir: &Path,
    pictures: &PictureCache,
) -> Result<(), String> {
    let final_path = dir.join(&item.output);
    if let Some(parent) = final_path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let loaded: Vec<LoadedPicture> = track
        .pictures
        .iter()
        .map(|p| {
            pictures
                .get(p)
                .map_err(|e| format!("cannot read picture {}: {e}", p.path.display()))
        })
        .collect::<Result<_, _>>()?;
    let job = Job {
        input: &track.path,
        format: track.format,
        tags: &track.tags,
        pictures: &loaded,
        trim: track.trim.as_ref(),
        id3_version: profile.id3_version,
    };
    if item.work == Work::Encode {
        // The source's own header first, for every profile alike: no encoder is given a file
        // that is not audio, nor a trim past its end.
        let audio = crate::probe::probe(&track.path)?;
        if let Some(why) = track
            .trim
            .as_ref()
            .and_then(|t| crate::probe::trim_fault(t, audio.duration))
        {
            return Err(why);
        }
    }
    let tmp = atomic::temp_path(&final_path);
    let result = match item.work {
        Work::Encode => encode::encode(profile, &job, &tmp).map_err(|e| e.to_string()),
        Work::Retag => std::fs::copy(&final_path, &tmp)
            .map_err(|e| format!("cannot copy {}: {e}", final_path.display()))
            .and_then(|_| encode::retag(profile.encoder, &job, &tmp).map_err(|e| e.to_string())),
    };
    let result = result.and_then(|()| {
        std::fs::rename(&tmp, &final_path)
            .map_err(|e| format!("cannot rename into {}: {e}", final_path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes the playlists the tree asks for (listing the outputs that exist) and removes the
/// ones it no longer asks for. Returns (written, removed).
fn write_playlists(
    profile: &Profile,
    tree: &SourceTree,
    dir: &Path,
    manifest: &mut Manifest,
) -> Result<(usize, usize), BuildError> {
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    if profile.playlists() {
        for pl in &tree.playlists {
            let entries: Vec<(PathBuf, &source::Tags)> = pl
                .tracks
                .iter()
                .map(|&i| {
                    (
                        tree.tracks[i].output(profile.extension()),
                        &tree.tracks[i].tags,
                    )
                })
                .filter(|(o, _)| manifest.outputs.contains_key(&slash(o)))
                .collect();
            if entries.is_empty() {
                continue;
            }
            let path = pl
                .file
                .clone()
                .unwrap_or_else(|| playlist::path_for(&pl.dir, &profile.name));
            let text = playlist::render(&pl.dir, pl.title.as_deref(), &entries);
            wanted.insert(slash(&path), text);
        }
    }
    let mut written = 0;
    for (rel, text) in &wanted {
        let hash = digest(&[text]);
        let path = dir.join(rel);
        if manifest.playlists.get(rel) == Some(&hash) && path.is_file() {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        atomic::write(&path, text.as_bytes()).map_err(io_err(&path))?;
        manifest.playlists.insert(rel.clone(), hash);
        written += 1;
    }
    let stale: Vec<String> = manifest
        .playlists
        .keys()
        .filter(|k| !wanted.contains_key(*k) && !left_out(tree, k))
        .cloned()
        .collect();
    for rel in &stale {
        atomic::remove_with_empty_parents(&dir.join(rel), dir).map_err(io_err(&dir.join(rel)))?;
        manifest.playlists.remove(rel);
    }
    Ok((written, stale.len()))
}
