#!/usr/bin/env bash
# On-demand benchmark of the compile engine (not part of the tests).
#  1. overhead: vibes-compile vs the same encoder run directly with the same parallelism
#     (xargs -P) on the same tracks, for FLAC and MP3;
#  2. no-op rebuild: a large generated tree of tiny tracks, built once, then rebuilt unchanged.
# Usage: crates/vibes-build/bench/compile.sh [TRACKS=200] [SECONDS=5] [NOOP_TRACKS=2000]
# CARGO_PROFILE=dev|release (default release) picks the build of vibes-compile.
set -euo pipefail

TRACKS=${1:-200}
SECONDS_PER_TRACK=${2:-5}
NOOP_TRACKS=${3:-2000}
JOBS=$(nproc)
CARGO_PROFILE=${CARGO_PROFILE:-release}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p vibes-build --bin vibes-compile --profile "$CARGO_PROFILE"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
case "$CARGO_PROFILE" in dev) BIN="$TARGET_DIR/debug/vibes-compile" ;; *) BIN="$TARGET_DIR/$CARGO_PROFILE/vibes-compile" ;; esac

# A stereo 16-bit sine of the given length, different per track so no two inputs are equal.
make_wav() { # path seconds freq
  python3 - "$1" "$2" "$3" <<'PY'
import math, struct, sys, wave
path, secs, freq = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
n = int(44100 * secs)
frames = b"".join(struct.pack("<hh", v, v) for v in (int(8000 * math.sin(2 * math.pi * freq * i / 44100)) for i in range(n)))
with wave.open(path, "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(44100); w.writeframes(frames)
PY
}

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

echo "== generating $TRACKS tracks of ${SECONDS_PER_TRACK}s"
SRC="$WORK/src"
mkdir -p "$SRC/artist/album"
printf 'ARTIST=Bench\nALBUM=Sines\n' > "$SRC/artist/album/tags.vc"
make_wav "$WORK/seed.wav" "$SECONDS_PER_TRACK" 440
for i in $(seq 1 "$TRACKS"); do
  # Same audio, one different byte at the end: distinct contents, no per-track python cost.
  { cat "$WORK/seed.wav"; } > "$SRC/artist/album/$i-tone.wav"
  printf '%04x' "$i" | dd of="$SRC/artist/album/$i-tone.wav" bs=1 seek=$(( $(stat -c %s "$WORK/seed.wav") - 4 )) conv=notrunc status=none
  printf 'TITLE=Tone %s\n' "$i" > "$SRC/artist/album/$i-tone.tags.vc"
done

printf 'CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s -5\n' > "$WORK/flac.config"
printf 'CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n' > "$WORK/mp3.config"

for enc in flac mp3; do
  mkdir -p "$WORK/direct-$enc"
  t0=$(now)
  if [ "$enc" = flac ]; then
    find "$SRC" -name '*.wav' -print0 | xargs -0 -P "$JOBS" -I{} sh -c 'flac -s -5 -f "$1" -o "$2/$(basename "$1" .wav).flac"' _ {} "$WORK/direct-$enc"
  else
    find "$SRC" -name '*.wav' -print0 | xargs -0 -P "$JOBS" -I{} sh -c 'lame --quiet -V 6 "$1" "$2/$(basename "$1" .wav).mp3"' _ {} "$WORK/direct-$enc"
  fi
  t1=$(now)
  "$BIN" "$SRC" "$WORK/out-$enc" "$enc=$WORK/$enc.config" --jobs "$JOBS" > "$WORK/log-$enc"
  t2=$(now)
  echo "$enc: $TRACKS tracks, -P $JOBS: direct $(elapsed "$t0" "$t1") s, vibes $(elapsed "$t1" "$t2") s ($(tail -1 "$WORK/log-$enc"))"
done

echo "== no-op rebuild of $NOOP_TRACKS tiny tracks"
BIG="$WORK/big"
make_wav "$WORK/tiny.wav" 0.05 440
for a in $(seq 1 20); do
  mkdir -p "$BIG/artist$a/album"
  printf 'ARTIST=Artist %s\nALBUM=Album\n' "$a" > "$BIG/artist$a/tags.vc"
  for t in $(seq 1 $(( NOOP_TRACKS / 20 ))); do
    cp "$WORK/tiny.wav" "$BIG/artist$a/album/$t-t.wav"
    printf 'TITLE=T%s\n' "$t" > "$BIG/artist$a/album/$t-t.tags.vc"
  done
done
t0=$(now)
"$BIN" "$BIG" "$WORK/big-out" "flac=$WORK/flac.config" --jobs "$JOBS" > "$WORK/log-big1"
t1=$(now)
"$BIN" "$BIG" "$WORK/big-out" "flac=$WORK/flac.config" --jobs "$JOBS" > "$WORK/log-big2"
t2=$(now)
echo "first build: $(elapsed "$t0" "$t1") s ($(tail -1 "$WORK/log-big1"))"
echo "no-op rebuild: $(elapsed "$t1" "$t2") s ($(tail -1 "$WORK/log-big2"))"
