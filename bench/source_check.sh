#!/usr/bin/env bash
# On-demand benchmark (not part of the tests): how long the plan's check of a sources tree takes
# — the compile engine's reader over every manifest, metadata file, picture and playlist — on a
# mustup tree of the real collection's shape (2,079 tracks, 128 albums: crates/vibes-build/bench/
# mustup_tree.py), warm cache. `vibes validate` runs exactly that check after reading vibes.toml;
# the baseline in the same run is `find` listing the same tree, the least any reader of it does.
# Usage: bench/source_check.sh [TRACKS=2079] [ALBUMS=128] [RUNS=20]
# Needs hyperfine (apt-get install hyperfine).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TRACKS=${1:-2079}
ALBUMS=${2:-128}
RUNS=${3:-20}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
VIBES_BIN=$(vibes_bin)

# Audio is never read by the check: the shortest tracks do.
python3 "$ROOT/crates/vibes-build/bench/mustup_tree.py" "$WORK/music" "$TRACKS" "$ALBUMS" 0.01
cat > "$WORK/vibes.toml" <<TOML
[project]
name = "bench"

[sources]
path = "music"
format = "mustup"

[profiles.home]
config = "music/output-home/tup.config"
TOML
echo "tree: $(find "$WORK/music" -name '*.wave' | wc -l) tracks, $(find "$WORK/music" -name '*.yaml' | wc -l) YAML files"
"$VIBES_BIN" --config "$WORK/vibes.toml" validate

hyperfine --style basic --warmup 3 --runs "$RUNS" --export-json "$WORK/check.json" \
  -n "find (baseline)" "find $WORK/music -type f" \
  -n "vibes validate (config + sources check)" "$VIBES_BIN --config $WORK/vibes.toml validate"
python3 - "$WORK/check.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base, check = r[0]["median"], r[1]["median"]
print(f"median: find {base*1000:.1f} ms, vibes validate {check*1000:.1f} ms: {check/base:.1f}x the listing")
PY
