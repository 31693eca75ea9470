# Pathway: `make run` starts the dev stack, `make test` runs every check. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
# Debian's Chromium, for the web inbox's browser tests (Playwright drives it; it downloads no browser).
CHROMIUM := /usr/bin/chromium

.PHONY: install bytecode run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Pathway needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The NHS.UK frontend the web pages use, from npm at the version package-lock.json pins.
$(NODE_STAMP): package.json package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm)
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

install: $(STAMP) $(NODE_STAMP)

# Compiled ahead, since PYTHONDONTWRITEBYTECODE may stop Python writing it: the workflow sandbox
# imports each workflow's module afresh for every workflow it starts, compiling it if there is no .pyc.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q domain workflows activities service workers store cli api bench

run: install bytecode
	$(BIN)/pathway dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

pytest: install bytecode $(CHROMIUM)
	$(BIN)/pytest

test: lint typecheck pytest

# Benchmarks: each starts its own Temporal dev server, prints its figures and appends a row to
# bench/results/; bench.targets then prints the target table from the latest rows. Never part of `make test`.
bench: install bytecode
	$(BIN)/python -m bench.journey_throughput
	$(BIN)/python -m bench.command_latency
	$(BIN)/python -m bench.audit_speed
	$(BIN)/python -m bench.scale_out
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.targets

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name __pycache__ -not -path './node_modules/*' -prune -exec rm -rf {} +
