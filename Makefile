# Nabla: `make test` and `make run` install what is missing, then build.
SWIFT ?= swift
APT_PACKAGES := libopenblas-dev liblapacke-dev zlib1g-dev pkg-config dataset-fashion-mnist fortunes \
  libopenmpi-dev openmpi-bin iproute2 util-linux
# Every MPI job the project starts stays on this machine: shared memory and loopback only.
export OMPI_MCA_btl := self,vader
export OMPI_MCA_btl_tcp_if_include := lo
export OMPI_MCA_oob_tcp_if_include := lo
export OMPI_MCA_btl_vader_single_copy_mechanism := none
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test run run-distributed bench clean check-floors check-docs

all: build

# Installs the system packages that are not installed yet (apt-get update once, only if needed).
deps:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" \
	    || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# The floors of the layout (scripts/check-floors.sh), the documentation without a DocC warning
# (scripts/check-docs.sh), then the tests.
test: deps check-floors check-docs
	$(SWIFT) test

check-floors:
	@scripts/check-floors.sh

# DocC over Nabla and NablaDistributed with warnings as errors: a broken link or an
# undocumented parameter fails it, naming the file and line.
check-docs: deps
	@SWIFT="$(SWIFT)" scripts/check-docs.sh

# The main job: the CNN trained for one epoch with the manual and with the autodiff backward.
run: deps
	$(SWIFT) run -c release nabla compare --model cnn --epochs 1 --batch-size 64


# A short data-parallel Fashion-MNIST training on 2 ranks of this machine (shared memory and
# loopback only, see the OMPI_MCA_* exports above; one BLAS thread per rank).
MPIRUN_AS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
run-distributed: deps
	$(SWIFT) build -c release --product nabla
	env $(MPIRUN_AS_ROOT) mpirun -np 2 --oversubscribe -x OPENBLAS_NUM_THREADS=1 \
	  .build/release/nabla train --distributed --model cnn --epochs 1 --batch-size 64

clean:
	rm -rf .build Benchmarks/.build

-include Benchmarks/bench.mk
-include Fuzz/fuzz.mk
