# The two commands: `make run` (the whole product on the embedded default) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint typecheck bench browser clean

run: $(STAMP)
	$(BIN)/python -m orgportal.run

test: $(STAMP) browser
	@if command -v npm >/dev/null && [ ! -d tests/orgsim/js/node_modules ]; then npm ci --prefix tests/orgsim/js --no-audit --no-fund --silent; fi
	$(BIN)/pytest -q

# Without the browser tests: quick feedback while working.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	DEBUG=true $(BIN)/mypy front orgportal transfers handshakes policies audit orgsim notifications approvals

bench: $(STAMP)
	$(BIN)/python bench/orgsim_bench.py
	$(BIN)/python bench/sync_bench.py
	$(BIN)/python bench/pages_bench.py
	$(BIN)/python bench/export_bench.py
	$(BIN)/python bench/accept_bench.py
	$(BIN)/python bench/notify_bench.py

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# End-to-end tests drive Debian's chromium (no browser download is possible here).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "The browser tests need /usr/bin/chromium: apt-get install chromium" >&2; exit 1; fi; }

clean:
	rm -rf $(VENV) var staticfiles
