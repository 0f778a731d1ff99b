"""Shared helpers of the binding's tests: the library (or a skip), small ONNX models built with
onnx.helper, and onnxruntime runs to compare models by their outputs."""

import os

import numpy as np
import pytest


def require_libolive():
    """Imports libolive, or skips the calling test module when no library was found."""
    if not os.environ.get("LIBOLIVE_LIBRARY"):
        pytest.skip("libolive shared library not found: set LIBOLIVE_LIBRARY or build one into "
                    "build*/lib/libolive.so", allow_module_level=True)
    import libolive
    return libolive


onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

OPSET = 17


def _model(graph, opset=OPSET):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="libolive-tests")
    model.ir_version = 8
    return model


def mlp_model(seed=0):
    """Two inputs (float [batch,4], int64 [batch,seq]), two outputs, float and int64
    initializers, and nodes a peephole optimizer removes (Identity, a transpose pair)."""
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((4, 8)).astype(np.float32)
    b1 = rng.standard_normal(8).astype(np.float32)
    w2 = rng.standard_normal((8, 3)).astype(np.float32)
    shape = np.array([-1, 3], dtype=np.int64)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="mm1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="add1"),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu"),
        helper.make_node("Transpose", ["h2"], ["t1"], name="tr1", perm=[1, 0]),
        helper.make_node("Transpose", ["t1"], ["t2"], name="tr2", perm=[1, 0]),
        helper.make_node("Identity", ["t2"], ["h3"], name="ident"),
        helper.make_node("MatMul", ["h3", "w2"], ["h4"], name="mm2"),
        helper.make_node("Reshape", ["h4", "shape"], ["y"], name="reshape"),
        helper.make_node("Cast", ["mask"], ["mask_f"], name="cast", to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes, "mlp",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
                helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "seq"])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3]),
                 helper.make_tensor_value_info("mask_f", TensorProto.FLOAT, ["batch", "seq"])],
        initializer=[numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
                     numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(shape, "shape")])
    model = _model(graph)
    onnx.checker.check_model(model, full_check=True)
    return model


def mlp_feeds(seed=1):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((5, 4)).astype(np.float32),
            "mask": rng.integers(0, 2, size=(5, 7)).astype(np.int64)}


def wide_model(width=64, seed=0):
    """One MatMul + Add with a width×width weight (16 KiB at 64): big enough for external data."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((width, width)).astype(np.float32)
    b = rng.standard_normal(width).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        "wide",
        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", width])],
        outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", width])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = _model(graph)
    onnx.checker.check_model(model, full_check=True)
    return model


def wide_feeds(width=64, seed=2):
    return {"x": np.random.default_rng(seed).standard_normal((3, width)).astype(np.float32)}


def write(model, folder, name="model.onnx"):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(str(folder), name)
    onnx.save(model, path)
    return path


def ort_outputs(path, feeds):
    """Runs the model file in onnxruntime (CPU) and returns its outputs by name."""
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def assert_same_outputs(reference_path, candidate_path, feeds, rtol=1e-5, atol=1e-6):
    expected = ort_outputs(reference_path, feeds)
    actual = ort_outputs(candidate_path, feeds)
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=rtol, atol=atol, err_msg=name)


def check_model_file(path):
    """onnx's full checker on a saved file (by path, so external data is followed)."""
    onnx.checker.check_model(str(path), full_check=True)


def tree(folder):
    """Relative paths of every file and folder under `folder`, sorted."""
    found = []
    for root, dirs, files in os.walk(str(folder)):
        for n in dirs + files:
            found.append(os.path.relpath(os.path.join(root, n), str(folder)))
    return sorted(found)
