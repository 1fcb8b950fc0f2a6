#!/usr/bin/env bash
# The test command of the README: services, lint, types, then the whole suite on real PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
pip install -q --disable-pip-version-check -e '.[dev]'
scripts/services.sh
ruff check .
mypy bot handlers content scheduler bench tests
# Two processes, a test file each at a time, each on a database of its own (tests/conftest.py).
pytest -n "${LONGTUAN_TEST_WORKERS:-2}" --dist loadfile "$@"
