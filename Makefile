# Bridgedesk. Needs only Python 3.11+ and make; everything else installs into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Pages and the test suite use the embedded PostgreSQL unless DATABASE_URL is set.
EMBEDDED := $(PY) -m config.embedded --

.PHONY: run test lint bench install install-dev clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e '.[embedded]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	@$(PY) -m config.devserver

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# manage.py reads the same settings as production; give it a throwaway key.
test: export SECRET_KEY ?= make-test-only-key-not-for-production-000000000000000000
test: lint
	$(EMBEDDED) $(PY) manage.py makemigrations --check --dry-run
	$(EMBEDDED) $(PY) manage.py check --fail-level WARNING
	$(EMBEDDED) $(PY) -m pytest -n $${PYTEST_WORKERS:-2} $(PYTEST_ARGS)

bench: install-dev
	$(EMBEDDED) $(PY) bench/run.py
	$(EMBEDDED) $(PY) bench/scheduling.py
	$(EMBEDDED) $(PY) bench/status_page.py
	$(EMBEDDED) $(PY) bench/bridge.py

clean:
	rm -rf $(VENV) var/staticfiles var/cache tests/artifacts
