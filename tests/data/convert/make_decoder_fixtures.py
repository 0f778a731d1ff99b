"""Makes the tiny decoder checkpoints the convert tests use, with their references.

Run in an environment with torch, transformers and onnxruntime-genai:
    python make_decoder_fixtures.py [names...] [--builder-only]

Each folder <arch>/ holds a 2-layer model (hidden 64, 4 heads, 2 KV heads, vocab 256) saved
with save_pretrained (safetensors), a small byte-level tokenizer, and:
- reference.npz, from transformers:
    prefill_ids [1, P], prefill_logits [1, P, V], present_{i}_{key|value} [1, kv, P, D]
    decode_ids [1, 1], decode_logits [1, 1, V] (one step after the prefill, using its cache)
    greedy [1, P + 20] (greedy generation of 20 new tokens)
- builder_reference.json (but for BUILDER_UNSUPPORTED), what onnxruntime-genai's model builder
  writes for the checkpoint
  (fp32, int4 and int8 for cpu; fp16, bf16 and int4 for cuda; fp16 and int4 for dml; int4
  for webgpu): its genai_config.json, ir_version and opsets, graph inputs and outputs (names
  and element types), the count of each op in its graph (Constant nodes aside) and every
  initializer's dtype, shape and sha256;
- builder_caches.npz, the builder's rotary caches (float32 for cpu, float16 or bfloat16 for
  the GPU providers), which tests compare with a tolerance (sines and cosines round differently
  between math libraries).
--builder-only records the builder's output for existing fixtures without remaking them.

The random weights are first trained for a few steps to continue counting sequences
(t, t+1, t+2, ...), so that the top token wins by a clear margin: a purely random model has
near-ties that any rounding (int4 weights) flips.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, vocab_size=256, max_position_embeddings=256, rms_norm_eps=1e-5,
              initializer_range=0.1, bos_token_id=1, eos_token_id=2, pad_token_id=0)

FIXTURES = {
    # Llama 3.1 style rope scaling, untied head.
    "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM, dict(
        rope_theta=500000.0, tie_word_embeddings=False,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                          original_max_position_embeddings=64)), torch.float32),
    # SmolLM2 / TinyLlama style: tied embeddings; linear rope scaling.
    "llama_tied": (transformers.LlamaConfig, transformers.LlamaForCausalLM, dict(
        rope_theta=10000.0, tie_word_embeddings=True,
        rope_scaling=dict(rope_type="linear", factor=2.0)), torch.float32),
    # bfloat16 weights on disk.
    "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM, dict(
        rope_theta=10000.0, tie_word_embeddings=False, sliding_window=None, head_dim=16), torch.bfloat16),
    # q/k/v biases, tied embeddings.
    "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM, dict(
        rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False), torch.float32),
    # per-head q/k RMSNorm, tied embeddings, float16 weights on disk.
    "qwen3": (transformers.Qwen3Config, transformers.Qwen3ForCausalLM, dict(
        rope_theta=1000000.0, tie_word_embeddings=True, head_dim=16, use_sliding_window=False), torch.float16),
    # Granite 3: embedding, attention, residual and logit multipliers (the attention one unlike
    # 1/sqrt(head_dim), the residual one not exact in binary), tied embeddings.
    "granite": (transformers.GraniteConfig, transformers.GraniteForCausalLM, dict(
        rope_theta=10000.0, tie_word_embeddings=True, embedding_multiplier=4.0, attention_multiplier=0.125,
        residual_multiplier=0.22, logits_scaling=2.0), torch.float32),
    # OLMo 2: norms after attention and MLP, q/k normed over the whole projection; untied head.
    "olmo2": (transformers.Olmo2Config, transformers.Olmo2ForCausalLM, dict(
        rope_theta=500000.0, tie_word_embeddings=False), torch.float32),
    # SmolLM3: the second layer uses no rotary embedding (NoPE); tied embeddings.
    "smollm3": (transformers.SmolLM3Config, transformers.SmolLM3ForCausalLM, dict(
        rope_theta=5000000.0, tie_word_embeddings=True, no_rope_layers=[1, 0], use_sliding_window=False),
        torch.float32),
}

# Architectures onnxruntime-genai's builder (0.18) does not convert: no builder reference. It
# has no OLMo 2 class, and its SmolLM3 class fails on a NoPE layer (KeyError 'position_ids').
BUILDER_UNSUPPORTED = {"olmo2", "smollm3"}


def save_tokenizer(out):
    """A byte-level BPE tokenizer with no merges: 3 special tokens and the first 253 byte symbols."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    symbols = list(pre_tokenizers.ByteLevel.alphabet())
    symbols.sort()
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2}
    for s in symbols[:COMMON["vocab_size"] - 3]:
        vocab[s] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                                pad_token="<pad>")
    fast.save_pretrained(out)


def train(model, steps=120):
    """A few optimizer steps on counting sequences (token t is followed by t + 1)."""
    gen = torch.Generator().manual_seed(11)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    span = COMMON["vocab_size"] - 3
    for _ in range(steps):
        start = torch.randint(0, span, (16, 1), generator=gen)
        ids = 3 + (start + torch.arange(24)) % span
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss)


def make(name, config_cls, model_cls, extra, dtype):
    torch.manual_seed(sum(map(ord, name)))
    config = config_cls(**COMMON, **extra)
    model = model_cls(config).eval()
    # Norm weights away from 1 so that a missing norm shows.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            if pname.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
    loss = train(model)
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    model.to(dtype).save_pretrained(out, safe_serialization=True)
    model.generation_config.save_pretrained(out)
    save_tokenizer(out)
    # References in float32 from the weights exactly as stored.
    model = model_cls.from_pretrained(out, torch_dtype=torch.float32, attn_implementation="eager").eval()
    gen = torch.Generator().manual_seed(7)
    prefill = torch.randint(3, 256, (1, 7), generator=gen)
    ref = {"prefill_ids": prefill.numpy().astype(np.int64)}
    with torch.no_grad():
        o = model(input_ids=prefill, use_cache=True)
        ref["prefill_logits"] = o.logits.numpy()
        past = o.past_key_values
        for i in range(config.num_hidden_layers):
            layer = past.layers[i] if hasattr(past, "layers") else None
            k = layer.keys if layer is not None else past[i][0]
            v = layer.values if layer is not None else past[i][1]
            ref[f"present_{i}_key"] = k.numpy()
            ref[f"present_{i}_value"] = v.numpy()
        step = torch.tensor([[42]])
        ref["decode_ids"] = step.numpy().astype(np.int64)
        o2 = model(input_ids=step, past_key_values=past, use_cache=True)
        ref["decode_logits"] = o2.logits.numpy()
        g = model.generate(prefill, max_new_tokens=20, min_new_tokens=20, do_sample=False, num_beams=1,
                           eos_token_id=None, pad_token_id=0)
        ref["greedy"] = g.numpy().astype(np.int64)
    np.savez_compressed(os.path.join(out, "reference.npz"), **ref)
    print(name, "ok, loss", round(loss, 3), "max |logit|", float(np.abs(ref["prefill_logits"]).max()))


BUILDER_VARIANTS = [("fp32", "cpu"), ("int4", "cpu"), ("int8", "cpu"), ("fp16", "cuda"), ("bf16", "cuda"),
                    ("int4", "cuda"), ("fp16", "dml"), ("int4", "dml"), ("int4", "webgpu")]


def record_builder(name):
    """Runs onnxruntime-genai's builder on the fixture and records what it wrote."""
    import onnx
    from onnx import numpy_helper
    folder = os.path.join(HERE, name)
    record, caches = {}, {}
    for precision, ep in BUILDER_VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", folder, "-o", out,
                            "-p", precision, "-e", ep, "-c", os.path.join(tmp, "cache")],
                           check=True, capture_output=True)
            model = onnx.load(os.path.join(out, "model.onnx"))
            ops = {}
            for n in model.graph.node:
                if n.op_type != "Constant":
                    key = f"{n.domain or 'ai.onnx'}:{n.op_type}"
                    ops[key] = ops.get(key, 0) + 1
            inits = {}
            for t in model.graph.initializer:
                if t.name in ("cos_cache", "sin_cache"):
                    # float32 copies (bfloat16 has no numpy dtype); the values are exact
                    caches[f"{precision}-{ep}-{t.name}"] = numpy_helper.to_array(t).astype(np.float32)
                a = numpy_helper.to_array(t)
                inits[t.name] = {"dtype": int(t.data_type), "shape": list(t.dims),
                                 "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
            with open(os.path.join(out, "genai_config.json")) as f:
                genai = json.load(f)
            record[f"{precision}-{ep}"] = {"genai_config": genai, "ops": ops, "initializers": inits,
                                           "ir_version": model.ir_version,
                                           "inputs": [[i.name, i.type.tensor_type.elem_type] for i in model.graph.input],
                                           "outputs": [[o.name, o.type.tensor_type.elem_type]
                                                       for o in model.graph.output],
                                           "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import}}
    with open(os.path.join(folder, "builder_reference.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    np.savez_compressed(os.path.join(folder, "builder_caches.npz"), **caches)
    print(name, "builder reference recorded")


# The builder's quantizer choices (extra option algo_config): a base method, or an alias that adds
# 8-bit modules. Recorded for two fixtures (one with tied embeddings) into builder_algo_reference.json.
ALGO_VARIANTS = [("int4", "cpu", "rtn"), ("int4", "cpu", "k_quant"), ("int4", "cpu", "k_quant_mixed"),
                 ("int4", "cuda", "k_quant_last"), ("int8", "cpu", "rtn_last")]
ALGO_FIXTURES = ["llama", "qwen3"]


def record_builder_algos(name):
    """The builder's MatMulNBits / GatherBlockQuantized nodes and quantized initializers for each
    algo_config variant."""
    import onnx
    from onnx import numpy_helper
    folder = os.path.join(HERE, name)
    record = {}
    for precision, ep, algo in ALGO_VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", folder, "-o", out,
                            "-p", precision, "-e", ep, "-c", os.path.join(tmp, "cache"),
                            "--extra_options", f"algo_config={algo}"], check=True, capture_output=True)
            model = onnx.load(os.path.join(out, "model.onnx"))
            quantized = [n for n in model.graph.node if n.op_type in ("MatMulNBits", "GatherBlockQuantized")]
            used = {i for n in quantized for i in n.input}
            inits = {}
            for t in model.graph.initializer:
                if t.name in used:
                    a = numpy_helper.to_array(t)
                    inits[t.name] = {"dtype": int(t.data_type), "shape": list(t.dims),
                                     "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
            nodes = {n.name: {"op": n.op_type, "weights": [i for i in n.input[1:] if i in inits] if n.op_type ==
                              "MatMulNBits" else [i for i in n.input[2:] if i in inits],
                              "attrs": {a.name: a.i for a in n.attribute}} for n in quantized}
            record[f"{precision}-{ep}-{algo}"] = {"nodes": nodes, "initializers": inits}
    with open(os.path.join(folder, "builder_algo_reference.json"), "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    print(name, "builder algo_config reference recorded")


if __name__ == "__main__":
    if "--algo-only" in sys.argv:
        for n in ALGO_FIXTURES:
            record_builder_algos(n)
        sys.exit(0)
    builder_only = "--builder-only" in sys.argv
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(FIXTURES)
    for n in names:
        if not builder_only:
            make(n, *FIXTURES[n])
        if n not in BUILDER_UNSUPPORTED:
            record_builder(n)
