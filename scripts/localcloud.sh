#!/usr/bin/env bash
# The local cloud: the whole vibes platform on this machine, on 127.0.0.1 only. It starts moto (the
# AWS API emulator) and vibes-localcloud in front of it, which runs what moto does not: each CodeBuild
# build runs the buildspec of cfn/main.yaml (with a Packer stand-in that validates the recipe, runs
# its provisioners on a Debian 12 machine and registers the image), each instance boots its image
# under its own systemd (systemd-nspawn), and EBS volumes are loop devices over sparse files. State
# (pids, logs, volumes, instance disks) lives in .localcloud/; the Debian base and the images built
# are cached in .localcloud-cache/.
#
#   scripts/localcloud.sh start       # prints `export AWS_ENDPOINT_URL=…` and dummy credentials: eval it
#   scripts/localcloud.sh stop
#   scripts/localcloud.sh status
#   scripts/localcloud.sh rsync-url   # rsync://127.0.0.1:PORT/ of the running server
#
# Environment: VIBES_BIN (the vibes the worker image is given; default: target/debug/vibes, built if
# missing), LOCALCLOUD_STATE (default .localcloud in the repository), VIBES_LOCALCLOUD_CACHE (default
# .localcloud-cache in the repository).
#
# GET $AWS_ENDPOINT_URL/_localcloud/stats: what S3 served (GetObject requests and body bytes), in
# total and per client (the app id in the user agent: instances are localcloud-worker/-server).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="${LOCALCLOUD_STATE:-$root/.localcloud}"
venv="$root/.venv"

running() {
  [[ -f $state/$1.pid ]] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

print_env() {
  cat <<ENV
export AWS_ENDPOINT_URL=$(cat "$state/endpoint")
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
ENV
}

wait_for() { # what, seconds, test command...
  local what=$1 tries=$(($2 * 5)); shift 2
  for ((i = 0; i < tries; i++)); do
    "$@" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "localcloud.sh: $what did not come up; see $state/*.log" >&2
  return 1
}

stop() {
  for p in runner moto; do
    if running "$p"; then
      kill "$(cat "$state/$p.pid")" 2>/dev/null || true
    fi
    rm -f "$state/$p.pid"
  done
  # Machines the runner left: shut down in order (systemd-nspawn takes SIGTERM as a poweroff),
  # then the loop devices their volumes were (detached once the machines let go of them).
  if [[ -d $state/instances ]]; then
    pkill -f "$state/instances/" 2>/dev/null || true
  fi
  # Their root disks (overlay mounts), once the machines are gone.
  if [[ -d $state/instances ]]; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pgrep -f "$state/instances/" >/dev/null || break
      sleep 1
    done
    awk -v prefix="$state/instances/" 'index($2, prefix) == 1 { print $2 }' /proc/mounts | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
  fi
  if [[ -d $state/ebs ]] && command -v losetup >/dev/null; then
    losetup --list --noheadings --output NAME,BACK-FILE 2>/dev/null | while read -r dev file; do
      if [[ $file == "$state/ebs/"* ]]; then losetup --detach "$dev" 2>/dev/null || true; fi
    done
  fi
  pkill -f "rsync --daemon --no-detach --config $state/" 2>/dev/null || true
}

case "${1:-}" in
  start)
    if running runner && running moto; then print_env; exit 0; fi
    stop
    [[ -x $venv/bin/moto_server && -x $venv/bin/aws ]] || bash "$root/scripts/setup.sh" >&2
    runner="${LOCALCLOUD_BIN:-$root/target/debug/vibes-localcloud}"
    vibes="${VIBES_BIN:-$root/target/debug/vibes}"
    if [[ ! -x $runner || ! -x $vibes ]]; then
      (cd "$root" && cargo build --locked --quiet -p vibes -p vibes-localcloud) >&2
    fi
    rm -rf "$state"
    mkdir -p "$state"
    port=$(free_port)
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
    echo $! >"$state/moto.pid"
    wait_for "moto on port $port" 60 curl -fsS -o /dev/null "http://127.0.0.1:$port/moto-api/"
    # The runner's builds and instances call the aws CLI of the venv.
    PATH="$venv/bin:$PATH" "$runner" --moto "http://127.0.0.1:$port" --state "$state" \
      --vibes "$vibes" >"$state/runner.log" 2>&1 &
    echo $! >"$state/runner.pid"
    wait_for "vibes-localcloud" 30 test -s "$state/endpoint"
    print_env
    ;;
  stop)
    stop
    echo "localcloud.sh: stopped" >&2
    ;;
  status)
    if running runner && running moto; then
      echo "running at $(cat "$state/endpoint") (moto pid $(cat "$state/moto.pid"), runner pid $(cat "$state/runner.pid"))"
      [[ -s $state/rsync-url ]] && echo "server: $(cat "$state/rsync-url")"
      exit 0
    fi
    echo "not running"
    exit 1
    ;;
  rsync-url)
    # A server launched a moment ago is `running` before its rsync daemon answers, as on EC2: wait.
    for _ in $(seq 1 150); do
      if [[ -s $state/rsync-url ]]; then
        cat "$state/rsync-url"
        echo
        exit 0
      fi
      running runner || break
      sleep 0.2
    done
    echo "localcloud.sh: no server is serving (is [server] running = true applied?)" >&2
    exit 1
    ;;
  *)
    echo "usage: $0 start|stop|status|rsync-url" >&2
    exit 2
    ;;
esac
