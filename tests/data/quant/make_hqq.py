"""Reference tensors for the quantize pass's algorithm=hqq, from onnxruntime's
HQQWeightOnlyQuantizer (matmul_nbits_quantizer.py; needs torch, run on the CPU).

For each case a float MatMul weight W [K, N] (random with outliers, some blocks constant) is
quantized by onnxruntime 1.32's MatMulNBitsQuantizer with HQQWeightOnlyQuantConfig; hqq.npz
keeps W, the MatMulNBits tensors it wrote (B, scales, zero_points), the input A, and
onnxruntime's outputs of the float and of the quantized model; hqq.json keeps the node's
attributes and input names. Run: $TORCHPY make_hqq.py (see tests/data/README.md)"""

import copy
import json
import logging
import os
import sys

os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the reference solver runs in float32 on the CPU

import numpy as np
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnxruntime.quantization import matmul_nbits_quantizer as mnq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "integration"))
from olive_testlib import matmul_model, outlier_weight, run_matmul  # noqa: E402

CASES = [(64, 8, 32, "float32"), (100, 6, 32, "float32"), (256, 4, 128, "float32"), (130, 5, 64, "float16"),
         (300, 7, 128, "float32"), (48, 3, 16, "float32"), (512, 16, 128, "float16")]
# Weights large enough to be spread over threads: not stored, the test regenerates them from
# weight() with the same seed (numpy's default_rng stream), so only the reference outputs are.
LARGE = [(1024, 160, 64, "float32"), (768, 96, 32, "float16")]


def weight(k, n, seed, dtype):
    # Constant blocks (the last column) take the zero-range path.
    return outlier_weight(k, n, seed, dtype, scale=0.05, constant_column=0.25)


def main():
    logging.getLogger(mnq.__name__).setLevel(logging.WARNING)
    arrays, meta = {}, {"onnxruntime": ort.__version__, "cases": []}
    for i, (k, n, bs, dtype) in enumerate(CASES + LARGE):
        large = i >= len(CASES)
        w = weight(k, n, 100 + i, np.dtype(dtype))
        model = matmul_model(w)
        q = mnq.MatMulNBitsQuantizer(copy.deepcopy(model), algo_config=mnq.HQQWeightOnlyQuantConfig(block_size=bs))
        q.process()
        qm = q.model.model
        node = [x for x in qm.graph.node if x.op_type == "MatMulNBits"][0]
        inits = {t.name: numpy_helper.to_array(t) for t in qm.graph.initializer}
        a = np.random.default_rng(7 + i).standard_normal((3, k)).astype(dtype)
        key = f"c{i}"
        if not large:
            arrays[key + "_w"] = w
        arrays[key + "_a"] = a
        for what, name in zip(("b", "scales", "zp"), node.input[1:]):
            arrays[f"{key}_{what}"] = inits[name]
        arrays[key + "_y_float"] = run_matmul(model, a)
        arrays[key + "_y_hqq"] = run_matmul(qm, a)
        meta["cases"].append({"key": key, "K": k, "N": n, "block_size": bs, "dtype": dtype,
                              "seed": 100 + i if large else None,
                              "node_name": node.name, "inputs": list(node.input),
                              "attrs": {x.name: helper.get_attribute_value(x) for x in node.attribute},
                              "domains": {o.domain: o.version for o in qm.opset_import}})
    np.savez_compressed(os.path.join(HERE, "hqq.npz"), **arrays)
    with open(os.path.join(HERE, "hqq.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote", len(meta["cases"]), "cases", file=sys.stderr)


if __name__ == "__main__":
    main()
