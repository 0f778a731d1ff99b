"""The opset_conversion pass (Olive's OnnxOpVersionConversion) against the converter Olive falls
back to for these models (onnx.version_converter): the same ops with the same inputs and
attributes (Reduce* axes as inputs from opset 18), the opset and IR version raised, and the same
onnxruntime outputs as the original. Conversions it cannot do are refused, naming the node,
and write nothing."""

import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper, version_converter  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from test_surgeries import assert_runs_alike, init, rand, vi  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")
F = TensorProto.FLOAT


def model(opset=17, extra=()):
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], name="mean", axes=[-1]),
             helper.make_node("Sub", ["x", "m"], ["c"], name="sub"),
             helper.make_node("ReduceMax", ["c"], ["mx"], name="max", axes=[1], keepdims=0),
             helper.make_node("Softmax", ["c"], ["s"], name="softmax", axis=-1),
             helper.make_node("Squeeze", ["m", "ax"], ["sq"], name="squeeze"),
             helper.make_node("Add", ["sq", "mx"], ["y"], name="add"), *extra]
    g = helper.make_graph(nodes, "g", [vi("x", F, [3, 4])], [vi("y", F, [3]), vi("s", F, [3, 4])],
                          [init("ax", np.array([1], np.int64))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def run(m, tmp_path, *params):
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(m, str(src))
    if dst.exists():
        dst.unlink()
    return subprocess.run([TOOL, "OnnxOpVersionConversion", str(src), str(dst), *params], capture_output=True,
                          text=True, timeout=60), dst


def structure(m):
    """Ops with their attributes and their inputs' constant values (names differ)."""
    inits = {i.name: numpy_helper.to_array(i).tolist() for i in m.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(helper.get_attribute_value(n.attribute[0])).tolist()
              for n in m.graph.node if n.op_type == "Constant"}
    return sorted((n.op_type, tuple(inits.get(i, consts.get(i, i)) for i in n.input), tuple(n.output),
                   tuple(sorted((a.name, str(helper.get_attribute_value(a))) for a in n.attribute)))
                  for n in m.graph.node if n.op_type != "Constant")


@pytest.mark.parametrize("target", [18, 21, 23])
def test_like_onnx_version_converter(tmp_path, target):
    m = model()
    proc, dst = run(m, tmp_path, f"target_opset={target}")
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    onnx.checker.check_model(ours, full_check=True)
    ref = version_converter.convert_version(m, target)
    assert structure(ours) == structure(ref)
    assert ours.opset_import[0].version == target and ours.ir_version >= {18: 8, 21: 10, 23: 11}[target]
    assert_runs_alike(ours, m, {"x": rand([3, 4], 1)})


def test_same_opset_unchanged(tmp_path):
    proc, dst = run(model(18), tmp_path, "target_opset=18")
    assert proc.returncode == 0, proc.stderr
    assert structure(onnx.load(str(dst))) == structure(model(18))


@pytest.mark.parametrize("opset,target,extra,words", [
    (17, 16, (), ["below the model's opset 17"]),
    (11, 17, (), ["below 13"]),
    (17, 26, (), ["target_opset"]),
    (20, 21, (helper.make_node("GroupNormalization", ["g4", "gs", "gb"], ["gn"], name="gnorm", num_groups=2),),
     ["GroupNormalization", "'gnorm'"]),
])
def test_refused(tmp_path, opset, target, extra, words):
    m = model(opset, extra)
    if extra:
        m.graph.input.extend([vi("g4", F, [1, 4, 2, 2]), vi("gs", F, [2]), vi("gb", F, [2])])
        m.graph.output.append(vi("gn", F, [1, 4, 2, 2]))
    proc, dst = run(m, tmp_path, f"target_opset={target}")
    assert proc.returncode != 0 and not dst.exists()
    for w in words:
        assert w in proc.stderr, proc.stderr
