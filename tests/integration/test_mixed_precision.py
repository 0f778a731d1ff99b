"""The mixed_precision pass (Olive's OrtMixedPrecision) against Olive's own pass on the same
small decoder-like models: the LM head kept in float32 when float16 changes its weights, forced to
float16 when it does not. The conversion is the float16 pass's (the converter of Olive's
OnnxFloatToFloat16), whose Casts onnxruntime.transformers' converter, which Olive's
OrtMixedPrecision calls, names and places differently: so the comparison is of the decisions (the
same nodes besides Casts, each initializer and graph output of the same type) and of onnxruntime's
outputs, within float16 precision of the float32 model's."""

import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from test_surgeries import OLIVE, init, rand, run_ort, vi  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = [pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)"),
              pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed")]
F = TensorProto.FLOAT


def model(exact_head):
    head = rand([8, 16], 3)
    if exact_head:
        head = head.astype(np.float16).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="/fc/MatMul"),
             helper.make_node("Add", ["h", "b1"], ["a"], name="/fc/Add"),
             helper.make_node("Relu", ["a"], ["r"], name="/act/Relu"),
             helper.make_node("MatMul", ["r", "lm"], ["logits"], name="/lm_head/MatMul")]
    g = helper.make_graph(nodes, "g", [vi("x", F, [2, 8])], [vi("logits", F, [2, 16])],
                          [init("w1", rand([8, 8], 1)), init("b1", rand([8], 2)), init("lm", head)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def olive_run(m, tmp_path):
    from olive.hardware.accelerator import AcceleratorSpec  # noqa: PLC0415 - loaded with Olive
    from olive.model import ONNXModelHandler  # noqa: PLC0415
    from olive.passes.olive_pass import create_pass_from_dict  # noqa: PLC0415
    from olive.passes.onnx.mixed_precision import OrtMixedPrecision  # noqa: PLC0415
    src = tmp_path / "olive_in.onnx"
    onnx.save(m, str(src))
    p = create_pass_from_dict(OrtMixedPrecision, {}, disable_search=True,
                              accelerator_spec=AcceleratorSpec("cpu", "CPUExecutionProvider"))
    return onnx.load(str(p.run(ONNXModelHandler(model_path=str(src)), str(tmp_path / "olive_out")).model_path))


@pytest.mark.parametrize("exact_head", [False, True])
def test_like_olive(tmp_path, exact_head):
    m = model(exact_head)
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(m, str(src))
    proc = subprocess.run([TOOL, "OrtMixedPrecision", str(src), str(dst)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    theirs = olive_run(m, tmp_path)

    def decisions(x):
        return (sorted((n.op_type, n.name) for n in x.graph.node if n.op_type != "Cast"),
                {i.name: i.data_type for i in x.graph.initializer if i.name in ("w1", "b1", "lm")},
                [(o.name, o.type.tensor_type.elem_type) for o in x.graph.output])
    assert decisions(ours) == decisions(theirs)
    lm = next(i for i in ours.graph.initializer if i.name == "lm")
    assert lm.data_type == (TensorProto.FLOAT16 if exact_head else F)
    x = rand([2, 8], 4)
    assert ours.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16  # as in Olive's
    np.testing.assert_allclose(run_ort(ours, {"x": x.astype(np.float16)})["logits"].astype(np.float32),
                               run_ort(m, {"x": x})["logits"], rtol=2e-2, atol=2e-2)
