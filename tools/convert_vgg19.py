#!/usr/bin/env python3
"""convert_vgg19.py: torchvision's ImageNet VGG-19 -> the safetensors file `gesso style --model vgg19` reads.

    python3 tools/convert_vgg19.py --out /usr/local/share/gesso/vgg19.safetensors
    python3 tools/convert_vgg19.py --from vgg19-dcbb9e9d.pth --out vgg19.safetensors

Needs torch, and torchvision unless --from names a saved state dict (torchvision's
vgg19-dcbb9e9d.pth, or any file torch.load reads into {"features.0.weight": ...}).
Without --from, torchvision's published weights are fetched (or taken from its cache).

Only the convolutional part is written, under torchvision's own names
("features.0.weight", "features.0.bias", ..., "features.34.bias"; 16 convolutions,
80 MB in float32): style transfer never uses the classifier. The file is the
standard safetensors layout (8-byte little-endian header length, JSON header,
raw little-endian float32 data), written by hand so that the `safetensors`
package is not needed, to a temporary name and renamed.
"""
import argparse
import json
import os
import struct
import sys

# (index, C_out, C_in) of every convolution in torchvision's vgg19().features
CONVS = []
_c_in, _i = 3, 0
for _v in [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]:
    if _v == "M":
        _i += 1
    else:
        CONVS.append((_i, _v, _c_in))
        _c_in, _i = _v, _i + 2


def load_state_dict(source):
    import torch
    if source:
        state = torch.load(source, map_location="cpu")
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        return state
    import torchvision
    try:  # torchvision >= 0.13
        model = torchvision.models.vgg19(weights=torchvision.models.VGG19_Weights.IMAGENET1K_V1)
    except AttributeError:
        model = torchvision.models.vgg19(pretrained=True)
    return model.state_dict()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="the safetensors file to write")
    p.add_argument("--from", dest="source", default="", help="a saved torchvision VGG-19 state dict (.pth)")
    args = p.parse_args()
    try:
        state = load_state_dict(args.source)
    except ImportError as e:
        sys.exit(f"convert_vgg19: needs torch (and torchvision without --from): {e}")

    tensors = []
    for index, c_out, c_in in CONVS:
        for kind, shape in (("weight", [c_out, c_in, 3, 3]), ("bias", [c_out])):
            name = f"features.{index}.{kind}"
            if name not in state:
                sys.exit(f"convert_vgg19: the source has no '{name}'; is it torchvision's VGG-19?")
            t = state[name].detach().to("cpu").float().contiguous()
            if list(t.shape) != shape:
                sys.exit(f"convert_vgg19: '{name}' has shape {list(t.shape)}, expected {shape}")
            tensors.append((name, shape, t.numpy().astype("<f4").tobytes()))

    header, offset = {"__metadata__": {"source": "torchvision vgg19 IMAGENET1K_V1", "format": "pt"}}, 0
    for name, shape, data in sorted(tensors):
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)  # the data section starts on a multiple of 8
    tmp = f"{args.out}.tmp.{os.getpid()}"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for _, _, data in sorted(tensors):
            f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, args.out)
    print(f"convert_vgg19: wrote {args.out} ({len(tensors)} tensors, {offset / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
