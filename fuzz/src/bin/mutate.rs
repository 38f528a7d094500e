//! `mutate TARGET SECONDS [SEED]`: runs one target under the seeded mutator for a bounded time.
//! Exits 1 on a panic or a hang, naming the input file that caused it.

use std::path::PathBuf;
use std::time::Duration;
use vibes_fuzz::mutate::{self, Finding};
use vibes_fuzz::Target;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: mutate TARGET SECONDS [SEED]; targets: config, profile, tags_vc, vibes_txt, saved_plan";
    let (Some(target), Some(seconds)) = (
        args.first().and_then(|t| Target::by_name(t)),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let seed = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("artifacts");
    std::fs::create_dir_all(&out).expect("create fuzz/artifacts");
    match mutate::run(
        target,
        &root.join("seeds"),
        &out,
        Duration::from_secs(seconds),
        seed,
        Duration::from_secs(10),
    ) {
        Ok(f) => println!(
            "{}: {} executions in {seconds} s (seed {seed}), no panic, no hang",
            target.name(),
            f.executions
        ),
        Err(Finding::Panic { input, message }) => {
            eprintln!(
                "{}: PANIC (seed {seed}): {message}\n  input: {}",
                target.name(),
                input.display()
            );
            std::process::exit(1);
        }
        Err(Finding::Hang { input, seconds }) => {
            eprintln!(
                "{}: HANG over {seconds} s (seed {seed})\n  input: {}",
                target.name(),
                input.display()
            );
            std::process::exit(1);
        }
    }
}
