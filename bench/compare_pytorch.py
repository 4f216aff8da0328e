#!/usr/bin/env python3
"""compare_pytorch.py: the same training step timed in gesso and in PyTorch, in one invocation.

    python3 bench/compare_pytorch.py dcgan28      # 28x28 DCGAN, batch 64, widths 64
    python3 bench/compare_pytorch.py dcgan64      # the DCGAN paper's 64x64 model, batch 64, widths 64
    python3 bench/compare_pytorch.py dcgan28 --steps 10 --warmup 2 --threads 2 --gesso build/gesso
    python3 bench/compare_pytorch.py conv --threads 1   # the DCGAN-64 convolutions one by one (then --threads 2)
    python3 bench/compare_pytorch.py gatys256 --isa avx2  # both engines held to AVX2+FMA (an AVX2-only CPU)

The last line reads
    <workload>: gesso <t> s/step, PyTorch <t> s/step, speedup <PyTorch time / gesso time>x
(a speedup above 1 means gesso is faster), except for `conv`, whose last line reads
    conv: worst speedup <x>x (<shape> <forward|forward+backward>), conv_transpose2d average speedup <y>x, ...
after a per-shape table (see "The conv workload" below). PyTorch is Debian's python3-torch
(apt-get install python3-torch); it is used from this interpreter when it
imports torch, else from /usr/bin/python3 (Debian's torch lives there when a
pyenv or venv python runs this script). When neither has it, the script says
so plainly and times gesso alone.

Workloads are entries of WORKLOADS: a gesso command line (run through the
gesso binary, which prints one JSON line with "seconds_per_step") and a
PyTorch function (steps, warmup) -> seconds per step (or a dict holding
"seconds_per_step" and more), run in a child process; an optional "report"
function (gesso's JSON, PyTorch's or None) prints a workload's own table and
last line. Adding one is adding an entry.

Both sides run the same arithmetic on random inputs with the same thread
count; the numbers are the mean over the timed steps after warm-up.
OMP_WAIT_POLICY is set to passive for both unless already set: on a shared
machine spinning OpenMP threads lose their core at every barrier. The thread
count (--threads N, default OMP_NUM_THREADS or all cores) goes to both as
OMP_NUM_THREADS and, for PyTorch, torch.set_num_threads(N): run --threads 1
and --threads 2 for the 1- and 2-thread figures. --rounds N runs gesso,
PyTorch, gesso, PyTorch, ... N times and keeps each engine's best: on a
shared machine a busy neighbour then costs both alike. PyTorch's OpenBLAS gets
its best core for the CPU (OPENBLAS_CORETYPE, unless already set), and
--isa avx2 holds both engines to AVX2+FMA (see isa_environments).

The conv workload: every convolution of the DCGAN-64 models (batch 64,
widths 64, 4x4 kernels), each timed alone, forward (no graph) and forward +
backward (gradients to input and weight, no bias):
    conv2d, stride 2 pad 1:            3->64 @64, 64->128 @32, 128->256 @16, 256->512 @8
    conv2d, valid:                     512->1 @4 (the discriminator's last layer)
    conv_transpose2d, stride 1 pad 0:  100->512 @1 (1x1 -> 4x4, the generator's first layer)
    conv_transpose2d, stride 2 pad 1:  512->256 @4, 256->128 @8, 128->64 @16, 64->3 @32
The gesso side is `gesso gan bench --workload conv` (tools/conv_bench.cpp),
which prints one JSON line with a "shapes" list: per shape its name, flops
and the seconds of "forward_s" and "forward_backward_s". The PyTorch side
(torch_conv_layers) times torch.nn.functional.conv2d / conv_transpose2d on
the same shapes and returns the same list. Each figure is the BEST of
--steps timed runs after --warmup runs (per-op times are short and the
machine shared: the minimum is the least disturbed run), on both sides. The
table gives ms and GFLOP/s (2 flops per multiply-add of the forward; forward
+ backward counts 3 forwards) and speedup = PyTorch time / gesso time; the
last line gives the worst speedup of all 20 figures and the geometric mean
of the 10 conv_transpose2d speedups (the arithmetic mean in brackets).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---- PyTorch twins (imported lazily: this file must run without torch)

def torch_dcgan_step(image_size, channels, width=64, latent=100, batch=64):
    """Returns run(steps, warmup) -> seconds per step of gesso's GanModels::step in PyTorch."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    stages = {28: 2, 32: 3, 64: 4, 128: 5}[image_size]
    base = 7 if image_size == 28 else 4

    def generator():
        ch = width << (stages - 1)
        layers = [nn.ConvTranspose2d(latent, ch, base, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(1, stages):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=True), nn.Tanh()]
        return nn.Sequential(*layers)

    def discriminator():
        ch = width
        layers = [nn.Conv2d(channels, ch, 4, 2, 1, bias=True), nn.LeakyReLU(0.2, True)]
        for _ in range(1, stages):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, base, 1, 0, bias=True)]
        return nn.Sequential(*layers)

    torch.manual_seed(0)
    G, D = generator(), discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(batch, channels, image_size, image_size) * 2 - 1

    def step():
        z = torch.randn(batch, latent)
        fake = G(z.view(batch, latent, 1, 1))
        real_logits = D(real).view(batch)
        fake_logits = D(fake.detach()).view(batch)
        loss_d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        loss_d.item()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        loss_g = F.softplus(-D(fake).view(batch)).mean()
        loss_g.item()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)

    def run(steps, warmup):
        for _ in range(warmup):
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps

    return run


def torch_gatys_step(image_size):
    """Returns run(steps, warmup) -> seconds per step of gesso's GatysWorkload (style/workload.h) in PyTorch:
    VGG-19's features to relu5_1 (random weights, in-place ReLU as torchvision's), content loss at relu4_2,
    Gram style losses at relu1_1..relu5_1, total variation, backward to the image."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    torch.manual_seed(0)
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
    layers, names, c_in, block, conv = [], [], 3, 1, 1
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.ReLU(inplace=True)]
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            c_in, conv = v, conv + 1
    net = nn.Sequential(*layers).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    content_layers, style_layers = ["relu4_2"], ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    wanted = set(content_layers + style_layers)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def features(img):
        out, x = {}, (img - mean) / std
        for name, layer in zip(names, net):
            x = layer(x)
            if name in wanted:
                out[name] = x.clone() if name.startswith("conv") else x  # the in-place ReLU after a conv would change it
            if len(out) == len(wanted):
                break
        return out

    def gram(f):
        _, c, h, w = f.shape
        m = f.reshape(c, h * w)
        return (m @ m.t()).div(c * h * w)

    def tv(x):
        return ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean() + ((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2).mean()

    content = torch.rand(1, 3, image_size, image_size)
    style = torch.rand(1, 3, image_size, image_size)
    with torch.no_grad():
        content_t = {k: v for k, v in features(content).items() if k in content_layers}
        style_f = features(style)
        gram_t = {k: gram(style_f[k]) for k in style_layers}
    image = torch.rand(1, 3, image_size, image_size, requires_grad=True)

    def step():
        f = features(image)
        loss = tv(image) * 1e-3
        for k in content_layers:
            loss = loss + F.mse_loss(f[k], content_t[k])
        for k in style_layers:
            loss = loss + F.mse_loss(gram(f[k]), gram_t[k]) * 1e3
        image.grad = None
        loss.item()
        loss.backward()

    def run(steps, warmup):
        for _ in range(warmup):
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return (time.perf_counter() - start) / steps

    return run


def conv_shapes(width=64):
    """The DCGAN-64 convolutions as (transposed, c_in, c_out, hw, stride, pad), as tools/conv_bench.cpp lists them."""
    w = width
    return [(False, 3, w, 64, 2, 1), (False, w, 2 * w, 32, 2, 1), (False, 2 * w, 4 * w, 16, 2, 1),
            (False, 4 * w, 8 * w, 8, 2, 1), (False, 8 * w, 1, 4, 1, 0), (True, 100, 8 * w, 1, 1, 0),
            (True, 8 * w, 4 * w, 4, 2, 1), (True, 4 * w, 2 * w, 8, 2, 1), (True, 2 * w, w, 16, 2, 1),
            (True, w, 3, 32, 2, 1)]


def conv_shape_name(transposed, c_in, c_out, hw, stride, pad):
    return f"{'conv_transpose2d' if transposed else 'conv2d'} {c_in}->{c_out} @{hw} s{stride}p{pad}"


def torch_conv_layers(batch=64, width=64, kernel=4):
    """Returns run(steps, warmup) -> {"shapes": [...], "seconds_per_step": sum of forward+backward} for the conv
    workload: each shape's best forward and forward+backward time with torch.nn.functional."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)

    def best(steps, warmup, f):
        for _ in range(warmup):
            f()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return min(times)

    def run(steps, warmup):
        rows, total = [], 0.0
        for (transposed, c_in, c_out, hw, stride, pad) in conv_shapes(width):
            conv = F.conv_transpose2d if transposed else F.conv2d
            out_hw = (hw - 1) * stride - 2 * pad + kernel if transposed else (hw + 2 * pad - kernel) // stride + 1
            x = torch.randn(batch, c_in, hw, hw)
            w = torch.randn(*((c_in, c_out) if transposed else (c_out, c_in)), kernel, kernel) * 0.02
            gy = torch.randn(batch, c_out, out_hw, out_hw)

            def forward():
                with torch.no_grad():
                    conv(x, w, stride=stride, padding=pad)

            xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()

            def forward_backward():
                y = conv(xg, wg, stride=stride, padding=pad)
                torch.autograd.grad(y, (xg, wg), gy)

            fwd, fwd_bwd = best(steps, warmup, forward), best(steps, warmup, forward_backward)
            pixels = batch * (hw * hw if transposed else out_hw * out_hw)
            rows.append({"name": conv_shape_name(transposed, c_in, c_out, hw, stride, pad),
                         "op": "conv_transpose2d" if transposed else "conv2d",
                         "flops": 2.0 * pixels * c_in * c_out * kernel * kernel,
                         "forward_s": fwd, "forward_backward_s": fwd_bwd})
            total += fwd_bwd
        return {"shapes": rows, "seconds_per_step": total}

    return run


def report_conv(g, t):
    """Prints the conv workload's per-shape table and its last line (t is None without PyTorch)."""
    mine = {s["name"]: s for s in g["shapes"]}
    theirs = {s["name"]: s for s in t["shapes"]} if t else {}
    if t and set(mine) != set(theirs):
        sys.exit(f"compare_pytorch: gesso and PyTorch timed different shapes:\n  {sorted(mine)}\n  {sorted(theirs)}")
    modes = [("forward_s", "forward"), ("forward_backward_s", "forward+backward")]
    head = f"{'shape':36s} {'mode':16s} {'gesso ms':>9s} {'GFLOP/s':>8s}"
    if t:
        head += f" {'PyTorch ms':>10s} {'GFLOP/s':>8s} {'speedup':>8s}"
    print(head)
    speedups = []  # (speedup, name, mode, op)
    for s in g["shapes"]:
        for key, mode in modes:
            flops = s["flops"] * (3 if key == "forward_backward_s" else 1)
            line = f"{s['name']:36s} {mode:16s} {s[key] * 1e3:9.2f} {flops / s[key] * 1e-9:8.1f}"
            if t:
                ts = theirs[s["name"]][key]
                speedups.append((ts / s[key], s["name"], mode, s["op"]))
                line += f" {ts * 1e3:10.2f} {flops / ts * 1e-9:8.1f} {ts / s[key]:7.2f}x"
            print(line)
    if not t:
        print(f"conv: gesso {g['seconds_per_step']:.4f} s (sum of forward+backward), PyTorch not installed, no speedup")
        return
    worst = min(speedups)
    transposed = [x[0] for x in speedups if x[3] == "conv_transpose2d"]
    geomean = math.exp(sum(math.log(x) for x in transposed) / len(transposed))
    arith = sum(transposed) / len(transposed)
    print(f"conv: worst speedup {worst[0]:.2f}x ({worst[1]} {worst[2]}), conv_transpose2d average speedup "
          f"{geomean:.2f}x (arithmetic {arith:.2f}x); gesso {g['seconds_per_step']:.4f} s, "
          f"PyTorch {t['seconds_per_step']:.4f} s (sum of forward+backward), {g['threads']} thread(s)")


WORKLOADS = {
    "dcgan28": {
        "what": "one DCGAN training step, 28x28 grey, batch 64, widths 64, non-saturating loss, Adam",
        "gesso": lambda a: ["gan", "bench", "--workload", "dcgan28", "--steps", str(a.steps), "--warmup", str(a.warmup)],
        "torch": lambda: torch_dcgan_step(28, 1),
    },
    "dcgan64": {
        "what": "one DCGAN training step, 64x64 colour (the DCGAN paper's model), batch 64, widths 64",
        "gesso": lambda a: ["gan", "bench", "--workload", "dcgan64", "--steps", str(a.steps), "--warmup", str(a.warmup)],
        "torch": lambda: torch_dcgan_step(64, 3),
    },
    "gatys256": {
        "what": "one Gatys style-transfer iteration, VGG-19 (random weights) at 256x256: forward to relu5_1, "
                "content + 5 Gram style losses + TV, backward to the image",
        "gesso": lambda a: ["style", "--bench", "256", "--model", "vgg19", "--steps", str(a.steps),
                            "--warmup", str(a.warmup)],
        "torch": lambda: torch_gatys_step(256),
    },
    "gatys512": {
        "what": "one Gatys style-transfer iteration, VGG-19 (random weights) at 512x512 (as gatys256)",
        "gesso": lambda a: ["style", "--bench", "512", "--model", "vgg19", "--steps", str(a.steps),
                            "--warmup", str(a.warmup)],
        "torch": lambda: torch_gatys_step(512),
    },
    "conv": {
        "what": "the DCGAN-64 convolutions one by one (batch 64, widths 64): forward and forward+backward, "
                "best of the timed runs",
        "gesso": lambda a: ["gan", "bench", "--workload", "conv", "--steps", str(a.steps), "--warmup", str(a.warmup)],
        "torch": lambda: torch_conv_layers(),
        "report": report_conv,
    },
}


def find_gesso(given):
    if given:
        return given
    if os.environ.get("GESSO_BIN"):
        return os.environ["GESSO_BIN"]
    candidates = [os.path.join(ROOT, "build", "gesso")]
    candidates += sorted(os.path.join(ROOT, d, "gesso") for d in os.listdir(ROOT) if d.startswith("build-"))
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    sys.exit("compare_pytorch: no gesso binary found (build it: cmake --build build), or pass --gesso PATH")


def python_with_torch():
    """An interpreter that imports torch: this one, else Debian's /usr/bin/python3; None when neither."""
    for exe in [sys.executable, "/usr/bin/python3"]:
        if exe and os.access(exe, os.X_OK):
            ok = subprocess.run([exe, "-c", "import torch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if ok.returncode == 0:
                return exe
    return None


def cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return False


def isa_environments(env, isa):
    """The environments of the gesso run and of the PyTorch run, and one line saying what they hold.

    PyTorch's BLAS here is OpenBLAS, which falls back to its generic (SSE3) kernels on CPUs newer than it knows;
    unless OPENBLAS_CORETYPE is already set, PyTorch gets the best OpenBLAS core for the instruction set, so its
    conv_transpose2d and matrix products (im2col + BLAS) are not handicapped. With isa == "avx2" both engines are
    held to AVX2+FMA: gesso by GESSO_CPU_ISA, PyTorch's oneDNN by ONEDNN_MAX_CPU_ISA, its own kernels by
    ATEN_CPU_CAPABILITY and its OpenBLAS by the Haswell (AVX2) core, which is also what OpenBLAS runs on Zen."""
    gesso_env, torch_env = dict(env), dict(env)
    if isa == "avx2":
        gesso_env["GESSO_CPU_ISA"] = "avx2"
        torch_env.update({"ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
                          "OPENBLAS_CORETYPE": "Haswell"})
    elif "OPENBLAS_CORETYPE" not in env:
        torch_env["OPENBLAS_CORETYPE"] = "SkylakeX" if cpu_has_avx512() else "Haswell"
    what = (f"gesso GESSO_CPU_ISA={gesso_env.get('GESSO_CPU_ISA', 'best')}, PyTorch OPENBLAS_CORETYPE="
            f"{torch_env.get('OPENBLAS_CORETYPE')} ONEDNN_MAX_CPU_ISA={torch_env.get('ONEDNN_MAX_CPU_ISA', 'best')}")
    return gesso_env, torch_env, what


def best_of(a, b):
    """The better of two runs of one engine: the shorter step (per shape and mode for conv), the larger peak memory."""
    if a is None:
        return b
    out = dict(b)
    out["seconds_per_step"] = min(a["seconds_per_step"], b["seconds_per_step"])
    if "max_rss_bytes" in a and "max_rss_bytes" in b:
        out["max_rss_bytes"] = max(a["max_rss_bytes"], b["max_rss_bytes"])
    if "shapes" in a:
        theirs = {x["name"]: x for x in a["shapes"]}
        out["shapes"] = [dict(x, forward_s=min(x["forward_s"], theirs[x["name"]]["forward_s"]),
                              forward_backward_s=min(x["forward_backward_s"], theirs[x["name"]]["forward_backward_s"]))
                         for x in b["shapes"]]
        out["seconds_per_step"] = sum(x["forward_backward_s"] for x in out["shapes"])
    return out


def child_torch(args):
    """Runs in the interpreter that has torch: times the workload and prints one JSON line."""
    import torch
    torch.set_num_threads(args.threads)
    run = WORKLOADS[args.workload]["torch"]()
    result = run(args.steps, args.warmup)  # seconds per step, or a dict holding "seconds_per_step" and more
    import resource
    out = {"engine": "pytorch", "version": torch.__version__, "workload": args.workload,
           "threads": torch.get_num_threads(),
           "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    out.update(result if isinstance(result, dict) else {"seconds_per_step": result})
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    p.add_argument("--threads", type=int, default=0, help="threads for both (default: OMP_NUM_THREADS or all cores)")
    p.add_argument("--gesso", default="", help="the gesso binary (default: build/gesso, then build-*/gesso)")
    p.add_argument("--rounds", type=int, default=1,
                   help="the engines take turns this many times; each keeps its best (default 1)")
    p.add_argument("--isa", choices=["native", "avx2"], default="native",
                   help="native: each engine at its best for this CPU; avx2: both held to AVX2+FMA "
                        "(the instruction set of an AVX2-only machine such as Zen 3)")
    p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads <= 0:
        args.threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count() or 1
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "passive")
    env["OMP_NUM_THREADS"] = str(args.threads)
    if args.torch_child:
        child_torch(args)
        return

    w = WORKLOADS[args.workload]
    gesso_env, torch_env, isa_line = isa_environments(env, args.isa)
    print(f"compare_pytorch: {args.workload}: {w['what']}; {args.steps} timed steps after {args.warmup}, "
          f"{args.threads} thread(s); {isa_line}")
    gesso = find_gesso(args.gesso)
    exe = python_with_torch()
    if exe is None:
        print("PyTorch is not installed (neither this python nor /usr/bin/python3 imports torch; "
              "apt-get install python3-torch): timing gesso only")
    torch_cmd = [exe, os.path.abspath(__file__), args.workload, "--torch-child", "--steps", str(args.steps),
                 "--warmup", str(args.warmup), "--threads", str(args.threads)]
    # The engines take turns, round after round, and each keeps its best: a
    # neighbour that loads the machine for a while then costs both alike.
    g = t = None
    for r in range(args.rounds):
        out = subprocess.run([gesso] + w["gesso"](args), env=gesso_env, capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"compare_pytorch: {gesso} failed:\n{out.stderr}")
        gr = json.loads(out.stdout.strip().splitlines()[-1])
        brief = {k: v for k, v in gr.items() if k != "shapes"}  # the per-shape figures go into the table
        print(f"gesso   ({gesso}) round {r + 1}: {gr['seconds_per_step']:.4f} s/step  {json.dumps(brief)}")
        g = best_of(g, gr)
        if exe is None:
            continue
        t_out = subprocess.run(torch_cmd, env=torch_env, capture_output=True, text=True)
        if t_out.returncode != 0:
            sys.exit(f"compare_pytorch: the PyTorch run failed:\n{t_out.stderr}")
        tr = json.loads(t_out.stdout.strip().splitlines()[-1])
        brief = {k: v for k, v in tr.items() if k != "shapes"}
        print(f"PyTorch ({exe}, torch {tr['version']}) round {r + 1}: {tr['seconds_per_step']:.4f} s/step  "
              f"{json.dumps(brief)}")
        t = best_of(t, tr)
    if args.rounds > 1:
        print(f"best of {args.rounds} rounds each (per shape for conv):")
    if exe is None:
        if "report" in w:
            w["report"](g, None)
            return
        print(f"{args.workload}: gesso {g['seconds_per_step']:.4f} s/step, PyTorch not installed, no speedup")
        return
    if "report" in w:
        w["report"](g, t)
        return
    if "max_rss_bytes" in g and "max_rss_bytes" in t:
        mb = lambda b: b / 2**20
        print(f"peak memory (max RSS of each process): gesso {mb(g['max_rss_bytes']):.0f} MB, "
              f"PyTorch {mb(t['max_rss_bytes']):.0f} MB ({g['max_rss_bytes'] / t['max_rss_bytes']:.2f}x)")
    speedup = t["seconds_per_step"] / g["seconds_per_step"]
    print(f"{args.workload}: gesso {g['seconds_per_step']:.4f} s/step, PyTorch {t['seconds_per_step']:.4f} s/step, "
          f"speedup {speedup:.2f}x (PyTorch time / gesso time)")


if __name__ == "__main__":
    main()
