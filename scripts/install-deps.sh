#!/usr/bin/env bash
# Install every Debian package that building and testing cbuild needs. Idempotent; run as root.
set -eu
build="cmake gcc make pkg-config liblua5.4-dev lua5.4 libarchive-dev libcurl4-openssl-dev libcap-dev
  libzstd-dev libjansson-dev libssl-dev libdeflate-dev libseccomp-dev lua-argparse"
run="iptables" # bridge networking: NAT and published ports (iptables-restore)
test="debootstrap python3 openssl openssh-client curl bsdutils lua-busted lua-check clang-format valgrind busybox-static zstd xz-utils gzip file"
peers="podman buildah skopeo umoci crun docker-registry jq"
missing=""
for p in $build $run $test $peers; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
