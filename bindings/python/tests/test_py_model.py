"""Model: loading, the summary checked against onnx's view of the same file, accessors,
validation, lifetimes."""

import collections
import os

import numpy as np
import pytest

from olive_py_support import (TensorProto, helper, mlp_model, numpy_helper, onnx,
                              require_libolive, write)

libolive = require_libolive()


@pytest.fixture
def mlp(tmp_path):
    proto = mlp_model()
    return write(proto, tmp_path / "src"), proto


def _onnx_dtype_name(elem_type):
    # onnx's own name (FLOAT, INT64, ...) in the lower-case form the summary uses.
    return TensorProto.DataType.Name(elem_type).lower()


def _onnx_shape(value_info):
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]


def test_load_gives_path_and_counts(mlp):
    path, proto = mlp
    with libolive.Model.load(path) as m:
        assert os.path.samefile(m.path, path)
        assert m.node_count == len(proto.graph.node)
        assert m.initializer_count == len(proto.graph.initializer)
        expected = sum(numpy_helper.to_array(t).size for t in proto.graph.initializer)
        assert m.parameter_count == expected
        assert m.inputs == [i.name for i in proto.graph.input]
        assert m.outputs == [o.name for o in proto.graph.output]
        assert m.opset("") == proto.opset_import[0].version
        assert m.opset("ai.onnx") == proto.opset_import[0].version
        assert m.opset("com.microsoft") is None
        m.validate()


def test_load_accepts_pathlike_and_bytes(mlp):
    path, _ = mlp
    from pathlib import Path
    with libolive.Model.load(Path(path)) as a, libolive.Model.load(os.fsencode(path)) as b:
        assert a.node_count == b.node_count


def test_summary_matches_onnx(mlp):
    path, proto = mlp
    with libolive.Model.load(path) as m:
        s = m.summary()
    assert s["ir_version"] == proto.ir_version
    assert s["producer_name"] == proto.producer_name
    assert {(o["domain"], o["version"]) for o in s["opsets"]} == {("ai.onnx", 17)}
    for ours, theirs in ((s["inputs"], proto.graph.input), (s["outputs"], proto.graph.output)):
        assert [v["name"] for v in ours] == [v.name for v in theirs]
        for v, ref in zip(ours, theirs):
            assert v["dtype"] == _onnx_dtype_name(ref.type.tensor_type.elem_type)
            assert v["shape"] == _onnx_shape(ref)
    # Symbolic dimensions stay strings.
    assert s["inputs"][1]["shape"] == ["batch", "seq"]
    assert s["node_count"] == len(proto.graph.node)
    assert s["op_types"] == dict(collections.Counter(n.op_type for n in proto.graph.node))
    arrays = [(t.data_type, numpy_helper.to_array(t)) for t in proto.graph.initializer]
    assert s["initializer_count"] == len(arrays)
    assert s["parameter_count"] == sum(a.size for _, a in arrays)
    assert s["parameter_bytes"] == sum(a.nbytes for _, a in arrays)
    by_dtype = collections.defaultdict(lambda: {"elements": 0, "bytes": 0})
    for data_type, a in arrays:
        by_dtype[_onnx_dtype_name(data_type)]["elements"] += a.size
        by_dtype[_onnx_dtype_name(data_type)]["bytes"] += a.nbytes
    assert s["parameters_by_dtype"] == dict(by_dtype)


def test_summary_counts_nodes_of_subgraphs(tmp_path):
    then_graph = helper.make_graph([helper.make_node("Neg", ["x"], ["t"])], "then", [],
                                   [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    else_graph = helper.make_graph([helper.make_node("Abs", ["x"], ["e"])], "else", [],
                                   [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_graph, else_branch=else_graph)],
        "cond",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    with libolive.Model.load(write(proto, tmp_path)) as m:
        s = m.summary()
        assert m.node_count == 1
    assert s["op_types"] == {"If": 1, "Neg": 1, "Abs": 1}


def test_parameter_counts_per_dtype(tmp_path):
    tensors = [numpy_helper.from_array(np.zeros((3, 5), np.float16), "h"),
               numpy_helper.from_array(np.zeros(7, np.int8), "i"),
               numpy_helper.from_array(np.zeros((2, 2), np.float64), "d")]
    graph = helper.make_graph([helper.make_node("Identity", ["d"], ["y"])], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [2, 2])],
                              initializer=tensors)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with libolive.Model.load(write(proto, tmp_path)) as m:
        assert m.parameter_count == 15 + 7 + 4
        s = m.summary()
    assert s["parameters_by_dtype"]["float16"] == {"elements": 15, "bytes": 30}
    assert s["parameters_by_dtype"]["int8"] == {"elements": 7, "bytes": 7}
    assert s["parameters_by_dtype"]["double"] == {"elements": 4, "bytes": 32}


def test_validate_names_the_node_and_value(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["nowhere"], ["y"], name="lonely")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(proto)
    path = write(proto, tmp_path)
    try:
        m = libolive.Model.load(path)
    except libolive.FormatError as e:  # a loader may refuse it outright
        assert "nowhere" in e.message
        return
    with m:
        with pytest.raises(libolive.FormatError) as info:
            m.validate()
    assert "lonely" in info.value.message and "nowhere" in info.value.message


def test_closed_model_refuses_use(mlp):
    m = libolive.Model.load(mlp[0])
    m.close()
    m.close()  # twice is fine
    assert m.closed
    with pytest.raises(ValueError, match="closed"):
        m.summary()
    with pytest.raises(ValueError, match="closed"):
        m.node_count
    assert "closed" in repr(m)


def test_model_is_not_constructible_directly():
    with pytest.raises(TypeError):
        libolive.Model(None)


def test_context_manager_closes(mlp):
    with libolive.Model.load(mlp[0]) as m:
        assert not m.closed
    assert m.closed
