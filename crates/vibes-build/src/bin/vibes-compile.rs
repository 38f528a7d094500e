//! `vibes-compile SOURCES OUT NAME=PROFILE_FILE... [--jobs N] [--allow-empty] [--fail-fast] [--format auto|vibes|mustup]`: the compile engine on its own,
//! printing a line per output. It is what a worker runs, and what the interruption test and
//! bench/compile.sh drive.

use std::process::ExitCode;

use vibes_build::{build, BuildOptions, Outcome, Progress, TrackEvent};

struct Lines;

impl Progress for Lines {
    fn start(&self, outputs: usize, work: usize) {
        println!("{outputs} outputs, {work} to build");
    }
    fn track(&self, e: &TrackEvent<'_>) {
        match e.outcome {
            Outcome::Failed(message) => eprintln!(
                "FAILED {}/{} ({}): {message}",
                e.profile,
                e.output.display(),
                e.source.display()
            ),
            other => println!("{other:?} {}/{}", e.profile, e.output.display()),
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let usage = "usage: vibes-compile SOURCES OUT NAME=PROFILE_FILE... [--jobs N] [--allow-empty] [--fail-fast] [--format auto|vibes|mustup]";
    let (Some(sources), Some(out)) = (args.next(), args.next()) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let mut opts = BuildOptions {
        sources: sources.into(),
        out: out.into(),
        profiles: Vec::new(),
        jobs: 0,
        allow_empty: false,
        format: Default::default(),
        rebuild: false,
        fail_fast: false,
    };
    while let Some(arg) = args.next() {
        if arg == "--allow-empty" {
            opts.allow_empty = true;
            continue;
        }
        if arg == "--fail-fast" {
            opts.fail_fast = true;
            continue;
        }
        if arg == "--format" {
            match args.next().map(|f| f.parse()) {
                Some(Ok(f)) => opts.format = f,
                Some(Err(e)) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
                None => {
                    eprintln!("{usage}");
                    return ExitCode::from(2);
                }
            }
            continue;
        }
        if arg == "--jobs" {
            match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => opts.jobs = n,
                None => {
                    eprintln!("{usage}");
                    return ExitCode::from(2);
                }
            }
            continue;
        }
        let Some((name, file)) = arg.split_once('=') else {
            eprintln!("{usage}");
            return ExitCode::from(2);
        };
        match std::fs::read_to_string(file) {
            Ok(text) => opts.profiles.push((name.to_string(), text)),
            Err(e) => {
                eprintln!("{file}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    match build(&opts, &Lines) {
        Ok(summary) => {
            for w in &summary.warnings {
                eprintln!("{w}");
            }
            for b in &summary.left_out {
                eprintln!("LEFT OUT {}: {}", b.rel.display(), b.fault);
            }
            println!("{summary}");
            if summary.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
