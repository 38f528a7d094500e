//! Every target survives a few seconds of mutated input from a fixed seed, so `cargo test`
//! catches a parser that panics on hostile input without libFuzzer.

use std::path::PathBuf;
use std::time::Duration;
use vibes_fuzz::mutate;
use vibes_fuzz::Target;

#[test]
fn every_parser_survives_mutated_input() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    for target in Target::ALL {
        let seeds = mutate::seeds(&root.join("seeds"), target);
        assert!(seeds.len() >= 2, "{} has seed inputs", target.name());
        match mutate::run(
            target,
            &root.join("seeds"),
            out.path(),
            Duration::from_secs(2),
            7,
            Duration::from_secs(10),
        ) {
            Ok(f) => assert!(
                f.executions > 100,
                "{}: {} executions",
                target.name(),
                f.executions
            ),
            Err(finding) => panic!("{}: {finding:?}", target.name()),
        }
    }
}
