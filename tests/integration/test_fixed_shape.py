"""The dynamic_to_fixed_shape pass (Olive's DynamicToFixedShape) against Olive's own functions
(olive.passes.onnx.common.fix_dim_params / fix_input_shapes, which call onnxruntime's
make_dim_param_fixed / make_input_shape_fixed): the same input, output and value_info shapes,
and the result runs in onnxruntime with the fixed shapes. Bad parameters fail with a clear
message and write nothing."""

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
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")
F = TensorProto.FLOAT


def model(mask_last=-1):
    """-1: a converter's "dynamic" dimension value, which input_shape clears first."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "mask"], ["y"], name="add")]
    g = helper.make_graph(nodes, "g", [vi("x", F, ["batch", "seq", 4]), vi("mask", F, ["batch", "seq", mask_last])],
                          [vi("y", F, ["batch", "seq", 3])], [init("w", rand([4, 3], 1))],
                          value_info=[vi("h", F, ["batch", "seq", 3])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def run(m, tmp_path, *params):
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(m, str(src))
    if dst.exists():
        dst.unlink()
    return subprocess.run([TOOL, "DynamicToFixedShape", str(src), str(dst), *params], capture_output=True, text=True,
                          timeout=60), dst


def shapes(m):
    def dims(v):
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in v.type.tensor_type.shape.dim]
    return ([dims(v) for v in m.graph.input], [dims(v) for v in m.graph.output], [dims(v) for v in m.graph.value_info])




@pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed")
def test_dim_params(tmp_path):
    from olive.passes.onnx.common import fix_dim_params  # noqa: PLC0415 - imported with Olive above
    m = model(3)
    proc, dst = run(m, tmp_path, "dim_param=batch,seq", "dim_value=2,5")
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    theirs = onnx.ModelProto()
    theirs.CopyFrom(m)
    fix_dim_params(theirs, ["batch", "seq"], [2, 5])
    assert shapes(ours) == shapes(theirs)
    assert shapes(ours)[0] == [[2, 5, 4], [2, 5, 3]]
    res = run_ort(ours, {"x": rand([2, 5, 4], 2), "mask": rand([2, 5, 3], 3)})
    assert res["y"].shape == (2, 5, 3)


@pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed")
def test_input_shapes(tmp_path):
    from olive.passes.onnx.common import fix_input_shapes  # noqa: PLC0415
    m = model()
    proc, dst = run(m, tmp_path, "input_name=x,mask", 'input_shape="[[1, 7, 4], [1, 7, 3]]"')
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    theirs = onnx.ModelProto()
    theirs.CopyFrom(m)
    fix_input_shapes(theirs, ["x", "mask"], [[1, 7, 4], [1, 7, 3]])
    assert shapes(ours) == shapes(theirs)
    assert shapes(ours)[1] == [[1, 7, 3]]


@pytest.mark.parametrize("params,words", [
    (["dim_param=batch"], ["dim_param", "dim_value"]),
    (["dim_param=batch", "dim_value=-1"], ["dim_value", ">= 0"]),
    (["dim_param=batch", "dim_value=2", "input_name=x", 'input_shape="[[1,2,4]]"'], ["not both"]),
    ([], ["dim_param", "input_name"]),
    (["input_name=nope", 'input_shape="[[1]]"'], ["'nope'", "not a graph input"]),
    (["input_name=x", 'input_shape="[[1, 2]]"'], ["'x'", "3 sizes"]),
    (["input_name=x", 'input_shape="[[1, 2, 5]]"'], ["'x'", "fixed at 4"]),
    (["input_name=x", 'input_shape="[[1, 0, 4]]"'], ["> 0"]),
])
def test_bad_parameters(tmp_path, params, words):
    proc, dst = run(model(), tmp_path, *params)
    assert proc.returncode != 0 and not dst.exists()
    for w in words:
        assert w in proc.stderr, proc.stderr
