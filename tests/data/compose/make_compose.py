"""Fixtures for the compose_onnx_models pass, and Olive's ComposeOnnxModels output for them.

Three small models chained in order (built with onnx.helper):
  a.onnx: x -> h (read by b) and a_side (read by no one); holds W_shared and the quantized
          weight qW with its DequantizeLinear "dq_shared"
  b.onnx: reads h and x (a's input), adds the input mask; holds the same W_shared, qW and an
          identical "dq_shared" node; y (read by c) and b_side (read by no one)
  c.onnx: reads y; z and z_sig
Olive composes them into olive_composed.onnx (its CompositeModelHandler of the three).

Needs Olive (olive-ai 0.13 with its dependencies, as in an environment with torch):
  $TORCHPY tests/data/compose/make_compose.py   (see tests/data/README.md)
It rewrites the four .onnx files here; the test only reads them."""

import os
import shutil
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = [helper.make_opsetid("", 17)]


def shared_initializers():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 4)).astype(np.float32)
    qw = rng.integers(-8, 8, (4, 4)).astype(np.int8)
    return [
        numpy_helper.from_array(w, "W_shared"),
        numpy_helper.from_array(qw, "qW"),
        numpy_helper.from_array(np.array(0.125, np.float32), "qW_scale"),
        numpy_helper.from_array(np.array(1, np.int8), "qW_zp"),
    ]


def dq_shared():
    return helper.make_node("DequantizeLinear", ["qW", "qW_scale", "qW_zp"], ["Wdq"], name="dq_shared")


def vi(name, shape=(2, 4)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def model(name, nodes, inputs, outputs, inits, value_info=()):
    g = helper.make_graph(nodes, name, inputs, outputs, inits, value_info=list(value_info))
    m = helper.make_model(g, opset_imports=OPSET, producer_name="make_compose")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def build():
    a = model("a", [
        dq_shared(),
        helper.make_node("MatMul", ["x", "W_shared"], ["a_mm"], name="a_matmul"),
        helper.make_node("MatMul", ["a_mm", "Wdq"], ["h"], name="a_matmul2"),
        helper.make_node("Relu", ["a_mm"], ["a_side"], name="a_relu"),
    ], [vi("x")], [vi("h"), vi("a_side")], shared_initializers(), [vi("a_mm")])
    b = model("b", [
        dq_shared(),
        helper.make_node("MatMul", ["h", "Wdq"], ["b_mm"], name="b_matmul"),
        helper.make_node("MatMul", ["x", "W_shared"], ["b_xw"], name="b_matmul_x"),
        helper.make_node("Add", ["b_mm", "b_xw"], ["b_sum"], name="b_add"),
        helper.make_node("Mul", ["b_sum", "mask"], ["y"], name="b_mul"),
        helper.make_node("Tanh", ["b_sum"], ["b_side"], name="b_tanh"),
    ], [vi("h"), vi("x"), vi("mask")], [vi("y"), vi("b_side")], shared_initializers(), [vi("b_mm"), vi("b_sum")])
    bias = numpy_helper.from_array(np.array([0.5, -0.25, 1.0, 2.0], np.float32), "c_bias")
    c = model("c", [
        helper.make_node("Add", ["y", "c_bias"], ["z"], name="c_add"),
        helper.make_node("Sigmoid", ["z"], ["z_sig"], name="c_sig"),
    ], [vi("y")], [vi("z"), vi("z_sig")], [bias])
    return {"a": a, "b": b, "c": c}


def main():
    from olive.model import CompositeModelHandler, ONNXModelHandler
    from olive.passes.olive_pass import create_pass_from_dict
    from olive.passes.onnx.compose import ComposeOnnxModels

    paths = []
    for name, m in build().items():
        path = os.path.join(HERE, f"{name}.onnx")
        onnx.save(m, path)
        paths.append(path)
    composite = CompositeModelHandler([ONNXModelHandler(p) for p in paths], ["a", "b", "c"])
    p = create_pass_from_dict(ComposeOnnxModels, {}, disable_search=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = p.run(composite, os.path.join(tmp, "composed"))
        shutil.copyfile(out.model_path, os.path.join(HERE, "olive_composed.onnx"))


if __name__ == "__main__":
    main()
