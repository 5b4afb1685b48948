# `make fuzz`: the libFuzzer targets of Fuzz/ (a SwiftPM package of its own), built with the
# toolchain's -sanitize=fuzzer,address, each run in turn from the seeds in Fuzz/Corpus/, then one
# summary line per target. Exits non-zero if any target left a crash, OOM, timeout or leak input.
#
# Included by the top-level Makefile; also runs alone: `make -f Fuzz/fuzz.mk fuzz`.
# Knobs: FUZZ_TARGETS (default all four), FUZZ_SECONDS (per target, default 60), FUZZ_FLAGS (more
# libFuzzer flags, e.g. FUZZ_FLAGS=-jobs=2 or -max_len=65536), SWIFT.
#
# Kept between runs, ignored by git: Fuzz/.corpus/<target>/ (the working corpus, seeded from
# Fuzz/Corpus/<target>/ and grown by libFuzzer) and Fuzz/.artifacts/ (each run's log,
# <target>.log, the inputs that failed, <target>/crash-…, oom-…, timeout-…, leak-…, and the
# last build's log, build.log).

NABLA_FUZZ_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SWIFT ?= swift
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= fuzz-safetensors fuzz-idx-raw fuzz-idx-gzip fuzz-read-then-use
FUZZ_FLAGS ?=
# The sanitizers are chosen here, never in Fuzz/Package.swift (see the comment there). The flags
# reach every Swift module, Nabla included, and the link, where swiftc adds libFuzzer (its `main`)
# and the ASan runtime.
FUZZ_BUILD_FLAGS := -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
# LeakSanitizer stays on (libFuzzer's default with ASan): when an input ends with more mallocs
# than frees, libFuzzer runs it again under LeakSanitizer and writes leak-… if anything is
# unreachable. The Swift runtime's caches (metadata, conformances) are never freed but stay
# reachable from globals, so they are no false positives; none showed up in runs of all four
# targets. Should one appear, add -detect_leaks=0 here (or FUZZ_FLAGS=-detect_leaks=0) and say why.
FUZZ_RUN_FLAGS := -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=5 -print_final_stats=1
# The Swift runtime's own crash handler (its backtracer) stays off: it would catch a trap before
# libFuzzer does, and ASan then reports its memory reads as a crash of their own, which buries
# the real one. libFuzzer's "deadly signal" report names the trap just as well (e.g. "Swift
# runtime failure: arithmetic overflow" at IDX.swift:84). OpenBLAS runs on the fuzzing thread.
# (Each run's files go to a folder under /dev/shm, NABLA_FUZZ_SCRATCH, removed afterwards.)
FUZZ_ENV := SWIFT_BACKTRACE=enable=no OPENBLAS_NUM_THREADS=1
# Where each target's findings become regression tests (Tests/NablaTests/FuzzFindingsTests.swift).
FUZZ_FIXTURES := Tests/NablaTests/Fixtures/FuzzFindings

.PHONY: fuzz
# Under the top-level Makefile, install the system packages first (its `deps` target).
ifneq ($(filter Makefile,$(MAKEFILE_LIST)),)
fuzz: deps
endif
fuzz:
	@cd $(NABLA_FUZZ_DIR) && set -e; \
	mkdir -p .artifacts; \
	echo "fuzz: building $(FUZZ_TARGETS) (release, -sanitize=fuzzer,address; log: $(NABLA_FUZZ_DIR)/.artifacts/build.log)"; \
	start=$$(date +%s); \
	$(SWIFT) build $(FUZZ_BUILD_FLAGS) > .artifacts/build.log 2>&1 \
	  || { tail -40 .artifacts/build.log; echo "fuzz: the build failed, log: $(NABLA_FUZZ_DIR)/.artifacts/build.log"; exit 1; }; \
	echo "fuzz:   built in $$(( $$(date +%s) - start )) s"; \
	bin=$$($(SWIFT) build $(FUZZ_BUILD_FLAGS) --show-bin-path); \
	stamp=.artifacts/.run-started; touch $$stamp; \
	for target in $(FUZZ_TARGETS); do \
	  [ -x "$$bin/$$target" ] || { echo "fuzz: no target $$target (there are: $$(ls Corpus | grep -v '\.' | tr '\n' ' '))"; exit 1; }; \
	  mkdir -p .corpus/$$target .artifacts/$$target; \
	  cp -n Corpus/$$target/* .corpus/$$target/ 2>/dev/null || true; \
	  dictionary=""; [ -f Corpus/$$target.dict ] && dictionary="-dict=Corpus/$$target.dict"; \
	  echo "fuzz: $$target for $(FUZZ_SECONDS) s (log: $(NABLA_FUZZ_DIR)/.artifacts/$$target.log)"; \
	  scratch=$$(mktemp -d -p /dev/shm nabla-fuzz-XXXXXX 2>/dev/null || mktemp -d); \
	  NABLA_FUZZ_SCRATCH=$$scratch $(FUZZ_ENV) "$$bin/$$target" $(FUZZ_RUN_FLAGS) $$dictionary \
	    -artifact_prefix=.artifacts/$$target/ $(FUZZ_FLAGS) .corpus/$$target > .artifacts/$$target.log 2>&1 || true; \
	  rm -rf "$$scratch"; \
	done; \
	echo; found=0; \
	for target in $(FUZZ_TARGETS); do \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' .artifacts/$$target.log | tail -1); \
	  line=$$(printf '%-20s %12s executions' $$target "$${runs:-?}"); \
	  for kind in crash oom timeout leak; do \
	    n=$$(find .artifacts/$$target -maxdepth 1 -name "$$kind-*" -newer $$stamp | wc -l); \
	    found=$$((found + n)); line="$$line  $$kind $$n"; \
	  done; \
	  echo "fuzz: $$line"; \
	  log=.artifacts/$$target.log; \
	  if grep -q -E '^==[0-9]+== ?ERROR' $$log; then \
	    reason=$$(grep -m1 -o -E 'Fatal error: .*|Swift runtime failure: [^/]*' $$log \
	      || grep -m1 -o -E 'ERROR: .*' $$log); \
	    where=$$(grep -m1 -E '^ *#[0-9]+ .* /[^ ]*/Sources/' $$log | grep -o -E '/[^ ]*/Sources/[^ ]*$$' || true); \
	    echo "        $$reason"; [ -z "$$where" ] || echo "        at $$where"; \
	  fi; \
	done; \
	if [ $$found -gt 0 ]; then \
	  echo; echo "fuzz: $$found failing input(s) (the stack traces are in the logs):"; \
	  find .artifacts -mindepth 2 -maxdepth 2 -type f -newer $$stamp | sed 's|^|  $(NABLA_FUZZ_DIR)/|'; \
	  echo "Copy each into $(FUZZ_FIXTURES)/, named after the finding (e.g. header-length-overflows.safetensors):"; \
	  echo "  fuzz-safetensors -> safetensors/ and fuzz-idx-raw -> idx/, as they are;"; \
	  echo "  fuzz-idx-gzip -> idx/ without its first byte: tail -c +2 <artifact> > $(FUZZ_FIXTURES)/idx/<name>.idx;"; \
	  echo "  fuzz-read-then-use -> read-then-use/, as it is."; \
	  echo "Then swift test --filter FuzzFindingsTests replays them. Reproduce one: $(FUZZ_ENV) $$bin/<target> <artifact>"; \
	  exit 1; \
	fi
