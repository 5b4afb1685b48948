#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus, Fuzz/Corpus/<target>/, and their dictionaries.

Standard library only. Run from anywhere: `python3 Fuzz/Corpus/make_corpus.py`; it replaces
the seeds it writes and leaves other files alone. The seeds are small valid inputs of each
target's format, the two known reproducers, and (for gzip) truncated and garbled streams.

Input formats (see Fuzz/Sources/*/):
  fuzz-safetensors    a safetensors file
  fuzz-idx-raw        an IDX file
  fuzz-idx-gzip       1 mode byte (even: the target gzips the rest; odd: the rest is the
                      file as it is), then the payload
  fuzz-read-then-use  1 mode byte (even: safetensors; odd: Fashion-MNIST), then the payload;
                      Fashion-MNIST's payload is a 2-byte big-endian length, the images file
                      of that length, then the labels file
"""

import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as file:
        file.write(data)


# MARK: safetensors

FORMATS = {"F32": "<f", "F64": "<d", "I32": "<i", "I64": "<q"}


def safetensors(tensors, metadata=None, raw_header=None):
    """tensors: [(name, dtype, shape, values)] in data order; or raw_header (a str) and
    tensors the raw data bytes."""
    if raw_header is not None:
        header, data = raw_header.encode(), tensors
    else:
        entries, data = {}, b""
        for name, dtype, shape, values in tensors:
            chunk = b"".join(struct.pack(FORMATS[dtype], v) for v in values)
            entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(chunk)]}
            data += chunk
        if metadata is not None:
            entries["__metadata__"] = metadata
        header = json.dumps(entries, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def count(shape):
    result = 1
    for dimension in shape:
        result *= dimension
    return result


def tensor(name, dtype, shape, start=0.0):
    n = count(shape)
    if dtype in ("I32", "I64"):
        return (name, dtype, shape, [int(start) + i - n // 2 for i in range(n)])
    return (name, dtype, shape, [start + (i - n / 2) / 8 for i in range(n)])


BASIC = safetensors(
    [
        tensor("weight", "F32", [2, 3]),
        tensor("bias", "F64", [2], 0.5),
        tensor("steps", "I64", [3], 7),
        tensor("counts", "I32", [2, 2]),
        tensor("empty", "F32", [0]),
        tensor("empty_rows", "F64", [2, 0]),
        tensor("scalar", "F64", [], 3.25),
        tensor("scalar_int", "I64", [], 42),
    ],
    metadata={"format": "pt", "note": "Nabla fuzz seed"},
)

# The network of Fuzz/Sources/FuzzSupport (smallNetwork): every name and shape, so that
# loadState succeeds and the layers run.
NETWORK = [
    ("0.weight", "F32", [3, 4]), ("0.bias", "F32", [3]),
    ("1.weight", "F32", [2, 1, 3, 3]), ("1.bias", "F32", [2]),
    ("2.weight", "F32", [2]), ("2.bias", "F32", [2]), ("2.running_mean", "F32", [2]),
    ("2.running_var", "F32", [2]), ("2.num_batches_tracked", "I64", []),
    ("3.weight", "F32", [10, 3]),
    ("4.weight_ih_l0", "F32", [8, 3]), ("4.weight_hh_l0", "F32", [8, 2]),
    ("4.bias_ih_l0", "F32", [8]), ("4.bias_hh_l0", "F32", [8]),
    ("5.weight", "F32", [3]), ("5.bias", "F32", [3]),
]


def network_state(prefix="", dtype=None):
    tensors = []
    for name, kind, shape in NETWORK:
        if name.endswith("running_var"):
            tensors.append((prefix + name, dtype or kind, shape, [1.0] * count(shape)))
        else:
            tensors.append(tensor(prefix + name, dtype or kind, shape))
    return safetensors(tensors, metadata={"format": "pt"})


# Shapes a description must print in a few lines: no scalars but a huge axis, and 70 axes.
ZERO_SIZE_HUGE_AXIS = safetensors(
    b"", raw_header='{"a":{"dtype":"F32","shape":[1000000000,0],"data_offsets":[0,0]}}')
RANK_70 = safetensors([tensor("a", "F64", [1] * 69 + [2])])

SAFETENSORS_SEEDS = {
    "basic.safetensors": BASIC,
    "metadata-only.safetensors": safetensors([], metadata={"format": "pt"}),
    "empty-header.safetensors": safetensors([]),
    "one-f32.safetensors": safetensors([tensor("x", "F32", [4])]),
    "network-state.safetensors": network_state(),
    "zero-size-huge-axis.safetensors": ZERO_SIZE_HUGE_AXIS,
    "rank-70.safetensors": RANK_70,
    # A known reproducer: the shape 2⁶⁴ + 2 reads as 2, so 8 bytes of F32 "fit".
    "shape-wraps-to-2.safetensors": safetensors(
        bytes(8), raw_header='{"a":{"dtype":"F32","shape":[18446744073709551618],"data_offsets":[0,8]}}'),
}

# MARK: IDX


def idx(dimensions, data=None):
    if data is None:
        data = bytes(i % 251 for i in range(count(dimensions)))
    return struct.pack(">I", 0x0800 + len(dimensions)) + b"".join(struct.pack(">I", d) for d in dimensions) + data


def labels(values):
    return idx([len(values)], bytes(values))


# A known reproducer: dimensions whose product is just below 2⁶³, so header + product overflows.
INT_MAX_DIMENSIONS = bytes.fromhex("00000803000000075b58b7bf333ef7f7")

IDX_SEEDS = {
    "labels-rank1.idx": labels([0, 1, 2, 9, 5]),
    "empty-rank1.idx": idx([0]),
    "images-rank3.idx": idx([2, 3, 4]),
    "image-28x28.idx": idx([1, 28, 28]),
    "no-images-28x28.idx": idx([0, 28, 28]),
    "rank2.idx": idx([3, 2]),
    "int-max-dimensions.idx": INT_MAX_DIMENSIONS,
}


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


def garble(data, index):
    data = bytearray(data)
    data[index % len(data)] ^= 0x5A
    return bytes(data)


def gzip_seeds():
    seeds = {}
    for name, data in IDX_SEEDS.items():
        if name in ("image-28x28.idx", "rank2.idx"):
            continue
        stem = name[:-4]
        seeds["gzipped-by-target-" + stem] = b"\x00" + data
        seeds["gzip-" + stem] = b"\x01" + gz(data)
    images = gz(IDX_SEEDS["images-rank3.idx"])
    seeds.update({
        # Cut inside the deflate data, inside the trailer, and right after the header.
        "gzip-truncated-in-data": b"\x01" + images[: len(images) // 2],
        "gzip-truncated-trailer": b"\x01" + images[:-4],
        "gzip-header-only": b"\x01" + images[:10],
        # A byte changed in the deflate data, in the CRC, and in the length.
        "gzip-garbled-data": b"\x01" + garble(images, 12),
        "gzip-bad-crc": b"\x01" + garble(images, len(images) - 6),
        "gzip-bad-length": b"\x01" + garble(images, len(images) - 2),
        # Two members (one IDX file split in two), and garbage after the stream.
        "gzip-two-members": b"\x01" + gz(IDX_SEEDS["images-rank3.idx"][:10]) + gz(IDX_SEEDS["images-rank3.idx"][10:]),
        "gzip-trailing-garbage": b"\x01" + images + b"garbage!",
        # Not gzip at all: zlib reads it as it is.
        "plain-labels-rank1": b"\x01" + IDX_SEEDS["labels-rank1.idx"],
    })
    return seeds


# MARK: read-then-use


def fashion_mnist(images, labels_file):
    return b"\x01" + struct.pack(">H", len(images)) + images + labels_file


READ_THEN_USE_SEEDS = {
    "safetensors-basic": b"\x00" + BASIC,
    "safetensors-network-state": b"\x00" + network_state(),
    "safetensors-network-state-prefixed-f64": b"\x00" + network_state(prefix="net.", dtype="F64"),
    "safetensors-zero-size-huge-axis": b"\x00" + ZERO_SIZE_HUGE_AXIS,
    "safetensors-rank-70": b"\x00" + RANK_70,
    "safetensors-shape-wraps-to-2": b"\x00" + SAFETENSORS_SEEDS["shape-wraps-to-2.safetensors"],
    "fashion-mnist-2-images": fashion_mnist(idx([2, 28, 28]), labels([3, 9])),
    "fashion-mnist-8-images": fashion_mnist(idx([8, 28, 28]), labels([0, 1, 2, 3, 4, 5, 6, 7])),
    "fashion-mnist-no-images": fashion_mnist(idx([0, 28, 28]), labels([])),
    "fashion-mnist-label-10": fashion_mnist(idx([1, 28, 28]), labels([10])),
    "fashion-mnist-int-max-dimensions": fashion_mnist(INT_MAX_DIMENSIONS, labels([1])),
}

# libFuzzer dictionaries: the header's keys and values, and the layers' names.
SAFETENSORS_DICTIONARY = [
    '"dtype"', '"shape"', '"data_offsets"', '"__metadata__"', '"F32"', '"F64"', '"I32"', '"I64"',
    '"BF16"', '"F16"', "18446744073709551616", "9223372036854775807", "-1", "1e300", "0.5",
    "[]", "{}", "null", "true", '":"', '","', "weight", "bias", "running_mean", "running_var",
    "num_batches_tracked", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "net.",
]


def dictionary(tokens):
    escaped = (t.replace("\\", "\\\\").replace('"', '\\"') for t in tokens)
    return "".join(f'"{t}"\n' for t in escaped).encode()


def main():
    for name, data in SAFETENSORS_SEEDS.items():
        write("fuzz-safetensors", name, data)
    for name, data in IDX_SEEDS.items():
        write("fuzz-idx-raw", name, data)
    for name, data in gzip_seeds().items():
        write("fuzz-idx-gzip", name, data)
    for name, data in READ_THEN_USE_SEEDS.items():
        write("fuzz-read-then-use", name, data)
    for target in ("fuzz-safetensors", "fuzz-read-then-use"):
        with open(os.path.join(HERE, target + ".dict"), "wb") as file:
            file.write(dictionary(SAFETENSORS_DICTIONARY))


if __name__ == "__main__":
    main()
