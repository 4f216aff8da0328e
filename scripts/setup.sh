#!/usr/bin/env bash
# setup.sh: installs what gesso needs from Debian's packages (only what is
# missing), so that a fresh Debian 12 machine can build, test and run it.
#   build:   cmake, ninja, g++, OpenMP (libgomp comes with g++)
#   libs:    doctest, stb, Google Benchmark, OpenBLAS (OpenMP build), CLI11, nlohmann-json, zlib
#   data:    dataset-fashion-mnist (Fashion-MNIST IDX), python3-sklearn (8x8 digits CSV)
# The CUDA toolkit, when present, is used as found; it is not installed here.
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config
          doctest-dev libstb-dev libbenchmark-dev libopenblas-dev libopenblas0-openmp
          libcli11-dev nlohmann-json3-dev zlib1g-dev
          dataset-fashion-mnist python3-sklearn)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Data that the applications read (each script installs only what is missing).
extra_setup() {
  for s in scripts/setup_*.sh; do
    [ -f "$s" ] && bash "$s"
  done
  return 0
}
cd "$(dirname "$0")/.."
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  extra_setup
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
extra_setup
