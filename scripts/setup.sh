#!/usr/bin/env bash
# Shared set-up of scripts/serve and scripts/test (source it, don't run it): creates .venv with
# mtlviz (editable) and the exact tested versions of its dependencies (requirements/lock.txt),
# re-installing only when pyproject.toml or the lock changes.
#   source scripts/setup.sh serve    # what the dashboards need
#   source scripts/setup.sh test     # plus pytest, nbval and playwright
# (The argument is required: a sourced script sees its caller's arguments when given none.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MTLVIZ_VENV:-$ROOT/.venv}"
case "${1:-}" in
  serve) EXTRA="" ;;
  test) EXTRA="test" ;;
  *) echo "usage: source scripts/setup.sh serve|test" >&2; return 2 ;;
esac
LOCK="$ROOT/requirements/lock.txt"
# A Python outside requires-python stops here with one line naming the requirement.
if [ -x "$VENV/bin/python" ]; then PY="$VENV/bin/python"; else PY="${PYTHON:-python3}"; fi
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "[setup] no Python found at '$PY': install Python 3 (see requires-python in pyproject.toml) or set PYTHON=" >&2
  return 1
fi
"$PY" "$ROOT/scripts/check_python.py" "$ROOT/pyproject.toml" || return 1
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating a virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
stamp_of() { (cat "$ROOT/pyproject.toml" "$LOCK"; echo "extra=$1") | sha256sum | cut -d' ' -f1; }
STAMP="$VENV/.mtlviz-installed"
# An environment set up with the test extra also serves the dashboards.
if ! grep -qx -e "$(stamp_of "$EXTRA")" -e "$(stamp_of test)" "$STAMP" 2>/dev/null; then
  echo "[setup] installing mtlviz and its dependencies (the first time takes about 2 minutes)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # Every package at its tested version (-c: the lock constrains, mtlviz's ranges select). torch
  # first, from the lock (torch==2.13.0), so that pip never considers a multi-GB CUDA build.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$LOCK" torch
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$LOCK" -e "$ROOT${EXTRA:+[$EXTRA]}"
  stamp_of "$EXTRA" > "$STAMP"
fi
# The course's JupyterLab settings (no news pop-up, no update check) for `.venv/bin/jupyter lab`.
mkdir -p "$VENV/share/jupyter/lab/settings"
cmp -s "$ROOT/jupyter/lab/settings/overrides.json" "$VENV/share/jupyter/lab/settings/overrides.json" ||
  cp "$ROOT/jupyter/lab/settings/overrides.json" "$VENV/share/jupyter/lab/settings/overrides.json"
export PATH="$VENV/bin:$PATH"
