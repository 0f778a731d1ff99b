"""The awq pass (Olive's AutoAWQQuantizer), run through $OLIVE_APPLY_PASS, against the numpy
reference of AutoAWQ's algorithm in awq_reference.py on the same inputs: the same scales folded
into the normalization that feeds the MatMuls (or a Mul when there is none), and the same
clipped group scales, zero points and codes (up to 5% of the groups may differ where a clipped
range lands on a rounding tie that the scales' last bit decides); the model runs in onnxruntime
and is closer to the float model than RTN on held-out inputs; bad parameters are refused."""

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import awq_reference as ref  # noqa: E402
from olive_testlib import apply_pass, session  # noqa: E402
from test_gptq import TEXT, correlated_inputs, unpack  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")


def model_of(weights, k, seq, norm=False):
    """X [b, seq, k] (-> SimplifiedLayerNormalization with gamma G when norm) -> MatMuls."""
    nodes, outs, inits = [], [], []
    src = "X"
    if norm:
        inits.append(numpy_helper.from_array(np.linspace(0.5, 1.5, k).astype(np.float32), "G"))
        nodes.append(helper.make_node("SimplifiedLayerNormalization", ["X", "G"], ["N"], name="norm", axis=-1,
                                      epsilon=1e-5))
        src = "N"
    for i, w in enumerate(weights):
        inits.append(numpy_helper.from_array(w, f"W{i}"))
        nodes.append(helper.make_node("MatMul", [src, f"W{i}"], [f"Y{i}"], name=f"mm{i}"))
        outs.append(helper.make_tensor_value_info(f"Y{i}", TensorProto.FLOAT, ["b", seq, w.shape[1]]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["b", seq, k])],
                              outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def simplified_norm(x, gamma):
    x64 = x.astype(np.float32)
    return (x64 / np.sqrt((x64 * x64).mean(-1, keepdims=True) + np.float32(1e-5)) * gamma).astype(np.float32)


@pytest.mark.parametrize("norm,zero_point,bits,group", [(False, True, 4, 32), (True, False, 4, 64),
                                                         (True, True, 8, 32)])
def test_awq_matches_reference(tmp_path, norm, zero_point, bits, group):
    rng = np.random.default_rng(7)
    k, seq = 128, 16
    weights = [rng.standard_normal((k, 48)).astype(np.float32) * 0.05, rng.standard_normal((k, 32)).astype(np.float32)]
    x = correlated_inputs(rng, 24, seq, k)
    (tmp_path / "calib").mkdir()
    np.save(tmp_path / "calib" / "X.npy", x)
    model = model_of(weights, k, seq, norm)
    out = apply_pass("AutoAWQQuantizer", model, tmp_path, f"calibration_data={tmp_path / 'calib'}", f"bits={bits}",
                     f"group_size={group}", f"zero_point={str(zero_point).lower()}", check=False)
    inputs = x.reshape(-1, k)
    if norm:
        inputs = simplified_norm(inputs, np.linspace(0.5, 1.5, k).astype(np.float32))
    s, _ = ref.search_scale([w.T for w in weights], inputs, bits, group, zero_point)
    types = [n.op_type for n in out.graph.node]
    inits = {t.name: numpy_helper.to_array(t) for t in out.graph.initializer}
    if norm:  # folded: gamma / s, no Mul
        assert "Mul" not in types
        np.testing.assert_allclose(inits["G"], np.linspace(0.5, 1.5, k).astype(np.float32) / s, rtol=1e-5)
    else:
        assert types.count("Mul") == 1
        mul = next(n for n in out.graph.node if n.op_type == "Mul")
        np.testing.assert_allclose(inits[mul.input[1]], 1 / s, rtol=1e-5)
    for i, w in enumerate(weights):
        ws = w.T * s
        ws = ref.search_clip(ws, inputs / s, bits, group, zero_point)
        rq, rs, rz = ref.codes(ws, bits, group, zero_point)
        got, scales, zps, attrs = unpack(out, f"mm{i}")
        # A group whose clipped range lands exactly on a rounding tie (both ends clipped: its
        # minimum / scale is k + 0.5) flips with the last bit of the scales, here and in the
        # reference alike: such groups may differ; all others must match exactly.
        same = np.isclose(scales, rs, rtol=1e-5, atol=0)
        if zero_point:
            same &= zps == rz.astype(np.uint8)
        else:
            assert zps is None
        groups = same.size
        print(f"norm={norm} zp={zero_point} bits={bits}: W{i}: {groups - int(same.sum())} of {groups} groups differ")
        assert groups - same.sum() <= max(1, groups // 20)
        per_group = np.repeat(same, group, axis=1)
        np.testing.assert_array_equal(got[per_group], rq[per_group])
    # Runs, and beats RTN on held-out inputs of the calibration's distribution.
    (tmp_path / "rtn").mkdir()
    rtn = apply_pass("quantize", model, tmp_path / "rtn", f"bits={bits}", f"block_size={group}", "algorithm=rtn",
                     f"is_symmetric={str(not zero_point).lower()}", check=False)
    test_x = correlated_inputs(np.random.default_rng(8), 2, seq, k)
    want = session(model).run(None, {"X": test_x})
    got = session(out).run(None, {"X": test_x})
    base = session(rtn).run(None, {"X": test_x})
    e_awq = sum(np.linalg.norm(g - w) for g, w in zip(got, want))
    e_rtn = sum(np.linalg.norm(b - w) for b, w in zip(base, want))
    print(f"output error: awq {e_awq:.4f}, rtn {e_rtn:.4f}")
    assert e_awq < e_rtn


@pytest.mark.parametrize("params,expect", [
    (("bits=5",), "MatMulNBits takes 4 or 8"),
    (("group_size=24",), "power of 2"),
    (("group_size=256",), "does not divide"),
])
def test_awq_bad_input(tmp_path, params, expect):
    rng = np.random.default_rng(1)
    model = model_of([rng.standard_normal((32, 8)).astype(np.float32)], 32, 4)
    (tmp_path / "calib").mkdir()
    np.save(tmp_path / "calib" / "X.npy", rng.standard_normal((2, 4, 32)).astype(np.float32))
    proc, out = apply_pass("awq", model, tmp_path, f"calibration_data={tmp_path / 'calib'}", *params,
                           expect_ok=False)
    assert proc.returncode != 0 and expect in proc.stderr, proc.stderr
    assert not out.exists()
