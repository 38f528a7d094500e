#!/usr/bin/env bash
# Benchmark: the compile cycle at the real collection's scale (kalrish/music: 2,079 tracks in 128
# albums), in the local cloud on 127.0.0.1, counting what the worker reads from S3. Four applies
# (`vibes apply --auto-approve`) on one project with two profiles (lame + flac):
#   a. first compile (empty account: stacks, images, sync, compile of everything)
#   b. no change (the plan has nothing to do)
#   c. one track's tags.vc edited
#   d. one new album of 16 tracks
# For each: the bytes and GetObject requests S3 served the worker (the local cloud's own count, at
# GET /_localcloud/stats, of the requests whose user agent is the worker's: localcloud-worker), what
# S3 served everyone else (the applying vibes, the image builds), the outputs the worker encoded,
# retagged and left alone (its console), and the apply's wall time.
# Run on demand, not in the test suite.
#
# Usage: bench/compile_cycle.sh [TRACKS=2079] [ALBUMS=128] [TONE_SECONDS=0.5]
#   VIBES=path        the vibes under test (the applying CLI and the worker's compiler; the worker
#                     image is built from the recipes and boot scripts it carries)
#   LOCALCLOUD=path   the local cloud runner (default target/debug/vibes-localcloud; it must serve
#                     /_localcloud/stats, so it comes from this revision even for an older VIBES)
#   LABEL=name        the label of the result rows (default: the vibes binary's path)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
TRACKS=${1:-2079}
ALBUMS=${2:-128}
TONE_SECONDS=${3:-0.5}
BIN=$(vibes_bin)
RUNNER=${LOCALCLOUD:-$ROOT/target/debug/vibes-localcloud}
LABEL=${LABEL:-$BIN}
[ -x "$RUNNER" ] || { echo "no local cloud runner at $RUNNER: cargo build -p vibes-localcloud" >&2; exit 1; }
for tool in lame flac rsync curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (the worker encodes with lame and flac)" >&2; exit 1; }
done
WORK=$(mktemp -d)
STATE="$WORK/cloud"
cloud() { LOCALCLOUD_STATE="$STATE" bash "$ROOT/scripts/localcloud.sh" "$@"; }
trap 'cloud stop 2>/dev/null || true; rm -rf "$WORK"' EXIT
machine
echo "vibes: $BIN"

eval "$(LOCALCLOUD_BIN="$RUNNER" VIBES_BIN="$BIN" cloud start)"
export PATH="$VENV/bin:$PATH"
# The worker here reports every second: read its progress as often, so that the wall time is the
# compile's and not a poll interval's.
export VIBES_PROGRESS_POLL_SECONDS=1
unset AWS_PROFILE

dir="$WORK/project"
mkdir -p "$dir"
cat >"$dir/vibes.toml" <<'TOML'
[project]
name = "bcycle"
region = "us-east-1"

[network]
create = true

[sources]
path = "music"

[keys.builds]
[keys.worker]

[profiles.phone]
encoder = "lame"
flags = "--quiet -V 6"

[profiles.archive]
encoder = "flac"
flags = "-s -5"

[images.worker]

[compile]
instance_type = "c7a.large"
builds_volume_gib = 10
timeout_minutes = 60

[snapshots]
keep = 1
TOML

# The tree, in the vibes source format: artist/album/[disc/]NN-title.wav, tags.vc per artist,
# album (and disc) and track; mono 16-bit 44.1 kHz tones, each its own pitch. Every 8th album has
# two discs. generate ROOT FIRST_ALBUM ALBUMS TRACKS: albums FIRST_ALBUM.. under their artists.
generate() {
  python3 - "$@" "$TONE_SECONDS" <<'PY'
import math, os, struct, sys
root, first, albums, tracks, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
frames = int(44100 * seconds)
tones = {}
def wav(path, freq, n):
    # 64 pitches computed once; the first sample is the track's number, so that no two files
    # are alike (nothing downstream may share work between equal files and flatter the counts).
    if freq not in tones:
        tones[freq] = struct.pack(f"<{frames}h", *(int(8000 * math.sin(i * freq * 2 * math.pi / 44100)) for i in range(frames)))
    data = struct.pack("<h", n % 32768) + tones[freq][2:]
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
                struct.pack("<IHHIIHH", 16, 1, 1, 44100, 88200, 2, 16) + b"data" + struct.pack("<I", len(data)) + data)
def text(path, body):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(body)
n = 0
for a in range(first, first + albums):
    # The tracks spread as evenly as they go: TRACKS // ALBUMS each, one more for the first few.
    count = tracks // albums + (1 if a - first < tracks % albums else 0)
    artist = f"artist{a // 4:02d}"
    album = os.path.join(root, artist, f"album{a:03d}")
    text(os.path.join(root, artist, "tags.vc"), f"ARTIST=Artist {a // 4}\n")
    text(os.path.join(album, "tags.vc"), f"ALBUM=Album {a}\nDATE={1960 + a % 60}\n")
    discs = 2 if a % 8 == 7 else 1
    for t in range(count):
        d = album
        if discs == 2:
            disc = 1 + t * 2 // count
            d = os.path.join(album, f"{disc}")
            text(os.path.join(d, "tags.vc"), f"DISCNUMBER={disc}\n")
        stem = f"{t + 1:02d}-track_{t + 1}"
        text(os.path.join(d, stem + ".tags.vc"), f"TITLE=Track {t + 1} of album {a}\n")
        wav(os.path.join(d, stem + ".wav"), 110 + 13 * (n % 64), first * 1000 + n)
        n += 1
PY
}
bytes_of() { find "$@" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
files_of() { find "$@" -type f | wc -l; }

generate "$dir/music" 0 "$ALBUMS" "$TRACKS"
COLLECTION=$(bytes_of "$dir/music")
echo "tree: $TRACKS tracks in $ALBUMS albums, $(files_of "$dir/music") files, $COLLECTION bytes ($(du -sh "$dir/music" | cut -f1)), tones of $TONE_SECONDS s"

# counter FIELD CLIENT <stats: a counter of GET /_localcloud/stats; CLIENT "" for the total.
stats() { curl -fsS "$AWS_ENDPOINT_URL/_localcloud/stats"; }
counter() {
  python3 -c 'import json, sys
s = json.load(sys.stdin)
if sys.argv[2]:
    s = s["clients"].get(sys.argv[2], {})
print(s.get(sys.argv[1], 0))' "$1" "$2"
}

# What the workers this case booted did to the outputs: encoded, retagged, up to date (their
# vibes build's lines, in the instances' consoles).
outcomes() { # instance dirs that existed before the case...
  local e=0 r=0 u=0 c
  for c in "$STATE"/instances/*/console.log; do
    [ -f "$c" ] || continue
    case " $* " in *" $(dirname "$c") "*) continue ;; esac
    grep -q 'vibes-compile:' "$c" || continue
    e=$((e + $(grep -ac '^encoded ' "$c" || true)))
    r=$((r + $(grep -ac '^retagged ' "$c" || true)))
    u=$((u + $(grep -ac '^up to date ' "$c" || true)))
  done
  echo "$e/$r/$u"
}

ROWS=()
run_case() { # name reference-bytes
  local name=$1 reference=$2 before_all before_worker before_objects t0 secs after worker objects all
  local known=("$STATE"/instances/*)
  before_all=$(stats | counter s3_get_bytes "")
  before_worker=$(stats | counter s3_get_bytes localcloud-worker)
  before_objects=$(stats | counter s3_get_objects localcloud-worker)
  t0=$(now)
  "$BIN" --config "$dir/vibes.toml" apply --auto-approve >"$WORK/$name.log" 2>&1 || {
    echo "$name: vibes apply failed:"; tail -20 "$WORK/$name.log"; cloud stop; exit 1
  }
  secs=$(elapsed "$t0" "$(now)")
  after=$(stats)
  worker=$(($(echo "$after" | counter s3_get_bytes localcloud-worker) - before_worker))
  objects=$(($(echo "$after" | counter s3_get_objects localcloud-worker) - before_objects))
  all=$(($(echo "$after" | counter s3_get_bytes "") - before_all))
  local pct ref_pct
  pct=$(python3 -c "print(f'{100 * $worker / $COLLECTION:.2f}')")
  ref_pct=$( [ "$reference" -gt 0 ] && python3 -c "print(f'{100 * $worker / $reference:.0f} %')" || echo "-")
  local outs
  outs=$(outcomes "${known[@]}")
  echo "$name: worker read $worker bytes in $objects objects ($pct % of the collection; $ref_pct of the change's bytes), others $((all - worker)) bytes; outputs encoded/retagged/up to date $outs; $secs s"
  grep -a 'Read [0-9]* of' "$WORK/$name.log" | tail -1 || true
  ROWS+=("| $name | $LABEL | $worker | $pct % | $objects | $outs | $((all - worker)) | $secs s |")
}

run_case "a. first compile" "$COLLECTION"

"$BIN" --config "$dir/vibes.toml" plan --detailed-exitcode >"$WORK/plan-b.log" 2>&1 || {
  echo "b: the plan after the first apply is not empty:"; cat "$WORK/plan-b.log"; exit 1
}
run_case "b. no change" 0

# One track's own tags: its two outputs are retagged, nothing is encoded.
edited=$(find "$dir/music" -name '*.tags.vc' | sort | sed -n '100p')
echo "TITLE=Edited title" >"$edited"
run_case "c. one tags.vc edited" "$(bytes_of "$edited")"

generate "$dir/music" "$ALBUMS" 1 16
added=$(find "$dir/music" -type d -name "album$(printf %03d "$ALBUMS")")
run_case "d. one new album (16 tracks)" "$(bytes_of "$added")"
echo "the new album: $(bytes_of "$added") bytes; the collection now: $(bytes_of "$dir/music") bytes"

echo
echo "| case | vibes | worker's S3 reads (bytes) | of the collection | objects | outputs encoded/retagged/up to date | others' S3 reads (bytes) | apply |"
echo "|---|---|---:|---:|---:|---|---:|---:|"
printf '%s\n' "${ROWS[@]}"
