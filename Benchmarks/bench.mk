# `make bench`: the benchmark suite (Benchmarks/, a SwiftPM package of its own) at each OpenBLAS
# thread count in BENCH_THREADS, then the compact table of ratios.
#
# Included by the top-level Makefile; also runs alone: `make -f Benchmarks/bench.mk bench`.
# Knobs: BENCH_THREADS (default "1 2"), BENCH_FILTER (a regex the whole benchmark name must
# match, e.g. BENCH_FILTER='gemm Float.*'), NABLA_BENCH_COUNT_MALLOCS=1 (count allocations), SWIFT.
# Each run's full log and JMH export are kept in Benchmarks/.bench-results/ (ignored by git).
# After the report, scripts/check-specialization.sh checks that the benchmark binary holds the
# Float and Double specializations of the hot generic functions.
# The build plan is removed before each build: SwiftPM does not notice source files added to the
# Nabla package it depends on by path, and would link a stale plan.

NABLA_BENCH_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SWIFT ?= swift
BENCH_THREADS ?= 1 2
BENCH_FILTER ?=
BENCH_RESULTS := .bench-results
# With NABLA_BENCH_COUNT_MALLOCS=1 the suite builds with the malloc interposer (see Package.swift),
# in a build folder of its own: switching traits in place would leave stale modules.
BENCH_SCRATCH := $(if $(NABLA_BENCH_COUNT_MALLOCS),.build/count-mallocs,.build)

.PHONY: bench
# Under the top-level Makefile, install the system packages first (its `deps` target).
ifneq ($(filter Makefile,$(MAKEFILE_LIST)),)
bench: deps
endif
bench:
	@cd $(NABLA_BENCH_DIR) && set -e; \
	echo "bench: building the report tool (release)"; \
	rm -f .build/release.yaml .build/*/release/description.json $(BENCH_SCRATCH)/release.yaml \
	  $(BENCH_SCRATCH)/*/release/description.json; \
	env -u NABLA_BENCH_COUNT_MALLOCS $(SWIFT) build -c release --product BenchReport > $(BENCH_RESULTS).build.log 2>&1 \
	  || { tail -40 $(BENCH_RESULTS).build.log; exit 1; }; \
	report_args=""; \
	for threads in $(BENCH_THREADS); do \
	  out="$(BENCH_RESULTS)/threads-$$threads"; \
	  rm -rf "$$out"; mkdir -p "$$out"; \
	  echo "bench: OPENBLAS_NUM_THREADS=$$threads: building (release) and running the suite"; \
	  start=$$(date +%s); \
	  OPENBLAS_NUM_THREADS=$$threads $(SWIFT) package --scratch-path $(BENCH_SCRATCH) --allow-writing-to-package-directory \
	    benchmark run --format jmh --path "$$out" --no-progress \
	    $(if $(BENCH_FILTER),--filter '$(BENCH_FILTER)') > "$$out.log" 2>&1 \
	    || { tail -40 "$$out.log"; echo "bench: the suite failed, log: $(NABLA_BENCH_DIR)/$$out.log"; exit 1; }; \
	  test -s "$$out/Current_run.jmh.json" \
	    || { tail -40 "$$out.log"; echo "bench: no results in $$out"; exit 1; }; \
	  echo "bench:   done in $$(( $$(date +%s) - start )) s"; \
	  report_args="$$report_args --run OPENBLAS_NUM_THREADS=$$threads $$out/Current_run.jmh.json"; \
	done; \
	echo; \
	.build/release/BenchReport $$report_args; \
	echo; \
	sh ../scripts/check-specialization.sh $(BENCH_SCRATCH)/release/NablaBenchmarks

# `make compare-torch`: issue 11's workloads on Nabla (`nabla-speed`, release) and on PyTorch
# (`torch/workloads.py`, in a venv under .build), alternating, 3 rounds at 1 and 2 threads,
# then Markdown tables of times, ratios and targets (`torch/compare.py`).
# Knobs: COMPARE_TORCH_QUICK=1 (skip the epochs), COMPARE_ARGS (more compare.py options, e.g.
# `--rounds 1 --seconds 1`), PYTHON (makes the venv), TORCH_VERSION.
# Where PyTorch cannot be installed, it says so and skips. The tables and every JSON line are
# kept in Benchmarks/.bench-results/compare-torch.{md,jsonl}.
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0+cpu
TORCH_VENV := .build/torch-venv
TORCH_DEPENDENCIES := numpy filelock typing-extensions sympy networkx jinja2 fsspec

.PHONY: compare-torch
ifneq ($(filter Makefile,$(MAKEFILE_LIST)),)
compare-torch: deps
endif
compare-torch:
	@cd $(NABLA_BENCH_DIR) && set -e; \
	echo "compare-torch: building nabla-speed (release)"; \
	rm -f .build/release.yaml .build/*/release/description.json; \
	env -u NABLA_BENCH_COUNT_MALLOCS $(SWIFT) build -c release --product nabla-speed > $(BENCH_RESULTS).compare-build.log 2>&1 \
	  || { tail -40 $(BENCH_RESULTS).compare-build.log; exit 1; }; \
	venv=$(TORCH_VENV); \
	if ! $$venv/bin/python -c 'import torch, numpy' > /dev/null 2>&1; then \
	  echo "compare-torch: installing PyTorch $(TORCH_VERSION) into $(NABLA_BENCH_DIR)/$$venv"; \
	  if ! { { [ -x $$venv/bin/python ] || $(PYTHON) -m venv $$venv; } \
	      && $$venv/bin/python -m pip install --no-deps "torch==$(TORCH_VERSION)" \
	      && $$venv/bin/python -m pip install $(TORCH_DEPENDENCIES) \
	      && $$venv/bin/python -c 'import torch, numpy'; } > $(BENCH_RESULTS).torch-venv.log 2>&1; then \
	    echo "compare-torch: PyTorch $(TORCH_VERSION) cannot be installed here (log: $(NABLA_BENCH_DIR)/$(BENCH_RESULTS).torch-venv.log); skipped"; \
	    exit 0; \
	  fi; \
	fi; \
	mkdir -p $(BENCH_RESULTS); \
	rm -f $(BENCH_RESULTS)/compare-torch.jsonl; \
	$$venv/bin/python torch/compare.py --nabla .build/release/nabla-speed \
	  --torch "$$venv/bin/python torch/workloads.py" --raw $(BENCH_RESULTS)/compare-torch.jsonl \
	  $(COMPARE_ARGS) > $(BENCH_RESULTS)/compare-torch.md; \
	echo; cat $(BENCH_RESULTS)/compare-torch.md
