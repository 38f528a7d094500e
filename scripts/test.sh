#!/usr/bin/env bash
# The test command: installs what the tests need (scripts/setup.sh), then runs every test layer:
# pure and fake-cloud tests, the AWS adapter and CLI against a local moto server (started by the
# tests themselves on 127.0.0.1), the compile engine with the real encoders, the rsync server and
# worker runtime, and the asset linters (cfn-lint, packer validate, shellcheck).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
# Dummy credentials: the tests talk only to the emulator on 127.0.0.1.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
# Formatting is checked first: it costs a second and fails fastest.
cargo fmt --all --check
(cd fuzz && cargo fmt --all --check)
# Lints: clippy over every target, a warning is an error ([workspace.lints] in Cargo.toml).
cargo clippy --workspace --all-targets --locked -- -D warnings
if [[ -x .ci/lint-assets.sh ]]; then
  bash .ci/lint-assets.sh
fi
cargo test --workspace --locked --no-fail-fast -- --test-threads="${VIBES_TEST_THREADS:-4}"
# Hostile input: every parser under libFuzzer (cargo fuzz) for a bounded time (no panic, no hang).
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "test: installing cargo-fuzz"
  cargo install --quiet --locked cargo-fuzz
fi
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash .ci/fuzz.sh
