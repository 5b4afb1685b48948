#!/usr/bin/env python3
"""Issue 11's workloads in PyTorch, for compare.py (`make compare-torch`).

The same workloads, names, definitions, timing loop and JSON lines as Nabla's `nabla-speed`
(Benchmarks/Sources/Workloads and Sources/NablaSpeed):

    python workloads.py --threads 1 --seconds 3 dense-784-256-fwdbwd cnn-step
    python workloads.py --list

Each workload: built (untimed), warmed up (at least 3 iterations and --warmup seconds), then
timed one iteration at a time until --seconds have passed and --min-samples were taken (or
--max-samples). Epochs run once, without warm-up; run each in a process of its own, so that
max_rss_mib (the process's peak resident memory) is that epoch's.
"""

import argparse
import gzip
import json
import os
import platform
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATA = "Fashion-MNIST in order, pixels/255, PyTorch default init, mean cross-entropy, Adam lr 1e-3"
CNN = "CNN conv32-pool-conv64-pool-dense128-dense10"
MLP = "MLP 784-256-128-10 ReLU"
BACKWARD = "zero grads + forward + backward"

# name: (kind, definition). The definitions are Nabla's (BenchCatalog.ComparisonWorkload), word
# for word: compare.py pairs two results only when their definitions agree.
WORKLOADS = {
    "dense-784-256-fwd": ("layer", "Dense 784→256, batch 64, forward"),
    "dense-784-256-fwdbwd": ("layer", f"Dense 784→256, batch 64, {BACKWARD} (input gradient, random upstream)"),
    "dense-1024-1024-fwd": ("layer", "Dense 1024→1024, batch 64, forward"),
    "dense-1024-1024-fwdbwd": ("layer", f"Dense 1024→1024, batch 64, {BACKWARD} (input gradient, random upstream)"),
    "conv-1-32-fwd": ("layer", "Conv2D 3×3 pad 1, 1→32, 28×28, batch 32, forward"),
    "conv-1-32-first-fwdbwd": (
        "layer",
        f"Conv2D 3×3 pad 1, 1→32, 28×28, batch 32, {BACKWARD} (first layer: no input gradient, random upstream)",
    ),
    "conv-32-64-fwd": ("layer", "Conv2D 3×3 pad 1, 32→64, 14×14, batch 32, forward"),
    "conv-32-64-fwdbwd": (
        "layer",
        f"Conv2D 3×3 pad 1, 32→64, 14×14, batch 32, {BACKWARD} (input gradient, random upstream)",
    ),
    "convtranspose-128-64-fwd": ("layer", "ConvTranspose2D 4×4 stride 2 pad 1, 128→64, 7×7→14×14, batch 64, forward"),
    "convtranspose-128-64-fwdbwd": (
        "layer",
        f"ConvTranspose2D 4×4 stride 2 pad 1, 128→64, 7×7→14×14, batch 64, {BACKWARD} (input gradient, random upstream)",
    ),
    "conv-depthwise-32-fwdbwd": (
        "layer",
        f"Conv2D depthwise 3×3 pad 1, 32 channels, 28×28, batch 32, {BACKWARD} (input gradient, random upstream)",
    ),
    "lstm-2x128-fwdbwd": (
        "layer",
        f"LSTM 2 layers 128→128, 35 steps, batch 20, {BACKWARD} (input gradient, random upstream)",
    ),
    "mlp-step": ("step", f"{MLP}, one training step, batch 128; {DATA}"),
    "cnn-step": ("step", f"{CNN}, one training step, batch 64; {DATA}"),
    "mlp-epoch": ("epoch", f"{MLP}, one epoch of 60000 images, batch 128 (last batch 96); {DATA}"),
    "cnn-epoch": ("epoch", f"{CNN}, one epoch of 60000 images, batch 64 (last batch 32); {DATA}"),
}
GROUPS = {
    "all": [name for name, (kind, _) in WORKLOADS.items() if kind != "epoch"],
    "layers": [name for name, (kind, _) in WORKLOADS.items() if kind == "layer"],
    "steps": [name for name, (kind, _) in WORKLOADS.items() if kind == "step"],
    "epochs": [name for name, (kind, _) in WORKLOADS.items() if kind == "epoch"],
}
BATCH = {"mlp-step": 128, "mlp-epoch": 128, "cnn-step": 64, "cnn-epoch": 64}
STEP_BATCHES = 20  # steps cycle over the first 20 batches


def load_training_images(directory, limit=None):
    """Fashion-MNIST's training split as float32 [N, 1, 28, 28] (pixels / 255) and int64 labels."""

    def idx(name, rank):
        with gzip.open(os.path.join(directory, name), "rb") as file:
            raw = file.read()
        header = 4 + 4 * rank
        dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
        assert raw[2] == 0x08 and raw[3] == rank, f"{name}: not an IDX file of unsigned bytes, rank {rank}"
        return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)

    images = idx("train-images-idx3-ubyte.gz", 3)
    labels = idx("train-labels-idx1-ubyte.gz", 1)
    count = len(labels) if limit is None else min(limit, len(labels))
    x = torch.from_numpy(images[:count].copy()).to(torch.float32).div_(255).reshape(count, 1, 28, 28)
    y = torch.from_numpy(labels[:count].astype(np.int64))
    return x, y


def network(cnn):
    """The MLP or the CNN, PyTorch's default initialization, on [N, 1, 28, 28] input."""
    if cnn:
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
        )
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def prepare(name, images):
    """Returns one iteration as a function returning its steps' losses (none for layers)."""
    kind, _ = WORKLOADS[name]
    torch.manual_seed(0)
    if kind == "layer":
        if name.startswith("dense"):
            size_in, size_out = (784, 256) if "784" in name else (1024, 1024)
            layer, shape = nn.Linear(size_in, size_out), (64, size_in)
        elif name.startswith("conv-depthwise"):
            layer, shape = nn.Conv2d(32, 32, 3, padding=1, groups=32), (32, 32, 28, 28)
        elif name.startswith("convtranspose"):
            layer, shape = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), (64, 128, 7, 7)
        elif name.startswith("lstm"):
            lstm = nn.LSTM(128, 128, num_layers=2)
            layer, shape = (lambda x: lstm(x)[0]), (35, 20, 128)
            layer.zero_grad = lstm.zero_grad
        else:
            first = name.startswith("conv-1-32")
            channels_in, channels_out, side = (1, 32, 28) if first else (32, 64, 14)
            layer, shape = nn.Conv2d(channels_in, channels_out, 3, padding=1), (32, channels_in, side, side)
        backward = name.endswith("fwdbwd")
        # A first layer's input needs no gradient; the other layers' inputs do.
        x = (torch.rand(shape) * 2 - 1).requires_grad_(backward and not name.startswith("conv-1-32"))
        with torch.no_grad():
            upstream = torch.rand(layer(x).shape) * 2 - 1
        if not backward:
            return lambda: (layer(x), [])[1]

        def forward_backward():
            layer.zero_grad(set_to_none=True)
            x.grad = None
            layer(x).backward(upstream)
            return []

        return forward_backward

    model = network(cnn=name.startswith("cnn"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all, y_all = images
    batch = BATCH[name]

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    if kind == "step":
        batches = [(x_all[i : i + batch], y_all[i : i + batch]) for i in range(0, STEP_BATCHES * batch, batch)]
        state = {"next": 0}

        def one_step():
            x, y = batches[state["next"]]
            state["next"] = (state["next"] + 1) % len(batches)
            return [step(x, y)]

        return one_step
    return lambda: [step(x_all[i : i + batch], y_all[i : i + batch]) for i in range(0, len(y_all), batch)]


def max_rss_mib():
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1048576 if sys.platform == "darwin" else usage / 1024


def emit(line):
    print(json.dumps(line, sort_keys=True, ensure_ascii=False), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", help="names or groups (all, layers, steps, epochs); default all")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--min-samples", type=int, default=5)
    parser.add_argument("--max-samples", type=int, default=10_000)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--list", action="store_true")
    options = parser.parse_args()
    if options.list:
        for name, (_, definition) in WORKLOADS.items():
            print(f"{name}\t{definition}")
        print("groups: " + ", ".join(sorted(GROUPS)) + " (all = everything but epochs)")
        return
    names = []
    for argument in options.workloads or ["all"]:
        if argument in GROUPS:
            names += GROUPS[argument]
        elif argument in WORKLOADS:
            names.append(argument)
        else:
            parser.error(f"unknown workload {argument} (see --list)")
    if options.threads:
        torch.set_num_threads(options.threads)
    emit({
        "kind": "info", "library": "torch", "version": torch.__version__, "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(), "mkl": torch.backends.mkl.is_available(),
        "python": platform.python_version(),
    })

    needed = [STEP_BATCHES * BATCH[n] if WORKLOADS[n][0] == "step" else None for n in names if n in BATCH]
    images = None
    if needed:
        images = load_training_images(options.data, None if None in needed else max(needed))

    for name in names:
        iterate = prepare(name, images)
        losses = {"first": None, "last": None}

        def run():
            step_losses = iterate()
            if step_losses:
                if losses["first"] is None:
                    losses["first"] = step_losses[0]
                losses["last"] = sum(step_losses) / len(step_losses)

        samples = []
        if WORKLOADS[name][0] == "epoch":
            start = time.perf_counter()
            run()
            samples.append(time.perf_counter() - start)
        else:
            warmup_start, warmups = time.perf_counter(), 0
            while warmups < 3 or time.perf_counter() - warmup_start < options.warmup:
                run()
                warmups += 1
            start = time.perf_counter()
            while len(samples) < options.max_samples and (
                len(samples) < options.min_samples or time.perf_counter() - start < options.seconds
            ):
                begin = time.perf_counter()
                run()
                samples.append(time.perf_counter() - begin)
        line = {
            "kind": "workload", "library": "torch", "workload": name, "definition": WORKLOADS[name][1],
            "threads": torch.get_num_threads(), "median_ms": float(np.median(samples)) * 1e3,
            "min_ms": min(samples) * 1e3, "samples": len(samples), "max_rss_mib": max_rss_mib(),
        }
        if losses["first"] is not None:
            line["first_loss"], line["last_loss"] = losses["first"], losses["last"]
        emit(line)


if __name__ == "__main__":
    main()
