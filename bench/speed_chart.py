#!/usr/bin/env python3
"""speed_chart.py: the speedups over PyTorch that bench/compare_all.sh measured, as one picture.

    python3 bench/speed_chart.py out/compare out/compare/speedups.png

Reads the logs <workload>.<isa>.<threads>.log of compare_pytorch.py runs in a
folder (isa native or avx2, threads 1 or 2): the last line's speedup for the
whole workloads (dcgan64, gatys256, gatys512) and the per-shape table of the
conv workload. Left: the whole workloads against the issue's 1.3x target;
right: every DCGAN-64 convolution, forward and forward+backward, against 1x
(log scale). A run that is missing is left out of the picture and named on
stdout. Needs matplotlib (Debian: python3-matplotlib).
"""
import os
import re
import sys

CONFIGS = [("native", 2), ("native", 1), ("avx2", 2), ("avx2", 1)]
COLORS = {("native", 2): "#1f5fa8", ("native", 1): "#7fa7d8", ("avx2", 2): "#c4491b", ("avx2", 1): "#efa07f"}
WORKLOADS = ["dcgan64", "gatys256", "gatys512"]
SPEEDUP = re.compile(r"speedup ([0-9.]+)x")
# A row of the conv table: "<shape name>  forward|forward+backward  ms  GFLOP/s  ms  GFLOP/s  <x>x".
CONV_ROW = re.compile(r"^(conv\S* \S+ @\d+ \S+)\s+(forward\+backward|forward)\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+"
                      r"[0-9.]+\s+([0-9.]+)x$")


def label(isa, threads):
    return f"{'best ISA' if isa == 'native' else 'AVX2 only'}, {threads} thread{'s' if threads > 1 else ''}"


def read(folder, workload, isa, threads):
    path = os.path.join(folder, f"{workload}.{isa}.{threads}.log")
    if not os.path.exists(path):
        print(f"speed_chart: no {path}, left out")
        return None
    with open(path) as f:
        return f.read().splitlines()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    folder, out = sys.argv[1], sys.argv[2]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 7), gridspec_kw={"width_ratios": [1, 1.6]})
    width = 0.2
    for i, (isa, threads) in enumerate(CONFIGS):
        xs, ys = [], []
        for j, w in enumerate(WORKLOADS):
            lines = read(folder, w, isa, threads)
            m = SPEEDUP.search(lines[-1]) if lines else None
            if m:
                xs.append(j + (i - 1.5) * width)
                ys.append(float(m.group(1)))
        bars = left.bar(xs, ys, width, color=COLORS[(isa, threads)], label=label(isa, threads))
        left.bar_label(bars, fmt="%.2f", fontsize=7)
    left.axhline(1.3, color="black", linestyle="--", linewidth=1)
    left.text(2.55, 1.32, "target 1.3x", ha="right", fontsize=8)
    left.axhline(1.0, color="grey", linewidth=0.8)
    left.set_xticks(range(len(WORKLOADS)), ["DCGAN-64 step", "Gatys 256 px", "Gatys 512 px"])
    left.set_ylabel("speedup over PyTorch 1.13 (PyTorch time / gesso time)")
    left.set_title("Whole workloads")
    left.legend(fontsize=8, loc="upper left")

    shapes = []
    per_config = {}
    for cfg in CONFIGS:
        lines = read(folder, "conv", *cfg) or []
        rows = [CONV_ROW.match(l.strip()) for l in lines]
        per_config[cfg] = {(m.group(1), m.group(2)): float(m.group(3)) for m in rows if m}
        for m in rows:
            if m and (m.group(1), m.group(2)) not in shapes:
                shapes.append((m.group(1), m.group(2)))
    for i, cfg in enumerate(CONFIGS):
        ys = [k - (i - 1.5) * width for k in range(len(shapes)) if shapes[k] in per_config[cfg]]
        xs = [per_config[cfg][s] for s in shapes if s in per_config[cfg]]
        right.barh(ys, xs, width, color=COLORS[cfg], label=label(*cfg))
    right.axvline(1.0, color="black", linestyle="--", linewidth=1)
    right.set_xscale("log")
    right.set_yticks(range(len(shapes)), [f"{s} {'fwd' if m == 'forward' else 'fwd+bwd'}" for s, m in shapes],
                     fontsize=7)
    right.invert_yaxis()
    right.set_xlabel("speedup over PyTorch (log scale; dashed: as fast)")
    right.set_title("DCGAN-64 convolutions, batch 64")
    fig.suptitle("gesso vs PyTorch 1.13 on the CPU, same machine, same run (bench/compare_all.sh)")
    fig.tight_layout()
    tmp = out + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    os.replace(tmp, out)  # written under a temporary name, then renamed
    print(f"speed_chart: wrote {out}")


if __name__ == "__main__":
    main()
