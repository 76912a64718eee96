#!/usr/bin/env bash
# The GPU check of issue 15 (item 6): learning and self-play inference on CUDA, mixed
# precision (learning.mixed_precision = bf16 / fp16) and a Ray head with a GPU, each next to
# the CPU's figure; bench/gpu_check.py says what it prints. Under 5 minutes on a GPU machine
# (it is stopped at 300 s). Without CUDA it prints the CPU figures and "GPU check NOT RUN",
# exit status 2 (--cpu-only: 0).
#
#   bash bench/gpu_check.sh                 # PYTHON=... picks the interpreter
#   bash bench/gpu_check.sh --quick --cpu-only --no-ray
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
    echo "nvidia-smi: not found"
fi
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec timeout 300 "$PYTHON" bench/gpu_check.py "$@"
