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

# The main job on the embedded default: phantom archive -> ingest (de-identified dataset) -> report labels.
# (`medvlp demo` takes over once pre-training and evaluation land.)
demo: setup
	rm -rf $(DEMO_OUT)
	$(VENV)/bin/medvlp synth --out $(DEMO_OUT)/phantom --broken
	$(VENV)/bin/medvlp ingest $(DEMO_OUT)/phantom/archive --reports $(DEMO_OUT)/phantom/reports/reports.csv \
		--reports $(DEMO_OUT)/phantom/reports/text --out $(DEMO_OUT)/dataset
	$(VENV)/bin/medvlp label $(DEMO_OUT)/phantom/reports/reports.csv --findings phantom_cxr \
		--out $(DEMO_OUT)/labels_cxr.csv

test: setup
	$(PY) -m pytest -q -n 2

lint: setup
	$(VENV)/bin/ruff check medvlp tests benchmarks
	$(VENV)/bin/ruff format --check medvlp tests benchmarks

clean:
	rm -rf runs .pytest_cache
