#!/usr/bin/env bash
# Installs the client component of a build into a temporary prefix, then
# configures, builds and runs tests/net/consumer against it with
# find_package(velocity). Usage: install_check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d /tmp/velocity-install-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --component client --prefix "$work/prefix" > "$work/install.log"
cmake -S "$source_dir/tests/net/consumer" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log"
cmake --build "$work/build" -j1 > "$work/build.log"
"$work/build/consumer"
