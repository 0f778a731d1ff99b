#!/usr/bin/env bash
# Makes .olive-peer/, a Python venv with Olive (olive-ai 0.13) and torch, the peer tool the bench
# scripts compare libolive with (bench/search.py --olive-python .olive-peer/bin/python). Not
# needed to build or test libolive. Every package is pinned in bench/requirements-olive-peer.txt
# and installed with --no-deps: a plain `pip install torch` would pull several GB of CUDA wheels,
# of which CPU use needs only the few that the CUDA 13 toolkit (/usr/local/cuda) does not have.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .olive-peer/bin/python ] || python3 -m venv .olive-peer
.olive-peer/bin/pip install -q --disable-pip-version-check --no-deps -r bench/requirements-olive-peer.txt
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda/lib64
.olive-peer/bin/python -c 'import torch, olive.workflows; print("olive-peer: torch", torch.__version__, "and olive ready")'
