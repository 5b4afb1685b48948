#!/usr/bin/env python3
"""PyTorch's peer of `nabla wgan-gp --data fashion-mnist`: the same generator and critic, DCGAN's
initialization, the WGAN-GP paper's recipe (λ 10, 5 critic steps, Adam lr 1e-4, β (0, 0.9),
batch 64, latent 128) and the same number of generator steps, on the same images in [-1, 1].

    python wgan_gp_images.py --iterations 1000 --threads 1 --samples pytorch-samples.safetensors
    nabla wgan-gp --data fashion-mnist --score pytorch-samples.safetensors

It writes 10,000 samples (generated in eval mode, as Nabla's scorer gets its own) for Nabla's
scorer, and prints one JSON line with the seconds per iteration.
"""

import argparse
import json
import struct
import time

import torch
import torch.nn as nn

from workloads import load_training_images


def generator(latent, width):
    return nn.Sequential(
        nn.Linear(latent, 2 * width * 49, bias=False), nn.Unflatten(1, (2 * width, 7, 7)),
        nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh(),
    )


def critic(width, layer_norm):
    norm = [nn.LayerNorm([2 * width, 7, 7])] if layer_norm else []
    return nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(width, 2 * width, 4, 2, 1), *norm,
        nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(2 * width * 49, 1),
    )


def dcgan_init(module):
    """DCGAN's weights_init: N(0, 0.02) weights, BatchNorm scale N(1, 0.02), zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def gradient_penalty(net, real, fake):
    epsilon = torch.rand(real.shape[0], 1, 1, 1)
    x = (epsilon * real + (1 - epsilon) * fake).requires_grad_(True)
    (gradient,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    norms = (gradient.flatten(1).pow(2).sum(1) + 1e-12).sqrt()
    return ((norms - 1) ** 2).mean(), norms.mean().item()


def write_safetensors(tensors, path):
    header, blobs, offset = {"__metadata__": {"torch": torch.__version__}}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().float().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))
    import os

    os.replace(path + ".tmp", path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--latent-size", type=int, default=128)
    parser.add_argument("--critic-steps", type=int, default=5)
    parser.add_argument("--layer-norm", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", default="pytorch-samples.safetensors")
    parser.add_argument("--sample-count", type=int, default=10_000)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)

    images, _ = load_training_images(options.data)
    images = images * 2 - 1
    net_g, net_d = generator(options.latent_size, options.width), critic(options.width, options.layer_norm)
    net_g.apply(dcgan_init)
    net_d.apply(dcgan_init)
    opt_g = torch.optim.Adam(net_g.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(net_d.parameters(), lr=1e-4, betas=(0.0, 0.9))
    order, position = torch.randperm(len(images)), 0

    def real_batch():
        nonlocal order, position
        if position + options.batch_size > len(order):
            order, position = torch.randperm(len(images)), 0
        batch = images[order[position : position + options.batch_size]]
        position += options.batch_size
        return batch

    start = time.perf_counter()
    for iteration in range(1, options.iterations + 1):
        for _ in range(options.critic_steps):
            real = real_batch()
            with torch.no_grad():
                fake = net_g(torch.randn(options.batch_size, options.latent_size))
            penalty, norm = gradient_penalty(net_d, real, fake)
            wasserstein = net_d(real).mean() - net_d(fake).mean()
            loss_d = -wasserstein + 10 * penalty
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        for p in net_d.parameters():
            p.requires_grad_(False)
        loss_g = -net_d(net_g(torch.randn(options.batch_size, options.latent_size))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for p in net_d.parameters():
            p.requires_grad_(True)
        if iteration % max(1, options.iterations // 20) == 0:
            print(f"{iteration}/{options.iterations} critic loss {loss_d.item():.4f} W {wasserstein.item():.4f} "
                  f"|grad| {norm:.3f} {time.perf_counter() - start:.1f}s", flush=True)
    seconds = time.perf_counter() - start

    net_g.eval()
    with torch.no_grad():
        samples = torch.cat([net_g(torch.randn(500, options.latent_size)) for _ in range(options.sample_count // 500)])
    write_safetensors({"samples": samples}, options.samples)
    print(json.dumps({"iterations": options.iterations, "threads": options.threads, "seconds": round(seconds, 2),
                      "seconds_per_iteration": round(seconds / options.iterations, 4), "samples": options.samples}))


if __name__ == "__main__":
    main()
