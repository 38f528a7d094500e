#!/usr/bin/env bash
# vibes-compile: what a worker instance does once, at boot.
#
#   1. mount the builds volume (formatting it when it is new) and, if one is attached, the sources volume
#   2. fetch every profile under the SSM path /<project>/profiles/ into a file
#   3. run `vibes build --sources SRC --sources-bucket B --out BUILDS --profile-file F ...`: it reads the
#      sources tree from the bucket as the compile needs it (small files at once, audio only where an
#      output must be encoded from it, each download checked against the bucket manifest's SHA-256)
#   4. flush and unmount the builds volume, so the snapshot vibes takes next is consistent
#   5. record the outcome as the SSM parameter /<project>/compile/status, a JSON object:
#        {"built_from": "...", "status": "succeeded"|"failed"|"interrupted", "message": "...", "finished": "<RFC3339>"}
#   6. power the instance off; vibes waits for "stopped", snapshots the builds volume and terminates.
#
# Whatever fails, the EXIT trap still records "failed" (with the step and the tail of its output) and powers
# off: a worker never lingers, and vibes never waits for a status that will not come. A worker shut down from
# outside (SIGTERM: EC2 reclaiming a Spot instance's capacity, or a shutdown by hand) records "interrupted"
# instead: the compile did not fail, and its builds volume is worth resuming on.
#
# Settings come from the environment, and from $VIBES_CONFIG (default /etc/vibes/compile.env), which the launch
# template's user data writes:
#   VIBES_PROJECT          project name (default: the instance tag vibes:project)
#   VIBES_BUILT_FROM       what this compile is built from (default: the instance tag vibes:fingerprint)
#   VIBES_SOURCES_FORMAT   the sources tree's format, vibes | mustup | auto (default: the instance tag
#                          vibes:sources-format, else auto: read from the tree's files)
#   VIBES_REBUILD          "all": encode every output again, whatever the builds volume's records say
#                          (default: the instance tag vibes:rebuild, which `vibes apply --replace compile` sets)
#   VIBES_SOURCES_BUCKET   bucket holding the sources tree (required)
#   VIBES_SOURCES_PREFIX   key prefix of the tree in that bucket (default: none)
#   VIBES_BUILDS_DEVICE    device of the builds volume (default /dev/sdf; empty: VIBES_BUILDS_DIR is used as is)
#   VIBES_BUILDS_DIR       where the builds volume is mounted (default /mnt/builds)
#   VIBES_SOURCES_DEVICE   device of a sources volume (default none: the sources go to the root disk)
#   VIBES_SOURCES_DIR      where the sources tree is kept (default /var/lib/vibes/sources)
#   VIBES_PROFILES_DIR     where the profile files are written (default /run/vibes/profiles)
#   VIBES_PROGRESS_SECONDS how often the build's progress is published (default 30)
#   VIBES_DEVICE_WAIT      seconds to wait for a volume's device to appear (default 300)
#   VIBES_BIN              the vibes binary (default /usr/local/bin/vibes)
# Every external effect is a command that can be replaced, which is how the script is tested off EC2:
#   VIBES_AWS (aws), VIBES_MOUNT (mount), VIBES_UMOUNT (umount), VIBES_MKFS (mkfs.ext4), VIBES_BLKID (blkid),
#   VIBES_RESIZE (resize2fs),
#   VIBES_SYNC (sync), VIBES_POWEROFF (systemctl poweroff), VIBES_IMDS_URL (http://169.254.169.254),
#   VIBES_STATUS_FILE (write the status JSON to this file instead of SSM).
set -euo pipefail

VIBES_CONFIG=${VIBES_CONFIG:-/etc/vibes/compile.env}
if [[ -r $VIBES_CONFIG ]]; then
  # Exported, so that the aws CLI sees AWS_DEFAULT_REGION from it.
  set -a
  # shellcheck source=/dev/null
  source "$VIBES_CONFIG"
  set +a
fi

BUILDS_DEVICE=${VIBES_BUILDS_DEVICE-/dev/sdf}
BUILDS_DIR=${VIBES_BUILDS_DIR:-/mnt/builds}
SOURCES_DEVICE=${VIBES_SOURCES_DEVICE:-}
SOURCES_DIR=${VIBES_SOURCES_DIR:-/var/lib/vibes/sources}
PROFILES_DIR=${VIBES_PROFILES_DIR:-/run/vibes/profiles}
DEVICE_WAIT=${VIBES_DEVICE_WAIT:-300}
PROGRESS_SECONDS=${VIBES_PROGRESS_SECONDS:-30}
PROGRESS_FILE=$(dirname "$PROFILES_DIR")/progress.json
SUMMARY_FILE=$(dirname "$PROFILES_DIR")/summary.json
VIBES_BIN=${VIBES_BIN:-/usr/local/bin/vibes}
IMDS_URL=${VIBES_IMDS_URL:-http://169.254.169.254}
STATUS_FILE=${VIBES_STATUS_FILE:-}

read -ra AWS <<<"${VIBES_AWS:-aws}"
read -ra MOUNT <<<"${VIBES_MOUNT:-mount}"
read -ra UMOUNT <<<"${VIBES_UMOUNT:-umount}"
read -ra MKFS <<<"${VIBES_MKFS:-mkfs.ext4}"
read -ra BLKID <<<"${VIBES_BLKID:-blkid}"
read -ra RESIZE <<<"${VIBES_RESIZE:-resize2fs}"
read -ra SYNC <<<"${VIBES_SYNC:-sync}"
read -ra POWEROFF <<<"${VIBES_POWEROFF:-systemctl poweroff}"

# SSM standard parameters hold 4 KiB; the message is cut well below that.
MAX_MESSAGE=3000
# What a Standard SSM parameter holds.
MAX_PARAMETER=4096
LOG=$(mktemp -t vibes-compile.XXXXXX)

step="starting"
project=${VIBES_PROJECT:-}
built_from=${VIBES_BUILT_FROM:-}
recorded=no
mounted=()

log() { printf 'vibes-compile: %s\n' "$*" >&2; }

# A JSON string literal: quotes, backslashes and control characters escaped.
json_string() {
  local s=$1 out="" c i code
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      '"') out+='\"' ;;
      "\\") out+="\\\\" ;;
      $'\n') out+='\n' ;;
      $'\r') out+='\r' ;;
      $'\t') out+='\t' ;;
      *)
        printf -v code '%d' "'$c"
        if ((code >= 0 && code < 32)); then
          printf -v c '\\u%04x' "$code"
        fi
        out+=$c
        ;;
    esac
  done
  printf '"%s"' "$out"
}

# The status as one JSON object, its message cut from the front to `keep` characters.
status_json() {
  local status=$1 message=$2 finished=$3 keep=$4 json
  if ((${#message} > keep)); then
    if ((keep > 0)); then message="...${message: -keep}"; else message="..."; fi
  fi
  json="{\"built_from\": $(json_string "$built_from"), \"status\": $(json_string "$status"), \"message\": $(json_string "$message"), \"finished\": $(json_string "$finished")"
  # The build's figures (vibes writes them as one JSON object): the next plan prices a compile
  # at the pace they show.
  if [[ -s $SUMMARY_FILE ]]; then json+=", \"build\": $(<"$SUMMARY_FILE")"; fi
  printf '%s}' "$json"
}

# Record the outcome: to $VIBES_STATUS_FILE when set, else to /<project>/compile/status in SSM.
record() {
  local status=$1 message=$2 finished json keep=$MAX_MESSAGE
  finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  json=$(status_json "$status" "$message" "$finished" "$keep")
  # A Standard SSM parameter holds at most 4096 characters, and escaping can make the message
  # several times longer than it is (a control character is six): the message gives way, from
  # the front, until the whole status fits. A status that cannot be written would read as a
  # worker that never reported.
  while ((${#json} > MAX_PARAMETER && keep > 0)); do
    # In proportion: an escaped character may count for six.
    keep=$((keep * MAX_PARAMETER / ${#json} - 16))
    ((keep > 0)) || keep=0
    json=$(status_json "$status" "$message" "$finished" "$keep")
  done
  if [[ -n $STATUS_FILE ]]; then
    printf '%s\n' "$json" >"$STATUS_FILE"
  else
    [[ -n $project ]] || { log "no project known: cannot record status $status"; return 1; }
    "${AWS[@]}" ssm put-parameter --name "/$project/compile/status" --type String --overwrite --value "$json" >/dev/null
  fi
  recorded=yes
  log "recorded status $status: $message"
}

unmount_all() {
  local i
  "${SYNC[@]}" || true
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    "${UMOUNT[@]}" "${mounted[i]}"
    unset 'mounted[i]'
  done
}

# Publishes the build's progress (`vibes build --progress-file`) to /<project>/compile/progress
# every PROGRESS_SECONDS, for `vibes apply` to show; in the background while the build runs.
publish_progress() {
  # A TERM ends the loop, but only between two publications (bash runs a trap once the
  # foreground command is done): no publication of this loop lands after the last one below.
  # The pause in progress goes with it: left behind, it would hold the script's output open
  # for up to PROGRESS_SECONDS after the script ended.
  trap 'kill "$!" 2>/dev/null; exit 0' TERM
  while :; do
    sleep "$PROGRESS_SECONDS" &
    wait $!
    publish_progress_once
  done
}
stop_publisher() {
  [[ -n $publisher ]] || return 0
  kill "$publisher" 2>/dev/null || true
  wait "$publisher" 2>/dev/null || true
  publisher=
}
publish_progress_once() {
  [[ -s $PROGRESS_FILE ]] || return 0
  "${AWS[@]}" ssm put-parameter --name "/$project/compile/progress" --type String --overwrite \
    --value "{\"built_from\": $(json_string "$built_from"), \"progress\": $(cat "$PROGRESS_FILE")}" \
    >/dev/null 2>>"$LOG" || true
}
publisher=

finish() {
  local rc=$?
  set +e
  trap - EXIT
  stop_publisher
  if [[ $recorded != yes ]]; then
    local tail_of_log
    tail_of_log=$(tail -c 1500 "$LOG" 2>/dev/null)
    unmount_all 2>>"$LOG"
    if [[ $shut_down == yes ]]; then
      record interrupted "shut down from outside while $step (exit $rc)"
    else
      record failed "$step failed (exit $rc)${tail_of_log:+: $tail_of_log}"
    fi
  fi
  rm -f "$LOG"
  log "powering off"
  "${POWEROFF[@]}"
  exit "$rc"
}
shut_down=no
trap finish EXIT
trap 'shut_down=yes; exit 143' TERM
trap 'exit 130' INT

# Run a command with its output going both to the journal and to the log whose tail a failure reports.
run() {
  "$@" 2>&1 | tee -a "$LOG"
}

# An instance tag, through IMDSv2 (the launch template enables tags in instance metadata).
instance_tag() {
  local token
  token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS_URL/latest/api/token") || return 1
  curl -sSf -H "X-aws-ec2-metadata-token: $token" "$IMDS_URL/latest/meta-data/tags/instance/$1"
}

wait_for_device() {
  local device=$1 waited=0
  until [[ -e $device ]]; do
    if ((waited >= DEVICE_WAIT)); then
      echo "device $device did not appear within $DEVICE_WAIT s" | tee -a "$LOG" >&2
      return 1
    fi
    sleep 2
    waited=$((waited + 2))
  done
}

# Mount a volume, giving it an ext4 file system first when it has none (a new volume).
mount_volume() {
  local device=$1 dir=$2 label=$3 fresh=no
  wait_for_device "$device"
  if ! "${BLKID[@]}" "$device" >/dev/null 2>&1; then
    log "$device has no file system: formatting it as ext4 ($label)"
    run "${MKFS[@]}" -q -L "$label" "$device"
    fresh=yes
  fi
  mkdir -p "$dir"
  run "${MOUNT[@]}" "$device" "$dir"
  mounted+=("$dir")
  # A volume from a snapshot can be bigger than the file system on it (builds_volume_gib grown
  # since the snapshot): the file system grows into it, mounted. It changes nothing when the
  # file system fills the volume already.
  if [[ $fresh == no ]]; then
    run "${RESIZE[@]}" "$device"
  fi
}

step="reading instance tags"
if [[ -z $project ]]; then project=$(instance_tag 'vibes:project'); fi
sources_format=${VIBES_SOURCES_FORMAT:-}
if [[ -z $built_from ]]; then
  built_from=$(instance_tag 'vibes:fingerprint')
  # On EC2 the format comes with the other tags; it is there only when vibes.toml names one.
  if [[ -z $sources_format ]]; then sources_format=$(instance_tag 'vibes:sources-format' 2>/dev/null || true); fi
  if [[ -z ${VIBES_REBUILD:-} ]]; then VIBES_REBUILD=$(instance_tag 'vibes:rebuild' 2>/dev/null || true); fi
fi
sources_format=${sources_format:-auto}
rebuild_args=()
if [[ ${VIBES_REBUILD:-} == all ]]; then rebuild_args=(--rebuild); fi
[[ -n $project ]] || { echo "no project: set VIBES_PROJECT or tag the instance vibes:project" | tee -a "$LOG" >&2; exit 1; }
: "${VIBES_SOURCES_BUCKET:?VIBES_SOURCES_BUCKET is not set (the launch template user data writes it)}"
log "project $project, building from $built_from"

step="mounting the builds volume"
if [[ -n $BUILDS_DEVICE ]]; then
  mount_volume "$BUILDS_DEVICE" "$BUILDS_DIR" vibes-builds
else
  mkdir -p "$BUILDS_DIR"
fi

step="mounting the sources volume"
if [[ -n $SOURCES_DEVICE ]]; then
  mount_volume "$SOURCES_DEVICE" "$SOURCES_DIR" vibes-sources
fi

mkdir -p "$SOURCES_DIR"

step="fetching profiles from /$project/profiles/"
rm -rf "$PROFILES_DIR"
mkdir -p "$PROFILES_DIR"
names=$("${AWS[@]}" ssm get-parameters-by-path --path "/$project/profiles/" --query 'Parameters[].Name' --output text 2>>"$LOG")
profile_args=()
profiles=()
for name in $names; do
  [[ $name == None ]] && continue
  profile=${name##*/}
  file="$PROFILES_DIR/$profile.config"
  "${AWS[@]}" ssm get-parameter --name "$name" --query Parameter.Value --output text >"$file" 2>>"$LOG"
  profile_args+=(--profile-file "$file")
  profiles+=("$profile")
done
if ((${#profiles[@]} == 0)); then
  echo "no profiles under /$project/profiles/" | tee -a "$LOG" >&2
  exit 1
fi
log "profiles: ${profiles[*]}"

step="compiling from s3://$VIBES_SOURCES_BUCKET/${VIBES_SOURCES_PREFIX:-}"
rm -f "$PROGRESS_FILE" "$SUMMARY_FILE"
if [[ -z $STATUS_FILE ]]; then
  publish_progress &
  publisher=$!
fi
run "$VIBES_BIN" build --sources "$SOURCES_DIR" \
  --sources-bucket "$VIBES_SOURCES_BUCKET" --sources-prefix "${VIBES_SOURCES_PREFIX:-}" \
  --out "$BUILDS_DIR" --format "$sources_format" --progress-file "$PROGRESS_FILE" --summary-file "$SUMMARY_FILE" \
  "${rebuild_args[@]}" \
  "${profile_args[@]}"
if [[ -n $publisher ]]; then
  stop_publisher
  # Where the build ended, however short it was: the last count vibes shows.
  publish_progress_once
fi

step="unmounting"
unmount_all 2>>"$LOG"

# vibes build's line saying how much of the bucket it read: what this compile cost in transfer.
read_line=$(grep -a '^Read [0-9]* of [0-9]* files' "$LOG" | tail -n 1 || true)
record succeeded "compiled ${#profiles[@]} profile(s): ${profiles[*]}${read_line:+; ${read_line}}"
