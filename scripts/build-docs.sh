#!/usr/bin/env bash
# `make docs`: the collection's HTML documentation the Ansible way (antsibull-docs + Sphinx) in
# build/docs/html: modules, roles with their argument specs, the callback and filters. Any warning
# fails the build (-W, --fail-on-error), and antsibull-docs lint-collection-docs checks the docs first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$PWD/build/collections}
# Plugin docs are checked by the build below (--fail-on-error): lint-collection-docs --plugin-docs
# copies the collection alone, without the amazon.aws doc fragments rds_snapshot uses.
antsibull-docs lint-collection-docs .
rm -rf build/docs && mkdir -p build/docs/rst
chmod 700 build/docs/rst  # antsibull-docs writes only into a directory nobody else can write to
antsibull-docs --config-file docs/sphinx/antsibull-docs.cfg collection --cleanup everything --fail-on-error \
  --use-current --dest-dir build/docs/rst dbops.runbooks
cp docs/sphinx/index.rst build/docs/rst/index.rst
sphinx-build -M html build/docs/rst build/docs -c docs/sphinx -q -W --keep-going
echo "docs: build/docs/html/index.html"
