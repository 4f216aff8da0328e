#!/usr/bin/env bash
# ptxas_report.sh: per kernel of every kernels/cuda/*.cu, what ptxas gives it
# at sm_80 and sm_90: registers per thread, static shared memory, stack frame
# and spill stores/loads (from `nvcc -Xptxas -v`), as one readable table.
#
#   scripts/ptxas_report.sh                 every kernels/cuda/*.cu
#   scripts/ptxas_report.sh kernels/cuda/gemm.cu kernels/cuda/conv.cu
#   JOBS=4 scripts/ptxas_report.sh          compile 4 files at a time (default 2)
#
# Spills (and a stack frame, which is local memory too) are marked with `<-`;
# the exit status is 1 when any kernel spills, so CI can hold the line that
# the hot kernels have none. Needs nvcc (PATH or /usr/local/cuda/bin); runs
# without a GPU.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc" ] || { echo "ptxas_report.sh: nvcc not found (PATH or /usr/local/cuda/bin)" >&2; exit 2; }
jobs=${JOBS:-2}

if [ $# -gt 0 ]; then files=("$@"); else files=("$root"/kernels/cuda/*.cu); fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# One nvcc per file, both architectures in one go; the log per file.
compile() {
  local f=$1 log=$2
  if ! "$nvcc" -std=c++17 -I"$root" -c "$f" -o /dev/null -Xptxas -v \
       -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 >"$log" 2>&1; then
    echo "ptxas_report.sh: nvcc failed on $f:" >&2
    cat "$log" >&2
    return 1
  fi
}
export -f compile
export nvcc root
i=0
for f in "${files[@]}"; do
  echo "$f $out/$i.log"
  i=$((i + 1))
done | xargs -P "$jobs" -n 2 bash -c 'compile "$0" "$1"'

# ptxas prints, per kernel and architecture:
#   ptxas info    : Compiling entry function '_Z...' for 'sm_80'
#   ptxas info    : Function properties for _Z...
#       24 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
#   ptxas info    : Used 126 registers, used 1 barriers, 16896 bytes smem, 448 bytes cmem[0]
i=0
status=0
printf '%-12s %-58s %-6s %5s %8s %6s %7s %7s\n' file kernel arch regs smem stack spill_st spill_ld
printf '%s\n' "$(printf '%.0s-' {1..116})"
for f in "${files[@]}"; do
  log=$out/$i.log
  i=$((i + 1))
  name=$(basename "$f")
  awk -v file="$name" '
    /Compiling entry function/ {
      match($0, /function .[^'"'"']*/); fn = substr($0, RSTART + 10, RLENGTH - 10)
      match($0, /for .sm_[0-9]+/); arch = substr($0, RSTART + 5, RLENGTH - 5)
      stack = st = ld = 0; next
    }
    /bytes stack frame/ { stack = $1; st = $5; ld = $9; next }
    /Used [0-9]+ registers/ {
      match($0, /Used [0-9]+ registers/); regs = substr($0, RSTART + 5, RLENGTH - 15)
      smem = 0
      if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART, RLENGTH - 11)
      if (fn != "") print file "\t" fn "\t" arch "\t" regs "\t" smem "\t" stack "\t" st "\t" ld
      fn = ""
    }' "$log" | sort -t $'\t' -s -k2,2 -k3,3 |
    while IFS=$'\t' read -r file fn arch regs smem stack st ld; do
      pretty=$(echo "$fn" | c++filt | sed -E \
        -e 's/gesso::kernels::(cuda|simt):://g' -e 's/\(anonymous namespace\):://g' -e 's/^void //' \
        -e 's/\(.*\)$//')
      [ ${#pretty} -gt 58 ] && pretty="${pretty:0:55}..."
      mark=""
      if [ "$st" != 0 ] || [ "$ld" != 0 ]; then mark="  <- spills"; elif [ "$stack" != 0 ]; then mark="  <- stack"; fi
      printf '%-12s %-58s %-6s %5s %8s %6s %7s %7s%s\n' "$file" "$pretty" "$arch" "$regs" "$smem" "$stack" "$st" "$ld" "$mark"
    done
  if awk '/bytes stack frame/ && ($5 != 0 || $9 != 0) { found = 1 } END { exit !found }' "$log"; then status=1; fi
done
echo
if [ $status -eq 0 ]; then
  echo "no kernel spills (sm_80, sm_90)"
else
  echo "some kernels spill registers to local memory (marked above)"
fi
exit $status
