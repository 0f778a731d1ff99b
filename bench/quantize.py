#!/usr/bin/env python3
"""Weight-only int4/int8 quantization (MatMulNBits): libolive's `quantize` pass against
onnxruntime's MatMulNBitsQuantizer, on the same fp32 model in the same run.

Generates (once, cached under bench/out/) a decoder-shaped stack of MatMuls with the shapes of
Qwen2.5-0.5B (hidden 896, intermediate 4864, 24 layers, q/k/v/o and gate/up/down projections,
a 151936-row LM head: about 0.5 B parameters, 2 GiB of fp32 weights in external data), then for
each algorithm (default, rtn; k_quant on request) runs, each in a fresh process:

  libolive   apply_pass quantize IN.onnx OUT.onnx bits=.. block_size=.. algorithm=..
  onnxruntime MatMulNBitsQuantizer(model, bits, block_size, is_symmetric, algo_config).process()
             and save_model_to_file (load, quantize and save timed inside the process)

Prints wall time and peak RSS of each, the ratios, and checks that the MatMulNBits weights,
scales and zero points of both outputs are byte-identical; `dynamic` compares libolive's
`quantize_dynamic` pass with onnxruntime's quantize_dynamic (int8 weights) the same way. Exits
non-zero when a tool fails or the outputs differ, never on timing.

Run with the venv's python:  .venv/bin/python bench/quantize.py [--layers 24] [--runs 1]
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from measure import build_type, fresh_dir, gnu_time_works, print_runs, run_measured

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_ROOT = os.path.join(REPO, "bench", "out")
HIDDEN, KV, INTER, VOCAB = 896, 128, 4864, 151936
SPEED_TARGET = 20.0   # libolive at least this many times faster
RSS_TARGET = 5.0      # and at most 1/5 of the peer's peak RSS

ORT_DYNAMIC_CHILD = r"""
import json, sys, time
from onnxruntime.quantization import QuantType, quantize_dynamic
src, dst = sys.argv[1:3]
t0 = time.perf_counter()
quantize_dynamic(src, dst, weight_type=QuantType.QInt8, use_external_data_format=True)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""

ORT_CHILD = r"""
import json, sys, time
import onnx
from onnxruntime.quantization import matmul_nbits_quantizer as m
src, dst, algo, bits, block, sym = sys.argv[1:7]
t0 = time.perf_counter()
model = onnx.load(src)
if algo == "default":
    cfg = m.DefaultWeightOnlyQuantConfig(block_size=int(block), is_symmetric=sym == "true", bits=int(bits))
elif algo == "k_quant":
    cfg = m.KQuantWeightOnlyQuantConfig()  # like RTN: bits per node, 4 by default; always asymmetric
else:
    cfg = m.RTNWeightOnlyQuantConfig()  # RTN takes bits per node and defaults to 4
q = m.MatMulNBitsQuantizer(model, bits=int(bits), block_size=int(block), is_symmetric=sym == "true",
                           algo_config=cfg)
q.process()
q.model.save_model_to_file(dst, True)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def layer_weights(layers):
    shapes = []
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes += [(p + "q_proj", HIDDEN, HIDDEN), (p + "k_proj", HIDDEN, KV), (p + "v_proj", HIDDEN, KV),
                   (p + "o_proj", HIDDEN, HIDDEN), (p + "gate_proj", HIDDEN, INTER),
                   (p + "up_proj", HIDDEN, INTER), (p + "down_proj", INTER, HIDDEN)]
    return shapes + [("lm_head", HIDDEN, VOCAB)]


def generate_model(layers):
    """x -> per layer: o = (x Wq) Wo, k = x Wk, v = x Wv (graph outputs), x += o,
    x += ((x Wg) * (x Wu)) Wd; logits = x W_lm. Weights are normal(0, 0.02) with outliers,
    written one tensor at a time to the external data file."""
    folder = os.path.join(OUT_ROOT, f"quant-qwen-shaped-{layers}l")
    path = os.path.join(folder, "model.onnx")
    if os.path.isfile(path):
        return path
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    inits, offset = [], 0
    with open(os.path.join(folder, "model.onnx.data"), "wb") as data:
        for name, k, n in layer_weights(layers):
            w = (rng.standard_normal((k, n), dtype=np.float32) * 0.02)
            w[rng.integers(0, k, 8), rng.integers(0, n, 8)] *= 50.0  # outliers
            raw = w.tobytes()
            data.write(raw)
            t = TensorProto(name=name + ".weight", data_type=TensorProto.FLOAT, dims=[k, n])
            t.data_location = TensorProto.EXTERNAL
            for key, value in (("location", "model.onnx.data"), ("offset", str(offset)), ("length", str(len(raw)))):
                e = t.external_data.add()
                e.key, e.value = key, value
            inits.append(t)
            offset += len(raw)
    nodes, outputs, x = [], [], "x"
    mm = lambda a, w, out: nodes.append(helper.make_node("MatMul", [a, w + ".weight"], [out], name=out))
    for i in range(layers):
        p = f"model.layers.{i}."
        mm(x, p + "q_proj", p + "q")
        mm(p + "q", p + "o_proj", p + "o")
        for kv in ("k_proj", "v_proj"):
            mm(x, p + kv, p + kv + ".out")
            outputs.append(helper.make_tensor_value_info(p + kv + ".out", TensorProto.FLOAT, ["batch", KV]))
        nodes.append(helper.make_node("Add", [x, p + "o"], [p + "h"], name=p + "h"))
        mm(p + "h", p + "gate_proj", p + "g")
        mm(p + "h", p + "up_proj", p + "u")
        nodes.append(helper.make_node("Mul", [p + "g", p + "u"], [p + "gu"], name=p + "gu"))
        mm(p + "gu", p + "down_proj", p + "d")
        nodes.append(helper.make_node("Add", [p + "h", p + "d"], [p + "x"], name=p + "x"))
        x = p + "x"
    mm(x, "lm_head", "logits")
    graph = helper.make_graph(nodes, "qwen_shaped",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", HIDDEN])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", VOCAB])] + outputs,
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def quantized_tensors(path):
    """MatMulNBits inputs (B, scales, zero points) keyed by the node's output name."""
    m = onnx.load(path)
    inits = {t.name: t for t in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type != "MatMulNBits":
            continue
        arrays = []
        for name in n.input[1:4]:
            arrays.append(numpy_helper.to_array(inits[name], os.path.dirname(path)) if name in inits else None)
        out[n.output[0]] = (arrays, {a.name: helper.get_attribute_value(a) for a in n.attribute})
    return out


def compare(a_path, b_path):
    a, b = quantized_tensors(a_path), quantized_tensors(b_path)
    if set(a) != set(b):
        return f"different MatMuls quantized: {sorted(set(a) ^ set(b))[:5]}"
    for key in a:
        (ta, attrs_a), (tb, attrs_b) = a[key], b[key]
        for label, x, y in zip(("B", "scales", "zero_points"), ta, tb):
            if (x is None) != (y is None):
                return f"{key}: {label} present in one output only"
            if x is not None and (x.dtype != y.dtype or x.size != y.size or x.tobytes() != y.tobytes()):
                return f"{key}: {label} differs ({x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)})"
        for attr in ("K", "N", "bits", "block_size"):
            if attrs_a.get(attr) != attrs_b.get(attr):
                return f"{key}: attribute {attr} {attrs_a.get(attr)} vs {attrs_b.get(attr)}"
    return None


def new_initializers(path, src_names):
    """(dtype, shape, bytes) of every initializer a tool added, as a sorted list: the tools name
    their tensors differently, the contents must be the same."""
    m = onnx.load(path)
    out = []
    for t in m.graph.initializer:
        if t.name in src_names:
            continue
        a = numpy_helper.to_array(t, os.path.dirname(path))
        out.append((str(a.dtype), a.shape, a.tobytes()))
    return sorted(out)


def compare_dynamic(src, a_path, b_path):
    names = {t.name for t in onnx.load(src, load_external_data=False).graph.initializer}
    a, b = new_initializers(a_path, names), new_initializers(b_path, names)
    if len(a) != len(b):
        return f"{len(a)} new tensors vs {len(b)}"
    for x, y in zip(a, b):
        if x != y:
            return f"a {x[0]}{list(x[1])} tensor differs"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=24, help="decoder layers (24: Qwen2.5-0.5B, about 0.5 B parameters)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--block-size", type=int, default=32)
    ap.add_argument("--asymmetric", action="store_true")
    ap.add_argument("--algorithms", default="default,rtn,dynamic",
                    help="default, rtn and k_quant (numpy in onnxruntime: slow): MatMulNBits; dynamic: int8 "
                         "quantize_dynamic")
    ap.add_argument("--apply-pass", default=os.path.join(REPO, "build", "tests", "tools", "apply_pass"))
    args = ap.parse_args()
    if args.bits != 4 and {"rtn", "k_quant"} & set(args.algorithms.split(",")):
        sys.exit("onnxruntime's RTN and k-quant configs take bits per node; this script compares them at 4 bits only")
    if not os.access(args.apply_pass, os.X_OK):
        sys.exit(f"{args.apply_pass} not found: build first (meson setup build && ninja -C build)")
    src = generate_model(args.layers)
    params = sum(k * n for _, k, n in layer_weights(args.layers))
    gnu_time = gnu_time_works()
    sym = "false" if args.asymmetric else "true"
    print(f"model: {params / 1e9:.3f} B parameters ({params * 4 / 2**30:.2f} GiB fp32), {src}")
    print(f"bits {args.bits}, block_size {args.block_size}, symmetric {sym}; libolive build: {build_type(args.apply_pass)}")
    failed = False
    for algo in args.algorithms.split(","):
        rows = {"libolive": [], "onnxruntime": []}
        for run in range(args.runs):
            ours = fresh_dir(os.path.join(OUT_ROOT, "quant-run", f"libolive-{algo}"))
            theirs = fresh_dir(os.path.join(OUT_ROOT, "quant-run", f"ort-{algo}"))
            if algo == "dynamic":
                ours_cmd = [args.apply_pass, "quantize_dynamic", src, ours, "weight_type=QInt8"]
                theirs_cmd = [sys.executable, "-c", ORT_DYNAMIC_CHILD, src, theirs]
            else:
                ours_cmd = [args.apply_pass, "quantize", src, ours, f"bits={args.bits}", f"block_size={args.block_size}",
                            f"is_symmetric={sym}", f"algorithm={algo}"]
                theirs_cmd = [sys.executable, "-c", ORT_CHILD, src, theirs, algo, str(args.bits), str(args.block_size), sym]
            wall, rss, _, err, rc = run_measured(ours_cmd, gnu_time)
            if rc:
                print(f"libolive failed: {err.strip()}")
                return 1
            rows["libolive"].append((wall, rss))
            wall, rss, _, err, rc = run_measured(theirs_cmd, gnu_time)
            if rc:
                print(f"onnxruntime failed: {err.strip()[-500:]}")
                return 1
            rows["onnxruntime"].append((wall, rss))
        t, r = print_runs(f"algorithm {algo}", rows, args.runs, gnu_time)
        speed, mem = t["onnxruntime"] / t["libolive"], r["onnxruntime"] / max(r["libolive"], 1)
        print(f"  speed ratio onnxruntime / libolive: {speed:.1f}x (target >= {SPEED_TARGET:.0f}x: {'met' if speed >= SPEED_TARGET else 'NOT met'})")
        print(f"  peak RSS ratio onnxruntime / libolive: {mem:.1f}x (target >= {RSS_TARGET:.0f}x: {'met' if mem >= RSS_TARGET else 'NOT met'})")
        problem = compare_dynamic(src, ours, theirs) if algo == "dynamic" else compare(ours, theirs)
        what = "int8 weights, scales and zero points" if algo == "dynamic" else "MatMulNBits weights, scales and zero points"
        print(f"  outputs: {what + ' byte-identical' if not problem else 'DIFFER: ' + problem}")
        failed |= problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
