//! Benchmark: the local half of a no-op sources sync — deciding that nothing changed — on a
//! large tree. `vibes plan` and `vibes apply` scan the sources tree with a hash cache
//! (`.vibes/sources-hashes.json`): a file whose size and modification time match its cache entry
//! is not read again. Goal: under 1 s of local work for 50 000 files with a warm cache.
//!
//!     cargo run --release -p vibes-core --example scan_noop -- [FILES=50000]
//!
//! Prints the cold scan (every file hashed), the warm scan (cache hits only) and, as the
//! baseline, `sha256sum` over the same files — what a script that checks contents would pay.

use std::path::Path;
use std::time::Instant;

fn make_tree(root: &Path, files: usize) {
    // Artist/album directories of 20 tracks, as a collection is laid out; 4 KiB each.
    let body = vec![0x5au8; 4096];
    for i in 0..files {
        let dir = root.join(format!("artist{}/album{}", i / 1000, (i / 20) % 50));
        if i % 20 == 0 {
            std::fs::create_dir_all(&dir).expect("create album");
        }
        let mut b = body.clone();
        b[..8].copy_from_slice(&(i as u64).to_le_bytes());
        std::fs::write(dir.join(format!("{}-track.wav", i % 20 + 1)), &b).expect("write track");
    }
}

fn main() {
    let files: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("FILES is a number"))
        .unwrap_or(50_000);
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("music");
    let cache = work.path().join("sources-hashes.json");
    let t = Instant::now();
    make_tree(&root, files);
    println!(
        "tree: {files} files of 4 KiB made in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let (cold, stats) = vibes_core::scan::scan(&root, Some(&cache)).expect("cold scan");
    println!(
        "cold scan: {:.3} s ({} files, {} hashed, {} MiB read)",
        t.elapsed().as_secs_f64(),
        stats.files,
        stats.hashed,
        stats.hashed_bytes >> 20
    );

    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let (warm, stats) = vibes_core::scan::scan(&root, Some(&cache)).expect("warm scan");
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(stats.hashed, 0, "a warm cache hashes nothing");
        assert_eq!(warm.files.len(), cold.files.len());
    }
    println!("warm scan (no-op decision, best of 3): {best:.3} s");

    let t = Instant::now();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("find . -type f -print0 | xargs -0 sha256sum > /dev/null")
        .current_dir(&root)
        .status()
        .expect("run sha256sum");
    assert!(status.success());
    let baseline = t.elapsed().as_secs_f64();
    println!(
        "baseline, find | xargs sha256sum: {baseline:.3} s; warm scan is {:.1}x faster",
        baseline / best
    );
}
