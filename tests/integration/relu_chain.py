"""A graph of many small nodes: x -> Relu -> Relu -> ... -> y, every node and value named.
test_graph_memory.py loads one and bench/graph_memory.py measures the same at 2 M nodes; this
module imports only onnx, so that the bench script can use it without onnxruntime."""

from onnx import GraphProto, TensorProto, helper


def relu_chain(nodes):
    """The model of a chain of `nodes` Relu nodes named relu_0 .. relu_<nodes - 1>."""
    graph = GraphProto()
    graph.name = "chain"
    for i in range(nodes):
        n = graph.node.add()
        n.op_type = "Relu"
        n.name = f"relu_{i}"
        n.input.append("x" if i == 0 else f"t{i - 1}")
        n.output.append("y" if i == nodes - 1 else f"t{i}")
    graph.input.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]))
    graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, [4]))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
