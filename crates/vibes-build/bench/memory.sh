#!/usr/bin/env bash
# On-demand benchmark of the compile engine's memory (not part of the tests): peak resident
# memory and wall time of a first build of generated trees of N albums, each one short track
# (a tenth of a second of sine WAVE) with its own cover of COVER_MB, into one FLAC profile.
# The goal: a peak that does not grow with the number of albums.
# Usage: crates/vibes-build/bench/memory.sh [ALBUMS="200 2000"] [COVER_MB=5]
# CARGO_PROFILE=dev|release (default release) picks the build of vibes-compile; BIN=path measures
# another vibes-compile (e.g. one built before a change) instead; SAME_AS=path also builds a small
# tree with covers (FLAC and MP3) with that binary and this one and compares the outputs' bytes.
# Needs GNU time (/usr/bin/time; Debian package `time`).
set -euo pipefail

ALBUMS=${1:-200 2000}
COVER_MB=${2:-5}
JOBS=$(nproc)
CARGO_PROFILE=${CARGO_PROFILE:-release}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d)
DELETER=
trap '[ -n "$DELETER" ] && kill "$DELETER" 2>/dev/null; rm -rf "$WORK"' EXIT

if [ -z "${BIN:-}" ]; then
  cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p vibes-build --bin vibes-compile --profile "$CARGO_PROFILE"
  TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  case "$CARGO_PROFILE" in dev) BIN="$TARGET_DIR/debug/vibes-compile" ;; *) BIN="$TARGET_DIR/$CARGO_PROFILE/vibes-compile" ;; esac
fi
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }

# N albums under DIR/artist/, each with a track, its tags and a cover of COVER_MB: a valid 8x8
# JPEG (the tests' tiny_jpeg) with the album's number after it, padded with a hole, so that no
# two covers are alike and the tree takes little disk however large its covers read.
make_tree() { # dir albums cover_mb
  python3 - "$1" "$2" "$3" <<'PY'
import math, os, struct, sys, wave
root, albums, cover = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) << 20
jpeg = bytes([0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00]) + bytes([1] * 64)
jpeg += bytes([0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00])
for cls in (0x00, 0x10):
    jpeg += bytes([0xFF, 0xC4, 0x00, 0x14, cls, 0x01]) + bytes(15) + bytes([0x00])
jpeg += bytes([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x3F, 0xFF, 0xD9])
n = 4410
tone = b"".join(struct.pack("<hh", v, v) for v in (int(8000 * math.sin(2 * math.pi * 440 * i / 44100)) for i in range(n)))
for a in range(albums):
    d = os.path.join(root, "artist", f"album{a:05}")
    os.makedirs(d)
    open(os.path.join(d, "tags.vc"), "w").write(f"ARTIST=Bench\nALBUM=Album {a}\n")
    open(os.path.join(d, "vibes.txt"), "w").write("apic=3:jpeg:.\n")
    with open(os.path.join(d, "picture-03.jpeg"), "wb") as f:
        f.write(jpeg + f"album {a}".encode())
        f.truncate(cover)
    with wave.open(os.path.join(d, "01-tone.wav"), "wb") as w:
        w.setnchannels(2); w.setsampwidth(2); w.setframerate(44100); w.writeframes(tone)
    open(os.path.join(d, "01-tone.tags.vc"), "w").write("TITLE=Tone\n")
PY
}

printf 'CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s -0\n' > "$WORK/flac.config"
printf 'CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n' > "$WORK/mp3.config"

if [ -n "${SAME_AS:-}" ]; then
  echo "== same bytes as $SAME_AS: 20 albums, FLAC and MP3"
  make_tree "$WORK/small" 20 1
  "$SAME_AS" "$WORK/small" "$WORK/small-old" "flac=$WORK/flac.config" "mp3=$WORK/mp3.config" --jobs "$JOBS" > /dev/null
  "$BIN" "$WORK/small" "$WORK/small-new" "flac=$WORK/flac.config" "mp3=$WORK/mp3.config" --jobs "$JOBS" > /dev/null
  diff -r --exclude=.vibes "$WORK/small-old" "$WORK/small-new" && echo "identical: $(find "$WORK/small-new" -name '*.flac' -o -name '*.mp3' | wc -l) outputs"
  rm -rf "$WORK/small" "$WORK/small-old" "$WORK/small-new"
fi

for n in $ALBUMS; do
  SRC="$WORK/src-$n"
  OUT="$WORK/out-$n"
  make_tree "$SRC" "$n" "$COVER_MB"
  # Every output embeds its cover: N x COVER_MB of outputs would not fit on a small disk, so
  # finished outputs are deleted as they land (a first build never reads them back). Temporary
  # files start with a dot and are left to the build.
  mkdir -p "$OUT/flac"
  ( while :; do find "$OUT/flac" -name '[!.]*.flac' -delete 2>/dev/null || true; sleep 0.2; done ) &
  DELETER=$!
  /usr/bin/time -v -o "$WORK/time-$n" "$BIN" "$SRC" "$OUT" "flac=$WORK/flac.config" --jobs "$JOBS" > "$WORK/log-$n"
  kill "$DELETER"; wait "$DELETER" 2>/dev/null || true; DELETER=
  peak_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time-$n")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time-$n")
  echo "$n albums x ${COVER_MB} MiB covers, --jobs $JOBS: peak RSS $((peak_kib / 1024)) MiB, wall $wall ($(tail -1 "$WORK/log-$n"))"
  rm -rf "$SRC" "$OUT"
done
