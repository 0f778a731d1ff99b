"""The quantize_dynamic pass, run through $OLIVE_APPLY_PASS, against onnxruntime's own
quantize_dynamic on MatMul models built with onnx.helper. For every quantized MatMul the int8 /
uint8 weight, its scale and its zero point must be byte-identical to onnxruntime's; both
quantized models run in onnxruntime, give the same outputs, and stay close to the float32
model."""

import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, cosine, ort_quantize_dynamic, session  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

F = TensorProto.FLOAT


def weight(rng, k, n, outliers=True):
    w = rng.standard_normal((k, n)).astype(np.float32) * 0.05
    if outliers:  # a few large weights, as real layers have; they set per-tensor ranges
        idx = rng.choice(k * n, size=max(1, k * n // 200), replace=False)
        w.flat[idx] = rng.standard_normal(idx.size).astype(np.float32) * 0.6
    return w


def make_model(nodes, inputs, outputs, weights, opset=17):
    inits = [numpy_helper.from_array(w, name) for name, w in weights.items()]
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def mlp(rng, batch_shape, dims):
    """X [*batch, dims[0]] through MatMuls W0..Wn (a Relu between them); X also feeds a second
    MatMul with the first weight, so an activation and a weight are each shared."""
    nodes, weights = [], {}
    x = "X"
    for i, (k, n) in enumerate(zip(dims, dims[1:])):
        weights[f"W{i}"] = weight(rng, k, n)
        nodes.append(helper.make_node("MatMul", [x, f"W{i}"], [f"H{i}"], name=f"mm{i}"))
        if i < len(dims) - 2:
            nodes.append(helper.make_node("Relu", [f"H{i}"], [f"R{i}"], name=f"relu{i}"))
            x = f"R{i}"
    last = f"H{len(dims) - 2}"
    nodes.append(helper.make_node("MatMul", ["X", "W0"], ["S"], name="shared"))
    inputs = [helper.make_tensor_value_info("X", F, [*batch_shape, dims[0]])]
    outputs = [helper.make_tensor_value_info(last, F, [*batch_shape, dims[-1]]),
               helper.make_tensor_value_info("S", F, [*batch_shape, dims[1]])]
    return make_model(nodes, inputs, outputs, weights)


def run_pass(model, tmp_path, *params, expect_ok=True):
    return apply_pass("quantize_dynamic", model, tmp_path, *params, expect_ok=expect_ok, full_check=True)


def ort_quantize(model, tmp_path, **kw):
    return ort_quantize_dynamic(model, tmp_path, ["MatMul"], **kw)


def quantized_matmuls(model):
    """Original output name -> (weight codes, weight scale, weight zero point), traced from the
    Mul that writes the output back through Cast and MatMulInteger."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    found = {}
    for n in model.graph.node:
        if n.op_type != "Mul" or n.input[0] not in producer or producer[n.input[0]].op_type != "Cast":
            continue
        cast = producer[n.input[0]]
        mmi = producer[cast.input[0]]
        scales = producer[n.input[1]]
        assert mmi.op_type == "MatMulInteger" and scales.op_type == "Mul"
        dql = producer[mmi.input[0]]
        assert dql.op_type == "DynamicQuantizeLinear"
        assert list(mmi.input[2:3]) == [dql.output[2]] and list(scales.input[:1]) == [dql.output[1]]
        found[n.output[0]] = (inits[mmi.input[1]], inits[scales.input[1]], inits[mmi.input[3]])
    return found


SETTINGS = [
    ({}, {}),
    ({"per_channel": True}, {"per_channel": "true"}),
    ({"reduce_range": True}, {"reduce_range": "true"}),
    ({"weight_type": "QUInt8"}, {"weight_type": "QUInt8"}),
    ({"weight_type": "QUInt8", "per_channel": True, "reduce_range": True},
     {"weight_type": "QUInt8", "per_channel": "true", "reduce_range": "true"}),
    ({"per_channel": True, "reduce_range": True}, {"per_channel": "true", "reduce_range": "true"}),
]


@pytest.mark.parametrize("batch_shape,dims", [([4], [64, 48, 10]), ([2, 3], [33, 17, 5, 9]), ([1], [256, 128])])
@pytest.mark.parametrize("ort_kw,params", SETTINGS)
def test_matches_onnxruntime(tmp_path, batch_shape, dims, ort_kw, params):
    rng = np.random.default_rng(sum(dims) + len(params))
    model = mlp(rng, batch_shape, dims)
    ref = ort_quantize(model, tmp_path, **ort_kw)
    ours = run_pass(model, tmp_path, *[f"{k}={v}" for k, v in params.items()])

    mine, theirs = quantized_matmuls(ours), quantized_matmuls(ref)
    assert sorted(mine) == sorted(theirs) and len(mine) == len(dims)
    for out, (a, b) in ((o, (mine[o], theirs[o])) for o in mine):
        for what, x, y in zip(("weight", "scale", "zero point"), a, b):
            assert x.dtype == y.dtype and x.shape == y.shape, f"{out} {what}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
            assert x.tobytes() == y.tobytes(), f"{out} {what} differs from onnxruntime's"
    # The float weights are gone, the shared ones quantized once.
    left = {t.name for t in ours.graph.initializer} & {t.name for t in model.graph.initializer}
    assert not left, f"float weights left: {sorted(left)}"
    assert sum(n.op_type == "DynamicQuantizeLinear" for n in ours.graph.node) == len(dims) - 1

    x = (rng.standard_normal([*batch_shape, dims[0]]) * 2).astype(np.float32)
    fp32 = session(model).run(None, {"X": x})
    got = session(ours).run(None, {"X": x})
    want = session(ref).run(None, {"X": x})
    for f, g, w in zip(fp32, got, want):
        diff = float(np.max(np.abs(g - w)))
        assert diff <= 1e-5 * max(1.0, float(np.max(np.abs(w)))), f"max abs diff to onnxruntime's model: {diff}"
        assert cosine(g, f) > 0.99, f"cosine similarity to float32 only {cosine(g, f)}"


def gemm_model(rng):
    """Gemms as onnxruntime rewrites them (transB 0 and 1, with and without C, named and
    unnamed), one whose weight a MatMul also reads, and one with alpha != 1 that stays."""
    w0, w1, w2, w3 = weight(rng, 24, 16), weight(rng, 12, 16), weight(rng, 12, 8), weight(rng, 12, 8)
    c1 = rng.standard_normal(12).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["X", "W0"], ["G0"], name="g0"),
        helper.make_node("Gemm", ["G0", "W1", "C1"], ["G1"], name="g1", transB=1),
        helper.make_node("Gemm", ["G1", "W2"], ["G2"], transB=0),
        helper.make_node("Gemm", ["G0", "W1"], ["G3"], transB=1),
        helper.make_node("MatMul", ["X2", "W1"], ["M"], name="mm"),
        helper.make_node("Gemm", ["G1", "W3", "C2"], ["G4"], name="scaled", alpha=0.5),
    ]
    inputs = [helper.make_tensor_value_info("X", F, [5, 24]), helper.make_tensor_value_info("X2", F, [5, 12])]
    outputs = [helper.make_tensor_value_info(n, F, [5, d]) for n, d in (("G2", 8), ("G3", 12), ("M", 16), ("G4", 8))]
    c2 = rng.standard_normal(8).astype(np.float32)
    return make_model(nodes, inputs, outputs, {"W0": w0, "W1": w1, "W2": w2, "W3": w3, "C1": c1, "C2": c2})


@pytest.mark.parametrize("ort_kw,params", SETTINGS)
def test_gemm_matches_onnxruntime(tmp_path, ort_kw, params):
    rng = np.random.default_rng(7 + len(params))
    model = gemm_model(rng)
    ref = ort_quantize(model, tmp_path, **ort_kw)
    ours = run_pass(model, tmp_path, *[f"{k}={v}" for k, v in params.items()])
    mine, theirs = quantized_matmuls(ours), quantized_matmuls(ref)
    assert sorted(mine) == sorted(theirs) and len(mine) == 5, (sorted(mine), sorted(theirs))
    for out in mine:
        for what, x, y in zip(("weight", "scale", "zero point"), mine[out], theirs[out]):
            assert x.dtype == y.dtype and x.shape == y.shape, f"{out} {what}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
            assert x.tobytes() == y.tobytes(), f"{out} {what} differs from onnxruntime's"
    assert [n.op_type for n in ours.graph.node].count("Gemm") == 1
    assert [n.op_type for n in ours.graph.node].count("Add") == 1
    feeds = {"X": rng.standard_normal((5, 24)).astype(np.float32),
             "X2": rng.standard_normal((5, 12)).astype(np.float32)}
    fp32, got, want = (session(m).run(None, feeds) for m in (model, ours, ref))
    for f, g, w in zip(fp32, got, want):
        diff = float(np.max(np.abs(g - w)))
        assert diff <= 1e-5 * max(1.0, float(np.max(np.abs(w)))), f"max abs diff to onnxruntime's model: {diff}"
        assert cosine(g, f) > 0.99, f"cosine similarity to float32 only {cosine(g, f)}"


def single(k=16, n=8, opset=17, w=None, name="mm"):
    w = weight(np.random.default_rng(0), k, n) if w is None else w
    node = helper.make_node("MatMul", ["X", "W"], ["Y"], name=name)
    return make_model([node], [helper.make_tensor_value_info("X", F, [2, w.shape[0]])],
                      [helper.make_tensor_value_info("Y", F, [2, w.shape[1]])], {"W": w}, opset=opset)


def ops(model):
    return [n.op_type for n in model.graph.node]


def test_selection(tmp_path):
    model = single()
    assert ops(run_pass(model, tmp_path, "nodes_to_exclude=mm")) == ["MatMul"]
    assert ops(run_pass(model, tmp_path, "nodes_to_include=other")) == ["MatMul"]
    assert ops(run_pass(model, tmp_path, "op_types_to_quantize=Gemm")) == ["MatMul"]
    assert "MatMulInteger" in ops(run_pass(model, tmp_path, "nodes_to_include=mm"))


def test_gemm_selection_as_onnxruntime(tmp_path):
    """A Gemm is selected under the name onnxruntime gives its MatMul: '<gemm>_MatMul'."""
    model = gemm_model(np.random.default_rng(5))
    for ort_kw, params in (({"nodes_to_exclude": ["g1_MatMul"]}, ["nodes_to_exclude=g1_MatMul"]),
                           ({"nodes_to_quantize": ["g0_MatMul", "mm"]}, ["nodes_to_include=g0_MatMul,mm"])):
        ours = quantized_matmuls(run_pass(model, tmp_path, *params))
        theirs = quantized_matmuls(ort_quantize(model, tmp_path, **ort_kw))
        assert sorted(ours) == sorted(theirs) and 2 <= len(ours) < 5, (sorted(ours), sorted(theirs))


def test_alias_and_all_zero_weight(tmp_path):
    """An all-zero weight gets scale 1 and zero point 0, as in onnxruntime; the alias finds the pass."""
    model = single(w=np.zeros((8, 4), np.float32))
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(model, str(src))
    proc = subprocess.run([TOOL, "OnnxDynamicQuantization", str(src), str(dst)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ours = quantized_matmuls(onnx.load(str(dst)))["Y"]
    theirs = quantized_matmuls(ort_quantize(model, tmp_path))["Y"]
    for x, y in zip(ours, theirs):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    assert float(ours[1]) == 1.0 and int(ours[2]) == 0


def test_weight_shared_with_unquantized_node(tmp_path):
    """A node left in float keeps reading the float weight, bit for bit. (onnxruntime feeds
    it DequantizeLinear of the quantized weight instead, when it comes after the MatMul.)"""
    w = weight(np.random.default_rng(3), 16, 8)
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm"),
             helper.make_node("MatMul", ["X", "W"], ["Z"], name="kept")]
    model = make_model(nodes, [helper.make_tensor_value_info("X", F, [2, 16])],
                       [helper.make_tensor_value_info(n, F, [2, 8]) for n in ("Y", "Z")], {"W": w})
    ours = run_pass(model, tmp_path, "nodes_to_exclude=kept")
    kept = [n for n in ours.graph.node if n.name == "kept"]
    assert len(kept) == 1 and kept[0].op_type == "MatMul"
    inits = {t.name: numpy_helper.to_array(t) for t in ours.graph.initializer}
    assert inits["W"].tobytes() == w.tobytes()
    assert "Y" in quantized_matmuls(ours)
    x = np.random.default_rng(4).standard_normal((2, 16)).astype(np.float32)
    z = session(ours).run(["Z"], {"X": x})[0]
    assert np.array_equal(z, session(model).run(["Z"], {"X": x})[0])


def test_non_constant_weight_stays(tmp_path):
    node = helper.make_node("MatMul", ["X", "B"], ["Y"], name="mm")
    model = make_model([node], [helper.make_tensor_value_info("X", F, [2, 4]),
                                helper.make_tensor_value_info("B", F, [4, 3])],
                       [helper.make_tensor_value_info("Y", F, [2, 3])], {})
    assert ops(run_pass(model, tmp_path)) == ["MatMul"]


def test_errors(tmp_path):
    w = weight(np.random.default_rng(1), 8, 4)
    w[3, 2] = np.nan
    proc, dst = run_pass(single(w=w), tmp_path, expect_ok=False)
    assert proc.returncode != 0 and "'W'" in proc.stderr and "[3, 2]" in proc.stderr
    assert not dst.exists()
    proc, _ = run_pass(single(opset=10), tmp_path, expect_ok=False)
    assert proc.returncode != 0 and "opset 11" in proc.stderr
    proc, _ = run_pass(single(), tmp_path, "weight_type=QInt4", expect_ok=False)
    assert proc.returncode != 0 and "weight_type" in proc.stderr
