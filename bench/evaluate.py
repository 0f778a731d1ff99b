"""Latency of a BERT-base-shaped classifier: libolive's evaluator (a latency metric in Olive's
schema through olive_evaluate) against a plain onnxruntime Python loop on the same model and
inputs, and Olive's own evaluator when an olive-ai installation with torch is given.

The model: BertForSequenceClassification with BERT-base's shapes (12 layers, hidden 768, 12
heads, intermediate 3072, vocabulary 30522, 2 labels), random weights written once into
bench/out/bert-base/ as a Hugging Face folder and converted to ONNX (fp32) by `olive run-pass
--pass convert`. Inputs: batch 1, 128 tokens of ones (Olive's DummyDataContainer). Each side runs
in its own fresh process: 10 warm-up runs, then --runs timed runs (default 100) of the same
feed with ONNX Runtime's default threads; the figure is the median (p50) in ms.

    .venv/bin/python bench/evaluate.py [--runs 100] [--olive-python PATH]

--olive-python names a Python with olive-ai, torch and onnxruntime (Olive's evaluator imports
torch, so it cannot run without it); without it Olive's row is reported as skipped.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
sys.path.insert(0, HERE)
from measure import gnu_time_works, run_measured  # noqa: E402

CONFIG = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 30522,
          "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
          "hidden_act": "gelu", "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
          "pad_token_id": 0, "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
          "label2id": {"NEGATIVE": 0, "POSITIVE": 1}, "torch_dtype": "float32"}
SEQ = 128


def shapes():
    h, i = CONFIG["hidden_size"], CONFIG["intermediate_size"]
    out = [("bert.embeddings.word_embeddings.weight", (CONFIG["vocab_size"], h)),
           ("bert.embeddings.position_embeddings.weight", (CONFIG["max_position_embeddings"], h)),
           ("bert.embeddings.token_type_embeddings.weight", (2, h)),
           ("bert.embeddings.LayerNorm.weight", (h,)), ("bert.embeddings.LayerNorm.bias", (h,))]
    for l in range(CONFIG["num_hidden_layers"]):
        p = f"bert.encoder.layer.{l}."
        for name in ("query", "key", "value"):
            out += [(p + f"attention.self.{name}.weight", (h, h)), (p + f"attention.self.{name}.bias", (h,))]
        out += [(p + "attention.output.dense.weight", (h, h)), (p + "attention.output.dense.bias", (h,)),
                (p + "attention.output.LayerNorm.weight", (h,)), (p + "attention.output.LayerNorm.bias", (h,)),
                (p + "intermediate.dense.weight", (i, h)), (p + "intermediate.dense.bias", (i,)),
                (p + "output.dense.weight", (h, i)), (p + "output.dense.bias", (h,)),
                (p + "output.LayerNorm.weight", (h,)), (p + "output.LayerNorm.bias", (h,))]
    out += [("bert.pooler.dense.weight", (h, h)), ("bert.pooler.dense.bias", (h,)),
            ("classifier.weight", (2, h)), ("classifier.bias", (2,))]
    return out


def make_model(olive):
    onnx_dir = os.path.join(OUT, "bert-base-onnx")
    if os.path.isfile(os.path.join(onnx_dir, "model.onnx")):
        return onnx_dir
    ckpt = os.path.join(OUT, "bert-base")
    os.makedirs(ckpt, exist_ok=True)
    header, offset = {}, 0
    for name, shape in shapes():
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    with open(os.path.join(ckpt, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for name, shape in shapes():
            a = (1.0 + 0.1 * rng.standard_normal(shape)) if "LayerNorm.weight" in name else 0.02 * rng.standard_normal(shape)
            f.write(a.astype(np.float32).tobytes())
    with open(os.path.join(ckpt, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=1)
    shutil.rmtree(onnx_dir, ignore_errors=True)
    r = subprocess.run([olive, "run-pass", "--pass", "convert", "-m", ckpt, "-o", onnx_dir, "--param",
                        "precision=fp32"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"conversion failed: {r.stderr}")
    return onnx_dir


LIBOLIVE_CHILD = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import libolive
model, runs = sys.argv[2], int(sys.argv[3])
shape = [1, %d]
data = {"name": "dummy", "type": "DummyDataContainer", "load_dataset_config": {
    "input_shapes": [shape] * 3, "input_types": ["int64"] * 3,
    "input_names": ["input_ids", "attention_mask", "token_type_ids"], "max_samples": 1}}
res = libolive.evaluate(model, {"metrics": [{"name": "latency", "type": "latency", "data_config": data,
    "sub_types": [{"name": "p50", "metric_config": {"warmup_num": 10, "repeat_test_num": runs}},
                  {"name": "avg"}]}]})
print(json.dumps({"p50": res["latency-p50"]["value"], "avg": res["latency-avg"]["value"]}))
''' % SEQ

ORT_CHILD = r'''
import json, sys, time
import numpy as np
import onnxruntime as ort
model, runs = sys.argv[1], int(sys.argv[2])
s = ort.InferenceSession(model + "/model.onnx", providers=["CPUExecutionProvider"])
feed = {n: np.ones((1, %d), dtype=np.int64) for n in ("input_ids", "attention_mask", "token_type_ids")}
for _ in range(10):
    s.run(None, feed)
t = []
for _ in range(runs):
    t0 = time.perf_counter()
    s.run(None, feed)
    t.append(time.perf_counter() - t0)
print(json.dumps({"p50": float(np.percentile(t, 50) * 1000), "avg": float(np.mean(t) * 1000)}))
''' % SEQ

OLIVE_CHILD = r'''
import json, sys
from olive.evaluator.metric import Metric
from olive.evaluator.olive_evaluator import OnnxEvaluator
from olive.model import ONNXModelHandler
model, runs = sys.argv[1], int(sys.argv[2])
shape = [1, %d]
metric = Metric.parse_obj({"name": "latency", "type": "latency",
    "sub_types": [{"name": "p50", "metric_config": {"warmup_num": 10, "repeat_test_num": runs}}, {"name": "avg"}],
    "data_config": {"name": "dummy", "type": "DummyDataContainer", "load_dataset_config": {
        "input_shapes": [shape] * 3, "input_types": ["int64"] * 3,
        "input_names": ["input_ids", "attention_mask", "token_type_ids"], "max_samples": 1}}})
res = OnnxEvaluator().evaluate(ONNXModelHandler(model_path=model + "/model.onnx"), [metric], "cpu",
                               ["CPUExecutionProvider"])
print(json.dumps({"p50": res.get_value("latency", "p50"), "avg": res.get_value("latency", "avg")}))
''' % SEQ


def run_child(argv, gnu):
    wall, rss, out, err, rc = run_measured(argv, gnu)
    if rc:
        return None, err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"
    return {**json.loads(out.strip().splitlines()[-1]), "rss_mib": rss / 1024, "wall": wall}, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--olive", default=os.path.join(ROOT, "build", "examples", "olive", "olive"))
    ap.add_argument("--library", default=os.path.join(ROOT, "build", "lib", "libolive.so"))
    ap.add_argument("--olive-python", help="a Python with olive-ai, torch and onnxruntime")
    args = ap.parse_args()
    os.environ.setdefault("LIBOLIVE_LIBRARY", args.library)
    model = make_model(args.olive)
    gnu = gnu_time_works()
    rows = []
    lib, err = run_child([sys.executable, "-c", LIBOLIVE_CHILD, os.path.join(ROOT, "bindings", "python"), model,
                          str(args.runs)], gnu)
    rows.append(("libolive evaluator (olive_evaluate)", lib, err))
    plain, err = run_child([sys.executable, "-c", ORT_CHILD, model, str(args.runs)], gnu)
    rows.append(("plain onnxruntime loop (Python)", plain, err))
    if args.olive_python:
        ol, err = run_child([args.olive_python, "-c", OLIVE_CHILD, model, str(args.runs)], gnu)
        rows.append(("Olive's evaluator (olive-ai)", ol, err))
    else:
        rows.append(("Olive's evaluator (olive-ai)", None, "skipped: it imports torch; give --olive-python"))
    print(f"BERT-base shapes, batch 1, {SEQ} tokens, {args.runs} timed runs after 10 warm-up runs; "
          f"peak RSS {'from GNU time' if gnu else 'sampled (lower bound)'}")
    print(f"{'':38} {'p50 ms':>9} {'avg ms':>9} {'peak RSS':>10} {'process s':>10}")
    for name, r, e in rows:
        if r:
            print(f"{name:38} {r['p50']:9.3f} {r['avg']:9.3f} {r['rss_mib']:7.0f} MiB {r['wall']:10.2f}")
        else:
            print(f"{name:38} {e}")
    if lib and plain:
        print(f"libolive p50 / plain loop p50: {lib['p50'] / plain['p50']:.3f}")
    if lib and rows[2][1]:
        print(f"Olive p50 / libolive p50: {rows[2][1]['p50'] / lib['p50']:.3f}")
    return 0 if lib and plain else 1


if __name__ == "__main__":
    sys.exit(main())
