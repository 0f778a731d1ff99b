"""Reference selections of Olive's score-based SelectiveMixedPrecision (snr, snr_relative, iqe,
iqe_relative) on the tiny Llama (untied head) and Qwen3 (tied) checkpoints of tests/data/convert,
from Olive's own SelectiveMixedPrecision.get_scored_config on the transformers model (olive-ai
0.13, needs torch; run on the CPU). scored.json maps checkpoint -> algorithm -> case -> the
modules Olive promotes. Run in an environment with torch and olive-ai: $TORCHPY make_scored.py"""

import json
import os
import pathlib

os.environ["CUDA_VISIBLE_DEVICES"] = ""

import torch  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

from olive.common.hf.wrapper import ModelWrapper  # noqa: E402
from olive.passes.pytorch.selective_mixed_precision import SelectiveMixedPrecision  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
CONVERT = HERE.parent / "convert"
# (name, bits, group_size, sym, high_bits, high_group_size, high_sym, ratio)
CASES = [
    ("g32_asym_r07", 4, 32, False, 8, 32, False, 0.7),
    ("g16_sym_r05", 4, 16, True, 8, 32, False, 0.5),
    ("perchannel_r09", 4, -1, False, 8, -1, True, 0.9),
]


def main():
    out = {}
    for arch in ("llama", "qwen3"):
        model = AutoModelForCausalLM.from_pretrained(CONVERT / arch, torch_dtype=torch.float32)
        out[arch] = {}
        for algorithm in ("snr", "snr_relative", "iqe", "iqe_relative"):
            out[arch][algorithm] = {}
            for name, bits, group, sym, high_bits, high_group, high_sym, ratio in CASES:
                wrapper = ModelWrapper.from_model(model)
                _, overrides = SelectiveMixedPrecision.get_scored_config(
                    None, wrapper, algorithm, bits, group, sym, high_bits, high_group, high_sym, ratio)
                out[arch][algorithm][name] = {
                    "settings": {"bits": bits, "group_size": group, "sym": sym, "high_bits": high_bits,
                                 "high_group_size": high_group, "high_sym": high_sym, "ratio": ratio},
                    "promoted": sorted(overrides)}
    (HERE / "scored.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
