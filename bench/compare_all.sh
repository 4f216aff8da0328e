#!/usr/bin/env bash
# compare_all.sh: every workload of compare_pytorch.py (dcgan64, gatys256,
# gatys512, conv) on 2 and 1 threads, each with both engines at their best
# for this CPU (--isa native) and both held to AVX2+FMA (--isa avx2), one log
# per run, then the chart of the speedups.
#
#   bash bench/compare_all.sh                       # logs in out/compare, chart out/compare/speedups.png
#   bash bench/compare_all.sh DIR --steps 8         # another folder; extra flags go to every run
#   GESSO_BIN=build-perf/gesso bash bench/compare_all.sh
#
# The logs are named <workload>.<isa>.<threads>.log; all.log collects each
# run's last two lines (peak memory and the speedup) with the time and the
# load average when it started: on a shared machine, read those first.
# Takes 10-20 minutes on 2 cores. Needs Debian's python3-torch (and
# python3-matplotlib for the chart).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/out/compare
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then  # a first argument that is not a flag is the folder
  out=$1
  shift
fi
mkdir -p "$out"
: > "$out/all.log"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
py=python3
/usr/bin/python3 -c "import torch" 2> /dev/null && py=/usr/bin/python3
for threads in 2 1; do
  for isa in native avx2; do
    for w in dcgan64 gatys256 gatys512 conv; do
      echo "== $w threads=$threads isa=$isa $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/all.log"
      "$py" "$root/bench/compare_pytorch.py" "$w" --threads "$threads" --isa "$isa" "$@" > "$out/$w.$isa.$threads.log" 2>&1 \
        || { echo "compare_all.sh: $w failed, see $out/$w.$isa.$threads.log" >&2; exit 1; }
      tail -n 2 "$out/$w.$isa.$threads.log" | tee -a "$out/all.log"
    done
  done
done
"$py" "$root/bench/speed_chart.py" "$out" "$out/speedups.png"
