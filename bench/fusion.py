#!/usr/bin/env python3
"""Transformer fusion: libolive's `fuse` pass against onnxruntime's transformers optimizer
(optimize_model with opt_level=0, the Python fusions Olive's OrtTransformersOptimization runs),
on the same BERT-base shaped export in the same run.

Generates (once, cached under bench/out/) a randomly initialised BertModel (12 layers, hidden
768, 12 heads by default) exported with torch.onnx.export (TorchScript, opset 17); the export
runs in the torch environment ($TORCHPY, see tests/data/README.md, or --torch-python). Then,
each in a fresh process:

  libolive     apply_pass fuse IN.onnx OUT.onnx model_type=bert num_heads=.. hidden_size=..
  onnxruntime  optimize_model(IN, "bert", num_heads, hidden_size, opt_level=0).save_model_to_file

Prints wall time and peak RSS of each and the ratios; checks that both fused models have the
same fused operator counts and give the unfused model's outputs (within 1e-3); then measures
onnxruntime inference latency of both fused models (batch 1 and 8, sequence 128 by default)
with the same session options, each model in its own process. Exits non-zero when a tool fails,
the counts differ or an output is wrong, never on timing.

Run with the venv's python:  .venv/bin/python bench/fusion.py [--layers 12] [--runs 3]
Small correctness run:       .venv/bin/python bench/fusion.py --layers 2 --hidden 64 --heads 4 --seq 16
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

from measure import build_type, fresh_dir, gnu_time_works, print_runs, run_measured

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_ROOT = os.path.join(REPO, "bench", "out")
FUSED_OPS = ("EmbedLayerNormalization", "Attention", "MultiHeadAttention", "SkipLayerNormalization",
             "LayerNormalization", "BiasGelu", "Gelu", "FastGelu")

EXPORT_CHILD = r"""
import sys, torch, transformers
layers, hidden, heads, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cfg = transformers.BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers,
                              num_attention_heads=heads, intermediate_size=4 * hidden,
                              max_position_embeddings=512, attn_implementation="eager")
torch.manual_seed(0)
model = transformers.BertModel(cfg, add_pooling_layer=False).eval()
class Wrap(torch.nn.Module):
    def __init__(s, m):
        super().__init__()
        s.m = m
    def forward(s, ids, mask, types):
        return s.m(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
ids = torch.randint(0, 30522, (2, 16))
ones = torch.ones(2, 16, dtype=torch.int64)
axes = {n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")}
with torch.no_grad():
    torch.onnx.export(Wrap(model), (ids, ones, ones * 0), path, input_names=list(axes),
                      output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
"""

ORT_CHILD = r"""
import json, sys, time
from onnxruntime.transformers.optimizer import optimize_model
src, dst, heads, hidden = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = time.perf_counter()
opt = optimize_model(src, model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
opt.save_model_to_file(dst)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

LATENCY_CHILD = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
path, batch, seq, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
so = ort.SessionOptions()
if threads:
    so.intra_op_num_threads = threads
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(0)
feeds = {"input_ids": rng.integers(0, 30522, (batch, seq), dtype=np.int64),
         "attention_mask": np.ones((batch, seq), dtype=np.int64),
         "token_type_ids": np.zeros((batch, seq), dtype=np.int64)}
feeds = {i.name: feeds[i.name] for i in sess.get_inputs()}
for _ in range(3):
    sess.run(None, feeds)
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    sess.run(None, feeds)
    times.append(time.perf_counter() - t0)
print(json.dumps({"median_ms": 1000 * sorted(times)[len(times) // 2]}))
"""


def torch_python(arg):
    py = arg or os.environ.get("TORCHPY")
    if not py:
        sys.exit("the export needs the torch environment: set TORCHPY (see tests/data/README.md) or --torch-python")
    return py


def export_model(args):
    folder = os.path.join(OUT_ROOT, f"fusion-bert-{args.layers}l-{args.hidden}h")
    path = os.path.join(folder, "model.onnx")
    if os.path.isfile(path):
        return path
    os.makedirs(folder, exist_ok=True)
    r = subprocess.run([torch_python(args.torch_python), "-c", EXPORT_CHILD, str(args.layers), str(args.hidden),
                        str(args.heads), path], capture_output=True, text=True)
    if r.returncode or not os.path.isfile(path):
        sys.exit(f"export failed: {r.stderr.strip()[-800:]}")
    return path


def fused_counts(path):
    import onnx
    counts = {}
    for n in onnx.load(path, load_external_data=False).graph.node:
        if n.op_type in FUSED_OPS:
            counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def check_outputs(src, fused, tol=1e-3):
    import onnxruntime as ort
    rng = np.random.default_rng(1)
    mask = np.ones((2, 16), dtype=np.int64)
    mask[1, 12:] = 0
    feeds = {"input_ids": rng.integers(0, 30522, (2, 16), dtype=np.int64), "attention_mask": mask,
             "token_type_ids": np.zeros((2, 16), dtype=np.int64)}
    outs = []
    for p in (src, fused):
        s = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
        outs.append(s.run(None, {i.name: feeds[i.name] for i in s.get_inputs()})[0])
    return float(np.abs(outs[0] - outs[1]).max())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--runs", type=int, default=3, help="runs of each fusion tool")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--latency-runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    ap.add_argument("--apply-pass", default=os.path.join(REPO, "build", "tests", "tools", "apply_pass"))
    ap.add_argument("--torch-python", default=None)
    args = ap.parse_args()
    if not os.access(args.apply_pass, os.X_OK):
        sys.exit(f"{args.apply_pass} not found: build first (meson setup build && ninja -C build)")
    src = export_model(args)
    gnu_time = gnu_time_works()
    print(f"model: BERT {args.layers} layers, hidden {args.hidden}, {args.heads} heads: {src}")
    print(f"libolive build: {build_type(args.apply_pass)}")
    rows = {"libolive": [], "onnxruntime": []}
    outs = {}
    for _ in range(args.runs):
        outs["libolive"] = fresh_dir(os.path.join(OUT_ROOT, "fusion-run", "libolive"))
        outs["onnxruntime"] = fresh_dir(os.path.join(OUT_ROOT, "fusion-run", "onnxruntime"))
        cmds = {"libolive": [args.apply_pass, "fuse", src, outs["libolive"], "model_type=bert",
                             f"num_heads={args.heads}", f"hidden_size={args.hidden}"],
                "onnxruntime": [sys.executable, "-c", ORT_CHILD, src, outs["onnxruntime"], str(args.heads),
                                str(args.hidden)]}
        for k, cmd in cmds.items():
            wall, rss, _, err, rc = run_measured(cmd, gnu_time)
            if rc:
                print(f"{k} failed: {err.strip()[-800:]}")
                return 1
            rows[k].append((wall, rss))
    t, r = print_runs("fusion", rows, args.runs, gnu_time)
    print(f"  speed ratio onnxruntime / libolive: {t['onnxruntime'] / t['libolive']:.1f}x")
    print(f"  peak RSS ratio onnxruntime / libolive: {r['onnxruntime'] / max(r['libolive'], 1):.1f}x")
    failed = False
    counts = {k: fused_counts(p) for k, p in outs.items()}
    same = counts["libolive"] == counts["onnxruntime"]
    print(f"  fused ops: libolive {counts['libolive']}, onnxruntime {counts['onnxruntime']}: "
          f"{'same' if same else 'DIFFER'}")
    failed |= not same
    for k, p in outs.items():
        err = check_outputs(src, p)
        print(f"  {k} output vs unfused: max abs diff {err:.2e}{'' if err <= 1e-3 else ' (TOO LARGE)'}")
        failed |= err > 1e-3
    print(f"\nonnxruntime latency, median of {args.latency_runs} runs, sequence {args.seq}, "
          f"threads {args.threads or 'default'}:")
    for batch in (int(b) for b in args.batches.split(",")):
        ms = {}
        for k, p in outs.items():
            r_ = subprocess.run([sys.executable, "-c", LATENCY_CHILD, p, str(batch), str(args.seq),
                                 str(args.latency_runs), str(args.threads)], capture_output=True, text=True)
            if r_.returncode:
                print(f"{k} latency run failed: {r_.stderr.strip()[-800:]}")
                return 1
            ms[k] = json.loads(r_.stdout.strip().splitlines()[-1])["median_ms"]
        print(f"  batch {batch}: libolive-fused {ms['libolive']:.2f} ms, onnxruntime-fused {ms['onnxruntime']:.2f} ms, "
              f"ratio {ms['onnxruntime'] / ms['libolive']:.2f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
