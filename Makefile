# sozai: `make demo` runs the main job, `make test` runs every test.
# Both install what is missing (scripts/setup.sh) and build into build/.

PYTHON ?= /usr/bin/python3
BUILD ?= build
JOBS ?= $(shell nproc)
# Real datasets live beside the checkout (../shared/data); tests and the
# demo read them from there unless SOZAI_DATA_DIR is already set.
SOZAI_DATA_DIR ?= $(abspath $(CURDIR)/../shared/data)
export SOZAI_DATA_DIR

# OpenBLAS 0.3.21 runs its generic SSE3 kernels on Xeons it does not know
# (3x slower GEMM); python/sozai/_blas.py prints the kernels to use instead.
# The sozai CLI and `import sozai` fix this themselves; the C++ test binaries
# get it from here.
ifeq ($(origin OPENBLAS_CORETYPE),undefined)
OPENBLAS_CORETYPE := $(shell $(PYTHON) -S -E python/sozai/_blas.py 2>/dev/null)
endif
ifneq ($(strip $(OPENBLAS_CORETYPE)),)
export OPENBLAS_CORETYPE
endif

CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(PYTHON) -DPYBIND11_FINDPYTHON=ON

.PHONY: all setup configure build test test-cpp test-python demo benchmarks clean notebooks jupyter

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja: | setup
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

configure: $(BUILD)/build.ninja

build: setup configure
	cmake --build $(BUILD) -j $(JOBS)

test-cpp: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-python: build
	PYTHONPATH=$(CURDIR)/$(BUILD)/python SOZAI_BUILD_DIR=$(CURDIR)/$(BUILD) $(PYTHON) -m pytest -q tests/python

test: test-cpp test-python

# The notebooks of examples/, executed with their outputs and figures into build/notebooks/.
notebooks: build
	PYTHONPATH=$(CURDIR)/$(BUILD)/python SOZAI_CLI=$(CURDIR)/$(BUILD)/bin/sozai $(PYTHON) scripts/run_notebooks.py

# Jupyter on the notebooks (installs Debian's jupyter-notebook first; not part of setup, CI needs no server).
jupyter: build
	@command -v jupyter-notebook >/dev/null || apt-get install -y jupyter-notebook
	cd examples && PYTHONPATH=$(CURDIR)/$(BUILD)/python SOZAI_CLI=$(CURDIR)/$(BUILD)/bin/sozai jupyter-notebook

# The main job: replay BO campaigns on a real dataset, then plot and summarise.
DEMO_DATASET ?= crossed_barrel
DEMO_SEEDS ?= 10
DEMO_BUDGET ?= 150
demo: build
	mkdir -p demo
	$(BUILD)/bin/sozai --version
	$(BUILD)/bin/sozai benchmark --dataset $(DEMO_DATASET) --budget $(DEMO_BUDGET) --seeds $(DEMO_SEEDS) --out demo
	PYTHONPATH=$(CURDIR)/$(BUILD)/python $(PYTHON) scripts/plot_benchmark.py demo/$(DEMO_DATASET).json \
	    --png demo/$(DEMO_DATASET).png --summary demo/SUMMARY.md
	@echo "demo: see demo/SUMMARY.md and demo/$(DEMO_DATASET).png"

# The numbers of benchmarks/results/ (long: tens of minutes on 2 cores).
benchmarks: build
	PYTHONPATH=$(CURDIR)/$(BUILD)/python $(PYTHON) benchmarks/run_all.py --build $(BUILD)

clean:
	rm -rf $(BUILD) demo
