# Two commands do all the set-up (see README): `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test lint test-rules system-packages bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: install, then start the daemon on its built-in default (needs root to read /var/log)
run: $(STAMP)
	$(BIN)/logsentry run

## demo: replay the bundled sample attacks
demo: $(STAMP)
	$(BIN)/logsentry demo

## system-packages: the real receivers and peers the tests start (rsyslog, CrowdSec bouncers, nft)
system-packages:
	@missing=""; \
	command -v rsyslogd >/dev/null 2>&1 || missing="$$missing rsyslog"; \
	[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || [ -n "$$(find /usr/lib -name lmnsd_gtls.so 2>/dev/null | head -n1)" ] || missing="$$missing rsyslog-gnutls"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	[ -x /lib/systemd/systemd-journal-remote ] || [ -x /usr/lib/systemd/systemd-journal-remote ] || missing="$$missing systemd-journal-remote"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	command -v nft >/dev/null 2>&1 || missing="$$missing nftables"; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	bouncers=""; \
	command -v crowdsec-custom-bouncer >/dev/null 2>&1 || bouncers="$$bouncers crowdsec-custom-bouncer"; \
	command -v crowdsec-firewall-bouncer >/dev/null 2>&1 || bouncers="$$bouncers crowdsec-firewall-bouncer"; \
	if [ -n "$$missing$$bouncers" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq; \
			[ -z "$$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
			: "the bouncers alone: their recommended crowdsec agent is not needed"; \
			[ -z "$$bouncers" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$bouncers >/dev/null; \
		else echo "make: install these Debian packages for the full test suite:$$missing$$bouncers"; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check logsentry tests bench
	$(BIN)/mypy

test-rules: $(STAMP)
	$(BIN)/logsentry test-rules

## test: install, then lint, rule tests and the whole test suite
test: $(STAMP) system-packages lint test-rules
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
