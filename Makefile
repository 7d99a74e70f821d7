# The two commands: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LOCK := requirements/lock.txt

.PHONY: run test lint lock system-deps bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Exactly the versions in the lock, then the project itself without touching them.
# `pip check` fails when pyproject.toml asks for something the lock lacks: run `make lock`.
$(INSTALLED): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r $(LOCK)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/pip check
	touch $(INSTALLED)

# Regenerate the lock from pyproject.toml (the dependencies and the test extras): pins stay
# where they are unless pyproject.toml rules them out; `make lock LOCK_ARGS=--upgrade` takes
# the newest versions the ranges allow. Commit the result.
lock: $(INSTALLED)
	$(BIN)/pip-compile --quiet --extra test --strip-extras --no-emit-index-url \
	  --no-emit-find-links $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml

run: $(INSTALLED)
	$(BIN)/switchboard run

# System packages the tests and benches use: Dovecot (the real IMAP server of the email tests),
# Chromium (the browser test) and redis-server/redis-cli (the Redis Cluster tests).
# Installed with apt-get when missing and running as root.
system-deps:
	@missing=""; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -x /usr/bin/redis-server ] && [ -x /usr/bin/redis-cli ] || missing="$$missing redis-server redis-tools"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "cannot install$$missing (needs root and apt-get): the tests that need them skip, and fail under CI=true"; \
	  fi; \
	fi

# The layer contracts, the linter and the type checker, as configured in pyproject.toml.
lint: $(INSTALLED)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Two pytest-xdist workers: most tests wait on servers and subprocesses, so two share the
# cores well (16 minutes to 9 on two cores); `make test PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= 2
test: system-deps lint
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: system-deps $(INSTALLED)
	$(BIN)/python bench/run_all.py
