#!/usr/bin/env bash
# Runs the session tests on a GPU with ONNX Runtime's CUDA execution provider: libolive sessions
# on CUDAExecutionProvider must give what onnxruntime's Python API gives on CUDA (within GPU
# rounding). Meant for a machine with an NVIDIA GPU; never part of `meson test` or
# scripts/test.sh. Takes a few minutes (budget: under 8).
#
#   scripts/device-check.sh
#
# What it does:
#   1. a venv in $OLIVE_CHECK_VENV (default /tmp/olive-gpu-venv) that sees the system's packages
#      (numpy, onnx, pytest where installed), with onnxruntime-gpu installed into it unless the
#      onnxruntime there already has CUDAExecutionProvider. Wheels come from $OLIVE_WHEELS
#      (a folder, installed with --no-index) when set, else from PyPI (pinned below);
#   2. libolive: the library and CLI in $OLIVE_PREBUILT (a folder holding libolive.so and olive)
#      when set, else a build with meson into build-gpu;
#   3. tests/integration/test_session.py and test_evaluate.py with
#      OLIVE_TEST_PROVIDER=CUDAExecutionProvider (the comparisons of every encoder, decoder and
#      backend-test model, and the evaluations with their onnxruntime references, run on CUDA);
#   4. tests/integration/test_gptq_cuda.py with OLIVE_REQUIRE_CUDA=1: the gptq pass for
#      CUDAExecutionProvider runs on the GPU (cuBLAS / cuSOLVER) and its codes and scales match
#      the CPU kernel's on a few layer shapes (under a minute; limits: 390 s for step 3, 90 s
#      for this one).
# Exit status: 0 when every pytest run passed, else the first failing one's; 2 when the machine
# cannot run the check.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_GPU_VERSION=1.32.0   # the same release as onnxruntime in scripts/requirements-test.txt
VENV=${OLIVE_CHECK_VENV:-/tmp/olive-gpu-venv}
DEADLINE=${OLIVE_CHECK_TIMEOUT:-390}
GPTQ_DEADLINE=${OLIVE_CHECK_GPTQ_TIMEOUT:-90}

say() { printf '== %s\n' "$*"; }
die() { printf 'device-check: %s\n' "$*" >&2; exit 2; }

command -v nvidia-smi >/dev/null 2>&1 || die "no nvidia-smi: this is not a machine with an NVIDIA GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || die "nvidia-smi sees no GPU"

say "python environment ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv --system-site-packages "$VENV" || die "cannot create a venv with $(command -v python3)"
fi
PY="$VENV/bin/python"
has_cuda_ep() {
    "$PY" -c 'import onnxruntime as o, sys; sys.exit(0 if "CUDAExecutionProvider" in o.get_available_providers() else 1)' \
        2>/dev/null
}
if ! has_cuda_ep; then
    if [ -n "${OLIVE_WHEELS:-}" ]; then
        "$PY" -m pip install -q --no-index --find-links "$OLIVE_WHEELS" "onnxruntime-gpu==$ORT_GPU_VERSION" \
            || die "cannot install onnxruntime-gpu from $OLIVE_WHEELS"
    else
        "$PY" -m pip install -q "onnxruntime-gpu==$ORT_GPU_VERSION" || die "cannot install onnxruntime-gpu from PyPI"
    fi
fi
for pkg in numpy onnx pytest; do
    "$PY" -c "import $pkg" 2>/dev/null || "$PY" -m pip install -q ${OLIVE_WHEELS:+--no-index --find-links "$OLIVE_WHEELS"} "$pkg" \
        || die "cannot install $pkg"
done
has_cuda_ep || die "onnxruntime in $VENV has no CUDAExecutionProvider: $("$PY" -c 'import onnxruntime as o; print(o.__version__, o.get_available_providers())')"
"$PY" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())'

say "libolive"
if [ -n "${OLIVE_PREBUILT:-}" ]; then
    LIB="$OLIVE_PREBUILT/libolive.so"
    CLI_BIN="$OLIVE_PREBUILT/olive"
    # Libraries carried beside the prebuilt one (jansson, protobuf-c, ...) are found there.
    export LD_LIBRARY_PATH="$OLIVE_PREBUILT${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
    command -v meson >/dev/null 2>&1 || "$PY" -m pip install -q meson || die "no meson to build libolive"
    PATH="$VENV/bin:$PATH" meson setup build-gpu --buildtype=release >/dev/null
    ninja -C build-gpu -j"$(nproc)"
    LIB="$PWD/build-gpu/lib/libolive.so"
    CLI_BIN="$PWD/build-gpu/examples/olive/olive"
fi
[ -e "$LIB" ] || die "no libolive.so at $LIB"

say "session and evaluation tests on CUDAExecutionProvider"
# The venv's python3 comes first on PATH, so libolive finds the onnxruntime-gpu installed there.
export PATH="$VENV/bin:$PATH"
export LIBOLIVE_LIBRARY="$LIB" OLIVE_TEST_PROVIDER=CUDAExecutionProvider PYTHONDONTWRITEBYTECODE=1
[ -x "$CLI_BIN" ] && export OLIVE_CLI="$CLI_BIN"
"$PY" - <<'PY'
import json, os, sys
sys.path.insert(0, "bindings/python")
import libolive
info = libolive.runtime_info()["onnxruntime"]
print("libolive loads:", json.dumps(info))
assert info["found"] and "CUDAExecutionProvider" in info["providers"], "libolive does not see CUDA"
PY
status=0
timeout "$DEADLINE" "$PY" -m pytest -q -p no:cacheprovider tests/integration/test_session.py \
    tests/integration/test_evaluate.py -rs || status=$?

say "GPTQ on the GPU against the CPU kernel"
# The comparison runs the CLI; a libolive that sees no device fails it (OLIVE_REQUIRE_CUDA).
[ -x "$CLI_BIN" ] || die "no olive CLI at $CLI_BIN: the GPTQ comparison runs through it"
OLIVE_REQUIRE_CUDA=1 timeout "$GPTQ_DEADLINE" "$PY" -m pytest -q -p no:cacheprovider -rs \
    tests/integration/test_gptq_cuda.py -k test_gpu_codes_match_cpu || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
exit "$status"
