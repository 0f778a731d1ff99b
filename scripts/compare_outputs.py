#!/usr/bin/env python3
"""Runs two ONNX models in onnxruntime on the same random inputs and prints the largest
difference between their outputs. Exits 1 when an output differs by more than --tolerance.

  compare_outputs.py A.onnx B.onnx [--shape NAME=1,512] [--value NAME=16000] [--tolerance 1e-5]

Symbolic dimensions default to 1; --shape and --value override an input's shape or fill it
with a constant (for inputs such as a sample rate that select a branch)."""
import argparse
import sys

import numpy as np
import onnxruntime as ort

NUMPY_OF = {
    'tensor(float)': np.float32, 'tensor(float16)': np.float16, 'tensor(double)': np.float64,
    'tensor(int64)': np.int64, 'tensor(int32)': np.int32, 'tensor(int8)': np.int8,
    'tensor(uint8)': np.uint8, 'tensor(bool)': np.bool_,
}


def make_inputs(session, shapes, values, rng):
    feeds = {}
    for inp in session.get_inputs():
        dtype = NUMPY_OF.get(inp.type)
        if dtype is None:
            raise SystemExit(f'input {inp.name} has type {inp.type}, which this script does not generate')
        shape = shapes.get(inp.name) or [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
        if inp.name in values:
            feeds[inp.name] = np.full(shape, values[inp.name], dtype=dtype)
        elif np.issubdtype(dtype, np.floating):
            feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[inp.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feeds[inp.name] = rng.integers(0, 4, shape).astype(dtype)
    return feeds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('a')
    ap.add_argument('b')
    ap.add_argument('--shape', action='append', default=[])
    ap.add_argument('--value', action='append', default=[])
    ap.add_argument('--tolerance', type=float, default=1e-5)
    args = ap.parse_args()
    shapes = {k: [int(x) for x in v.split(',')] for k, v in (s.split('=', 1) for s in args.shape)}
    values = {k: float(v) for k, v in (s.split('=', 1) for s in args.value)}
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sa = ort.InferenceSession(args.a, opts, providers=['CPUExecutionProvider'])
    sb = ort.InferenceSession(args.b, opts, providers=['CPUExecutionProvider'])
    feeds = make_inputs(sa, shapes, values, np.random.default_rng(0))
    ra = sa.run(None, feeds)
    rb = sb.run(None, feeds)
    worst = 0.0
    for out, x, y in zip(sa.get_outputs(), ra, rb):
        diff = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
        worst = max(worst, diff)
        print(f'output {out.name}: shape {list(x.shape)}, max abs difference {diff:.3g}')
    ok = worst <= args.tolerance and len(ra) == len(rb)
    print('outputs match' if ok else f'outputs differ (tolerance {args.tolerance})')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
