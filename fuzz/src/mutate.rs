//! A small seeded mutator for running the targets without libFuzzer (the stable toolchain has
//! no `-Zsanitizer=fuzzer`): it starts from the seed files in `seeds/<target>/`, applies random
//! edits biased towards what breaks parsers (separators, quotes, brackets, path traversal,
//! huge numbers, invalid UTF-8, long lines), and runs every result. A panic is caught and the
//! input that caused it is written out; an input that takes too long stops the run as a hang.

use crate::Target;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Pieces that parsers of these formats trip on.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"=",
    b"+",
    b"-",
    b"[",
    b"]",
    b"[[",
    b"]]",
    b"\"",
    b"'",
    b"\"\"\"",
    b"{",
    b"}",
    b",",
    b".",
    b"#",
    b"\\",
    b"../",
    b"../../etc/passwd",
    b"/etc/passwd",
    b"~/",
    b"outside/",
    b"\0",
    b"\xff\xfe",
    b"\xc3",
    b"18446744073709551616",
    b"-1",
    b"0",
    b"1e999",
    b"true",
    b"null",
    b"CONFIG_",
    b"CONFIG_ENCODER=",
    b"apic=",
    b"3:jpeg:",
    b"TITLE=",
    b"[keys.",
    b"[profiles.",
    b"[stacks.",
    b"path = ",
    b"format_version",
    b"\"edges\"",
    b"\"actions\"",
    b"[0,0]",
    b"[1,0]",
    b"\xf0\x9f\x8e\xb5",
];

/// What went wrong in a run.
#[derive(Debug)]
pub enum Finding {
    Panic { input: PathBuf, message: String },
    Hang { input: PathBuf, seconds: u64 },
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Figures {
    pub executions: u64,
}

pub fn seeds(dir: &Path, target: Target) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir.join(target.name()))
        .into_iter()
        .flatten()
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect();
    out.sort();
    if target == Target::SavedPlan {
        out.extend(saved_plan_seed());
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

fn mutate(rng: &mut fastrand::Rng, corpus: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..rng.usize(1..=4) {
        let at = rng.usize(0..=input.len());
        match rng.u8(0..7) {
            0 => input
                .splice(at..at, rng.choice(TOKENS).unwrap().iter().copied())
                .for_each(drop),
            1 if !input.is_empty() => {
                let i = rng.usize(0..input.len());
                input[i] ^= 1 << rng.u8(0..8);
            }
            2 if !input.is_empty() => {
                let end = (at + rng.usize(0..16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 if !input.is_empty() => {
                let start = rng.usize(0..input.len());
                let end = (start + rng.usize(1..64)).min(input.len());
                let piece = input[start..end].to_vec();
                input.splice(at..at, piece).for_each(drop);
            }
            4 => {
                let other = rng.choice(corpus).unwrap();
                if !other.is_empty() {
                    let start = rng.usize(0..other.len());
                    input
                        .splice(at..at, other[start..].iter().copied())
                        .for_each(drop);
                }
            }
            5 => input
                .splice(
                    at..at,
                    std::iter::repeat(rng.u8(..)).take(rng.usize(1..4096)),
                )
                .for_each(drop),
            _ => input.insert(at, rng.u8(..)),
        }
    }
    input.truncate(64 * 1024);
}

/// Runs `target` over mutated seeds for `budget`. `out` receives the input that failed.
pub fn run(
    target: Target,
    seed_dir: &Path,
    out: &Path,
    budget: Duration,
    seed: u64,
    hang_after: Duration,
) -> Result<Figures, Finding> {
    let corpus = seeds(seed_dir, target);
    let mut rng = fastrand::Rng::with_seed(seed);
    let executions = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + budget;
    // A watchdog: if the count stops moving for `hang_after`, the current input hangs.
    let (beat, heart) = mpsc::channel::<()>();
    let current = out.join(format!("current-{}", target.name()));
    let watched = current.clone();
    let watchdog = std::thread::spawn(move || loop {
        match heart.recv_timeout(hang_after) {
            Ok(()) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => return Some(watched),
        }
    });
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = (|| {
        let mut i = 0usize;
        while Instant::now() < deadline {
            let mut input = corpus[i % corpus.len()].clone();
            i += 1;
            // The seeds themselves run as they are once; then mutated.
            if i > corpus.len() {
                mutate(&mut rng, &corpus, &mut input);
            }
            if executions.load(Ordering::Relaxed) % 256 == 0 {
                let _ = std::fs::write(&current, &input);
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| target.run(&input)));
            executions.fetch_add(1, Ordering::Relaxed);
            let _ = beat.send(());
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into());
                let path = out.join(format!(
                    "crash-{}-{:016x}",
                    target.name(),
                    fastrand::u64(..)
                ));
                let _ = std::fs::write(&path, &input);
                return Err(Finding::Panic {
                    input: path,
                    message,
                });
            }
        }
        Ok(Figures {
            executions: executions.load(Ordering::Relaxed),
        })
    })();
    std::panic::set_hook(previous_hook);
    drop(beat);
    if let Some(input) = watchdog.join().expect("the watchdog never panics") {
        return Err(Finding::Hang {
            input,
            seconds: hang_after.as_secs(),
        });
    }
    let _ = std::fs::remove_file(&current);
    result
}

/// A saved plan as `vibes plan --out` writes it today, for the example config on an empty
/// account: made fresh so the seed follows the format.
fn saved_plan_seed() -> Option<Vec<u8>> {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let desired = vibes_core::config::load(&examples.join("full.toml")).ok()?;
    let options = vibes_core::PlanOptions::default();
    let plan = vibes_core::plan(&desired, &vibes_core::Observed::default(), &options).ok()?;
    Some(
        vibes_core::saved::SavedPlan::new(plan, &options)
            .to_json()
            .into_bytes(),
    )
}
