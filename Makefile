# praxisops: `make demo` and `make test` are all a newcomer needs.
# Each target creates .venv and installs what it needs by itself (Debian
# packages too, when run as root).

SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := openssh-client openssh-server sshpass debootstrap nftables iproute2 graphviz postgresql libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core libharfbuzz-subset0 poppler-utils restic
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

# A Python >= 3.12 (ansible-core 2.21 needs it): PATH first, then pyenv's versions.
PYTHON ?= $(shell scripts/find-python)

.PHONY: help deps apt awx-collection demo test lint unit integration bench clean lab-up lab-down

help:
	@echo "make demo   run the main job on the demo practices"
	@echo "make test   all tests and quality gates"
	@echo "make lint   static gates only"
	@echo "make bench  benchmarks (bench/)"
	@echo "make clean  remove .venv and generated files"

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@if [ -z "$(PYTHON)" ]; then echo "praxisops needs Python 3.12 or newer (ansible-core 2.21). Install python3.12 (apt install python3.12 python3.12-venv, or pyenv install 3.12) and run make again." >&2; exit 1; fi
	@echo "Using $(PYTHON) ($$($(PYTHON) --version))"
	@if [ -x "$(BIN)/python" ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then rm -rf $(VENV); fi
	@[ -x "$(BIN)/python" ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@touch $(STAMP)

deps: $(STAMP) apt awx-collection

# awx.awx (collections/requirements-awx.yml) for the offline checks of playbooks/awx_configure.yml:
# extracted once from the ansible 12.3.0 wheel into .venv/awx-collection/
awx-collection: $(STAMP)
	@$(BIN)/python scripts/awx_collection.py >/dev/null

# Debian packages for the lab's Linux hosts and the network plans; only as root.
apt:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then echo "Installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	else echo "Not root: skipping Debian packages ($(APT_PACKAGES)); tests that need them are skipped."; fi

demo: deps
	scripts/demo.sh

lint: deps
	$(BIN)/ruff check .
	$(BIN)/yamllint --strict .
	$(BIN)/python scripts/check_playbooks.py
	$(BIN)/python scripts/check_docs.py
	$(BIN)/python scripts/ansible_sanity.py
	$(BIN)/python scripts/check_powershell.py
	ANSIBLE_COLLECTIONS_PATH=$$($(BIN)/python scripts/awx_collection.py) $(BIN)/ansible-lint --profile production --offline

unit: deps
	$(BIN)/python -m pytest tests/unit -q

integration: deps
	$(BIN)/python -m pytest tests/integration -q

test: deps
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest tests -q -n 2 --dist loadfile

bench: deps
	$(BIN)/python bench/sites/bench_sites.py
	$(BIN)/python bench/lab/bench_lab.py
	$(BIN)/python bench/fleet/bench_fleet.py
	$(BIN)/python bench/alerts/bench_alerts.py
	$(BIN)/python bench/patch/bench_patch.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .lab
