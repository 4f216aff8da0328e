#!/usr/bin/env python3
"""compare_pytorch.py: the same training step timed in gesso and in PyTorch, in one invocation.

    python3 bench/compare_pytorch.py dcgan28      # 28x28 DCGAN, batch 64, widths 64
    python3 bench/compare_pytorch.py dcgan64      # the DCGAN paper's 64x64 model, batch 64, widths 64
    python3 bench/compare_pytorch.py dcgan28 --steps 10 --warmup 2 --threads 2 --gesso build/gesso

The last line reads
    <workload>: gesso <t> s/step, PyTorch <t> s/step, speedup <PyTorch time / gesso time>x
(a speedup above 1 means gesso is faster). PyTorch is Debian's python3-torch
(apt-get install python3-torch); it is used from this interpreter when it
imports torch, else from /usr/bin/python3 (Debian's torch lives there when a
pyenv or venv python runs this script). When neither has it, the script says
so plainly and times gesso alone.

Workloads are entries of WORKLOADS: a gesso command line (run through the
gesso binary, which prints one JSON line with "seconds_per_step") and a
PyTorch function (steps, warmup) -> seconds per step, run in a child
process. Adding one (gatys256, gatys512, conv, ...) is adding an entry.

Both sides run the same arithmetic on random inputs with the same thread
count; the numbers are the mean over the timed steps after warm-up.
OMP_WAIT_POLICY is set to passive for both unless already set: on a shared
machine spinning OpenMP threads lose their core at every barrier.
"""
import argparse
import json
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


def child_torch(args):
    """Runs in the interpreter that has torch: times the workload and prints one JSON line."""
    import torch
    torch.set_num_threads(args.threads)
    run = WORKLOADS[args.workload]["torch"]()
    seconds = run(args.steps, args.warmup)
    import resource
    print(json.dumps({"engine": "pytorch", "version": torch.__version__, "workload": args.workload,
                      "seconds_per_step": seconds, "threads": torch.get_num_threads(),
                      "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workload", choices=sorted(WORKLOADS))
    p.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    p.add_argument("--threads", type=int, default=0, help="threads for both (default: OMP_NUM_THREADS or all cores)")
    p.add_argument("--gesso", default="", help="the gesso binary (default: build/gesso, then build-*/gesso)")
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
    print(f"compare_pytorch: {args.workload}: {w['what']}; {args.steps} timed steps after {args.warmup}, "
          f"{args.threads} thread(s)")
    gesso = find_gesso(args.gesso)
    out = subprocess.run([gesso] + w["gesso"](args), env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"compare_pytorch: {gesso} failed:\n{out.stderr}")
    g = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"gesso   ({gesso}): {g['seconds_per_step']:.4f} s/step  {json.dumps(g)}")

    exe = python_with_torch()
    if exe is None:
        print("PyTorch is not installed (neither this python nor /usr/bin/python3 imports torch; "
              "apt-get install python3-torch): timed gesso only")
        print(f"{args.workload}: gesso {g['seconds_per_step']:.4f} s/step, PyTorch not installed, no speedup")
        return
    cmd = [exe, os.path.abspath(__file__), args.workload, "--torch-child", "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--threads", str(args.threads)]
    t_out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if t_out.returncode != 0:
        sys.exit(f"compare_pytorch: the PyTorch run failed:\n{t_out.stderr}")
    t = json.loads(t_out.stdout.strip().splitlines()[-1])
    print(f"PyTorch ({exe}, torch {t['version']}): {t['seconds_per_step']:.4f} s/step  {json.dumps(t)}")
    speedup = t["seconds_per_step"] / g["seconds_per_step"]
    print(f"{args.workload}: gesso {g['seconds_per_step']:.4f} s/step, PyTorch {t['seconds_per_step']:.4f} s/step, "
          f"speedup {speedup:.2f}x (PyTorch time / gesso time)")


if __name__ == "__main__":
    main()
