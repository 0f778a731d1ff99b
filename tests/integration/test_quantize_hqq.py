"""algorithm=hqq against onnxruntime's HQQWeightOnlyQuantizer.

The reference needs torch, so its outputs are fixtures: tests/data/quant/make_hqq.py ran
onnxruntime 1.32's MatMulNBitsQuantizer with HQQWeightOnlyQuantConfig on small MatMul weights
(float and float16, K a multiple of the block or not, constant blocks) and kept its
MatMulNBits tensors and its model's outputs. Here libolive quantizes the same weights: the
packed codes must match (a code may differ by one where the solver's float sums put a value on
a rounding boundary), scales and float zero points within float tolerance, node layout and
attributes exactly, and onnxruntime's outputs of both models must agree."""

import json
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, cosine, matmul_model, outlier_weight, run_matmul  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "quant")
with open(os.path.join(DATA, "hqq.json")) as f:
    META = json.load(f)
REF = np.load(os.path.join(DATA, "hqq.npz"))


def weight_of(case):
    if case.get("seed") is None:
        return REF[case["key"] + "_w"]
    # The weights make_hqq.py drew for the cases it does not store.
    return outlier_weight(case["K"], case["N"], case["seed"], np.dtype(case["dtype"]), scale=0.05,
                          constant_column=0.25)


def run_olive(model, tmp_path, *params, pass_name="quantize", expect_ok=True):
    return apply_pass(pass_name, model, tmp_path, *params, expect_ok=expect_ok)


def unpack(packed, n):
    x = packed.reshape(n, -1)
    return np.stack([x & 15, x >> 4], -1).reshape(n, -1).astype(np.int16)


def dequantize(packed, scales, zp, k, n, bs):
    codes = unpack(packed, n).astype(np.float64)
    s = np.repeat(scales.astype(np.float64).reshape(n, -1), bs, axis=1)
    z = np.repeat(zp.astype(np.float64).reshape(n, -1), bs, axis=1)
    return ((codes - z) * s)[:, :k].T


@pytest.mark.parametrize("case", META["cases"], ids=lambda c: "K%dN%dB%d-%s" % (c["K"], c["N"], c["block_size"],
                                                                                 c["dtype"]))
def test_matches_onnxruntime_hqq(tmp_path, case):
    key, k, n, bs = case["key"], case["K"], case["N"], case["block_size"]
    w, a = weight_of(case), REF[key + "_a"]
    ref_b, ref_s, ref_z = REF[key + "_b"], REF[key + "_scales"], REF[key + "_zp"]
    # Both spellings: the quantize pass with algorithm=hqq and Olive's pass type.
    ours = run_olive(matmul_model(w), tmp_path, "algorithm=hqq", f"block_size={bs}")
    alias = run_olive(matmul_model(w), tmp_path, f"block_size={bs}", pass_name="OnnxHqqQuantization")
    assert alias.graph.node[0].SerializeToString() == ours.graph.node[0].SerializeToString()

    node = [x for x in ours.graph.node if x.op_type == "MatMulNBits"]
    assert len(node) == 1 and len(ours.graph.node) == 1
    node = node[0]
    assert node.domain == "com.microsoft" and node.name == case["node_name"]
    assert list(node.input) == case["inputs"]
    assert {x.name: helper.get_attribute_value(x) for x in node.attribute} == case["attrs"]
    inits = {t.name: numpy_helper.to_array(t) for t in ours.graph.initializer}
    assert set(inits) == set(case["inputs"][1:]), "the float weight was left behind"
    b, s, z = (inits[x] for x in case["inputs"][1:])
    for what, got, ref in (("B", b, ref_b), ("scales", s, ref_s), ("zero_points", z, ref_z)):
        assert got.dtype == ref.dtype and got.shape == ref.shape, (what, got.dtype, got.shape, ref.dtype, ref.shape)

    # Within one unit in the last place: float16 for 1 / scale and zero points up to 15.
    half = case["dtype"] == "float16"
    np.testing.assert_allclose(s.astype(np.float64), ref_s.astype(np.float64), rtol=1e-3 if half else 1e-6, atol=0)
    np.testing.assert_allclose(z.astype(np.float64), ref_z.astype(np.float64), rtol=0, atol=8e-3 if half else 2e-6)
    codes, ref_codes = unpack(b, n), unpack(ref_b, n)
    off = np.abs(codes - ref_codes)
    assert off.max() <= 1 and np.count_nonzero(off) <= max(1, codes.size // 1000), np.argwhere(off)[:5]

    # onnxruntime runs our tensors as decoded here, and the two models agree.
    y_float, y_ref = REF[key + "_y_float"], REF[key + "_y_hqq"]
    y = run_matmul(ours, a)
    w_deq = dequantize(b, s, z, k, n, bs)
    np.testing.assert_allclose(y, a.astype(np.float64) @ w_deq, rtol=2e-3, atol=2e-3 * np.abs(y).max())
    scale_out = np.abs(y_ref).max()
    assert np.abs(y.astype(np.float64) - y_ref).max() <= (2e-2 if case["dtype"] == "float16" else 1e-4) * scale_out
    err = np.abs(y.astype(np.float64) - y_float).max() / np.abs(y_float).max()
    cos = cosine(y_float, y)
    print(f"hqq K={k} N={n} block={bs} {case['dtype']}: max abs error {err:.3%} of range, cosine {cos:.6f}")
    assert cos >= 0.98 and err <= 0.25, (err, cos)
    # Every weight decodes within one step of its block's scale.
    step = np.repeat(np.abs(s.astype(np.float64)).reshape(n, -1), bs, axis=1)[:, :k].T
    assert np.all(np.abs(w.astype(np.float64) - w_deq) <= step * 1.01 + 1e-3)


def test_hqq_bad_parameters(tmp_path):
    w = REF["c0_w"]
    for args, word in ((["algorithm=hqq", "bits=8"], "bits"), (["axis=1"], "axis")):
        pass_name = "quantize" if args[0].startswith("algorithm") else "OnnxHqqQuantization"
        proc, dst = run_olive(matmul_model(w), tmp_path, *args, pass_name=pass_name, expect_ok=False)
        assert proc.returncode == 1 and word in proc.stderr, proc.stderr
        assert not dst.exists()


def test_hqq_non_finite_weight(tmp_path):
    w = REF["c0_w"].copy()
    w[40, 2] = np.nan
    proc, dst = run_olive(matmul_model(w), tmp_path, "algorithm=hqq", "block_size=32", expect_ok=False)
    assert proc.returncode == 1 and "'W'" in proc.stderr and "[40, 2]" in proc.stderr, proc.stderr
    assert not dst.exists()
