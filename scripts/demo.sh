#!/usr/bin/env bash
# Sets up libolive on a fresh Debian 12 machine and runs the main job on a real model:
# inspect an ONNX model (Silero VAD, shipped in the silero-vad package), optimize it with the
# peephole pass, inspect the result and check in onnxruntime that its outputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
[ -d build ] || meson setup build
ninja -C build >/dev/null

olive=build/examples/olive/olive
model=$(.venv/bin/python scripts/real_models.py | awk '$1 == "silero_vad" {print $2}')
out=out/silero_vad-peephole

echo "== olive inspect $model"
"$olive" inspect "$model"
echo
echo "== olive run-pass --pass peephole"
"$olive" run-pass --pass peephole -m "$model" -o "$out" --overwrite
echo
echo "== olive inspect $out/model.onnx"
"$olive" inspect "$out/model.onnx"
echo
echo "== onnxruntime: original vs optimized"
.venv/bin/python scripts/compare_outputs.py "$model" "$out/model.onnx" \
  --shape input=1,512 --shape state=2,1,128 --value sr=16000
