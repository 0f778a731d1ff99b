"""The quantize pass with quant_format=QDQ against onnxruntime's MatMulNBitsQuantizer with
DefaultWeightOnlyQuantConfig(quant_format=QDQ): DequantizeLinear (blocked, int4 / uint4) feeding
the MatMul. Node for node and tensor for tensor the same (byte-identical codes, scales and zero
points), same opset and IR version, same outputs in onnxruntime, close to the float model."""

import copy
import importlib.util
import logging
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, matmul_model, outlier_weight, session  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = [
    pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)"),
    pytest.mark.skipif(importlib.util.find_spec("onnx_ir") is None,
                       reason="onnxruntime's quantizer needs the onnx_ir package"),
]


def make_model(k, n, seed, dtype=np.float32):
    return matmul_model(outlier_weight(k, n, seed, dtype))


def run_olive(model, tmp_path, *params, expect_ok=True):
    return apply_pass("quantize", model, tmp_path, *params, expect_ok=expect_ok)


def ort_qdq(model, block_size, symmetric):
    from onnxruntime.quantization import matmul_nbits_quantizer as mnq
    from onnxruntime.quantization.quant_utils import QuantFormat

    logging.getLogger(mnq.__name__).setLevel(logging.ERROR)
    config = mnq.DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=symmetric,
                                              quant_format=QuantFormat.QDQ)
    q = mnq.MatMulNBitsQuantizer(copy.deepcopy(model), algo_config=config)
    q.process()
    return q.model.model


def nodes_of(model):
    return [(n.op_type, n.domain, n.name, list(n.input), list(n.output),
             sorted((a.name, helper.get_attribute_value(a)) for a in n.attribute)) for n in model.graph.node]


SHAPES = [(64, 8, 32), (100, 6, 32), (256, 5, 128), (33, 3, 16), (300, 7, 64), (17, 1, 16)]


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float32", "float16"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "K%dN%dB%d" % s)
def test_qdq_matches_onnxruntime(tmp_path, symmetric, dtype, shape):
    k, n, bs = shape
    model = make_model(k, n, seed=k + n, dtype=dtype)
    ours = run_olive(model, tmp_path, "quant_format=QDQ", f"block_size={bs}",
                     f"is_symmetric={'true' if symmetric else 'false'}")
    ref = ort_qdq(model, bs, symmetric)
    assert nodes_of(ours) == nodes_of(ref)
    ours_t = {t.name: (t.data_type, list(t.dims), numpy_helper.to_array(t).tobytes()) for t in ours.graph.initializer}
    ref_t = {t.name: (t.data_type, list(t.dims), numpy_helper.to_array(t).tobytes()) for t in ref.graph.initializer}
    assert set(ours_t) == set(ref_t), (sorted(ours_t), sorted(ref_t))
    for name in ref_t:
        assert ours_t[name] == ref_t[name], f"{name} differs from onnxruntime's"
    assert ours.ir_version == ref.ir_version
    assert {o.domain: o.version for o in ours.opset_import} == {o.domain: o.version for o in ref.opset_import}
    a = np.random.default_rng(3).standard_normal((3, k)).astype(dtype)
    y = session(ours).run(None, {"A": a})[0]
    np.testing.assert_array_equal(y, session(ref).run(None, {"A": a})[0])
    y_float = session(model).run(None, {"A": a})[0].astype(np.float64)
    cos = float(y.ravel() @ y_float.ravel() / (np.linalg.norm(y) * np.linalg.norm(y_float)))
    print(f"qdq K={k} N={n} block={bs} sym={symmetric} {np.dtype(dtype).name}: cosine {cos:.5f}")
    assert cos >= 0.94


def test_qdq_shared_weight(tmp_path):
    """Two MatMuls on one weight read one DequantizeLinear."""
    rng = np.random.default_rng(4)
    w = rng.standard_normal((64, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "W"], ["Y"], name="mm"),
         helper.make_node("MatMul", ["B", "W"], ["Z"], name="mm2")], "g",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [2, 64]) for x in "AB"],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [2, 4]) for x in "YZ"],
        initializer=[numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    ours = run_olive(model, tmp_path, "quant_format=QDQ", "block_size=32")
    assert [n.op_type for n in ours.graph.node] == ["DequantizeLinear", "MatMul", "MatMul"]
    a, b = rng.standard_normal((2, 64)).astype(np.float32), rng.standard_normal((2, 64)).astype(np.float32)
    y, z = session(ours).run(None, {"A": a, "B": b})
    assert np.corrcoef(y.ravel(), (a @ w).ravel())[0, 1] > 0.95 and np.corrcoef(z.ravel(), (b @ w).ravel())[0, 1] > 0.95


@pytest.mark.parametrize("setting", ["algorithm=rtn", "bits=8", "algorithm=hqq"])
def test_qdq_bad_combinations(tmp_path, setting):
    proc, dst = run_olive(make_model(32, 2, seed=1), tmp_path, "quant_format=QDQ", setting, expect_ok=False)
    assert proc.returncode == 1 and "quant_format" in proc.stderr, proc.stderr
    assert not dst.exists()


@pytest.mark.parametrize("symmetric", [True, False])
def test_qdq_rounding_ties(tmp_path, symmetric):
    """Values exactly halfway between codes: the QDQ form rounds before adding the zero point
    (unlike MatMulNBits' kernel), as onnxruntime's QDQ kernel does."""
    col = np.array([-4.0] + [(i - 8) * 0.5 + 0.25 for i in range(15)], dtype=np.float32)  # scale 0.5: ties
    w = np.stack([col, -col, col * 0.5, np.roll(col, 3)], axis=1)
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "W"], ["Y"], name="mm")], "g",
                              [helper.make_tensor_value_info("A", TensorProto.FLOAT, [3, 16])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [3, 4])],
                              initializer=[numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    ours = run_olive(model, tmp_path, "quant_format=QDQ", "block_size=16",
                     f"is_symmetric={'true' if symmetric else 'false'}")
    ref = ort_qdq(model, 16, symmetric)
    for name in ("W_DQ_Q4", "W_DQ_scales") + (() if symmetric else ("W_DQ_zero_points",)):
        a = [numpy_helper.to_array(t) for t in ours.graph.initializer if t.name == name][0]
        b = [numpy_helper.to_array(t) for t in ref.graph.initializer if t.name == name][0]
        np.testing.assert_array_equal(a, b, err_msg=name)
