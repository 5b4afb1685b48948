#!/usr/bin/env python3
"""Nabla against PyTorch on issue 11's workloads: runs two workload runners and prints the tables.

    compare.py --nabla ".build/release/nabla-speed" --torch ".build/torch-venv/bin/python torch/workloads.py"

Builds nothing. Both commands take `--threads N --seconds S WORKLOAD...` and print one JSON line
per workload (nabla-speed and workloads.py). For each of --rounds rounds and each thread count,
it runs Nabla, then PyTorch, alternately (the non-epoch workloads in one process per library,
then each epoch in a fresh process of its own, so that its peak RSS is that epoch's), with
OPENBLAS_NUM_THREADS and OMP_NUM_THREADS set to the thread count in both children (PyTorch also
gets --threads, for torch.set_num_threads).

Times are medians over the rounds of each run's median; ratios are medians of the per-round
ratios, taken between runs seconds apart. --quick (or COMPARE_TORCH_QUICK=1) skips the epochs.
"""

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

# Targets on Nabla ÷ PyTorch time (lower is better for Nabla).
TARGETS = {
    "dense-784-256-fwdbwd": 0.9,
    "dense-1024-1024-fwdbwd": 0.9,
    "conv-1-32-first-fwdbwd": 1.0,
    "conv-32-64-fwdbwd": 1.0,
    "mlp-step": 0.9,
    "mlp-epoch": 0.9,
    "cnn-step": 1.0,
    "cnn-epoch": 1.0,
    "convtranspose-128-64-fwdbwd": 1.5,
    "conv-depthwise-32-fwdbwd": 1.5,
}
AUTODIFF_TARGET = 1.10  # Nabla cnn-autodiff-step ÷ Nabla cnn-step
LAYER_AUTODIFF_TARGET = 1.25  # Nabla lstm-2x128-autodiff-fwdbwd ÷ Nabla lstm-2x128-fwdbwd
THREAD_SCALING_TARGET = 1.0  # Nabla 2 threads ÷ 1 thread
SHARED = [
    "dense-784-256-fwd", "dense-784-256-fwdbwd", "dense-1024-1024-fwd", "dense-1024-1024-fwdbwd",
    "conv-1-32-fwd", "conv-1-32-first-fwdbwd", "conv-32-64-fwd", "conv-32-64-fwdbwd", "mlp-step", "cnn-step",
    "convtranspose-128-64-fwd", "convtranspose-128-64-fwdbwd", "lstm-2x128-fwdbwd", "conv-depthwise-32-fwdbwd",
]
NABLA_ONLY = ["cnn-autodiff-step", "lstm-2x128-autodiff-fwdbwd"]
AUTODIFF_PAIRS = [("cnn-autodiff-step", "cnn-step", AUTODIFF_TARGET),
                  ("lstm-2x128-autodiff-fwdbwd", "lstm-2x128-fwdbwd", LAYER_AUTODIFF_TARGET)]
EPOCHS = ["mlp-epoch", "cnn-epoch"]


def log(message):
    print(message, file=sys.stderr, flush=True)


def run(library, command, threads, seconds, workloads):
    """Runs one runner process; returns its info line and {workload: line}."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    argv = shlex.split(command) + ["--threads", str(threads), "--seconds", str(seconds)] + workloads
    start = time.monotonic()
    process = subprocess.run(argv, env=env, capture_output=True, text=True)
    if process.returncode != 0:
        log(process.stderr[-3000:])
        sys.exit(f"compare: {library} failed (exit {process.returncode}): {shlex.join(argv)}")
    info, results = None, {}
    for text in process.stdout.splitlines():
        if not text.startswith("{"):
            continue
        line = json.loads(text)
        if line.get("kind") == "info":
            info = line
        elif line.get("kind") == "workload":
            results[line["workload"]] = line
    missing = [name for name in workloads if name not in results]
    if info is None or missing:
        log(process.stdout[-3000:] + process.stderr[-3000:])
        sys.exit(f"compare: {library} printed no result for {missing or 'its info line'}")
    for line in [info] + list(results.values()):
        if line["threads"] != threads:
            sys.exit(f"compare: {library} ran {line.get('workload', '')} on {line['threads']} threads, not {threads}")
    log(f"  {library:5} {threads} thread(s): {', '.join(workloads) if len(workloads) < 3 else f'{len(workloads)} workloads'}"
        f" in {time.monotonic() - start:.0f} s")
    return info, results


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def fmt(value, digits=None):
    if value is None:
        return "—"
    if digits is None:
        digits = 0 if value >= 100 else 1 if value >= 10 else 2 if value >= 1 else 3
    return f"{value:.{digits}f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    print("\n".join(lines))


def met(ratio, target):
    if ratio is None or target is None:
        return ""
    return "yes" if ratio <= target else "**no**"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nabla", required=True, help="the nabla-speed command")
    parser.add_argument("--torch", required=True, help="the PyTorch workloads.py command")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per workload and run")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("COMPARE_TORCH_QUICK", "") not in ("", "0"),
                        help="skip the epochs (also COMPARE_TORCH_QUICK=1)")
    parser.add_argument("--epoch-rounds", type=int, help="rounds that run the epochs (default: --rounds)")
    parser.add_argument("--raw", help="append every JSON line received to this file")
    parser.add_argument("--only", nargs="+", help="run only these workloads (default: all)")
    options = parser.parse_args()
    if options.only:
        SHARED[:] = [name for name in SHARED if name in options.only]
        NABLA_ONLY[:] = [name for name in NABLA_ONLY if name in options.only]
        EPOCHS[:] = [name for name in EPOCHS if name in options.only]

    epochs = [] if options.quick else EPOCHS
    started = datetime.datetime.now().astimezone()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    # results[library][threads][workload] = [line per round]
    results = {"nabla": {}, "torch": {}}
    infos = {}
    raw = open(options.raw, "a") if options.raw else None
    for round_index in range(1, options.rounds + 1):
        for threads in options.threads:
            log(f"round {round_index}/{options.rounds}, {threads} thread(s)")
            epoch_rounds = options.rounds if options.epoch_rounds is None else options.epoch_rounds
            jobs = [(SHARED + NABLA_ONLY, SHARED)] + [([epoch], [epoch]) for epoch in epochs if round_index <= epoch_rounds]
            for nabla_workloads, torch_workloads in jobs:
                for library, command, workloads in (("nabla", options.nabla, nabla_workloads),
                                                    ("torch", options.torch, torch_workloads)):
                    info, lines = run(library, command, threads, options.seconds, workloads)
                    infos[library] = info
                    for name, line in lines.items():
                        results[library].setdefault(threads, {}).setdefault(name, []).append(line)
                        if raw:
                            raw.write(json.dumps(dict(line, round=round_index)) + "\n")

    # Both sides must have run the same definition.
    for name in SHARED + epochs:
        a = results["nabla"][options.threads[0]][name][0]["definition"]
        b = results["torch"][options.threads[0]][name][0]["definition"]
        if a != b:
            sys.exit(f"compare: {name} is defined differently:\n  Nabla:   {a}\n  PyTorch: {b}")

    def times(library, threads, name):
        return [line["median_ms"] for line in results[library].get(threads, {}).get(name, [])]

    def paired(a, b):
        return median([x / y for x, y in zip(a, b) if y > 0])

    nabla_info, torch_info = infos["nabla"], infos["torch"]
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"## Nabla vs PyTorch — {started:%Y-%m-%d %H:%M %Z}")
    print()
    busy = max(load or 0, load_end or 0) > (os.cpu_count() or 1)
    busy_note = " (other jobs competed for the CPUs: 2-thread times suffer most, PyTorch's above all)" if busy else ""
    print(f"- CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; load average {fmt(load, 2)} at start, "
          f"{fmt(load_end, 2)} at the end{busy_note}")
    print(f"- Nabla: {nabla_info['blas']} (core {nabla_info['blas_core']})"
          + (f"; SIMD level {nabla_info['simd']} (CPU: {nabla_info['cpu_features']})" if 'simd' in nabla_info else ""))
    print(f"- PyTorch {torch_info['version']} (MKL {torch_info['mkl']}, oneDNN {torch_info['mkldnn']}), Python {torch_info['python']}")
    epoch_note = "; epochs skipped (quick)" if options.quick else (
        f"; epochs in {options.epoch_rounds} round(s)" if options.epoch_rounds is not None and options.epoch_rounds != options.rounds else "")
    print(f"- {options.rounds} rounds × threads {options.threads}, Nabla and PyTorch alternating; "
          f"{options.seconds:g} s timed per workload and run{epoch_note}")
    print("- ms: median over rounds of each run's median; ratio: median of the per-round ratios (< 1: Nabla faster)")
    print()

    rows = []
    for threads in options.threads:
        for name in SHARED + epochs:
            nabla, torch_ = times("nabla", threads, name), times("torch", threads, name)
            ratio = paired(nabla, torch_)
            target = TARGETS.get(name)
            rows.append([name, str(threads), fmt(median(nabla)), fmt(median(torch_)), fmt(ratio, 2),
                         f"≤ {target}" if target else "", met(ratio, target)])
        for autodiff_name, manual_name, target in AUTODIFF_PAIRS:
            autodiff, manual = times("nabla", threads, autodiff_name), times("nabla", threads, manual_name)
            if not autodiff or not manual:
                continue
            ratio = paired(autodiff, manual)
            rows.append([f"{autodiff_name} ÷ Nabla {manual_name}", str(threads), fmt(median(autodiff)),
                         f"(Nabla {fmt(median(manual))})", fmt(ratio, 2), f"≤ {target}", met(ratio, target)])
    table(["workload", "threads", "Nabla ms", "PyTorch ms", "Nabla ÷ PyTorch", "target", "met?"], rows)
    print()

    if len(options.threads) > 1:
        one, two = options.threads[0], options.threads[1]
        rows = []
        for name in SHARED + NABLA_ONLY + epochs:
            ratio = paired(times("nabla", two, name), times("nabla", one, name))
            torch_ratio = paired(times("torch", two, name), times("torch", one, name)) if name not in NABLA_ONLY else None
            rows.append([name, fmt(median(times("nabla", one, name))), fmt(median(times("nabla", two, name))),
                         fmt(ratio, 2), f"≤ {THREAD_SCALING_TARGET}", met(ratio, THREAD_SCALING_TARGET), fmt(torch_ratio, 2)])
        print(f"Nabla, {two} threads ÷ {one} thread (median of per-round ratios; PyTorch's for reference):")
        print()
        table(["workload", f"Nabla {one}t ms", f"Nabla {two}t ms", f"{two}t ÷ {one}t", "target", "met?",
               f"PyTorch {two}t ÷ {one}t"], rows)
        print()

    if epochs:
        rows = []
        for threads in options.threads:
            for name in epochs:
                rss = [median([line["max_rss_mib"] for line in results[library][threads][name]]) for library in ("nabla", "torch")]
                rows.append([name, str(threads), fmt(rss[0], 0), fmt(rss[1], 0), fmt(rss[0] / rss[1], 2)])
        print("Peak resident memory (max RSS) of the process that ran the epoch (data set loaded, library included):")
        print()
        table(["epoch", "threads", "Nabla MiB", "PyTorch MiB", "Nabla ÷ PyTorch"], rows)
        print()

    # The same computation on both sides: first-step losses from PyTorch's default initialization
    # are near ln 10 ≈ 2.30, and epochs' mean losses should be close.
    checks = []
    steps = [name for name in ["mlp-step", "cnn-step"] if name in SHARED]
    for name in steps + epochs:
        line = {library: results[library][options.threads[0]][name][0] for library in ("nabla", "torch")}
        checks.append(f"{name} first-step loss Nabla {line['nabla'].get('first_loss', float('nan')):.3f}, "
                      f"PyTorch {line['torch'].get('first_loss', float('nan')):.3f}"
                      + (f"; epoch mean loss Nabla {line['nabla']['last_loss']:.3f}, PyTorch {line['torch']['last_loss']:.3f}"
                         if name in epochs else ""))
    if checks:
        print("Check: " + "; ".join(checks) + ".")
    suspicious = [name for name in steps + epochs for library in ("nabla", "torch")
                  if not 2.0 < results[library][options.threads[0]][name][0].get("first_loss", 0) < 2.6]
    if suspicious:
        print(f"**Warning**: first-step loss far from ln 10 ≈ 2.30 for {sorted(set(suspicious))}.")


if __name__ == "__main__":
    main()
