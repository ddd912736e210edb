#!/usr/bin/env bash
# Wheels a lent GPU machine lacks (its image has torch, lightning, torchmetrics, tensorboard,
# nvidia-ml-py, scikit-image, ... for Python 3.12; see the device tool's KINDS.md), downloaded here
# into .whl/ (git-ignored) for the device call to install with
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
#   export PYTHONPATH=/tmp/site:$PWD
# fvcore and iopath are published as sources only: they are built here into pure-Python wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
platforms=(--platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  -d .whl compressai==1.2.8 jsonargparse==4.53.0 docstring_parser==0.18.0 typeshed_client==2.15.0 \
  pytorch-msssim==1.0.0 yacs==0.1.8 termcolor==3.3.0 bjontegaard==1.3.0 importlib_resources
python3 -m pip wheel -q --no-deps -w .whl fvcore==0.1.5.post20221221 iopath==0.1.10
ls -1 .whl
