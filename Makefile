# Two commands on a fresh machine:
#   make site   set up .venv and build site/ from the committed checkpoint (offline)
#   make test   set up the test tools too (pip, npm, apt) and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: site test serve train bench system-deps dataset clean

site: $(VENV)/.installed
	$(BIN)/python -m builder build

test: system-deps $(VENV)/.installed-test node_modules/.installed
	$(BIN)/python -m pytest

serve: $(VENV)/.installed
	$(BIN)/python -m builder serve

train: $(VENV)/.installed dataset
	$(BIN)/python -m builder train

bench: $(VENV)/.installed-test system-deps
	$(BIN)/python -m builder bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# Lighthouse, for the page-quality test (tests/test_lighthouse.py).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium for the browser tests, FashionMNIST for training, Java for the HTML validator,
# npm for Lighthouse (only when the machine has none of its own).
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q
system-deps: dataset
	@[ -x /usr/bin/chromium ] && command -v java >/dev/null || $(APT) chromium chromium-driver default-jre-headless
	@command -v npm >/dev/null || $(APT) npm

dataset:
	@[ -d /usr/share/datasets/fashion-mnist ] || $(APT) dataset-fashion-mnist

clean:
	rm -rf site .cache
