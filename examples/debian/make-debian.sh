#!/bin/sh
# Make a local `debian:bookworm` image with debootstrap, from the mirror this machine's apt
# uses.  The rootfs tarball is cached outside the repository ($CBUILD_TEST_CACHE, default
# /var/cache/cbuild-test) and rebuilt only when missing.
# Usage: examples/debian/make-debian.sh [CBUILD] [NAME]   (default build/cbuild, debian:bookworm)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cbuild=${1:-$here/../../build/cbuild}
name=${2:-debian:bookworm}
cache=${CBUILD_TEST_CACHE:-/var/cache/cbuild-test}
tarball=$cache/debian-bookworm-minbase.tar
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(http[^ ]*\)[[:space:]]\+bookworm[[:space:]].*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/debootstrap.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/log" 2>&1 ||
    { tail -20 "$tmp/log" >&2; exit 1; }
  rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"*
  # the image's apt reaches the same mirror
  echo "deb $mirror bookworm main" >"$tmp/rootfs/etc/apt/sources.list"
  tar -C "$tmp/rootfs" --numeric-owner --xattrs -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
"$cbuild" import "$tarball" "$name" >/dev/null
echo "$name"
