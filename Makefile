# The two Quick-start commands (README): `make demo` sets up and runs the pipeline on the demo
# data; `make test` runs the tests. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# dvc runs stage commands (`assay ...`) through the shell: the venv must be on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1

.PHONY: setup demo real test lint bench

$(BIN)/assay: pyproject.toml constraints-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: an unpinned torch pulls several GB of CUDA packages (see README for GPU).
	$(BIN)/pip install -q -c constraints-cpu.txt torch
	$(BIN)/pip install -q -c constraints-cpu.txt -e ".[dev]"
	touch $@

setup: $(BIN)/assay

demo: setup
	$(BIN)/dvc repro

# The same pipeline on the real datasets in ../shared/data. This copies params.real.yaml over
# params.yaml; `git checkout params.yaml && dvc checkout` returns to the demo outputs.
real: setup
	test -d ../shared/data || { echo "error: ../shared/data not found (see README, Real data)"; exit 2; }
	cp params.real.yaml params.yaml
	$(BIN)/dvc repro

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check assay tests benchmarks

bench: setup
	$(BIN)/python benchmarks/ingest_clean.py
