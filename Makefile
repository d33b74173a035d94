# Keel: two commands. `make demo` renders and serves a project; `make test` tests the template.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := $(CURDIR)/.venv
DEMO := .demo
PORT ?= 8000

.PHONY: install test demo lint format clean bench mutate fakestripe-wheel

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.installed: pyproject.toml fakestripe/pyproject.toml | $(UV)
	$(UV) sync --quiet
	touch $@

install: $(VENV)/.installed

# Two workers (pytest-xdist); the tests of one answer set share a worker (tests/conftest.py).
test: install
	PATH="$(VENV)/bin:$$PATH" $(VENV)/bin/pytest -n 2 --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

demo: install
	rm -rf $(DEMO)
	$(VENV)/bin/copier copy --trust --defaults --quiet --vcs-ref HEAD . $(DEMO)
	PATH="$(VENV)/bin:$$PATH" $(MAKE) -C $(DEMO) run PORT=$(PORT)

# template/ is linted as it stands, before rendering, with its own ruff.toml.
lint: install
	$(VENV)/bin/ruff check . template
	$(VENV)/bin/ruff format --check . template

format: install
	$(VENV)/bin/ruff format . template
	$(VENV)/bin/ruff check --fix . template

# The offline Stripe reaches generated projects as a wheel in template/vendor/ (a dev dependency).
# Rebuild it after any change under fakestripe/src/ (tests/test_fakestripe_wheel.py checks it).
# hatchling is pinned and stamps fixed dates: the same source gives the same bytes.
fakestripe-wheel: $(UV)
	rm -f template/vendor/keel_fakestripe-*.whl
	$(UV) build --wheel --quiet --no-create-gitignore --out-dir template/vendor fakestripe

bench: install
	PATH="$(VENV)/bin:$$PATH" $(VENV)/bin/python bench/run.py

# Mutation testing of both modes' money and access code (mutmut); tens of minutes, not in CI.
# MUTATE_ARGS="--mode basic" for one mode, "--module gates.py" for one module, "--survivors" to
# re-run only what the last run left alive (after adding tests). Scores go to bench/results.md.
mutate: install
	PATH="$(VENV)/bin:$$PATH" nice $(VENV)/bin/python bench/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf $(DEMO) .pytest_cache .mutate
