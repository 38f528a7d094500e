#!/usr/bin/env bash
# Installs what vibes' main job and tests need on a fresh Debian machine, and nothing by hand:
#   - Debian packages: the encoders (flac, lame, vorbis-tools, opus-tools), rsync, shellcheck, packer,
#     and what the local cloud boots machines with: systemd-container (systemd-nspawn) and mmdebstrap
#     (the Debian 12 base image, built once into .localcloud-cache/)
#   - a project venv in .venv with moto[server] (the local AWS emulator), cfn-lint, parliament (the IAM
#     policy linter of .ci/lint-assets.sh) and the aws CLI
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(flac lame vorbis-tools opus-tools rsync shellcheck packer systemd-container mmdebstrap)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV=.venv
if [[ ! -x $VENV/bin/moto_server || ! -x $VENV/bin/cfn-lint || ! -x $VENV/bin/aws || ! -x $VENV/bin/parliament ]]; then
  echo "setup: creating $VENV with moto[server], cfn-lint, parliament and awscli"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5.1,<6' 'cfn-lint>=1,<2' \
    'parliament>=1.6,<2' 'awscli>=1.33,<2'
fi
echo "setup: ready"
