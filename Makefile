# dbops.runbooks: `make demo` runs both runbooks against the local stack, `make test` runs
# every test. Both work on a fresh Debian machine; run as root, the stack installs its packages.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
BIN         := $(VENV)/bin
COLLECTIONS := $(CURDIR)/build/collections
# The collection as ansible-test wants it: a git work tree under ansible_collections/dbops/runbooks.
TEST_TREE   := $(CURDIR)/build/test/ansible_collections/dbops/runbooks
PYVER       := $(shell test -x $(BIN)/python && $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_LOCALHOST_WARNING := false
export ANSIBLE_INVENTORY_UNPARSED_WARNING := false
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: help venv stack stack-down collection demo test sanity units integration lint changelog docs bench clean

help:
	@echo "make demo   run both runbooks (communities_schema_v1, production_migration) against the local stack"
	@echo "make test   sanity, lint, unit and integration tests against the local stack"
	@echo "make stack | stack-down | lint | sanity | units | integration | changelog | docs | clean"

$(BIN)/.installed: requirements.txt requirements-dev.txt scripts/find-python.sh
	test -x $(BIN)/python || "$$(scripts/find-python.sh)" -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

# The repository is the collection; a link makes it importable as dbops.runbooks.
collection:
	mkdir -p $(COLLECTIONS)/ansible_collections/dbops
	ln -sfn ../../../.. $(COLLECTIONS)/ansible_collections/dbops/runbooks

stack: venv
	scripts/stack.sh up

stack-down:
	scripts/stack.sh down

demo: venv collection stack
	scripts/demo.sh

test: lint changelog docs sanity units integration

lint: venv collection
	$(BIN)/ansible-lint --offline --profile production playbooks roles

# ansible-test reads git for the file list: test a fresh copy of the committed and untracked files.
$(TEST_TREE): FORCE
	rm -rf $(TEST_TREE) && mkdir -p $(TEST_TREE)
	git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents -P {} $(TEST_TREE)/ 2>/dev/null || true
	cd $(TEST_TREE) && git init -q && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm test
	# ansible-test finds the collection's dependency (amazon.aws, from the ansible package) next to it.
	rm -rf $(TEST_TREE)/../../amazon && mkdir -p $(TEST_TREE)/../../amazon
	cp -r "$$($(BIN)/python -c 'import ansible_collections.amazon.aws as m; print(list(m.__path__)[0])')" $(TEST_TREE)/../../amazon/aws
FORCE:

sanity: venv $(TEST_TREE)
	scripts/debian-packages.sh shellcheck
	scripts/offline-get-pip.sh $(BIN)/python
	cd $(TEST_TREE) && ansible-test sanity --venv --python $(PYVER) --color no

units: venv $(TEST_TREE)
	cd $(TEST_TREE) && ansible-test units --local --python $(PYVER) --color no

# migrate_adopt installs the real node-pg-migrate with npm (from its lock file): Node.js and npm must be there.
integration: venv collection stack $(TEST_TREE)
	command -v npm >/dev/null || scripts/debian-packages.sh nodejs npm
	cd $(TEST_TREE) && ansible-test integration --local --python $(PYVER) --color no

# Benchmarks, not tests: ratios against a baseline run side by side (BENCH_ROUNDS=3 by default).
bench: venv collection stack
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	scripts/debian-packages.sh sqitch libdbd-pg-perl libdbd-mariadb-perl libdbd-mysql-perl
	for script in bench/*_bench.py; do $(BIN)/python $$script; echo; done

changelog: venv
	$(BIN)/antsibull-changelog lint

# The collection's HTML docs (antsibull-docs + Sphinx, warnings fail it) in build/docs/html; ~10 s.
docs: venv collection
	scripts/build-docs.sh

clean:
	rm -rf build tests/output
