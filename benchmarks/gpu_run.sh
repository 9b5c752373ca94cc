#!/usr/bin/env bash
# Everything this project needs a GPU for, in one call of the device tool
# (benchmarks/GPU.md): the CUDA tests, then the CAC and OpenMax MNIST
# benchmarks on classifier32. Each step has its own time limit, so that the
# call ends inside the tool's 10-minute limit and what finished comes back
# under $OUT even when a later step runs out of time.
#
#   run(command="bash benchmarks/gpu_run.sh", carry=[".whl", ".gpu_data"],
#       timeout_s=590)
#
# Needs .whl/ and .gpu_data/ from benchmarks/gpu_prepare.sh. N_TRIALS (default
# 5: trials 0 to 4) and EPOCHS (default 35, the reference code's MNIST epochs)
# set the benchmarks' size, e.g. "N_TRIALS=1 bash benchmarks/gpu_run.sh".
set -uo pipefail

: "${OUT:?run through the device tool, which sets OUT}"
N_TRIALS=${N_TRIALS:-5}
EPOCHS=${EPOCHS:-35}

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 SKLEARN_OPENSET_DATA=.gpu_data
mkdir -p "$OUT/cac" "$OUT/openmax"
nvidia-smi -L
python3 -c "import torch, sklearn, skorch; print('torch', torch.__version__, \
'cuda', torch.cuda.is_available(), 'sklearn', sklearn.__version__, \
'skorch', skorch.__version__)"

# 1. The CUDA tests (pytest -m gpu): a few seconds of GPU work each.
timeout 150 python3 -m pytest tests -q -p no:cacheprovider -m gpu -rs \
    2>&1 | tee "$OUT/gpu_tests.log"

# 2. CAC and its cross-entropy baseline, classifier32, reference recipe. The
# CAC script saves its rows after every fit, so a timeout keeps the trials
# that finished.
timeout 210 python3 benchmarks/cac/bench_quality.py --parts mnist \
    --mnist-backbones classifier32 --classifier32-trials "$N_TRIALS" \
    --epochs-classifier32 "$EPOCHS" --recipe reference --device cuda --threads 4 \
    2>&1 | tee "$OUT/cac/log.txt"
cp benchmarks/cac/results_quality.json benchmarks/cac/results_quality.md "$OUT/cac/"

# 3. OpenMax on classifier32, the same training as the CAC baseline (step
# recipe); the script saves after every fit too.
# shellcheck disable=SC2046
timeout 150 python3 benchmarks/openmax/bench_quality.py --datasets mnist \
    --estimators openmax-cnn --trials $(seq 0 $((N_TRIALS - 1))) \
    --cnn-epochs "$EPOCHS" \
    --recipe step --device cuda --threads 4 \
    2>&1 | tee "$OUT/openmax/log.txt"
cp benchmarks/openmax/results_quality.json benchmarks/openmax/results_quality.md \
    "$OUT/openmax/"
