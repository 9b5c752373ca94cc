#!/usr/bin/env bash
# Prepare what a GPU machine without network needs to run this project's
# CUDA tests and GPU benchmarks (see benchmarks/GPU.md). Run from the
# repository root on the development machine; both folders are git-ignored.
#
#   .whl/       wheels missing from the GPU machine's image (Python 3.12):
#               skorch, and scikit-learn at the version CI uses
#   .gpu_data/  the offline benchmark data the GPU benchmarks read (MNIST)
set -euo pipefail

python3 -m pip download -q --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl skorch==1.4.0 scikit-learn==1.9.1

mkdir -p .gpu_data
cp -r ../shared/data/mnist .gpu_data/
du -sh .whl .gpu_data
