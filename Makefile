# medvlp: `make demo` and `make test` set everything up on a fresh machine (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_OUT ?= runs/demo
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

# The constraints file pins the torch/torchvision pair (README "Install"); the stamp re-runs pip when deps change.
$(VENV)/.installed: pyproject.toml constraints/cpu.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -c constraints/cpu.txt -e '.[dev]'
	touch $@

# The main job on the embedded default: phantom archive -> ingest -> pre-train 2D + 3D -> zero-shot and supervised
# evaluation on held-out phantom patients (`medvlp demo`; runs/demo is replaced).
demo: setup
	$(VENV)/bin/medvlp demo --out $(DEMO_OUT) --fresh

test: setup
	$(PY) -m pytest -q -n 2

lint: setup
	$(VENV)/bin/ruff check medvlp tests benchmarks
	$(VENV)/bin/ruff format --check medvlp tests benchmarks

clean:
	rm -rf runs .pytest_cache
