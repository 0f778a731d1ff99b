"""The add_metadata pass (Olive's AddOliveMetadata) against Olive's own methods that write the
graph name and metadata_props: the same entries in the same order, existing ones kept or
replaced; the model still runs. A missing graph_name or bad custom_metadata fails, writing
nothing."""

import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from test_surgeries import OLIVE, run_ort, vi  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")


def model():
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [vi("x", TensorProto.FLOAT, [2])],
                          [vi("y", TensorProto.FLOAT, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    helper.set_model_props(m, {"keep": "me", "a": "old"})
    return m


def run(m, tmp_path, *params):
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(m, str(src))
    return subprocess.run([TOOL, "AddOliveMetadata", str(src), str(dst), *params], capture_output=True, text=True,
                          timeout=60), dst


@pytest.mark.skipif(OLIVE is None, reason="olive-ai is not installed")
def test_metadata_like_olive(tmp_path):
    from olive.passes.onnx.add_metadata import AddOliveMetadata  # noqa: PLC0415 - loaded with Olive
    m = model()
    proc, dst = run(m, tmp_path, "graph_name=main_graph", 'custom_metadata="{\\"a\\": \\"new\\", \\"n\\": 3}"')
    assert proc.returncode == 0, proc.stderr
    ours = onnx.load(str(dst))
    version = next(p.value for p in ours.metadata_props if p.key == "olive_version")
    assert version.startswith("libolive ")
    theirs = onnx.ModelProto()
    theirs.CopyFrom(m)
    theirs = AddOliveMetadata._add_metadata(None, theirs, {"a": "new", "n": "3", "olive_version": version})
    theirs = AddOliveMetadata._set_graph_name(None, theirs, "main_graph")
    assert [(p.key, p.value) for p in ours.metadata_props] == [(p.key, p.value) for p in theirs.metadata_props]
    assert ours.graph.name == "main_graph"
    x = np.array([-1.0, 2.0], np.float32)
    np.testing.assert_array_equal(run_ort(ours, {"x": x})["y"], [0.0, 2.0])


@pytest.mark.parametrize("params,words", [([], ["graph_name", "required"]),
                                          (["graph_name=g", "custom_metadata=[1]"], ["custom_metadata", "object"])])
def test_bad_parameters(tmp_path, params, words):
    proc, dst = run(model(), tmp_path, *params)
    assert proc.returncode != 0 and not dst.exists()
    for w in words:
        assert w in proc.stderr, proc.stderr
