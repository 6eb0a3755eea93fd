#!/usr/bin/env bash
# Install everything the tests need and run them: lint, types, the test suite.
# This is the README's test command, and .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e ".[test]"

# System programs the tests use, installed when missing (Debian/Ubuntu, as root). The
# connector tests start their own redis-server, mosquitto and PostgreSQL on free ports;
# the dashboard test drives a headless Chromium.
missing=()
command -v dot >/dev/null || missing+=(graphviz)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)  # the dashboard's browser test
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt_install() { apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; }
    apt_install || { apt-get update -qq >/dev/null && apt_install; }
  else
    echo "scripts/test.sh: please install: ${missing[*]}" >&2
  fi
fi

python -m ruff check .
python -m ruff format --check .
python -m mypy
python -m pytest "$@"
