#!/usr/bin/env bash
# Benchmark: `vibes plan` on a large deployment versus the seed's way of looking at it (one `aws`
# CLI call per thing), against a local moto server. Run on demand, not in the test suite.
#
# For each size N (default "30 300" profiles): a fresh moto, `vibes apply` of a config with a
# network, sources, 3 keys and N profiles (2 stacks, N+4 SSM parameters), plus IMAGES images and
# IMAGES snapshots made with boto3; then
#   - `vibes plan` wall time (hyperfine, mean of RUNS) and its AWS call count (from `-v` logs),
#   - bench/seed_observe.sh: aws ssm get-parameter per profile, describe-key-pairs per key,
#     describe-stacks per stack, describe-images per image, describe-snapshots per snapshot.
#   - bench/seed_observe.py: the same requests from one boto3 process (no CLI start-up per call).
# Usage: bench/plan.sh [SIZES="30 300"] [IMAGES=20] [RUNS=5]; VIBES=path picks the binary;
# CLI_MAX=N runs the aws CLI baseline only up to N profiles (it costs ~1 s a call).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
SIZES=${1:-"30 300"}
IMAGES=${2:-20}
RUNS=${3:-5}
# The aws CLI baseline costs ~1 s per call here: run it up to this many profiles.
CLI_MAX=${CLI_MAX:-1000}
BIN=$(vibes_bin)
WORK=$(mktemp -d)
trap 'stop_moto; rm -rf "$WORK"' EXIT
machine
echo "vibes: $BIN"

# A config directory with N inline profiles; the lists seed_observe.sh walks.
make_project() { # dir project n
  local dir=$1 project=$2 n=$3
  mkdir -p "$dir/cfn" "$dir/music/artist/album/1"
  cp "$ROOT/cfn/vpc.yaml" "$ROOT/cfn/main.yaml" "$dir/cfn/"
  printf 'ARTIST=Bench\n' >"$dir/music/artist/tags.vc"
  head -c 4096 /dev/urandom >"$dir/music/artist/album/1/1-tone.wav"
  {
    printf '[project]\nname = "%s"\nregion = "us-east-1"\n\n[network]\ncreate = true\n\n' "$project"
    printf '[sources]\npath = "music"\n\n[keys.builds]\n[keys.worker]\n[keys.server]\n\n'
    for i in $(seq 1 "$n"); do printf '[profiles.p%d]\nencoder = "lame"\nflags = "--quiet -V %d"\n\n' "$i" $((i % 10)); done
  } >"$dir/vibes.toml"
  seq 1 "$n" | sed 's/^/p/' >"$dir/profiles.list"
  printf 'builds\nworker\nserver\n' >"$dir/keys.list"
  printf '%s-vpc\n%s-main\n' "$project" "$project" >"$dir/stacks.list"
}

declare -A PLAN_S CALLS SEED_S SEED_CALLS BOTO_S
for n in $SIZES; do
  echo
  echo "== $n profiles, $IMAGES images, $IMAGES snapshots"
  start_moto
  dir="$WORK/p$n" project="bench$n"
  make_project "$dir" "$project" "$n"
  t0=$(now)
  "$BIN" --config "$dir/vibes.toml" --quiet apply --auto-approve >/dev/null
  echo "setup: vibes apply of the config in $(elapsed "$t0" "$(now)") s"
  "$VENV/bin/python" "$ROOT/bench/seed_images.py" "$project" "$IMAGES" "$dir/images.list" "$dir/snapshots.list"

  # Calls: every observe step logs what it cost at debug level.
  CALLS[$n]=$(VIBES_LOG=vibes_aws=debug "$BIN" --config "$dir/vibes.toml" plan 2>&1 >/dev/null \
    | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'aws_calls=[0-9]*' | cut -d= -f2 | paste -sd+ | bc || echo "?")
  hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$WORK/plan$n.json" \
    "$BIN --config $dir/vibes.toml plan" >/dev/null
  PLAN_S[$n]=$(python3 -c "import json; print(f\"{json.load(open('$WORK/plan$n.json'))['results'][0]['mean']:.3f}\")")
  echo "vibes plan: ${PLAN_S[$n]} s (mean of $RUNS), ${CALLS[$n]} AWS calls"

  lists=("$dir/profiles.list" "$dir/keys.list" "$dir/stacks.list" "$dir/images.list" "$dir/snapshots.list")
  t0=$(now)
  SEED_CALLS[$n]=$("$VENV/bin/python" "$ROOT/bench/seed_observe.py" "$project" "${lists[@]}")
  BOTO_S[$n]=$(elapsed "$t0" "$(now)")
  echo "seed requests from one boto3 process: ${BOTO_S[$n]} s, ${SEED_CALLS[$n]} calls"
  if [ "$n" -le "$CLI_MAX" ]; then
    t0=$(now)
    AWS_CLI="$VENV/bin/aws" bash "$ROOT/bench/seed_observe.sh" "$project" "${lists[@]}" >/dev/null
    SEED_S[$n]=$(elapsed "$t0" "$(now)")
    echo "seed (aws CLI per thing): ${SEED_S[$n]} s"
  else
    SEED_S[$n]="-"
  fi
  stop_moto
done

echo
echo "| profiles | vibes plan | vibes AWS calls | seed requests (boto3) | vs vibes | seed via aws CLI | vs vibes | seed calls |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $SIZES; do
  cli_ratio="-"; [ "${SEED_S[$n]}" = "-" ] || cli_ratio="$(ratio "${SEED_S[$n]}" "${PLAN_S[$n]}")x"
  cli_s="-"; [ "${SEED_S[$n]}" = "-" ] || cli_s="${SEED_S[$n]} s"
  echo "| $n | ${PLAN_S[$n]} s | ${CALLS[$n]} | ${BOTO_S[$n]} s | $(ratio "${BOTO_S[$n]}" "${PLAN_S[$n]}")x | $cli_s | $cli_ratio | ${SEED_CALLS[$n]} |"
done
