#!/usr/bin/env bash
# Installs every build and test dependency of VelocityDB from Debian 12
# packages, only if something is missing. Idempotent; fast when all is present.
# Needs root (or sudo) only when it has to install.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  clang                      # fuzz targets (libFuzzer) and sanitizer builds
  libcaf-dev                 # CAF 0.17.6 actors
  capnproto libcapnp-dev     # wire and storage format
  librocksdb-dev             # persistent engine
  libspdlog-dev              # logging
  libsimdjson-dev            # JSON parsing at the human edges
  nlohmann-json3-dev         # JSON building in tools
  libbenchmark-dev           # micro-benchmarks
  libcli11-dev               # argument parsing of the velocity CLI
  libcpp-httplib-dev         # ops HTTP endpoint of velocityd (/health /ready /status /metrics)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
