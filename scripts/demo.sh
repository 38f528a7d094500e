#!/usr/bin/env bash
# The main job: from an empty (emulated) AWS account to compiled music on disk, on 127.0.0.1 only.
#
#   scripts/demo.sh [DEST]      # DEST defaults to ./demo-music
#
# Installs what it needs (scripts/setup.sh), builds vibes, starts the local cloud
# (scripts/localcloud.sh: moto plus a runner that executes the image builds, the compile worker
# and the rsync server as AWS would), then:
#   1. vibes apply --auto-approve     with this repository's vibes.toml: key pairs, profiles, the
#                                     stacks, the worker and server images, the sources sync, the
#                                     compile on a worker, its snapshot and the rsync server
#   2. vibes fetch phone DEST         over rsync from that server
#   3. a line per fetched file with the tags it carries
#   4. vibes plan --detailed-exitcode which shows no changes
# and stops the local cloud.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dest=${1:-$root/demo-music}
bash scripts/setup.sh
echo "== building vibes and the local cloud"
cargo build --locked --quiet -p vibes -p vibes-localcloud
export PATH="$root/.venv/bin:$PATH"
export LOCALCLOUD_STATE="${LOCALCLOUD_STATE:-$root/.localcloud}"
trap 'bash scripts/localcloud.sh stop' EXIT
eval "$(bash scripts/localcloud.sh start)"
vibes="$root/target/debug/vibes"
echo "== local cloud at $AWS_ENDPOINT_URL (state in $LOCALCLOUD_STATE)"

echo
echo "== vibes apply --auto-approve"
"$vibes" apply --auto-approve

echo
server=$(bash scripts/localcloud.sh rsync-url)
echo "== vibes fetch phone $dest --server $server"
"$vibes" fetch phone "$dest" --server "$server"

echo
echo "== what arrived in $dest"
"$root/target/debug/vibes-localcloud" tags "$dest"

echo
echo "== vibes plan --detailed-exitcode"
"$vibes" plan --detailed-exitcode
