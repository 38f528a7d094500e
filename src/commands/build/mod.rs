//! `vibes build`: compile a sources tree into profiles on this machine (what a worker runs).

mod bucket;

use std::path::PathBuf;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use miette::{miette, IntoDiagnostic, WrapErr};
use vibes_build::{BuildOptions, Outcome, Progress, TrackEvent};

#[derive(clap::Args, Debug, Default)]
pub struct BuildArgs {
    /// The sources tree, in the vibes or the mustup format (docs/source-formats.md).
    #[arg(long, value_name = "DIR")]
    pub sources: PathBuf,
    /// Where outputs go: one directory per profile.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// A profile from vibes.toml to build (repeatable). Without --profile and --profile-file,
    /// every profile of vibes.toml is built.
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    /// A tup.config profile file to build, named after its file stem (repeatable).
    #[arg(long = "profile-file", value_name = "FILE")]
    pub profile_files: Vec<PathBuf>,
    /// Encoders run at once [default: one per core].
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Build a sources tree without any track even though it removes every output already
    /// built (refused otherwise: an empty tree is most often a disk that is not mounted).
    #[arg(long)]
    pub allow_empty: bool,
    /// Encode every output again, whatever the records on the output say (after an encoder
    /// bug; `vibes apply --replace compile` asks the worker for it).
    #[arg(long)]
    pub rebuild: bool,
    /// Stop at the first fault in the sources, building nothing. Without it, a track whose
    /// sources have a fault (a picture its metadata names that is not there, a trim that keeps
    /// nothing) is left out and named at the end, its outputs kept as they were; every other
    /// track is built, and the exit status is 1.
    #[arg(long)]
    pub fail_fast: bool,
    /// The sources tree's format [default: [sources] format of vibes.toml, else auto: read
    /// from the tree's files].
    #[arg(long, value_name = "auto|vibes|mustup")]
    pub format: Option<vibes_build::SourceFormat>,
    /// Keep `{"done": N, "total": M}` in FILE as the build goes (at most once a second, and at
    /// the end): the worker publishes it for `vibes apply` to show.
    #[arg(long, value_name = "FILE")]
    pub progress_file: Option<PathBuf>,
    /// Write the build's figures to FILE as JSON when it is done (outputs encoded, retagged,
    /// up to date, failed; seconds; sources read from the bucket): the worker's report carries
    /// them, and the next plan prices a compile at the pace they show.
    #[arg(long, value_name = "FILE")]
    pub summary_file: Option<PathBuf>,
    /// Read the sources tree from this S3 bucket into --sources first, fetching only what the
    /// build needs: small files at once, audio only where an output is encoded from it (the
    /// worker's way; AWS is reached as the aws CLI would).
    #[arg(long, value_name = "BUCKET")]
    pub sources_bucket: Option<String>,
    /// The tree's key prefix in --sources-bucket.
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "",
        requires = "sources_bucket"
    )]
    pub sources_prefix: String,
}

/// Which profiles of vibes.toml a build takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigProfiles<'a> {
    /// None: only --profile-file files are built.
    None,
    /// These, by name (--profile).
    Named(&'a [String]),
    /// Every profile (neither --profile nor --profile-file given).
    All,
}

impl BuildArgs {
    pub fn config_profiles(&self) -> ConfigProfiles<'_> {
        match (self.profiles.is_empty(), self.profile_files.is_empty()) {
            (false, _) => ConfigProfiles::Named(&self.profiles),
            (true, true) => ConfigProfiles::All,
            (true, false) => ConfigProfiles::None,
        }
    }
}

/// What vibes.toml gives a build: (name, tup.config text) of the profiles asked for, and
/// `[sources] format`.
pub type FromConfig = (Vec<(String, String)>, Option<String>);

/// Runs the build; 0 when every track compiled, 1 when some failed or were left out for a
/// fault in the sources. `from_config` reads what
/// vibes.toml gives (see [`FromConfig`]); it is not called when only --profile-file is given.
pub fn run(
    args: &BuildArgs,
    from_config: impl Fn(ConfigProfiles<'_>) -> miette::Result<FromConfig>,
) -> miette::Result<i32> {
    let (mut profiles, config_format) = match args.config_profiles() {
        ConfigProfiles::None => (Vec::new(), None),
        asked => from_config(asked)?,
    };
    // --format wins over [sources] format, which the config check already validated.
    let format = match (args.format, config_format) {
        (Some(f), _) => f,
        (None, Some(f)) => f.parse().map_err(miette::Report::msg)?,
        (None, None) => vibes_build::SourceFormat::Auto,
    };
    for file in &args.profile_files {
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.trim_end_matches(".tup").to_string())
            .ok_or_else(|| miette!("{}: cannot name a profile after this file", file.display()))?;
        let limit = vibes_core::bounded::PROFILE_FILE_LIMIT;
        let bytes = vibes_core::bounded::read(file, limit)
            .into_diagnostic()
            .wrap_err_with(|| format!("reading profile file {}", file.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| miette!("profile file {} is not UTF-8 text", file.display()))?;
        profiles.push((name, text));
    }
    if profiles.is_empty() {
        return Err(miette!(help = "add a [profiles.NAME] section to vibes.toml, or give a tup.config with --profile-file FILE", "no profile to build"));
    }
    let opts = BuildOptions {
        sources: args.sources.clone(),
        out: args.out.clone(),
        profiles,
        jobs: args.jobs.unwrap_or(0),
        allow_empty: args.allow_empty,
        format,
        rebuild: args.rebuild,
        fail_fast: args.fail_fast,
    };
    let remote = match &args.sources_bucket {
        Some(b) => Some(bucket::BucketTree::open(
            b,
            &args.sources_prefix,
            &args.sources,
        )?),
        None => None,
    };
    let progress = CliProgress::new(args.progress_file.clone());
    let summary = match &remote {
        Some(tree) => {
            let deferred = vibes_build::Deferred {
                hashes: tree.deferred(),
                fetch: tree,
            };
            vibes_build::build_with(&opts, &progress, Some(&deferred))?
        }
        None => vibes_build::build(&opts, &progress)?,
    };
    progress.finish();
    if let Some(tree) = &remote {
        errln!("{}", tree.summary());
    }
    if let Some(file) = &args.summary_file {
        let (read_files, read_bytes) = remote.as_ref().map_or((0, 0), |t| t.read());
        let figures = vibes_core::status::BuildFigures {
            encoded: summary.encoded,
            retagged: summary.retagged,
            up_to_date: summary.up_to_date,
            failed: summary.failed.len(),
            seconds: summary.elapsed.as_secs_f64(),
            read_files,
            read_bytes,
        };
        let json = serde_json::to_string(&figures).expect("figures serialize");
        std::fs::write(file, json + "\n")
            .into_diagnostic()
            .wrap_err_with(|| format!("writing {}", file.display()))?;
    }
    for w in &summary.warnings {
        errln!("{w}");
    }
    for f in &summary.failed {
        errln!(
            "failed: {} → {}/{}\n{}",
            f.source.display(),
            f.profile,
            f.output.display(),
            indent(&f.message)
        );
    }
    if !summary.left_out.is_empty() {
        errln!("left out for faults in the sources (their outputs are as they were):");
        for b in &summary.left_out {
            errln!("  {}: {}", b.rel.display(), b.fault);
        }
    }
    outln!("{summary}");
    Ok(if summary.complete() { 0 } else { 1 })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A bar on a terminal, a line per output otherwise (CI logs, a worker's console).
struct CliProgress {
    bar: Mutex<Option<ProgressBar>>,
    terminal: bool,
    /// `--progress-file`, with what it says.
    file: Option<(PathBuf, Mutex<Counted>)>,
}

/// Outputs done, outputs to do, and when the progress file was last written.
type Counted = (usize, usize, Option<std::time::Instant>);

impl CliProgress {
    fn new(file: Option<PathBuf>) -> Self {
        CliProgress {
            bar: Mutex::new(None),
            terminal: crate::style::stderr_is_terminal(),
            file: file.map(|f| (f, Mutex::new((0, 0, None)))),
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
        self.count(None, true);
    }

    /// Counts one output done (or sets the total) and writes the progress file when a second
    /// has passed since the last write, or when `force`d. Through a temporary file and a rename,
    /// so that a reader never sees half of it; a failed write only loses a progress report.
    fn count(&self, total: Option<usize>, force: bool) {
        let Some((path, state)) = &self.file else {
            return;
        };
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        match total {
            Some(t) => s.1 = t,
            None if !force => s.0 += 1,
            None => {}
        }
        let due =
            s.2.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1));
        if !(force || due) {
            return;
        }
        s.2 = Some(std::time::Instant::now());
        let body = format!("{{\"done\": {}, \"total\": {}}}\n", s.0, s.1);
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, body).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

impl Progress for CliProgress {
    fn start(&self, outputs: usize, work: usize) {
        self.count(Some(work), true);
        if !self.terminal {
            errln!("{outputs} tracks, {work} to build");
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(work as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    fn track(&self, e: &TrackEvent<'_>) {
        self.count(None, false);
        let what = match e.outcome {
            Outcome::Encoded => "encoded",
            Outcome::Retagged => "retagged",
            Outcome::UpToDate => "up to date",
            Outcome::Failed(_) => "FAILED",
        };
        let line = format!("{what} {}/{}", e.profile, e.output.display());
        match &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(bar) => {
                if matches!(e.outcome, Outcome::Failed(_)) {
                    bar.println(&line);
                }
                bar.set_message(line);
                bar.inc(1);
            }
            None => errln!("{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_profile_named_every_profile_of_the_config_is_built() {
        let mut args = BuildArgs::default();
        assert_eq!(args.config_profiles(), ConfigProfiles::All);
        args.profile_files = vec!["archive.config".into()];
        assert_eq!(
            args.config_profiles(),
            ConfigProfiles::None,
            "a profile file alone needs no vibes.toml"
        );
        args.profiles = vec!["phone".into()];
        assert_eq!(
            args.config_profiles(),
            ConfigProfiles::Named(&["phone".to_string()])
        );
    }
}
