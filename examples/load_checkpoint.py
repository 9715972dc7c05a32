#!/usr/bin/env python3
"""Evaluates a scorematch checkpoint's score at a point, from the file alone.

    python3 examples/load_checkpoint.py results/NAME/runs/RUN_ID/model.safetensors 0.5 -1.0
    python3 examples/load_checkpoint.py model.safetensors 0.5 -1.0 --sigma 0.1

prints s(x) (or s(x, sigma) for a noise-conditional network) as D space-separated numbers.
Needs numpy and the `safetensors` package. Reads the `mlp` model of any depth, width and
activation, noise-conditional or not, and refuses the others; README's section on
`model.safetensors` describes the layout this follows:

    h_0 = x                      ([x, log sigma] for a noise-conditional network)
    h_i = act(h_{i-1} @ W_i + b_i)   for the hidden layers i = 1 .. depth
    s   = h_depth @ W_out + b_out    (divided by sigma for a noise-conditional network)

with W_i = `layers.{i-1}.weight` of shape [inputs, outputs] and b_i = `layers.{i-1}.bias`.
"""

import argparse
import json
import sys

import numpy as np
from safetensors import safe_open

FORMAT = "scorematch-checkpoint"
VERSION = "2"

ACTIVATIONS = {
    # z * logistic(z), with logistic(z) = (1 + tanh(z / 2)) / 2 (no overflow).
    "silu": lambda z: z * 0.5 * (1.0 + np.tanh(0.5 * z)),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "tanh": np.tanh,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "relu": lambda z: np.maximum(z, 0.0),
}


class Refused(Exception):
    """A file this example cannot evaluate, with the reason."""


def fnv1a(data, hash_=0xCBF29CE484222325):
    """FNV-1a, 64 bits (the checksum's hash)."""
    for byte in data:
        hash_ = ((hash_ ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return hash_


def load(path):
    """The checkpoint's configuration (a dict) and its tensors (name -> float64 array)."""
    try:
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {name: f.get_tensor(name).astype(np.float64) for name in f.keys()}
    except Exception as e:  # the package's own error type, or the file's
        raise Refused(f"not a readable safetensors file ({e})") from e
    if meta.get("format") != FORMAT:
        raise Refused("not a scorematch checkpoint")
    if meta.get("version") != VERSION:
        raise Refused(f"format version {meta.get('version')}, this example reads {VERSION}")
    # The checksum covers the configuration's text and the data section (every tensor's bytes).
    with open(path, "rb") as f:
        raw = f.read()
    header = int.from_bytes(raw[:8], "little")
    config_text = meta.get("config", "")
    digest = fnv1a(raw[8 + header :], fnv1a(config_text.encode("utf-8")))
    if f"{digest:016x}" != meta.get("checksum"):
        raise Refused("its configuration or parameters do not match their checksum")
    return json.loads(config_text), tensors


def score(config, tensors, x, sigma=None):
    """s(x) of the `mlp` model in `config` with parameters `tensors`, at the point `x`."""
    model = config["model"]
    if model["name"] != "mlp":
        raise Refused(f"model `{model['name']}`: this example evaluates only `mlp`")
    activation = ACTIVATIONS.get(model["activation"])
    if activation is None:
        raise Refused(f"unknown activation `{model['activation']}`")
    depth = model["depth"]
    names = {f"layers.{i}.{part}" for i in range(depth + 1) for part in ("weight", "bias")}
    if set(tensors) != names:
        raise Refused(f"tensors {sorted(tensors)}, a depth-{depth} mlp has {sorted(names)}")
    dim = tensors[f"layers.{depth}.weight"].shape[1]
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (dim,):
        raise Refused(f"the point has {x.size} coordinates and the model's data {dim}")
    h = x
    if model["noise_conditional"]:
        if sigma is None:
            raise Refused("a noise-conditional network needs --sigma")
        h = np.concatenate([x, [np.log(sigma)]])
    for i in range(depth):
        h = activation(h @ tensors[f"layers.{i}.weight"] + tensors[f"layers.{i}.bias"])
    out = h @ tensors[f"layers.{depth}.weight"] + tensors[f"layers.{depth}.bias"]
    return out / sigma if model["noise_conditional"] else out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a run's model.safetensors")
    parser.add_argument("x", nargs="+", type=float, help="the point's coordinates")
    parser.add_argument("--sigma", type=float, help="the noise level (noise-conditional nets)")
    args = parser.parse_args()
    try:
        config, tensors = load(args.checkpoint)
        s = score(config, tensors, args.x, args.sigma)
    except Refused as e:
        print(f"{args.checkpoint}: {e}", file=sys.stderr)
        return 2
    print(" ".join(repr(float(v)) for v in s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
