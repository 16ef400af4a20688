# Set-up and entry points. `make demo` and `make test` each do the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# tests run on 2 workers (tests/xdist_groups.py decides what shares one); PYTEST_ARGS="-n 0" runs them serially
TEST_WORKERS ?= 2
DEB_PACKAGES := dataset-fashion-mnist trans-de-en chromium chromium-driver openjdk-17-jre-headless
WEB_STAMP := deepnodes/server/static/index.html

.PHONY: setup system web test demo demo-data serve bench clean

setup: $(STAMP) system web

# torch first, from its pinned CPU wheel: a plain `torch` requirement would pull a multi-GB CUDA build
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check torch==2.13.0
	$(PIP) install -q --disable-pip-version-check -e ".[test,h2o,mlflow,tensorboard,ray,tensorflow]"
	touch $(STAMP)

# Debian packages the datasets, examples and browser tests need (installed when missing; needs root)
system:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# the browser editor: built by Vite into the Python package (no built files are committed)
WEB_SOURCES := $(wildcard web/package.json web/package-lock.json web/index.html web/vite.config.*) $(shell find web/src -type f 2>/dev/null)
web: $(WEB_STAMP)
$(WEB_STAMP): $(WEB_SOURCES)
	@if [ -f web/package.json ]; then \
	  cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build; \
	else echo "no web/ sources yet; skipping the editor build"; fi

test: setup
	cd web && npm test --silent
	$(PY) -m pytest -q -ra --durations=20 -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# the demo needs only torch, the base package and the Fashion-MNIST package: no extras, browser or editor build;
# --no-compile: modules are compiled when first imported (about 2 s more on the first run, minutes less to set up)
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check --no-compile torch==2.13.0
	$(PIP) install -q --disable-pip-version-check --no-compile -e .
	touch $(DEMO_STAMP)

demo-data:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null; }

demo: $(DEMO_STAMP) demo-data
	$(VENV)/bin/deepnodes run examples/image_classification.json

serve: setup
	$(VENV)/bin/deepnodes serve --workspace examples

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) web/node_modules deepnodes/server/static .cache
