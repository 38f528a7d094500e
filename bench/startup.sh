#!/usr/bin/env bash
# Benchmark: start-up time of `vibes --help` and `vibes validate` versus the `aws` CLI's
# `aws --version` (what the seed's runbook started for every step), and the release binary's
# size. Run on demand. Usage: bench/startup.sh; VIBES=path picks the binary (default: release).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
BIN=$(vibes_bin)
machine
echo "vibes: $BIN ($(du -h "$BIN" | cut -f1), $(stat -c %s "$BIN") bytes)"
file "$BIN" | sed 's/^[^:]*: //'
table=$(mktemp)
trap 'rm -f "$table"' EXIT
hyperfine --style basic --warmup 3 --runs 30 --export-markdown "$table" \
  "$BIN --help" \
  "$BIN --config $ROOT/vibes.toml validate" \
  "$VENV/bin/aws --version" >/dev/null
cat "$table"
