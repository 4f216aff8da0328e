#!/usr/bin/env bash
# build.sh: configures and builds gesso in ./build (Release; CUDA when nvcc is found).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
