#!/usr/bin/env bash
# The README's run command: installs what is missing, configures build/, builds
# only the server (velocityd) and the CLI (velocity), then replaces this shell
# with the server.
#   scripts/run.sh                                       embedded default (configs/single.ini)
#   scripts/run.sh --config-file=configs/persistent.ini  any velocityd options
# Stop it with Ctrl-C (SIGINT) or SIGTERM: it drains, syncs and exits.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DVELOCITY_WERROR=ON
cmake --build build --target velocityd velocity -j "$(nproc)"
if [ $# -eq 0 ]; then set -- --config-file=configs/single.ini; fi
exec build/tools/velocityd "$@"
