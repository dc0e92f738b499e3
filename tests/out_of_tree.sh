#!/usr/bin/env bash
# Install netmesh into a staging root, then build and run the example daemon
# the way a daemon author would: cc file.c $(pkg-config --cflags --libs netmesh).
set -euo pipefail
build=$1
example=$2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
pc=$(find "$stage" -name netmesh.pc -print -quit)
[ -n "$pc" ] || { echo "netmesh.pc was not installed"; exit 1; }
lib=$(dirname "$(find "$stage" -name 'libnetmesh.so' -print -quit)")

PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR=$stage
flags=$(pkg-config --cflags --libs netmesh)
echo "pkg-config netmesh: $flags"
# NM_OOT_CC/NM_OOT_CFLAGS: the build's own compiler and sanitizer flags (tests/meson.build).
# shellcheck disable=SC2086
${NM_OOT_CC:-cc} ${NM_OOT_CFLAGS:-} -Wall -Wextra -Werror "$example" $flags -o "$stage/tally"
LD_LIBRARY_PATH=$lib "$stage/tally"
