#!/usr/bin/env bash
# demo.sh: README's main command: installs what is missing, builds, and runs
# gesso's main job on its embedded default (CPU when there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
./build/gesso info
./build/gesso demo "$@"
