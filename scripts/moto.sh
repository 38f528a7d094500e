#!/usr/bin/env bash
# Start or stop a moto server (the local AWS emulator) on a free loopback port, from the
# project venv. State (pid, port, log) lives in .moto/ at the repo root.
#
#   scripts/moto.sh start    # prints `export AWS_ENDPOINT_URL=…` and dummy credentials: eval it
#   scripts/moto.sh stop
#   scripts/moto.sh status
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.moto"
server="$root/.venv/bin/moto_server"

running() {
  [[ -f $state/pid ]] && kill -0 "$(cat "$state/pid")" 2>/dev/null
}

print_env() {
  local port; port="$(cat "$state/port")"
  cat <<ENV
export AWS_ENDPOINT_URL=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
ENV
}

case "${1:-}" in
  start)
    if running; then print_env; exit 0; fi
    [[ -x $server ]] || "$root/scripts/setup.sh" >&2
    mkdir -p "$state"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$server" -H 127.0.0.1 -p "$port" >"$state/log" 2>&1 &
    echo $! >"$state/pid"
    echo "$port" >"$state/port"
    for _ in $(seq 1 300); do
      if curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
        print_env
        exit 0
      fi
      if ! running; then
        echo "moto.sh: moto_server exited; see $state/log" >&2
        exit 1
      fi
      sleep 0.2
    done
    echo "moto.sh: no answer on port $port after 60 s; see $state/log" >&2
    exit 1
    ;;
  stop)
    if running; then
      kill "$(cat "$state/pid")"
      echo "moto.sh: stopped" >&2
    fi
    rm -f "$state/pid" "$state/port"
    ;;
  status)
    if running; then echo "running on port $(cat "$state/port") (pid $(cat "$state/pid"))"; else echo "not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
