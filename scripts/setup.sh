#!/usr/bin/env bash
# Create .venv and install az_gym with its test tools. Idempotent; safe to re-run.
#   VENV=path   where to put the virtualenv (default .venv)
#   EXTRAS=...  pip extras to install (default dev)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-dev}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    echo "setup: GPU found; installing torch from the default index (CUDA build)"
    "$VENV/bin/python" -m pip install --quiet "torch>=2.1"
  else
    # No GPU: pin the CPU wheel (2.13.0 is the CPU build available offline here); where
    # only PyPI is reachable, the PyTorch CPU index keeps pip off the multi-GB CUDA build.
    echo "setup: no GPU; installing the CPU build of torch"
    "$VENV/bin/python" -m pip install --quiet "torch==2.13.0" \
      || "$VENV/bin/python" -m pip install --quiet "torch==2.13.0" \
           --index-url https://download.pytorch.org/whl/cpu
  fi
fi
"$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
echo "setup: done ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
