#!/usr/bin/env bash
# Runs every hostile-input target for a bounded time (FUZZ_SECONDS each, default 20) and exits
# non-zero on a panic or a hang. With cargo-fuzz installed it uses libFuzzer (on the stable
# toolchain through RUSTC_BOOTSTRAP=1, which lets `-Zsanitizer=fuzzer` through); otherwise it
# runs the same targets under the seeded mutator in fuzz/src/mutate.rs.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-20}"
targets=(config profile tags_vc vibes_txt saved_plan mustup_yaml)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if cargo fuzz --version >/dev/null 2>&1 && [ "${FUZZ_ENGINE:-libfuzzer}" = libfuzzer ]; then
    export RUSTC_BOOTSTRAP=1
    for t in "${targets[@]}"; do
        mkdir -p "corpus/$t"
        cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
        echo "== $t (libFuzzer, ${seconds}s)"
        cargo fuzz run --features libfuzzer "$t" "corpus/$t" -- -max_total_time="$seconds" -timeout=10 -max_len=65536
    done
else
    echo "cargo-fuzz is not installed: running the targets under the seeded mutator" >&2
    cargo build --release --bin mutate
    for t in "${targets[@]}"; do
        "$CARGO_TARGET_DIR/release/mutate" "$t" "$seconds" "${FUZZ_SEED:-$RANDOM}"
    done
fi
