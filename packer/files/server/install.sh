#!/usr/bin/env bash
# Provisions the vibes rsync server image (run as root by packer/server.pkr.hcl on Debian 12): rsync, and
# the unit that mounts the builds volume read only and serves one read-only module per profile.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q --no-install-recommends rsync e2fsprogs amazon-ec2-utils

install -m 0755 "$here/rsyncd-gen.sh" /usr/local/bin/rsyncd-gen
install -m 0755 "$here/vibes-serve.sh" /usr/local/bin/vibes-serve
install -m 0644 "$here/vibes-rsyncd.service" /etc/systemd/system/vibes-rsyncd.service
install -d -m 0755 /etc/vibes /srv/builds
# Debian's own rsync unit serves /etc/rsyncd.conf; vibes' unit is the only daemon here.
systemctl disable rsync.service 2>/dev/null || true
systemctl enable vibes-rsyncd.service

command -v rsync >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /tmp/vibes-files
