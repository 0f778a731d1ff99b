#!/usr/bin/env bash
# Creates .venv-fixtures: the Python that REGENERATES test fixtures and runs the peers of some
# benchmarks (torch, transformers, onnxscript, onnxruntime-genai's model builder). The tests
# themselves never need it: fixtures and their reference outputs are committed.
#
#   bash scripts/fixture-env.sh            # once
#   eval "$(bash scripts/fixture-env.sh --env)"   # sets TORCHPY and the library path
#   $TORCHPY tests/data/convert/make_decoder_fixtures.py
#
# PyPI's torch is a CUDA build. Where the CUDA 13 toolkit is installed (/usr/local/cuda), torch
# is installed without its multi-GB CUDA dependencies and uses the toolkit's libraries plus the
# four small packages the toolkit lacks; elsewhere pip installs torch with all its dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$PWD/.venv-fixtures
CUDA_LIB=/usr/local/cuda/lib64
SITE="$VENV/lib/python3*/site-packages/nvidia"

if [ "${1:-}" = "--env" ]; then
    libs=$(echo $SITE/nccl/lib $SITE/cusparselt/lib $SITE/cu13/lib $SITE/nvshmem/lib | tr ' ' ':')
    echo "export TORCHPY=$VENV/bin/python"
    [ -e "$CUDA_LIB/libcudnn.so.9" ] && echo "export LD_LIBRARY_PATH=$libs:$CUDA_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
    echo "export HF_HUB_OFFLINE=1"
    exit 0
fi

python3 -m venv "$VENV"
pip="$VENV/bin/pip"
"$pip" install -q --upgrade pip setuptools
if [ -e "$CUDA_LIB/libcudnn.so.9" ]; then
    "$pip" install -q --no-deps torch==2.15.0
    "$pip" install -q typing_extensions sympy filelock networkx jinja2 fsspec
    "$pip" install -q --no-deps nvidia-cusparselt-cu13==0.8.1 nvidia-nvshmem-cu13==3.7.2 \
        nvidia-cufile==1.20.0.107 nvidia-nccl-cu13==2.30.7
else
    "$pip" install -q torch==2.15.0
fi
"$pip" install -q transformers==5.24.0 safetensors==0.8.0 onnx==1.23.2 onnxruntime==1.32.0 \
    onnxscript==0.7.2 gguf==0.19.0 tokenizers==0.23.3 onnxruntime-genai==0.18.0 numpy==2.4.6
# Evaluation references and peers: torchmetrics and scikit-learn (tests/data/metrics), Olive's own
# data pre-processing and evaluator (tests/data/evaluate, bench/evaluate.py; olive-ai without its
# optional dependencies), accelerate (transformers' GGUF loading in bench/perplexity.py).
"$pip" install -q torchmetrics==1.9.0 scikit-learn==1.9.1 datasets==5.2.0 accelerate==1.16.0 \
    requests==2.34.2 optuna==5.1.0 questionary==2.1.1 opentelemetry-sdk==1.45.2
"$pip" install -q --no-deps olive-ai==0.13.0
echo "ready: eval \"\$(bash scripts/fixture-env.sh --env)\""
