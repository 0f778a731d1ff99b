"""algorithm=k_quant against onnxruntime's k-quant config (MatMulNBitsQuantizer with
KQuantWeightOnlyQuantConfig, its CPU path). MatMulNBits B, scales and zero points must be
byte-identical with the same names and attributes; both models then run in onnxruntime and
must give identical outputs, close to the float model."""

import copy
import importlib.util
import logging
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, cosine, matmul_model, outlier_weight, run_matmul, set_weight_value  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = [
    pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)"),
    pytest.mark.skipif(importlib.util.find_spec("onnx_ir") is None,
                       reason="onnxruntime's quantizer needs the onnx_ir package"),
]


def make_model(k, n, seed, dtype=np.float32, name="mm"):
    return matmul_model(outlier_weight(k, n, seed, dtype, scale=0.05, constant_column=0.125), name)


def run_olive(model, tmp_path, *params, pass_name="quantize", expect_ok=True):
    return apply_pass(pass_name, model, tmp_path, *params, expect_ok=expect_ok)


def ort_kquant(model, bits, block_size):
    from onnxruntime.quantization import matmul_nbits_quantizer as mnq

    logging.getLogger(mnq.__name__).setLevel(logging.WARNING)
    logging.getLogger("neural_compressor").setLevel(logging.WARNING)
    config = mnq.KQuantWeightOnlyQuantConfig(customized_weight_config={"mm": {"bits": bits}})
    q = mnq.MatMulNBitsQuantizer(copy.deepcopy(model), block_size=block_size, algo_config=config)
    q.process()
    return q.model.model


def nbits(model):
    nodes = [n for n in model.graph.node if n.op_type == "MatMulNBits"]
    assert len(nodes) == 1 and len(model.graph.node) == 1, [n.op_type for n in model.graph.node]
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert set(inits) == set(nodes[0].input[1:]), sorted(inits)
    return nodes[0], [inits[x] for x in nodes[0].input[1:]]


# onnxruntime's writer cannot pack 4-bit zero points of an odd number of blocks when N > 1:
# those shapes are checked through the decoded weights only.
# K within one block (the reference then sums in order, see kquant.h), N = 1, padding.
SHAPES = [(64, 8, 32), (100, 6, 32), (256, 4, 128), (300, 7, 64), (48, 1, 16), (512, 12, 256), (96, 5, 16),
          (32, 6, 32), (20, 5, 32), (64, 1, 64), (200, 9, 256)]


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float32", "float16"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "K%dN%dB%d" % s)
def test_matches_onnxruntime_kquant(tmp_path, bits, dtype, shape):
    k, n, bs = shape
    kb = (k + bs - 1) // bs
    model = make_model(k, n, seed=k * 3 + n + bits, dtype=dtype)
    ours = run_olive(model, tmp_path, "algorithm=k_quant", f"bits={bits}", f"block_size={bs}")
    node, got = nbits(ours)
    assert node.domain == "com.microsoft" and node.name == "mm_Q%d" % bits
    assert list(node.input) == ["A", f"W_Q{bits}G{bs}", "W_scale", "W_zp"]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attrs == {"K": k, "N": n, "bits": bits, "block_size": bs}
    assert got[1].dtype == dtype and got[1].shape == (n, kb) and got[2].dtype == np.uint8

    a = np.random.default_rng(5).standard_normal((3, k)).astype(dtype)
    y_float, y = run_matmul(model, a), run_matmul(ours, a)
    if bits == 8 or kb % 2 == 0 or n == 1:
        ref_model = ort_kquant(model, bits, bs)
        ref_node, ref = nbits(ref_model)
        assert list(ref_node.input) == list(node.input) and ref_node.attribute == node.attribute
        for what, x, r in zip(("B", "scales", "zero_points"), got, ref):
            assert x.dtype == r.dtype and x.shape == r.shape, (what, x.shape, r.shape)
            diff = np.argwhere(x != r)
            assert len(diff) == 0, f"{what} differs from onnxruntime's at {diff[:4].tolist()} ({len(diff)} places)"
        np.testing.assert_array_equal(y, run_matmul(ref_model, a))
    # A constant block gets scale 1 in the reference, so a constant column of small values
    # decodes to about 0: accuracy is measured on the other columns.
    if n > 2:
        y, y_float = y[:, :-1], y_float[:, :-1]
    rel = np.abs(y.astype(np.float64) - y_float).max() / np.abs(y_float).max()
    cos = cosine(y_float, y)
    print(f"k_quant bits={bits} K={k} N={n} block={bs} {np.dtype(dtype).name}: "
          f"max abs error {rel:.3%} of range, cosine {cos:.6f}")
    assert cos >= (0.98 if bits == 4 else 0.9995) and rel <= (0.3 if bits == 4 else 0.02), (rel, cos)


def test_olive_alias_defaults(tmp_path):
    """Olive's OnnxKQuantQuantization: 4 bits, block 32 by default."""
    model = make_model(128, 6, seed=11)
    ours = run_olive(model, tmp_path, pass_name="OnnxKQuantQuantization")
    node, got = nbits(ours)
    assert {a.name: helper.get_attribute_value(a) for a in node.attribute} == {"K": 128, "N": 6, "bits": 4,
                                                                               "block_size": 32}
    same = run_olive(model, tmp_path, "algorithm=k_quant", "block_size=32")
    for x, y in zip(got, nbits(same)[1]):
        assert x.tobytes() == y.tobytes()
    ours = run_olive(model, tmp_path, "accuracy_level=4", pass_name="OnnxKquantQuantization")
    assert {a.name: a.i for a in nbits(ours)[0].attribute}["accuracy_level"] == 4


def test_is_symmetric_is_ignored(tmp_path):
    """k_quant always writes zero points, as its reference does."""
    model = make_model(64, 4, seed=2)
    sym = run_olive(model, tmp_path, "algorithm=k_quant", "block_size=32", "is_symmetric=true")
    asym = run_olive(model, tmp_path, "algorithm=k_quant", "block_size=32", "is_symmetric=false")
    assert len(nbits(sym)[1]) == 3
    for x, y in zip(nbits(sym)[1], nbits(asym)[1]):
        assert x.tobytes() == y.tobytes()


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_kquant_non_finite_weight(tmp_path, bad):
    model = make_model(64, 4, seed=4)
    set_weight_value(model, (40, 2), bad)
    proc, dst = run_olive(model, tmp_path, "algorithm=k_quant", "block_size=32", expect_ok=False)
    assert proc.returncode == 1 and "'W'" in proc.stderr and "[40, 2]" in proc.stderr, proc.stderr
    assert not dst.exists()


@pytest.mark.parametrize("setting", ["bits=2", "block_size=48", "block_size=8"])
def test_kquant_bad_parameters(tmp_path, setting):
    proc, dst = run_olive(make_model(32, 2, seed=1), tmp_path, setting, pass_name="OnnxKQuantQuantization",
                          expect_ok=False)
    assert proc.returncode == 1 and setting.split("=")[0] in proc.stderr, proc.stderr
    assert not dst.exists()


# Weights spread over threads (tens of thousands of blocks).
@pytest.mark.parametrize("case", [(1024, 512, 32, 4, np.float32), (512, 384, 64, 8, np.float16)],
                         ids=lambda c: "K%dN%dB%d-%dbit-%s" % (c[0], c[1], c[2], c[3], np.dtype(c[4]).name))
def test_large_weight_matches_onnxruntime_kquant(tmp_path, case):
    k, n, bs, bits, dtype = case
    model = make_model(k, n, seed=k + n, dtype=dtype)
    ours = run_olive(model, tmp_path, "algorithm=k_quant", f"bits={bits}", f"block_size={bs}")
    got, ref = nbits(ours)[1], nbits(ort_kquant(model, bits, bs))[1]
    for what, x, r in zip(("B", "scales", "zero_points"), got, ref):
        assert x.dtype == r.dtype and x.shape == r.shape and x.tobytes() == r.tobytes(), what


def json_setting(key, text):
    """key=<JSON> as one apply_pass setting: quoted, inner quotes escaped (olive_pass_set_many)."""
    return key + '="' + text.replace('"', '\\"') + '"'


def two_matmuls(k, n, seed):
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((n, n)) * 0.05).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "W1"], ["H"], name="mm"),
         helper.make_node("MatMul", ["H", "W2"], ["Y"], name="mm2")], "g",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [3, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [3, n])],
        initializer=[numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_customized_weight_config(tmp_path):
    """Per-node bits and group size, as onnxruntime's k-quant config takes them."""
    from onnxruntime.quantization import matmul_nbits_quantizer as mnq

    model = two_matmuls(128, 64, seed=31)
    ours = run_olive(model, tmp_path, "algorithm=k_quant", "block_size=32",
                     json_setting("customized_weight_config", '{"mm2": {"bits": 8, "group_size": 64}}'))
    config = mnq.KQuantWeightOnlyQuantConfig(customized_weight_config={"mm2": {"bits": 8, "group_size": 64}})
    q = mnq.MatMulNBitsQuantizer(copy.deepcopy(model), block_size=32, algo_config=config)
    q.process()
    ref = q.model.model
    for m in (ours, ref):
        attrs = {n.name: {a.name: a.i for a in n.attribute} for n in m.graph.node}
        assert attrs["mm_Q4"]["bits"] == 4 and attrs["mm_Q4"]["block_size"] == 32
        assert attrs["mm2_Q8"]["bits"] == 8 and attrs["mm2_Q8"]["block_size"] == 64
    ours_t = {t.name: numpy_helper.to_array(t).tobytes() for t in ours.graph.initializer}
    ref_t = {t.name: numpy_helper.to_array(t).tobytes() for t in ref.graph.initializer}
    assert ours_t == ref_t
    a = np.random.default_rng(1).standard_normal((3, 128)).astype(np.float32)
    np.testing.assert_array_equal(run_matmul(ours, a), run_matmul(ref, a))
    # The same through Olive's pass type.
    alias = run_olive(model, tmp_path, json_setting("customized_weight_config", '{"mm2": {"bits": 8, "group_size": 64}}'),
                      pass_name="OnnxKQuantQuantization")
    assert {t.name: numpy_helper.to_array(t).tobytes() for t in alias.graph.initializer} == ours_t


@pytest.mark.parametrize("bad", ['{"mm":{"bits":3}}', '{"mm":{"group_size":48}}', '{"mm":4}', "[1]", "{mm"])
def test_customized_weight_config_errors(tmp_path, bad):
    proc, dst = run_olive(two_matmuls(64, 32, seed=2), tmp_path, "algorithm=k_quant",
                          json_setting("customized_weight_config", bad), expect_ok=False)
    assert proc.returncode == 1 and "customized_weight_config" in proc.stderr, proc.stderr
    assert not dst.exists()
