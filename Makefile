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
	$(BIN)/pip install -q -c constraints-cpu.txt -e ".[dev,spark]"
	touch $@

setup: $(BIN)/assay

# After a run, the data, models and reports go to the default DVC remote, when one is configured
# (.dvc/config: a folder beside the checkout; see README, "Versioned data").
PUSH = if $(BIN)/dvc remote default >/dev/null 2>&1; then $(BIN)/dvc push; else echo "no default DVC remote: nothing pushed"; fi

demo: setup
	$(BIN)/dvc repro
	@$(PUSH)

# The same pipeline on the real datasets in ../shared/data, imported under DVC first (data/real/,
# its .dvc files to commit); params.yaml is written from params.real.yaml to read those copies.
# `git checkout params.yaml && dvc checkout` returns to the demo outputs.
real: setup
	test -d ../shared/data || { echo "error: ../shared/data not found (see README, Real data)"; exit 2; }
	$(BIN)/assay import-raw --params params.real.yaml --into data/real --out params.yaml
	$(BIN)/dvc repro
	@$(PUSH)

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check assay tests benchmarks

bench: setup
	$(BIN)/python benchmarks/ingest_clean.py
