#!/usr/bin/env bash
# The seed's way of looking at a deployment: one `aws` CLI call per thing, one after the other,
# as its runbook did. Used by bench/plan.sh as the baseline for `vibes plan`.
# Usage: seed_observe.sh PROJECT PROFILES_FILE KEYS_FILE STACKS_FILE IMAGES_FILE SNAPSHOTS_FILE
# (each file: one name or id a line). Prints the number of calls made on stdout.
set -euo pipefail
project=$1 profiles=$2 keys=$3 stacks=$4 images=$5 snapshots=$6
AWS="${AWS_CLI:-aws}"
calls=0
while read -r p; do "$AWS" ssm get-parameter --name "/$project/profiles/$p" --output json >/dev/null; calls=$((calls + 1)); done <"$profiles"
while read -r k; do "$AWS" ec2 describe-key-pairs --key-names "$project-$k" --output json >/dev/null; calls=$((calls + 1)); done <"$keys"
while read -r s; do "$AWS" cloudformation describe-stacks --stack-name "$s" --output json >/dev/null; calls=$((calls + 1)); done <"$stacks"
while read -r i; do "$AWS" ec2 describe-images --image-ids "$i" --output json >/dev/null; calls=$((calls + 1)); done <"$images"
while read -r s; do "$AWS" ec2 describe-snapshots --snapshot-ids "$s" --output json >/dev/null; calls=$((calls + 1)); done <"$snapshots"
echo "$calls"
