#!/usr/bin/env bash
# Make sure a Docker engine answers: install Debian's docker.io and debootstrap and start
# dockerd when none runs (needs root). Where Docker already runs, this does nothing.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "no Docker engine answers: start Docker, or run this script as root to install it" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  echo "installing docker.io and debootstrap from Debian's packages"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq docker.io debootstrap >/dev/null
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/aigc-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "dockerd did not come up within 60 s: see /var/log/aigc-dockerd.log" >&2
exit 1
