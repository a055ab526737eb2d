#!/usr/bin/env bash
# ansible-test bootstraps pip in its virtual environments with a get-pip script that it downloads
# from a host this network cannot reach. Put a stand-in in its cache: the stand-in installs the
# pip that Python bundles (ensurepip), then asks that pip for the packages ansible-test wanted,
# from the package index configured on this machine.
set -euo pipefail
PYTHON=${1:-.venv/bin/python}
version=$("$PYTHON" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
import sys
print(get_venv_packages(NativePythonConfig(path=sys.executable, version="%d.%d" % sys.version_info[:2]))["pip"])
PY
)
cache=~/.ansible/test/cache
target="$cache/get_pip_${version//./_}.py"
mkdir -p "$cache"
cat >"$target" <<'PY'
"""Stand-in for get-pip.py (dbops.runbooks scripts/offline-get-pip.sh): ensurepip, then pip install."""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null; drop it so the machine's pip.conf applies again.
os.environ.pop("PIP_CONFIG_FILE", None)
wanted = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + wanted))
PY
echo "ansible-test pip bootstrap stand-in: $target"
