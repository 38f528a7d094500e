#!/usr/bin/env bash
# Provisions the vibes volmgr image (run as root by packer/volmgr.pkr.hcl on Debian 12): an instance to
# attach the sources or builds volumes to by hand, to check, resize, copy or inspect them. It runs nothing
# at boot.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q --no-install-recommends \
  e2fsprogs xfsprogs rsync awscli curl ca-certificates amazon-ec2-utils nvme-cli parted

for tool in mkfs.ext4 e2fsck resize2fs rsync aws nvme; do
  command -v "$tool" >/dev/null || { echo "install.sh: $tool is missing from the image" >&2; exit 1; }
done
apt-get clean
rm -rf /var/lib/apt/lists/* /tmp/vibes-files
