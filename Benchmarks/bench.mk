# `make bench`: the benchmark suite (Benchmarks/, a SwiftPM package of its own) at each OpenBLAS
# thread count in BENCH_THREADS, then the compact table of ratios.
#
# Included by the top-level Makefile; also runs alone: `make -f Benchmarks/bench.mk bench`.
# Knobs: BENCH_THREADS (default "1 2"), BENCH_FILTER (a regex the whole benchmark name must
# match, e.g. BENCH_FILTER='gemm Float.*'), SWIFT.
# Each run's full log and JMH export are kept in Benchmarks/.bench-results/ (ignored by git).

NABLA_BENCH_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SWIFT ?= swift
BENCH_THREADS ?= 1 2
BENCH_FILTER ?=
BENCH_RESULTS := .bench-results

.PHONY: bench
# Under the top-level Makefile, install the system packages first (its `deps` target).
ifneq ($(filter Makefile,$(MAKEFILE_LIST)),)
bench: deps
endif
bench:
	@cd $(NABLA_BENCH_DIR) && set -e; \
	echo "bench: building the report tool (release)"; \
	$(SWIFT) build -c release --product BenchReport > $(BENCH_RESULTS).build.log 2>&1 \
	  || { tail -40 $(BENCH_RESULTS).build.log; exit 1; }; \
	report_args=""; \
	for threads in $(BENCH_THREADS); do \
	  out="$(BENCH_RESULTS)/threads-$$threads"; \
	  rm -rf "$$out"; mkdir -p "$$out"; \
	  echo "bench: OPENBLAS_NUM_THREADS=$$threads: building (release) and running the suite"; \
	  start=$$(date +%s); \
	  OPENBLAS_NUM_THREADS=$$threads $(SWIFT) package --allow-writing-to-package-directory \
	    benchmark run --format jmh --path "$$out" --no-progress \
	    $(if $(BENCH_FILTER),--filter '$(BENCH_FILTER)') > "$$out.log" 2>&1 \
	    || { tail -40 "$$out.log"; echo "bench: the suite failed, log: $(NABLA_BENCH_DIR)/$$out.log"; exit 1; }; \
	  test -s "$$out/Current_run.jmh.json" \
	    || { tail -40 "$$out.log"; echo "bench: no results in $$out"; exit 1; }; \
	  echo "bench:   done in $$(( $$(date +%s) - start )) s"; \
	  report_args="$$report_args --run OPENBLAS_NUM_THREADS=$$threads $$out/Current_run.jmh.json"; \
	done; \
	echo; \
	.build/release/BenchReport $$report_args
