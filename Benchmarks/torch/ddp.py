#!/usr/bin/env python3
"""PyTorch's DistributedDataParallel (Gloo backend) on the Fashion-MNIST CNN, for comparison with
`nabla train --distributed`: the same model, Adam lr 1e-3, one epoch of 60000 images in order at a
global batch of 64 (each of the ranks takes every size-th image of a batch), one thread per rank.

    python ddp.py --ranks 2

The ranks talk over loopback only (MASTER_ADDR 127.0.0.1, GLOO_SOCKET_IFNAME lo); run it inside a
network namespace with only loopback to be sure (`unshare -n`, then `ip link set lo up`).
Prints one JSON line: the epoch's seconds, mean loss and rank 0's test accuracy.
"""

import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from workloads import load_training_images, network


def load_test_images(directory):
    import gzip
    import numpy as np

    def idx(name, rank):
        with gzip.open(os.path.join(directory, name), "rb") as file:
            raw = file.read()
        dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)

    x = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz", 3).copy()).float().div_(255).reshape(-1, 1, 28, 28)
    return x, torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz", 1).astype("int64"))


def worker(rank, size, options, queue):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(network(cnn=True))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all, y_all = load_training_images(options.data)
    batch = options.batch_size
    dist.barrier()
    start = time.perf_counter()
    losses = []
    for first in range(0, len(y_all), batch):
        x, y = x_all[first : first + batch][rank::size], y_all[first : first + batch][rank::size]
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        x_test, y_test = load_test_images(options.data)
        with torch.no_grad():
            accuracy = (model.module(x_test).argmax(1) == y_test).float().mean().item()
        queue.put({"ranks": size, "threads_per_rank": 1, "epoch_seconds": seconds,
                   "mean_loss": sum(losses) / len(losses), "test_accuracy": accuracy, "torch": torch.__version__})
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    options = parser.parse_args()
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29517", GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    context = mp.get_context("spawn")
    queue = context.Queue()
    mp.spawn(worker, args=(options.ranks, options, queue), nprocs=options.ranks, join=True)
    print(json.dumps(queue.get()))


if __name__ == "__main__":
    main()
