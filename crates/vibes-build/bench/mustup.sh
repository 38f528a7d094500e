#!/usr/bin/env bash
# On-demand benchmark of the compile engine on a mustup tree of the real collection's shape
# (not part of the tests): 2,079 short WAVE tracks in 128 albums (bench/mustup_tree.py), built
# at the collection's two profiles, output-home (flac --best) and output-honor10 (oggenc
# --quality 5 --resample 44100), used unchanged as profile files;
#  1. full build: vibes-compile (both profiles in one run) vs the same encoders run directly
#     with the same parallelism (xargs -P, one encoder process a track, no shell), one profile
#     after the other;
#     ROUNDS times (default 2), alternating, each vibes build from an empty output;
#  2. no-op rebuild of the same tree at both profiles, three times.
# Usage: [ROUNDS=2] crates/vibes-build/bench/mustup.sh [TRACKS=2079] [ALBUMS=128] [SECONDS=1]
# CARGO_PROFILE=dev|release (default release) picks the build of vibes-compile.
set -euo pipefail

TRACKS=${1:-2079}
ALBUMS=${2:-128}
SECONDS_PER_TRACK=${3:-1}
ROUNDS=${ROUNDS:-2}
JOBS=$(nproc)
CARGO_PROFILE=${CARGO_PROFILE:-release}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p vibes-build --bin vibes-compile --profile "$CARGO_PROFILE"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
case "$CARGO_PROFILE" in dev) BIN="$TARGET_DIR/debug/vibes-compile" ;; *) BIN="$TARGET_DIR/$CARGO_PROFILE/vibes-compile" ;; esac

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

echo "machine: $JOBS cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
SRC="$WORK/music"
python3 "$HERE/mustup_tree.py" "$SRC" "$TRACKS" "$ALBUMS" "$SECONDS_PER_TRACK"
PROFILES=("home=$SRC/output-home/tup.config" "honor10=$SRC/output-honor10/tup.config")

# The direct runs' argument lists, made before any timing: `-o OUT IN` per track, so that xargs
# starts each encoder itself (no shell per track) as vibes does.
args_for() { # ext dir
  find "$SRC" -path "$SRC/output-*" -prune -o -name '*.wave' -print0 |
    while IFS= read -r -d '' f; do b=${f##*/}; printf '%s\0' -o "$2/${b%.wave}.$1" "$f"; done
}
args_for flac "$WORK/direct-home" > "$WORK/args-flac"
args_for ogg "$WORK/direct-honor10" > "$WORK/args-ogg"

# Rounds alternate direct and vibes, so that load from elsewhere on the machine falls on both.
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$WORK/direct-home" "$WORK/direct-honor10" "$WORK/out"
  mkdir -p "$WORK/direct-home" "$WORK/direct-honor10"
  t0=$(now)
  xargs -0 -n 3 -P "$JOBS" flac --best -s -f < "$WORK/args-flac"
  t1=$(now)
  xargs -0 -n 3 -P "$JOBS" oggenc -Q --quality 5 --resample 44100 < "$WORK/args-ogg"
  t2=$(now)
  "$BIN" "$SRC" "$WORK/out" "${PROFILES[@]}" --jobs "$JOBS" > "$WORK/log-full"
  t3=$(now)
  echo "round $round: direct, -P $JOBS: flac --best $(elapsed "$t0" "$t1") s + oggenc -q5 $(elapsed "$t1" "$t2") s = $(elapsed "$t0" "$t2") s; vibes, both profiles: $(elapsed "$t2" "$t3") s ($(tail -1 "$WORK/log-full")); load $(cut -d' ' -f1 /proc/loadavg)"
done
for run in 1 2 3; do
  t0=$(now)
  "$BIN" "$SRC" "$WORK/out" "${PROFILES[@]}" --jobs "$JOBS" > "$WORK/log-noop"
  t1=$(now)
  echo "no-op rebuild $run: $(elapsed "$t0" "$t1") s ($(tail -1 "$WORK/log-noop"))"
done
echo "outputs: $(find "$WORK/out/home" -name '*.flac' | wc -l) flac, $(find "$WORK/out/honor10" -name '*.ogg' | wc -l) ogg, playlists: $(cd "$WORK/out/home" && ls ./*.m3u | tr '\n' ' ')"
