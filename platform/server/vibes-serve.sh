#!/usr/bin/env bash
# vibes-serve: what the rsync server does at boot. vibes launches it with a volume made from the newest
# builds snapshot attached as $VIBES_BUILDS_DEVICE; this mounts it read only, writes the rsync daemon
# configuration (one read-only module per profile) and runs the daemon in the foreground under systemd.
#
# Environment (also read from $VIBES_CONFIG, default /etc/vibes/serve.env, written by the user data):
#   VIBES_BUILDS_DEVICE  device of the builds volume (default /dev/sdf; empty: VIBES_BUILDS_DIR is served as
#                        it is, which is how the local cloud plays the volume with a directory)
#   VIBES_BUILDS_DIR     where it is mounted (default /srv/builds)
#   VIBES_DEVICE_WAIT    seconds to wait for the device to appear (default 300)
#   VIBES_RSYNCD_CONF    where the generated configuration goes (default /run/vibes/rsyncd.conf)
#   VIBES_RSYNCD_GEN     the configuration generator (default rsyncd-gen beside this script); it reads
#                        RSYNCD_ADDRESS and RSYNCD_PORT, among others, to listen elsewhere than *:873
set -euo pipefail

VIBES_CONFIG=${VIBES_CONFIG:-/etc/vibes/serve.env}
if [[ -r $VIBES_CONFIG ]]; then
  # Exported, so that the aws CLI sees AWS_DEFAULT_REGION from it.
  set -a
  # shellcheck source=/dev/null
  source "$VIBES_CONFIG"
  set +a
fi
device=${VIBES_BUILDS_DEVICE-/dev/sdf}
dir=${VIBES_BUILDS_DIR:-/srv/builds}
wait_s=${VIBES_DEVICE_WAIT:-300}
conf=${VIBES_RSYNCD_CONF:-/run/vibes/rsyncd.conf}
here=$(dirname "$(readlink -f "$0")")
gen=${VIBES_RSYNCD_GEN:-$here/rsyncd-gen}

mkdir -p "$dir" "$(dirname "$conf")"
if [[ -n $device ]]; then
  waited=0
  until [[ -b $device ]]; do
    if ((waited >= wait_s)); then
      echo "vibes-serve: $device did not appear within $wait_s s: is the builds volume attached?" >&2
      exit 1
    fi
    sleep 2
    waited=$((waited + 2))
  done
  if ! mountpoint -q "$dir"; then
    # Read only, and `noload` so ext4 does not even replay its journal: the snapshot stays as it was built.
    mount -o ro,noload "$device" "$dir"
  fi
fi
"$gen" "$dir" >"$conf"
echo "vibes-serve: serving $(grep -c '^\[' "$conf") profile(s) from $dir" >&2
exec rsync --daemon --no-detach --config "$conf" --log-file /dev/stderr
