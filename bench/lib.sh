# shellcheck shell=bash
# Shared by the bench/*.sh scripts: the vibes binary, a moto server on a free port, timing.
# Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

# The binary under test: $VIBES if set, else the release build, else the debug build.
vibes_bin() {
  if [ -n "${VIBES:-}" ]; then echo "$VIBES"
  elif [ -x "$ROOT/target/release/vibes" ]; then echo "$ROOT/target/release/vibes"
  else cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --bin vibes && echo "$ROOT/target/debug/vibes"
  fi
}

now() { date +%s.%N; }
# elapsed START END -> seconds with two decimals
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
# ratio A B -> A/B with one decimal
ratio() { python3 -c "print(f'{$1 / $2:.1f}')"; }

# start_moto: a fresh moto server on a free 127.0.0.1 port; sets MOTO_PID and the AWS_* variables
# that point the aws CLI, boto3 and vibes at it (dummy credentials: nothing probes instance metadata).
start_moto() {
  local port log
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp)
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 1 150); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null && break
    sleep 0.2
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
    AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
  unset AWS_PROFILE
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; MOTO_PID=; fi
}

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr)"
}
