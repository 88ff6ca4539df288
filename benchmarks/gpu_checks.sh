#!/usr/bin/env bash
# Every GPU check of issue 10 in one command, for a device machine (its python3 has torch,
# pluggy, tqdm and pytest; the optim packages are used from the checkout via PYTHONPATH).
#   bash benchmarks/gpu_checks.sh            # logs go to $OUT (device tool) or /tmp/gpu-checks
set -uo pipefail
OUT=${OUT:-/tmp/gpu-checks}
mkdir -p "$OUT"
PYTHONPATH=$(ls -d "$PWD"/packages/*/src | paste -sd:)
export PYTHONPATH PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
timeout 240 python3 -m pytest -m gpu -q -p no:cacheprovider tests/optim-core tests/optim-models \
    2>&1 | tee "$OUT/gpu-tests.log"
timeout 300 python3 benchmarks/gpu_throughput.py 2>&1 | tee "$OUT/gpu_throughput.log"
