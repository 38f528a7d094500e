#!/usr/bin/env bash
# Provisions the vibes worker image (run as root by packer/worker.pkr.hcl on Debian 12):
# the encoders the compile runs, the tools the boot script uses, the vibes binary built from the source
# tarball, and the boot unit that compiles once and powers the instance off.
# Usage: install.sh SOURCE_TARBALL   (the provisioning files sit next to this script)
# VIBES_PREBUILT_BIN, when set, names a vibes binary to install instead of building the tarball.
set -euo pipefail
tarball=${1:?usage: install.sh SOURCE_TARBALL}
here=$(dirname "$(readlink -f "$0")")
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
# amazon-ec2-utils gives NVMe EBS volumes their /dev/sdX names, which the launch requests use.
apt-get install -y -q --no-install-recommends \
  flac lame vorbis-tools opus-tools \
  rsync awscli curl ca-certificates e2fsprogs amazon-ec2-utils

if [[ -n ${VIBES_PREBUILT_BIN:-} ]]; then
  # A vibes binary already built for this architecture is installed as it is, and no toolchain is
  # fetched. The local cloud offers one: its build machines have no internet to fetch rustup from.
  echo "install.sh: installing the prebuilt vibes $VIBES_PREBUILT_BIN (the source tarball is not built)"
  install -m 0755 "$VIBES_PREBUILT_BIN" /usr/local/bin/vibes
  rm -f "$tarball"
else
  apt-get install -y -q --no-install-recommends build-essential pkg-config
  # Debian 12's cargo (1.63) is older than vibes' minimum Rust, so the toolchain comes from rustup, lives
  # only for this build and is removed with the sources afterwards.
  build=$(mktemp -d)
  export RUSTUP_HOME=$build/rustup CARGO_HOME=$build/cargo
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain stable --no-modify-path
  mkdir -p "$build/src"
  tar -xzf "$tarball" -C "$build/src"
  (cd "$build/src" && "$CARGO_HOME/bin/cargo" build --release --locked --bin vibes)
  install -m 0755 "$build/src/target/release/vibes" /usr/local/bin/vibes
  rm -rf "$build" "$tarball"
  apt-get purge -y -q build-essential pkg-config
  apt-get autoremove -y -q
fi

install -m 0755 "$here/vibes-compile.sh" /usr/local/bin/vibes-compile
install -m 0644 "$here/vibes-compile.service" /etc/systemd/system/vibes-compile.service
install -d -m 0755 /etc/vibes /mnt/builds /var/lib/vibes/sources
systemctl enable vibes-compile.service

# The image is only good if everything the compile calls is there.
for tool in flac metaflac lame oggenc opusenc rsync aws mkfs.ext4 /usr/local/bin/vibes; do
  command -v "$tool" >/dev/null || { echo "install.sh: $tool is missing from the image" >&2; exit 1; }
done
/usr/local/bin/vibes --help >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /tmp/vibes-files
