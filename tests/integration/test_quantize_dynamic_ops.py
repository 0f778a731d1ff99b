"""quantize_dynamic on Conv (ConvInteger), com.microsoft Attention (QAttention) and in the QDQ
form, against onnxruntime's quantize_dynamic. For Conv and Attention the quantized graphs must
match onnxruntime's node for node (op types, names, inputs, outputs, attributes) and weight for
weight (byte-identical codes, scales, zero points), give the same outputs in onnxruntime and
stay close to the float model. The QDQ form has no onnxruntime counterpart for dynamic
quantization: its DequantizeLinear inputs must be byte-identical to the weights onnxruntime's
QOperator form writes, and onnxruntime must run it as the codes decode."""

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, cosine, ort_quantize_dynamic, session, set_weight_value  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")
F = TensorProto.FLOAT


def make_model(nodes, inputs, outputs, weights, opset=17, ms=False):
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              initializer=[numpy_helper.from_array(w, k) for k, w in weights.items()])
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def conv_model(seed):
    rng = np.random.default_rng(seed)
    w = {"W": rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.2,
         "B": rng.standard_normal(4).astype(np.float32),
         "W2": rng.standard_normal((2, 4, 1, 1)).astype(np.float32)}
    w["W"].flat[5] = 2.0  # an outlier sets the per-tensor range
    nodes = [helper.make_node("Conv", ["X", "W", "B"], ["H"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["H"], ["R"], name="relu"),
             helper.make_node("Conv", ["R", "W2"], ["Y"], name="conv2", strides=[2, 2])]
    return make_model(nodes, [helper.make_tensor_value_info("X", F, [1, 3, 8, 8])],
                      [helper.make_tensor_value_info("Y", F, [1, 2, 4, 4])], w)


def attention_model(seed, with_mask=True):
    rng = np.random.default_rng(seed)
    h = 16
    w = {"Wqkv": rng.standard_normal((h, 3 * h)).astype(np.float32) * 0.3,
         "Bqkv": rng.standard_normal(3 * h).astype(np.float32) * 0.1}
    ins = ["X", "Wqkv", "Bqkv"] + (["mask"] if with_mask else [])
    nodes = [helper.make_node("Attention", ins, ["Y"], name="attn", domain="com.microsoft", num_heads=2)]
    inputs = [helper.make_tensor_value_info("X", F, [2, 5, h])]
    if with_mask:
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.INT32, [2, 5]))
    return make_model(nodes, inputs, [helper.make_tensor_value_info("Y", F, [2, 5, h])], w, ms=True)


def run_pass(model, tmp_path, *params, expect_ok=True):
    return apply_pass("quantize_dynamic", model, tmp_path, *params, expect_ok=expect_ok)


def nodes_of(model):
    return sorted((n.op_type, n.domain, n.name, tuple(n.input), tuple(n.output),
                   tuple(sorted((a.name, str(helper.get_attribute_value(a))) for a in n.attribute)))
                  for n in model.graph.node)


def inits_of(model):
    return {t.name: (t.data_type, tuple(t.dims), numpy_helper.to_array(t).tobytes()) for t in model.graph.initializer}


def assert_same_graph(ours, ref):
    a, b = nodes_of(ours), nodes_of(ref)
    assert a == b, "\n".join(["ours:"] + [str(x) for x in a] + ["onnxruntime:"] + [str(x) for x in b])
    a, b = inits_of(ours), inits_of(ref)
    assert set(a) == set(b), (sorted(a), sorted(b))
    for name in a:
        assert a[name] == b[name], f"initializer {name} differs from onnxruntime's"


SETTINGS = [({}, []), ({"weight_type": "QUInt8"}, ["weight_type=QUInt8"]),
            ({"reduce_range": True}, ["reduce_range=true"]), ({"per_channel": True}, ["per_channel=true"]),
            ({"weight_type": "QUInt8", "per_channel": True, "reduce_range": True},
             ["weight_type=QUInt8", "per_channel=true", "reduce_range=true"])]


@pytest.mark.parametrize("ort_kw,params", SETTINGS, ids=lambda x: str(x))
def test_conv_matches_onnxruntime(tmp_path, ort_kw, params):
    model = conv_model(1)
    ours = run_pass(model, tmp_path, "op_types_to_quantize=Conv", *params)
    ref = ort_quantize_dynamic(model, tmp_path, ["Conv"], **ort_kw)
    assert_same_graph(ours, ref)
    x = np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32)
    y = session(ours).run(None, {"X": x})[0]
    np.testing.assert_array_equal(y, session(ref).run(None, {"X": x})[0])
    y_float = session(model).run(None, {"X": x})[0]
    cos, err = cosine(y, y_float), np.abs(y - y_float).max() / np.abs(y_float).max()
    print(f"conv {params}: max abs error {err:.3%} of range, cosine {cos:.6f}")
    assert cos >= 0.999 and err <= 0.05, (cos, err)


@pytest.mark.parametrize("with_mask", [True, False])
@pytest.mark.parametrize("ort_kw,params", SETTINGS, ids=lambda x: str(x))
def test_attention_matches_onnxruntime(tmp_path, ort_kw, params, with_mask):
    model = attention_model(3, with_mask)
    ours = run_pass(model, tmp_path, "op_types_to_quantize=Attention", *params)
    ref = ort_quantize_dynamic(model, tmp_path, ["Attention"], **ort_kw)
    assert_same_graph(ours, ref)
    feeds = {"X": np.random.default_rng(4).standard_normal((2, 5, 16)).astype(np.float32)}
    if with_mask:
        feeds["mask"] = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=np.int32)
    y = session(ours).run(None, feeds)[0]
    np.testing.assert_array_equal(y, session(ref).run(None, feeds)[0])
    y_float = session(model).run(None, feeds)[0]
    cos, err = cosine(y, y_float), np.abs(y - y_float).max() / np.abs(y_float).max()
    print(f"attention {params} mask={with_mask}: max abs error {err:.3%} of range, cosine {cos:.6f}")
    assert cos >= 0.995 and err <= 0.1, (cos, err)


def test_attention_with_qkv_hidden_sizes_stays(tmp_path):
    model = attention_model(5)
    model.graph.node[0].attribute.append(helper.make_attribute("qkv_hidden_sizes", [16, 16, 16]))
    ours = run_pass(model, tmp_path, "op_types_to_quantize=Attention")
    assert [n.op_type for n in ours.graph.node] == ["Attention"]


def mlp_model(seed):
    rng = np.random.default_rng(seed)
    w = {"W0": rng.standard_normal((16, 12)).astype(np.float32), "W1": rng.standard_normal((12, 6)).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["X", "W0"], ["H"], name="mm0"),
             helper.make_node("Relu", ["H"], ["R"], name="relu"),
             helper.make_node("MatMul", ["R", "W1"], ["Y"], name="mm1"),
             helper.make_node("Add", ["W1", "W1"], ["W1x2"], name="reuse")]
    return make_model(nodes, [helper.make_tensor_value_info("X", F, [3, 16])],
                      [helper.make_tensor_value_info("Y", F, [3, 6]), helper.make_tensor_value_info("W1x2", F, [12, 6])],
                      w)


def dequant(q, scale, zp, axis):
    q, scale, zp = q.astype(np.float64), scale.astype(np.float64), zp.astype(np.float64)
    if axis is not None:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return (q - zp) * scale


@pytest.mark.parametrize("ort_kw,params", SETTINGS, ids=lambda x: str(x))
def test_qdq_weights_match_onnxruntime_codes(tmp_path, ort_kw, params):
    model = mlp_model(6)
    ours = run_pass(model, tmp_path, "quant_format=QDQ", *params)
    ref = ort_quantize_dynamic(model, tmp_path, ["MatMul"], **ort_kw)
    ref_inits = inits_of(ref)
    ops = [n.op_type for n in ours.graph.node]
    assert sorted(ops) == ["Add", "DequantizeLinear", "DequantizeLinear", "MatMul", "MatMul", "Relu"], ops
    inits = {t.name: numpy_helper.to_array(t) for t in ours.graph.initializer}
    assert "W0" not in inits and "W1" not in inits, "the float weights were left behind"
    x = np.random.default_rng(7).standard_normal((3, 16)).astype(np.float32)
    decoded = {}
    for n in ours.graph.node:
        if n.op_type != "DequantizeLinear":
            continue
        w = n.output[0]
        assert n.name == w + "_DequantizeLinear" and list(n.input) == [w + "_quantized", w + "_scale",
                                                                      w + "_zero_point"]
        for name in n.input:  # the same codes, scales and zero points as onnxruntime's QOperator form
            t = [t for t in ours.graph.initializer if t.name == name][0]
            assert (t.data_type, tuple(t.dims), inits[name].tobytes()) == ref_inits[name], name
        axis = {a.name: a.i for a in n.attribute}.get("axis")
        assert axis == (1 if "per_channel=true" in params else None)
        decoded[w] = dequant(*(inits[i] for i in n.input), axis)
    y, w1x2 = session(ours).run(None, {"X": x})
    want = np.maximum(x.astype(np.float64) @ decoded["W0"], 0) @ decoded["W1"]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    np.testing.assert_allclose(w1x2, 2 * decoded["W1"], rtol=1e-6, atol=1e-6)
    y_float = session(model).run(None, {"X": x})[0]
    cos = cosine(y, y_float)
    print(f"qdq {params}: cosine {cos:.6f}")
    assert cos >= 0.999


def test_qdq_conv_and_attention(tmp_path):
    ours = run_pass(conv_model(8), tmp_path, "quant_format=QDQ", "op_types_to_quantize=Conv")
    assert sorted(n.op_type for n in ours.graph.node) == ["Conv", "Conv", "DequantizeLinear", "DequantizeLinear",
                                                          "Relu"]
    x = np.random.default_rng(9).standard_normal((1, 3, 8, 8)).astype(np.float32)
    assert cosine(session(ours).run(None, {"X": x})[0], session(conv_model(8)).run(None, {"X": x})[0]) >= 0.999
    model = attention_model(10, with_mask=False)
    ours = run_pass(model, tmp_path, "quant_format=QDQ", "op_types_to_quantize=Attention", "per_channel=true")
    assert sorted(n.op_type for n in ours.graph.node) == ["Attention", "DequantizeLinear"]
    feeds = {"X": np.random.default_rng(11).standard_normal((2, 5, 16)).astype(np.float32)}
    assert cosine(session(ours).run(None, feeds)[0], session(model).run(None, feeds)[0]) >= 0.999


def test_errors_and_skips(tmp_path):
    model = conv_model(12)
    set_weight_value(model, (1, 2, 0, 1), np.nan)
    proc, dst = run_pass(model, tmp_path, "op_types_to_quantize=Conv", expect_ok=False)
    assert proc.returncode == 1 and "'W'" in proc.stderr and "'conv'" in proc.stderr, proc.stderr
    assert not dst.exists()
    proc, dst = run_pass(mlp_model(1), tmp_path, "quant_format=QDQ8", expect_ok=False)
    assert proc.returncode == 1 and "quant_format" in proc.stderr
    # Per-axis DequantizeLinear needs opset 13.
    old = mlp_model(1)
    old.opset_import[0].version = 12
    proc, dst = run_pass(old, tmp_path, "quant_format=QDQ", "per_channel=true", expect_ok=False)
    assert proc.returncode == 1 and "opset 13" in proc.stderr, proc.stderr
    # A Conv on a computed weight stays.
    model = conv_model(13)
    model.graph.node[0].input[1] = "Wc"
    model.graph.node.insert(0, helper.make_node("Identity", ["W"], ["Wc"], name="id"))
    ours = run_pass(model, tmp_path, "op_types_to_quantize=Conv")
    assert [n.op_type for n in ours.graph.node].count("Conv") == 1
