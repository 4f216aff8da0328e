#!/usr/bin/env bash
# demo.sh: README's main command. Installs what is missing, builds, and runs
# gesso's main jobs on their embedded defaults, on the GPU when one answers
# and on the CPU otherwise (`--device auto` says which):
#   1. a DCGAN trained on Fashion-MNIST (Debian's dataset-fashion-mnist) for
#      about five minutes on 2 CPU cores: out/gan/samples.png is a grid of
#      generated clothing, out/gan/loss.png the loss curves;
#   2. Gatys style transfer: skimage's astronaut repainted as the Starry Night
#      and as the Scream at 256 px with ResNet-50 (out/style/*.png, ~3 minutes);
#   3. the engine's own smoke demo: a small CNN on the 8x8 digits.
# GESSO_DEMO_SECONDS changes the GAN's time budget.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export OMP_WAIT_POLICY=passive
./build/gesso info
./build/gesso gan train --data fashion-mnist --width 32 --steps 1500 \
  --time-limit "${GESSO_DEMO_SECONDS:-300}" --sample-every 200 --checkpoint-every 200 --out out/gan
./build/gesso gan sample --checkpoint out/gan --count 64 --grid --out out/gan/final
echo "gesso demo: generated clothing in out/gan/samples.png and out/gan/final/grid.png, loss curves in out/gan/loss.png"
./build/gesso style --default
echo "gesso demo: the astronaut as the Starry Night and as the Scream in out/style/"
./build/gesso demo --epochs 5
