#!/usr/bin/env bash
# A new machine to a running hello-world image: install, build cbuild, build the example
# image from its Dockerfile, and run it.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/setup-podman.sh
cmake -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
gcc -static -O2 -o examples/helloworld/helloworld examples/helloworld/hello.c
export CBUILD_ROOT=${CBUILD_ROOT:-/var/lib/cbuild}
build/cbuild build -t yujiang/helloworld examples/helloworld
build/cbuild images yujiang/helloworld
build/cbuild history yujiang/helloworld
build/cbuild run --rm yujiang/helloworld
