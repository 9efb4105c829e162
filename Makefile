# The two set-up commands of the README are `make run` and `make test`; everything else is for developers.
# Every target sets up what it needs, and a second run reinstalls nothing unless pyproject.toml or
# constraints.txt changed.

SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

# The first interpreter on PATH that is CPython 3.11, 3.12 or 3.13.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: run test lint bench setup migrate messages lock clean help

help:
	@echo "make run    - set up, migrate, load demo data, start web + worker + scheduler"
	@echo "make test   - set up and run the whole test suite (SQLite, or DATABASE_URL)"
	@echo "make lint   - ruff, format check, pip-audit, bandit, migrations check"
	@echo "make bench  - run the benchmarks in bench/ (B=B0 runs one)"

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON)" ]; then \
		echo "error: no suitable Python found. This project needs CPython 3.11, 3.12 or 3.13 on PATH" >&2; \
		echo "       (as python3.11, python3.12, python3.13 or python3), or PYTHON=/path/to/python make ..." >&2; \
		exit 1; fi
	@if [ -x "$(PY)" ] && ! $(PY) -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))'; then \
		echo "Removing $(VENV): it was made with an unsupported Python"; rm -rf $(VENV); fi
	@[ -x "$(PY)" ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24.3"
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(PY) manage.py migrate --noinput

run migrate: export DEBUG ?= 1
run: migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py runall

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(BIN)/bandit -q -c pyproject.toml -r coworking spaces members bookings billing community --severity-level high
	scripts/audit.sh

bench: setup
	DJANGO_SETTINGS_MODULE=bench.settings $(PY) manage.py migrate --noinput
	$(PY) bench/run.py $(if $(B),--only $(B))

# Compile the translations with polib so that no system gettext is needed; the .mo files are committed too.
messages: setup
	$(PY) manage.py compilemessages_py

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install --quiet -e ".[dev]"
	{ head -2 constraints.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -v -i -E '^(pip|setuptools)=='; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .lock-venv

clean:
	rm -rf $(VENV) var
