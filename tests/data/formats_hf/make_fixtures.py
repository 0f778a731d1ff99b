"""Generates the Hugging Face checkpoint fixtures for tests/integration/test_formats_hf.py.

Run with the torch environment:  $TORCHPY tests/data/formats_hf/make_fixtures.py

Each folder holds one tiny checkpoint layout; expected/<layout>.npz holds every tensor's values
as read back by the reference readers (safetensors' own loader, torch.load), converted to
float32 by torch (int64 tensors kept as int64), and expected/<layout>.json the dtype, shape and
file of each tensor as the reference readers report them.
"""
import copy
import json
import os
import shutil

import numpy as np
import torch
from safetensors import safe_open
from transformers import LlamaConfig, LlamaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected")

# ONNX dtype names, as the checkpoint reader prints them.
ONNX_NAMES = {torch.float32: "float", torch.float16: "float16", torch.bfloat16: "bfloat16",
              torch.int64: "int64", torch.float64: "double"}


def tiny_model():
    cfg = LlamaConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, vocab_size=16, max_position_embeddings=32)
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg).eval()


def fresh(name):
    path = os.path.join(HERE, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def add_tokenizer_files(path):
    # A companion file the reader must list for copying; its content does not matter here.
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 32}, f)


def reference_from_files(folder):
    """name -> (tensor, file) read with the reference readers."""
    out = {}
    for fname in sorted(os.listdir(folder)):
        p = os.path.join(folder, fname)
        if fname.endswith(".safetensors"):
            with safe_open(p, framework="pt") as f:
                for k in f.keys():
                    out[k] = (f.get_tensor(k), fname)
        elif fname.endswith(".bin"):
            for k, v in torch.load(p, weights_only=True).items():
                out[k] = (v, fname)
    return out


def record(layout, folder):
    ref = reference_from_files(folder)
    arrays, meta = {}, {}
    for name, (t, fname) in ref.items():
        t = t.detach()
        arrays[name] = t.numpy() if t.dtype == torch.int64 else t.float().numpy()
        meta[name] = {"dtype": ONNX_NAMES[t.dtype], "shape": list(t.shape), "file": fname}
    np.savez(os.path.join(EXPECTED, layout + ".npz"), **arrays)
    with open(os.path.join(EXPECTED, layout + ".json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def save_bin_shards(model, folder, n_shards):
    """Sharded pytorch_model-XXXXX-of-YYYYY.bin + index, as transformers 4 wrote them."""
    sd = model.state_dict()
    names = list(sd)
    weight_map, total = {}, 0
    for s in range(n_shards):
        fname = "pytorch_model-%05d-of-%05d.bin" % (s + 1, n_shards)
        part = {k: sd[k].contiguous() for k in names[s::n_shards]}
        torch.save(part, os.path.join(folder, fname))
        for k, v in part.items():
            weight_map[k] = fname
            total += v.numel() * v.element_size()
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def main():
    shutil.rmtree(EXPECTED, ignore_errors=True)
    os.makedirs(EXPECTED)
    model = tiny_model()

    for layout, dtype in [("st_f32", torch.float32), ("st_f16", torch.float16), ("st_bf16", torch.bfloat16)]:
        folder = fresh(layout)
        # Each dtype is rounded from the float32 model, not from the previous one.
        copy.deepcopy(model).to(dtype).save_pretrained(folder)
        add_tokenizer_files(folder)
        record(layout, folder)

    folder = fresh("st_sharded")
    model.save_pretrained(folder, max_shard_size="2KB")
    record("st_sharded", folder)

    folder = fresh("bin")
    model.config.save_pretrained(folder)
    model.generation_config.save_pretrained(folder)
    torch.save(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))
    add_tokenizer_files(folder)
    record("bin", folder)

    folder = fresh("bin_sharded")
    model.config.save_pretrained(folder)
    save_bin_shards(model, folder, 3)
    record("bin_sharded", folder)

    # Views into shared storages (non-zero storage offsets), a Parameter, int64 and 16-bit
    # floats, as torch.save writes them.
    folder = fresh("bin_views")
    model.config.save_pretrained(folder)
    base = torch.randn(4, 6)
    halves = torch.randn(3, 4).half()
    torch.save({
        "whole": base,
        "rows": base[1:3],
        "last_row": base[3],
        "param": torch.nn.Parameter(torch.randn(2, 3)),
        "ids": torch.arange(5),
        "half_tail": halves[1:],
        "bf16": torch.randn(2, 2).bfloat16(),
        "scalar": torch.tensor(2.5),
    }, os.path.join(folder, "pytorch_model.bin"))
    record("bin_views", folder)

    # Refused inputs that need torch to write: a strided view, the legacy format.
    folder = fresh("bin_strided")
    model.config.save_pretrained(folder)
    torch.save({"transposed": torch.randn(3, 4).t()}, os.path.join(folder, "pytorch_model.bin"))

    folder = fresh("bin_legacy")
    model.config.save_pretrained(folder)
    torch.save({"w": torch.randn(2, 2)}, os.path.join(folder, "pytorch_model.bin"),
               _use_new_zipfile_serialization=False)


if __name__ == "__main__":
    main()
