# The README's two commands: `make demo` and `make test`. Each sets up .venv on first use.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export NO_ALBUMENTATIONS_UPDATE := 1

.PHONY: install web demo test test-slow docs export clean-nbs check-sync

# torch and torchvision must be a matching pair: this machine's pip also sees a local CPU-only
# torch 2.13.0+cpu wheel that PyPI's torchvision cannot load against, so ask for the PyPI build.
$(VENV)/.installed: settings.ini setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel setuptools
	$(PY) -m pip install -q "torch==2.13.0,!=2.13.0+cpu" "torchvision==0.28.0"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -c "import torch, torchvision, emotion_nb; print('installed: torch', torch.__version__, '| torchvision', torchvision.__version__, '| emotion_nb', emotion_nb.__version__)"
	touch $@

install: $(VENV)/.installed

# onnxruntime-web for the in-browser page (chapter 05d), pinned by package-lock.json; without npm the page is skipped
web:
	@if command -v npm >/dev/null; then npm ci --ignore-scripts --no-audit --no-fund; \
	else echo "npm not found: the Try it page (chapter 05d) and its browser tests are skipped"; fi

demo: install  ## the main job on the built-in data: train, evaluate, report (runs/demo/)
	$(VENV)/bin/emotion_train --data synthetic --epochs 15 --out runs/demo
	$(VENV)/bin/emotion_evaluate --model runs/demo/model.pth --data synthetic --split test

test: install  ## every notebook (nbdev_test) and the CLI tests; ends with "N passed, N failed"
	$(PY) tools/run_tests.py

test-slow: install  ## the same, with the cells and tests flagged `slow`
	$(PY) tools/run_tests.py --flags slow

docs: install web  ## offline docs preview in _docs/ (with the Try it page) and README.md from nbs/index.ipynb
	$(PY) tools/docs_preview.py

export: install
	$(VENV)/bin/nbdev_export

clean-nbs: install
	$(VENV)/bin/nbdev_clean

check-sync: install  ## fail if nbdev_export or nbdev_clean would change a tracked file
	$(VENV)/bin/nbdev_export && $(VENV)/bin/nbdev_clean
	git diff --exit-code --stat -- nbs emotion_nb || { echo "library and notebooks are out of sync: run nbdev_export and nbdev_clean, then commit"; exit 1; }
