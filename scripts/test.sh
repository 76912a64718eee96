#!/usr/bin/env bash
# Set up (if needed) and run the linter and the test suite (slow tests excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${EXTRAS:-dev,ray} bash scripts/setup.sh
.venv/bin/ruff check az_gym tests bench examples scripts
.venv/bin/ruff format --check az_gym tests bench examples scripts
exec .venv/bin/python -m pytest -m "not slow" -q "$@"
