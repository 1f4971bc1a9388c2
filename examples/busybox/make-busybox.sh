#!/bin/sh
# Make a local `busybox` image (docker.io/library/busybox:latest) from Debian's busybox-static:
# a rootfs with /bin/busybox and its applets, imported as a one-layer image.
# Usage: examples/busybox/make-busybox.sh [CBUILD] [NAME]   (default build/cbuild, busybox)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cbuild=${1:-$here/../../build/cbuild}
name=${2:-busybox}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/../../spec/fixtures/make-busybox-rootfs.sh" "$tmp/rootfs"
tar -C "$tmp/rootfs" --numeric-owner -cf "$tmp/rootfs.tar" .
"$cbuild" import "$tmp/rootfs.tar" "$name" >/dev/null
echo "$name"
