#!/usr/bin/env bash
# Install the Debian packages given as arguments that are missing. As root it installs them;
# otherwise it says which to install and fails.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]} (install them: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Server packages try to start their system services; policy-rc.d or its absence decides, and
# the stack runs its own servers either way.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
