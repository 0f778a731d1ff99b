"""Gather tables in the quantize pass against onnxruntime's MatMulNBitsQuantizer with Gather in
op_types_to_quantize: GatherBlockQuantized data, scales and zero points byte-identical with the
same types, shapes, names and attributes, same outputs in onnxruntime; and tied embeddings
(a Gather and a MatMul through Transpose on one table) quantized end to end."""

import copy
import importlib.util
import logging
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, session  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")
HAVE_ONNX_IR = importlib.util.find_spec("onnx_ir") is not None


def elem(dtype):
    return TensorProto.FLOAT if dtype == np.float32 else TensorProto.FLOAT16


def table(shape, seed, dtype):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(shape).astype(np.float32) * 0.1
    e.reshape(-1)[rng.integers(0, e.size, 5)] *= 10.0
    e.reshape(shape[0], -1)[1] = 0.0  # an all-zero row: zero scales
    return e.astype(dtype)


def gather_model(e, gather_axis=0):
    out_shape = list(e.shape)
    out_shape[gather_axis:gather_axis + 1] = [2, 3]
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "ids"], ["Y"], name="embed", axis=gather_axis)], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 3])],
        [helper.make_tensor_value_info("Y", elem(e.dtype), out_shape)],
        initializer=[numpy_helper.from_array(e, "E")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def run_olive(model, tmp_path, *params, expect_ok=True):
    return apply_pass("quantize", model, tmp_path, *params, expect_ok=expect_ok)


def ort_quantize(model, block_size, symmetric, axis):
    from onnxruntime.quantization import matmul_nbits_quantizer as mnq

    logging.getLogger(mnq.__name__).setLevel(logging.ERROR)
    config = mnq.DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=symmetric,
                                              op_types_to_quantize=("MatMul", "Gather"),
                                              quant_axes=(("MatMul", 0), ("Gather", axis)))
    q = mnq.MatMulNBitsQuantizer(copy.deepcopy(model), algo_config=config)
    q.process()
    return q.model.model


def node_of(model, op):
    nodes = [n for n in model.graph.node if n.op_type == op]
    assert len(nodes) == 1, [n.op_type for n in model.graph.node]
    return nodes[0]


CASES = [((50, 64), 32, 1, 0), ((50, 100), 32, 1, 0), ((40, 48), 16, 0, 0), ((6, 5, 64), 64, 2, 0),
         ((6, 40, 3), 16, 1, 1), ((50, 64), 16, -1, 0)]


@pytest.mark.skipif(not HAVE_ONNX_IR, reason="onnxruntime's quantizer needs the onnx_ir package")
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float32", "float16"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "%s-B%d-q%d-g%d" % ("x".join(map(str, c[0])), c[1], c[2],
                                                                           c[3]))
def test_gather_matches_onnxruntime(tmp_path, symmetric, dtype, case):
    shape, bs, qaxis, gaxis = case
    e = table(shape, seed=sum(shape) + bs, dtype=dtype)
    model = gather_model(e, gaxis)
    ours = run_olive(model, tmp_path, "op_types_to_quantize=MatMul,Gather", f"block_size={bs}",
                     f"is_symmetric={'true' if symmetric else 'false'}", f"gather_quantize_axis={qaxis}")
    ref = ort_quantize(model, bs, symmetric, qaxis)
    node, ref_node = node_of(ours, "GatherBlockQuantized"), node_of(ref, "GatherBlockQuantized")
    assert node.domain == "com.microsoft" and node.name == ref_node.name == "embed_Q4"
    assert list(node.input) == list(ref_node.input)
    assert sorted(node.attribute, key=lambda a: a.name) == sorted(ref_node.attribute, key=lambda a: a.name)
    ours_t = {t.name: t for t in ours.graph.initializer}
    ref_t = {t.name: t for t in ref.graph.initializer}
    assert set(ours_t) == set(ref_t), (sorted(ours_t), sorted(ref_t))
    for name, r in ref_t.items():
        t = ours_t[name]
        assert t.data_type == r.data_type and list(t.dims) == list(r.dims), name
        ours_bytes = numpy_helper.to_array(t).tobytes()
        ref_bytes = numpy_helper.to_array(r).tobytes()
        assert ours_bytes == ref_bytes, f"{name} differs from onnxruntime's"
    assert ours.ir_version == ref.ir_version
    assert {o.domain: o.version for o in ours.opset_import} == {o.domain: o.version for o in ref.opset_import}

    ids = np.array([[0, 1, 5], [shape[gaxis] - 1, 2, 3]], dtype=np.int64)
    y = session(ours).run(None, {"ids": ids})[0]
    np.testing.assert_array_equal(y, session(ref).run(None, {"ids": ids})[0])
    want = np.take(e.astype(np.float64), ids, axis=gaxis)
    err = np.abs(y - want).max() / np.abs(e).max()
    print(f"gather {shape} block {bs} axis {qaxis} sym={symmetric}: max abs error {err:.3%} of the table's range")
    assert err <= 0.1, err


def tied_model(v, h, dtype):
    e = table((v, h), seed=v + h, dtype=dtype)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["E", "ids"], ["x"], name="embed"),
         helper.make_node("Transpose", ["E"], ["Et"], name="t", perm=[1, 0]),
         helper.make_node("MatMul", ["x", "Et"], ["logits"], name="lm_head")], "g",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 4])],
        [helper.make_tensor_value_info("logits", elem(dtype), [1, 4, v])],
        initializer=[numpy_helper.from_array(e, "E")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, e


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float32", "float16"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_tied_embeddings(tmp_path, dtype, symmetric):
    model, e = tied_model(64, 96, dtype)
    ours = run_olive(model, tmp_path, "quantize_embeddings=true", "block_size=32",
                     f"is_symmetric={'true' if symmetric else 'false'}")
    assert sorted(n.op_type for n in ours.graph.node) == ["GatherBlockQuantized", "MatMulNBits"]
    names = {t.name for t in ours.graph.initializer}
    assert "E" not in names, "the float table was left behind"
    assert {"E_Q4", "E_scales", "E_T_Q4", "E_T_scales"} <= names
    mm = node_of(ours, "MatMulNBits")
    assert {a.name: a.i for a in mm.attribute if a.name in ("K", "N")} == {"K": 96, "N": 64}
    ids = np.array([[3, 0, 63, 17]], dtype=np.int64)
    y_float = session(model).run(None, {"ids": ids})[0].astype(np.float64)
    y = session(ours).run(None, {"ids": ids})[0].astype(np.float64)
    cos = float(y.ravel() @ y_float.ravel() / (np.linalg.norm(y) * np.linalg.norm(y_float)))
    err = np.abs(y - y_float).max() / np.abs(y_float).max()
    print(f"tied {np.dtype(dtype).name} sym={symmetric}: max abs error {err:.3%} of range, cosine {cos:.5f}")
    assert cos >= 0.98 and err <= 0.15, (cos, err)


def test_gather_skips_and_errors(tmp_path):
    e = table((20, 32), seed=3, dtype=np.float32)
    # 8 bits: GatherBlockQuantized tables are 4-bit; the Gather stays, as onnxruntime leaves it.
    out = run_olive(gather_model(e), tmp_path, "quantize_embeddings=true", "bits=8", "block_size=16")
    assert [n.op_type for n in out.graph.node] == ["Gather"]
    # Without Gather in the list nothing changes.
    out = run_olive(gather_model(e), tmp_path, "block_size=16")
    assert [n.op_type for n in out.graph.node] == ["Gather"]
    proc, dst = run_olive(gather_model(e), tmp_path, "quantize_embeddings=true", "gather_quantize_axis=2",
                          expect_ok=False)
    assert proc.returncode == 1 and "gather_quantize_axis" in proc.stderr and "'embed'" in proc.stderr, proc.stderr
    assert not dst.exists()
    bad = e.copy()
    bad[7, 3] = np.inf
    proc, dst = run_olive(gather_model(bad), tmp_path, "quantize_embeddings=true", "block_size=16", expect_ok=False)
    assert proc.returncode == 1 and "'E'" in proc.stderr and "'embed'" in proc.stderr, proc.stderr
    assert not dst.exists()
