#!/usr/bin/env bash
# The main job, against a local AWS emulator so anyone can see vibes work without an account:
# installs what it needs, starts moto on a free 127.0.0.1 port, runs `vibes apply --auto-approve`
# with the example vibes.toml, then `vibes plan`, which shows no changes, and stops moto.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --locked --quiet --bin vibes
VIBES="$PWD/target/debug/vibes"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; wait $moto 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null && break
  sleep 0.2
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true
echo "== vibes apply --auto-approve (emulator at $AWS_ENDPOINT_URL)"
"$VIBES" apply --auto-approve
echo
echo "== vibes plan --detailed-exitcode"
"$VIBES" plan --detailed-exitcode
