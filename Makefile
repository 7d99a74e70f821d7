# The two commands: `make run` and `make test`. Everything else is what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test system-deps bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/switchboard run

# System packages the tests use: Dovecot (the real IMAP server of the email tests),
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
	    echo "cannot install$$missing (needs root and apt-get): the tests that need them will skip"; \
	  fi; \
	fi

test: system-deps $(INSTALLED)
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: $(INSTALLED)
	$(BIN)/python bench/run_all.py
