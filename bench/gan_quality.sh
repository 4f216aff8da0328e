#!/usr/bin/env bash
# gan_quality.sh: what a DCGAN reaches on this CPU. Trains the 28x28 DCGAN on
# Fashion-MNIST for a wall-clock budget (default 15 minutes), keeping the
# checkpoint it had after the first minute, then scores both with gesso's
# Frechet distance (the feature space of a small classifier that gesso trains
# on the labelled Fashion-MNIST first; NOT the Inception FID: comparable only
# between runs scored with the same scorer file and sample count) and prints
# the figures and the paths of both sample grids. Not a test: it occupies the
# CPU for the whole budget.
#
#   bash bench/gan_quality.sh            # 15 minutes of training (+ ~3 for the scorer and the scores)
#   bash bench/gan_quality.sh 5          # a shorter budget, to see the trend
#
# Environment: GESSO_BIN (default build/gesso), GESSO_QUALITY_OUT (default
# /tmp/gesso-gan-quality), GESSO_QUALITY_WIDTH (both networks' width, default
# 32: on two shared cores it gets about 2.5x the steps of width 64 within the budget),
# GESSO_QUALITY_SAMPLES (images per score, default 5000).
# OMP_WAIT_POLICY defaults to passive: on a shared machine spinning OpenMP
# threads lose their core at every barrier (measured here: up to 15x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_MIN="${1:-15}"
GESSO="${GESSO_BIN:-build/gesso}"
OUT="${GESSO_QUALITY_OUT:-/tmp/gesso-gan-quality}"
WIDTH="${GESSO_QUALITY_WIDTH:-32}"
SAMPLES="${GESSO_QUALITY_SAMPLES:-5000}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
[ -x "$GESSO" ] || { echo "gan_quality: $GESSO not found; build first (cmake --build build) or set GESSO_BIN" >&2; exit 1; }
[ "$BUDGET_MIN" -ge 2 ] || { echo "gan_quality: the budget must be at least 2 minutes" >&2; exit 1; }
mkdir -p "$OUT"

SCORER="$OUT/scorer-fashion-mnist.safetensors"
if [ ! -f "$SCORER" ]; then
  echo "== training the scorer (once; not counted in the budget)"
  "$GESSO" gan train-scorer --data fashion-mnist --epochs 2 --out "$SCORER"
fi

RUN="$OUT/run"
rm -rf "$RUN"
common=(--data fashion-mnist --image-size 28 --width "$WIDTH" --batch 64 --steps 10000000
        --log-every 50 --sample-every 10000000 --checkpoint-every 10000000 --seed 1)
echo "== minute 1"
"$GESSO" gan train "${common[@]}" --out "$RUN" --time-limit 60
cp "$RUN/checkpoint.safetensors" "$OUT/after-1min.safetensors"
cp "$RUN/samples.png" "$OUT/after-1min.png"
echo "== minutes 2..$BUDGET_MIN (resumed exactly)"
"$GESSO" gan train --resume "$RUN" --time-limit $(( (BUDGET_MIN - 1) * 60 ))
cp "$RUN/checkpoint.safetensors" "$OUT/after-${BUDGET_MIN}min.safetensors"
cp "$RUN/samples.png" "$OUT/after-${BUDGET_MIN}min.png"

echo "== scores ($SAMPLES generated vs $SAMPLES real training images)"
one=$("$GESSO" gan score --checkpoint "$OUT/after-1min.safetensors" --scorer "$SCORER" --samples "$SAMPLES" --json \
      --baseline)
full=$("$GESSO" gan score --checkpoint "$OUT/after-${BUDGET_MIN}min.safetensors" --scorer "$SCORER" \
       --samples "$SAMPLES" --json)
echo "$one"
echo "$full"
python3 - "$one" "$full" "$BUDGET_MIN" "$OUT" <<'EOF'
import json, sys
one, full, budget, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
print(f"gan_quality: Frechet distance (gesso scorer, not Inception FID): after 1 min (step {one['step']}) "
      f"{one['fd']:.3f}; after {budget} min (step {full['step']}) {full['fd']:.3f}; "
      f"real vs real {one['real_vs_real']:.3f}")
print(f"gan_quality: grids {out}/after-1min.png and {out}/after-{budget}min.png; loss curve {out}/run/loss.png")
EOF
