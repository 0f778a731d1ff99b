"""Reference scores and selections of Olive's kld_gradient SelectiveMixedPrecision on the tiny
Llama (untied head) and Qwen3 (tied) checkpoints of tests/data/convert: Olive's own
_KldGradientStrategy (olive-ai 0.13, torch autograd on the transformers model, on the CPU) on
fixed calibration token ids (Olive's default data, wikitext from the Hub, is replaced by these
ids so that the reference is offline), then SelectiveMixedPrecision.get_overrides_from_scores.

kld.json holds the token ids (samples x tokens, each sample one batch as Olive batches them),
and per checkpoint and case: the settings, every selection unit's alignment (Olive's mean over
batches of sum(grad * (W_low - W_high))) and score (-alignment per million parameters), and
the modules Olive promotes.

Run in an environment with torch and olive-ai: $TORCHPY make_kld.py"""

import json
import os
import pathlib

os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

import olive.passes.pytorch.selective_mixed_precision as smp  # noqa: E402
from olive.common.hf.wrapper import ModelWrapper  # noqa: E402
from olive.common.quant.utils import WeightQuantizer  # noqa: E402
from olive.passes.pytorch.quant_utils import get_qkv_quantization_groups  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
CONVERT = HERE.parent / "convert"
SAMPLES, TOKENS, VOCAB = 3, 24, 256
# (name, bits, group_size, sym, high_bits, high_group_size, high_sym, ratio)
CASES = [
    ("g16_asym_r05", 4, 16, False, 8, 16, False, 0.5),
    ("g32_sym_r07", 4, 32, True, 8, 32, True, 0.7),
]


def main():
    ids = np.random.default_rng(7).integers(0, VOCAB, size=(SAMPLES, TOKENS))
    batches = [{"input_ids": torch.tensor(row[None, :], dtype=torch.int64),
                "attention_mask": torch.ones((1, TOKENS), dtype=torch.int64)} for row in ids]
    # Olive's strategy asks get_calibration_dataset for its default data: these ids instead.
    smp.get_calibration_dataset = lambda *args, **kwargs: batches
    out = {"input_ids": ids.tolist(), "checkpoints": {}}
    torch.manual_seed(0)
    for arch in ("llama", "qwen3"):
        out["checkpoints"][arch] = {}
        for name, bits, group, sym, high_bits, high_group, high_sym, ratio in CASES:
            model = AutoModelForCausalLM.from_pretrained(CONVERT / arch, torch_dtype=torch.float32)
            wrapper = ModelWrapper.from_model(model)
            strategy = smp._KldGradientStrategy(
                WeightQuantizer(bits=bits, group_size=group, symmetric=sym),
                WeightQuantizer(bits=high_bits, group_size=high_group, symmetric=high_sym),
                memory_mode=smp.KldMemoryMode.FULL)
            numels, stats = strategy.compute_module_stats(None, wrapper, "cpu")
            unit_numels, unit_scores = strategy._aggregate(numels, stats, get_qkv_quantization_groups(wrapper))
            overrides, _ = smp.SelectiveMixedPrecision.get_overrides_from_scores(
                unit_numels, unit_scores, {"bits": high_bits}, ratio)
            units = {}
            for unit, score in unit_scores.items():
                units["+".join(unit)] = {
                    "alignment": sum(stats[m]["alignment"] for m in unit),
                    "numel": unit_numels[unit],
                    "score": score,
                }
            out["checkpoints"][arch][name] = {
                "settings": {"bits": bits, "group_size": group, "sym": sym, "high_bits": high_bits,
                             "high_group_size": high_group, "high_sym": high_sym, "ratio": ratio},
                "units": units,
                "promoted": sorted(overrides),
            }
    (HERE / "kld.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
