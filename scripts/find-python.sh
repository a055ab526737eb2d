#!/usr/bin/env bash
# Print the path of the first Python >= 3.12 found (ansible-core 2.20+ and ansible 14 need it).
set -u
candidates=(python3.14 python3.13 python3.12 python3)
for root in "${PYENV_ROOT:-$HOME/.pyenv}/versions"/3.1[2-9]* /usr/local/bin /usr/bin; do
  for exe in "$root"/bin/python3 "$root"/python3.1[2-9]; do [ -x "$exe" ] && candidates+=("$exe"); done
done
for candidate in "${candidates[@]}"; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    "$path" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "no Python >= 3.12 found: install one (for example python3.12 with pyenv) and run make again" >&2
exit 1
