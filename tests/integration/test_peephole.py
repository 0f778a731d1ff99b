"""The peephole pass, run through $OLIVE_APPLY_PASS on models built with onnx.helper and on the
ONNX test data models (simple, pytorch-converted, pytorch-operator and the per-op node tests). Each result must pass onnx.checker, have the expected ops removed or
kept (counted by op type), and give the same onnxruntime outputs as the original: exactly for
integer math, within 1e-6 relative for floats. The test data models are also checked against
the outputs bundled with them."""

import collections
import glob
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from olive_testlib import apply_pass, const, make_model, vi  # noqa: E402

TOOL = os.environ.get("OLIVE_APPLY_PASS")
TESTDATA = "/usr/share/libonnx-testdata/data"

pytestmark = pytest.mark.skipif(not TOOL, reason="OLIVE_APPLY_PASS is not set (run through meson test)")

F = TensorProto.FLOAT
I64 = TensorProto.INT64
I32 = TensorProto.INT32


# ---- helpers ----

def checker_level(model):
    """2: passes full_check, 1: passes the plain check, 0: fails."""
    for level, full in ((2, True), (1, False)):
        try:
            onnx.checker.check_model(model, full_check=full)
            return level
        except Exception:  # noqa: BLE001 - any checker complaint
            pass
    return 0


def run_pass(model, tmp_path, *params, expect_ok=True, check=True):
    r = apply_pass("peephole", model, tmp_path, *params, expect_ok=expect_ok, timeout=300, full_check=True, check=check)
    return r if expect_ok else r[0]


def op_counts(graph):
    """Op types of a graph and all its subgraphs."""
    counts = collections.Counter()
    for n in graph.node:
        counts[n.op_type] += 1
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                counts.update(op_counts(a.g))
            for g in a.graphs:
                counts.update(op_counts(g))
    return counts


NP_TYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64}


def random_feeds(model, dims=None, seed=0):
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else (dims or {}).get(d.dim_param, 3)
                 for d in tt.shape.dim]
        dtype = NP_TYPES[tt.elem_type]
        if np.issubdtype(dtype, np.floating):
            feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[inp.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feeds[inp.name] = rng.integers(-50, 50, shape).astype(dtype)
    return feeds


def ort_run(model, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    # Our pass must stand on its own: onnxruntime's own rewrites would hide its mistakes.
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds)))


def assert_same(expected, got):
    assert list(expected) == list(got), f"output names changed: {list(expected)} -> {list(got)}"
    for name in expected:
        a, b = np.asarray(expected[name]), np.asarray(got[name])
        assert a.dtype == b.dtype and a.shape == b.shape, f"{name}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        if np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(b, a, err_msg=name)


def check_equivalent(orig, out, dims=None, seeds=(0, 1)):
    for seed in seeds:
        feeds = random_feeds(orig, dims, seed)
        assert_same(ort_run(orig, feeds), ort_run(out, feeds))


def output_names(model):
    return [o.name for o in model.graph.output]


# ---- no-op nodes ----

def test_identity_removed_output_names_kept(tmp_path):
    m = make_model([
        helper.make_node("Identity", ["x"], ["a"]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Identity", ["b"], ["c"]),
        helper.make_node("Identity", ["c"], ["y"]),
    ], [vi("x", F, ["n", 4])], [vi("y", F, ["n", 4])])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Relu": 1}
    assert output_names(out) == ["y"]
    assert out.graph.node[0].output[0] == "y"
    check_equivalent(m, out)


def test_identity_between_input_and_output_stays(tmp_path):
    # y = Identity(x) where x is a graph input and y a graph output: neither name may change.
    m = make_model([helper.make_node("Identity", ["x"], ["y"])], [vi("x", F, [2])], [vi("y", F, [2])])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Identity": 1}
    check_equivalent(m, out)


def test_identity_feeding_two_outputs(tmp_path):
    m = make_model([
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Identity", ["r"], ["y1"]),
        helper.make_node("Identity", ["r"], ["y2"]),
    ], [vi("x", F, [3])], [vi("y1", F, [3]), vi("y2", F, [3])])
    out = run_pass(m, tmp_path)
    # One Identity goes (its producer takes the output's name); the other must stay.
    assert op_counts(out.graph) == {"Relu": 1, "Identity": 1}
    assert output_names(out) == ["y1", "y2"]
    check_equivalent(m, out)


def test_dropout_removed_in_inference(tmp_path):
    m = make_model([
        helper.make_node("Dropout", ["x", "ratio"], ["a"]),
        helper.make_node("Relu", ["a"], ["y"]),
    ], [vi("x", F, [2, 3])], [vi("y", F, [2, 3])], [const("ratio", np.float32(0.3))], opset=13)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Relu": 1}
    assert not out.graph.initializer  # the ratio is no longer read
    check_equivalent(m, out)


def test_dropout_with_used_mask_stays(tmp_path):
    m = make_model([
        helper.make_node("Dropout", ["x"], ["a", "mask"]),
        helper.make_node("Cast", ["mask"], ["m"], to=F),
        helper.make_node("Add", ["a", "m"], ["y"]),
    ], [vi("x", F, [2, 3])], [vi("y", F, [2, 3])], opset=13)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph)["Dropout"] == 1
    check_equivalent(m, out)


def test_dropout_in_training_mode_stays(tmp_path):
    m = make_model([helper.make_node("Dropout", ["x", "ratio", "train"], ["y"])],
                   [vi("x", F, [2, 3])], [vi("y", F, [2, 3])],
                   [const("ratio", np.float32(0.5)), const("train", np.bool_(True))], opset=13)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Dropout": 1}


def test_dropout_with_runtime_training_mode_stays(tmp_path):
    m = make_model([helper.make_node("Dropout", ["x", "", "train"], ["y"])],
                   [vi("x", F, [2, 3]), vi("train", TensorProto.BOOL, [])], [vi("y", F, [2, 3])], opset=13)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Dropout": 1}
    feeds = {"x": np.ones((2, 3), np.float32), "train": np.array(False)}
    assert_same(ort_run(m, feeds), ort_run(out, feeds))


def test_dropout_opset_10_removed(tmp_path):
    m = make_model([
        helper.make_node("Dropout", ["x"], ["a", "unused_mask"], ratio=0.2),
        helper.make_node("Sigmoid", ["a"], ["y"]),
    ], [vi("x", F, [4])], [vi("y", F, [4])], opset=10)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Sigmoid": 1}
    check_equivalent(m, out)


def test_cast_to_same_type_removed(tmp_path):
    m = make_model([
        helper.make_node("Cast", ["x"], ["a"], to=F),          # x is float: no-op
        helper.make_node("Cast", ["a"], ["b"], to=I64),        # real conversion
        helper.make_node("Cast", ["b"], ["c"], to=I64),        # after a Cast to int64: no-op
        helper.make_node("Cast", ["w"], ["d"], to=I64),        # initializer is int64: no-op
        helper.make_node("Add", ["c", "d"], ["y"]),
    ], [vi("x", F, [3])], [vi("y", I64, [3])], [const("w", np.array([1, 2, 3], np.int64))])
    out = run_pass(m, tmp_path, "fold_constants=false")
    assert op_counts(out.graph) == {"Cast": 1, "Add": 1}
    check_equivalent(m, out)


def test_cast_of_unknown_type_stays(tmp_path):
    # The type of `a` is recorded nowhere (no value_info) and the pass does not infer Where's:
    # the Cast must stay.
    m = make_model([
        helper.make_node("Where", ["c", "x", "x"], ["a"]),
        helper.make_node("Cast", ["a"], ["y"], to=F),
    ], [vi("c", TensorProto.BOOL, [3]), vi("x", F, [3])], [vi("y", F, [3])])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Where": 1, "Cast": 1}


def test_cast_known_from_value_info(tmp_path):
    m = make_model([
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Cast", ["a"], ["b"], to=F),
        helper.make_node("Neg", ["b"], ["y"]),
    ], [vi("x", F, [3])], [vi("y", F, [3])], value_info=[vi("a", F, [3])])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Relu": 1, "Neg": 1}
    check_equivalent(m, out)


# ---- shape chains ----

@pytest.mark.parametrize("opset", [11, 13])
def test_unsqueeze_squeeze_cancel(tmp_path, opset):
    if opset < 13:
        nodes = [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0, -1]),
                 helper.make_node("Squeeze", ["u"], ["s"], axes=[-1, 0])]
        inits = []
    else:
        nodes = [helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
                 helper.make_node("Squeeze", ["u", "ax2"], ["s"])]
        inits = [const("ax", np.array([0, 3], np.int64)), const("ax2", np.array([-1, 0], np.int64))]
    nodes.append(helper.make_node("Relu", ["s"], ["y"]))
    m = make_model(nodes, [vi("x", F, ["a", "b"])], [vi("y", F, ["a", "b"])], inits, opset=opset)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Relu": 1}
    check_equivalent(m, out)


def test_squeeze_unsqueeze_cancel(tmp_path):
    m = make_model([
        helper.make_node("Squeeze", ["x", "ax"], ["s"]),
        helper.make_node("Unsqueeze", ["s", "ax"], ["u"]),
        helper.make_node("Relu", ["u"], ["y"]),
    ], [vi("x", F, [1, 5, 1])], [vi("y", F, [1, 5, 1])], [const("ax", np.array([0, 2], np.int64))], opset=13)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Relu": 1}
    check_equivalent(m, out)


def test_cancelling_pair_into_graph_output_stays(tmp_path):
    # y is a graph output and x a graph input: neither name may change, so a node must stay.
    m = make_model([
        helper.make_node("Squeeze", ["x", "ax"], ["s"]),
        helper.make_node("Unsqueeze", ["s", "ax"], ["y"]),
    ], [vi("x", F, [1, 5, 1])], [vi("y", F, [1, 5, 1])], [const("ax", np.array([0, 2], np.int64))], opset=13)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Squeeze": 1, "Unsqueeze": 1}
    check_equivalent(m, out)


def test_unsqueeze_squeeze_different_axes_stay(tmp_path):
    m = make_model([
        helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0]),
        helper.make_node("Squeeze", ["u"], ["s"], axes=[1]),
        helper.make_node("Relu", ["s"], ["y"]),
    ], [vi("x", F, [1, 4])], [vi("y", F, [1, 4])], opset=11)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Unsqueeze": 1, "Squeeze": 1, "Relu": 1}
    check_equivalent(m, out)


def test_reshape_chain_collapses(tmp_path):
    m = make_model([
        helper.make_node("Reshape", ["x", "s1"], ["a"]),
        helper.make_node("Reshape", ["a", "s2"], ["b"]),
        helper.make_node("Relu", ["b"], ["y"]),
    ], [vi("x", F, ["n", 6])], [vi("y", F, [3, None])],
        [const("s1", np.array([-1, 2, 3], np.int64)), const("s2", np.array([3, -1], np.int64))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Reshape": 1, "Relu": 1}
    check_equivalent(m, out, dims={"n": 3})


def test_reshape_with_zero_keeps_chain(tmp_path):
    # s2 copies dim 0 from its input: the first Reshape decides it, so it must stay.
    m = make_model([
        helper.make_node("Reshape", ["x", "s1"], ["a"]),
        helper.make_node("Reshape", ["a", "s2"], ["b"]),
        helper.make_node("Relu", ["b"], ["y"]),
    ], [vi("x", F, ["n", 6])], [vi("y", F, [None, None])],
        [const("s1", np.array([2, -1], np.int64)), const("s2", np.array([0, -1], np.int64))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Reshape": 2, "Relu": 1}
    check_equivalent(m, out, dims={"n": 4})


def test_reshape_and_back_removed(tmp_path):
    m = make_model([
        helper.make_node("Reshape", ["x", "s1"], ["a"]),
        helper.make_node("Reshape", ["a", "s2"], ["b"]),
        helper.make_node("Relu", ["b"], ["y"]),
    ], [vi("x", F, [2, 3, 4])], [vi("y", F, [2, 3, 4])],
        [const("s1", np.array([6, 4], np.int64)), const("s2", np.array([2, 3, -1], np.int64))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Relu": 1}
    assert not out.graph.initializer
    check_equivalent(m, out)


# ---- constant folding ----

def test_constant_nodes_become_initializers(tmp_path):
    m = make_model([
        helper.make_node("Constant", [], ["c"], value=const("v", np.array([1.5, -2, 3], np.float32))),
        helper.make_node("Constant", [], ["k"], value_ints=[1, 1, 3]),
        helper.make_node("Reshape", ["c", "k"], ["c3"]),
        helper.make_node("Mul", ["x", "c3"], ["y"]),
    ], [vi("x", F, [2, 1, 3])], [vi("y", F, [2, 1, 3])])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Mul": 1}
    assert len(out.graph.initializer) == 1
    check_equivalent(m, out)


def test_shape_math_folds_exactly(tmp_path):
    # Shape(W) -> Gather -> Unsqueeze -> Concat -> Reshape on a weight of static shape.
    w = np.arange(24, dtype=np.float32).reshape(4, 6)
    m = make_model([
        helper.make_node("Shape", ["w"], ["sh"]),
        helper.make_node("Gather", ["sh", "i1"], ["d1"], axis=0),
        helper.make_node("Unsqueeze", ["d1", "ax0"], ["d1u"]),
        helper.make_node("Div", ["d1u", "two"], ["half"]),
        helper.make_node("Concat", ["minus1", "half"], ["target"], axis=0),
        helper.make_node("Reshape", ["w", "target"], ["w2"]),
        helper.make_node("Add", ["x", "w2"], ["y"]),
    ], [vi("x", F, [8, 3])], [vi("y", F, [8, 3])],
        [const("w", w), const("i1", np.int64(1)), const("ax0", np.array([0], np.int64)),
         const("two", np.array([2], np.int64)), const("minus1", np.array([-1], np.int64))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Add": 1}
    folded = {i.name: numpy_helper.to_array(i) for i in out.graph.initializer}
    assert list(folded) == ["w2"]
    np.testing.assert_array_equal(folded["w2"], w.reshape(8, 3))
    check_equivalent(m, out)


def test_shape_of_static_graph_input_folds(tmp_path):
    m = make_model([
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Cast", ["sh"], ["shf"], to=F),
        helper.make_node("Add", ["x", "shf"], ["y"]),
    ], [vi("x", F, [3, 2])], [vi("y", F, [3, 2])])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Add": 1}
    check_equivalent(m, out)


def test_shape_of_dynamic_input_stays(tmp_path):
    m = make_model([
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Cast", ["sh"], ["shf"], to=F),
        helper.make_node("Add", ["x", "shf"], ["y"]),
    ], [vi("x", F, ["n", 2])], [vi("y", F, ["n", 2])])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Shape": 1, "Cast": 1, "Add": 1}
    check_equivalent(m, out)


def fold_case(tmp_path, node, inits, out_elem, out_shape):
    """A graph where `node` (output 'f') reads only constants, and y = f + 0 * x keeps it
    live behind a graph input."""
    m = make_model([node, helper.make_node("Identity", ["f"], ["y"])], [], [vi("y", out_elem, out_shape)], inits)
    out = run_pass(m, tmp_path)
    assert node.op_type not in op_counts(out.graph)
    # The folded value reaches the output through the kept Identity: compare with onnxruntime.
    assert_same(ort_run(m, {}), ort_run(out, {}))
    return out


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_arithmetic_folds_with_broadcasting(tmp_path, op, dtype):
    rng = np.random.default_rng(3)
    if np.issubdtype(dtype, np.integer):
        a = rng.integers(-100, 100, (2, 1, 4)).astype(dtype)
        b = rng.integers(1, 9, (3, 1)).astype(dtype) * np.where(rng.random((3, 1)) < 0.5, -1, 1).astype(dtype)
    else:
        a = rng.standard_normal((2, 1, 4)).astype(dtype)
        b = rng.standard_normal((3, 1)).astype(dtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    fold_case(tmp_path, helper.make_node(op, ["a", "b"], ["f"]), [const("a", a), const("b", b)], elem, [2, 3, 4])


def test_integer_division_by_zero_not_folded(tmp_path):
    m = make_model([
        helper.make_node("Div", ["a", "b"], ["f"]),
        helper.make_node("Add", ["x", "f"], ["y"]),
    ], [vi("x", I64, [2])], [vi("y", I64, [2])],
        [const("a", np.array([4, 5], np.int64)), const("b", np.array([2, 0], np.int64))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Div": 1, "Add": 1}


@pytest.mark.parametrize("to,values", [
    (TensorProto.FLOAT16, np.array([0.1, -2.5, 65504, 1e-6, 70000, -0.0], np.float32)),
    (TensorProto.BOOL, np.array([0.0, -0.0, 2.5, np.nan], np.float32)),
    (TensorProto.INT32, np.array([1.9, -1.9, 100.5], np.float32)),
    (TensorProto.DOUBLE, np.array([0.1, 3.3], np.float32)),
    (TensorProto.FLOAT, np.array([1 << 40, -(1 << 62) - 1, 3], np.int64)),
    (TensorProto.INT32, np.array([1 << 33 | 5, -7], np.int64)),
    (TensorProto.UINT8, np.array([True, False])),
    (TensorProto.FLOAT, np.array([1e-3, 2.5, -65504, 6e-8], np.float16)),
])
def test_cast_folds(tmp_path, to, values):
    fold_case(tmp_path, helper.make_node("Cast", ["a"], ["f"], to=to), [const("a", values)], to, [len(values)])


def test_cast_nan_to_int_not_folded(tmp_path):
    m = make_model([helper.make_node("Cast", ["a"], ["f"], to=I32), helper.make_node("Add", ["f", "x"], ["y"])],
                   [vi("x", I32, [1])], [vi("y", I32, [1])], [const("a", np.array([np.nan], np.float32))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph)["Cast"] == 1


@pytest.mark.parametrize("start,limit,delta,dtype", [
    (0, 10, 3, np.int64), (10, -3, -4, np.int32), (0.5, 2.0, 0.1, np.float32), (1.0, -1.0, -0.25, np.float64),
    (5, 5, 1, np.int64), (0.1, 300.0, 0.1, np.float32),  # long enough for rounding to accumulate
])
def test_range_folds(tmp_path, start, limit, delta, dtype):
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    fold_case(tmp_path, helper.make_node("Range", ["s", "l", "d"], ["f"]),
              [const("s", dtype(start)), const("l", dtype(limit)), const("d", dtype(delta))], elem, [None])


def test_transpose_and_gather_fold(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    m = make_model([
        helper.make_node("Transpose", ["a"], ["t"], perm=[2, 0, 1]),
        helper.make_node("Gather", ["t", "idx"], ["g"], axis=2),
        helper.make_node("Squeeze", ["g", "sq"], ["f"]),
        helper.make_node("Mul", ["x", "f"], ["y"]),
    ], [vi("x", F, [4, 2, 2])], [vi("y", F, [4, 2, 2])],
        [const("a", a), const("idx", np.array([[-1], [0]], np.int64)), const("sq", np.array([3], np.int64))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Mul": 1}
    check_equivalent(m, out)


def test_max_fold_bytes_limits_folding(tmp_path):
    a = np.ones((64, 64), np.float32)
    m = make_model([helper.make_node("Transpose", ["a"], ["t"]), helper.make_node("Add", ["x", "t"], ["y"])],
                   [vi("x", F, [64, 64])], [vi("y", F, [64, 64])], [const("a", a)])
    small = run_pass(m, tmp_path, "max_fold_bytes=1000")
    assert op_counts(small.graph) == {"Transpose": 1, "Add": 1}
    big = run_pass(m, tmp_path)
    assert op_counts(big.graph) == {"Add": 1}
    check_equivalent(m, big)


def test_initializer_that_is_graph_input_is_not_folded(tmp_path):
    # `b` has a default value but callers may feed another one.
    m = make_model([
        helper.make_node("Add", ["a", "b"], ["s"]),
        helper.make_node("Mul", ["x", "s"], ["y"]),
    ], [vi("x", F, [3]), vi("b", F, [3])], [vi("y", F, [3])],
        [const("a", np.array([1, 2, 3], np.float32)), const("b", np.array([4, 5, 6], np.float32))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Add": 1, "Mul": 1}
    assert [i.name for i in out.graph.input] == ["x", "b"]
    feeds = {"x": np.ones(3, np.float32), "b": np.array([10, 20, 30], np.float32)}
    assert_same(ort_run(m, feeds), ort_run(out, feeds))
    check_equivalent(m, out)


# ---- dead code and initializers ----

def test_dead_nodes_and_unused_initializers_removed(tmp_path):
    m = make_model([
        helper.make_node("Add", ["x", "w"], ["y"]),
        helper.make_node("Mul", ["x", "unused_w"], ["dead1"]),
        helper.make_node("Relu", ["dead1"], ["dead2"]),
    ], [vi("x", F, [2])], [vi("y", F, [2])],
        [const("w", np.array([1, 2], np.float32)), const("unused_w", np.array([3, 4], np.float32)),
         const("never_read", np.array([5], np.float32))])
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Add": 1}
    assert [i.name for i in out.graph.initializer] == ["w"]
    check_equivalent(m, out)


def test_duplicate_initializers_merged(tmp_path):
    m = make_model([
        helper.make_node("Add", ["x", "w1"], ["a"]),
        helper.make_node("Mul", ["a", "w2"], ["b"]),
        helper.make_node("Sub", ["b", "w3"], ["c"]),
        helper.make_node("Cast", ["i3"], ["i3f"], to=F),
        helper.make_node("Add", ["c", "i3f"], ["y"]),
    ], [vi("x", F, [2])], [vi("y", F, [1, 2])],
        [const("w1", np.array([1, 2], np.float32)), const("w2", np.array([1, 2], np.float32)),
         const("w3", np.array([[1, 2]], np.float32)),  # same bytes, other shape: kept
         const("i3", np.array([1, 2], np.float32).view(np.int32))])  # same bytes, other type: kept
    out = run_pass(m, tmp_path, "fold_constants=false")
    assert [i.name for i in out.graph.initializer] == ["w1", "w3", "i3"]
    assert list(out.graph.node[1].input) == ["a", "w1"]
    check_equivalent(m, out)


def if_model(branch_reads_outer=True):
    """An If whose then-branch reads `w_outer` (used nowhere else) and has an Identity and a
    constant computation of its own."""
    then_nodes = [
        helper.make_node("Identity", ["w_outer"], ["t0"]),
        helper.make_node("Add", ["k1", "k2"], ["k"]),
        helper.make_node("Mul", ["t0", "k"], ["t_out"]),
    ]
    then_g = helper.make_graph(then_nodes, "then", [], [vi("t_out", F, [2])],
                               initializer=[const("k1", np.array([1, 2], np.float32)),
                                            const("k2", np.array([3, 4], np.float32))])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e_out"])], "else", [], [vi("e_out", F, [2])])
    return make_model([
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["cond"]),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g),
    ], [vi("x", F, [2])], [vi("y", F, [2])],
        [const("w_outer", np.array([7, 8], np.float32)), const("zero", np.float32(0))], opset=13)


def test_value_used_only_inside_if_is_kept(tmp_path):
    m = if_model()
    out = run_pass(m, tmp_path)
    assert {i.name for i in out.graph.initializer} == {"w_outer", "zero"}
    then_g = next(a.g for a in out.graph.node[-1].attribute if a.name == "then_branch")
    # Inside the branch: the Identity is gone and k1 + k2 is folded.
    assert op_counts(then_g) == {"Mul": 1}
    assert output_names(out) == ["y"]
    for seed in range(4):
        feeds = random_feeds(m, seed=seed)
        assert_same(ort_run(m, feeds), ort_run(out, feeds))
    for x in (np.array([1, 1], np.float32), np.array([-1, -1], np.float32)):
        assert_same(ort_run(m, {"x": x}), ort_run(out, {"x": x}))


# ---- realistic mixes ----

def mlp_model(static_batch):
    rng = np.random.default_rng(5)
    w1 = rng.standard_normal((8, 16)).astype(np.float32)
    b1 = rng.standard_normal(16).astype(np.float32)
    w2 = rng.standard_normal((16, 4)).astype(np.float32)
    batch = 3 if static_batch else "batch"
    nodes = [
        helper.make_node("Identity", ["x"], ["x_id"]),
        helper.make_node("MatMul", ["x_id", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("Dropout", ["h2", "ratio"], ["h3"]),
        helper.make_node("MatMul", ["h3", "w2"], ["logits"]),
        # Flatten the logits to [batch, 2, 2] through shape arithmetic on x.
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Gather", ["xs", "zero_i"], ["bsz"], axis=0),
        helper.make_node("Unsqueeze", ["bsz", "axis0"], ["bsz1"]),
        helper.make_node("Constant", [], ["two_two"], value=const("tt", np.array([2, 2], np.int64))),
        helper.make_node("Concat", ["bsz1", "two_two"], ["target"], axis=0),
        helper.make_node("Cast", ["target"], ["target64"], to=I64),
        helper.make_node("Reshape", ["logits", "target64"], ["r"]),
        helper.make_node("Identity", ["r"], ["y"]),
    ]
    inits = [const("w1", w1), const("b1", b1), const("w2", w2), const("ratio", np.float32(0.1)),
             const("zero_i", np.int64(0)), const("axis0", np.array([0], np.int64)),
             const("w1_copy", w1)]  # unused duplicate
    return make_model(nodes, [vi("x", F, [batch, 8])], [vi("y", F, [batch, 2, 2])], inits, opset=13)


def test_mlp_with_static_batch(tmp_path):
    m = mlp_model(static_batch=True)
    out = run_pass(m, tmp_path)
    # All shape arithmetic folds into one constant shape; no-ops and dead weights go.
    assert op_counts(out.graph) == {"MatMul": 2, "Add": 1, "Relu": 1, "Reshape": 1}
    assert sorted(i.name for i in out.graph.initializer) == ["b1", "target64", "w1", "w2"]
    check_equivalent(m, out, seeds=(0, 1, 2))


def test_mlp_with_dynamic_batch(tmp_path):
    m = mlp_model(static_batch=False)
    out = run_pass(m, tmp_path)
    counts = op_counts(out.graph)
    # The batch size is only known at run time: the shape path stays, but not the Cast to
    # int64 of what is int64 already (Shape's type, carried through Gather, Unsqueeze, Concat).
    assert counts == {"MatMul": 2, "Add": 1, "Relu": 1, "Reshape": 1, "Shape": 1, "Gather": 1,
                      "Unsqueeze": 1, "Concat": 1}
    check_equivalent(m, out, dims={"batch": 5})
    check_equivalent(m, out, dims={"batch": 1})


def test_ir3_model_keeps_initializers_as_inputs(tmp_path):
    # Before IR version 4 every initializer must be listed as a graph input.
    m = make_model([
        helper.make_node("Constant", [], ["c"], value=const("v", np.array([2.0], np.float32))),
        helper.make_node("Add", ["c", "c"], ["c2"]),
        helper.make_node("Mul", ["x", "c2"], ["y"]),
    ], [vi("x", F, [2])], [vi("y", F, [2])], opset=7, ir_version=3)
    out = run_pass(m, tmp_path)
    assert op_counts(out.graph) == {"Mul": 1}
    inits = {i.name for i in out.graph.initializer}
    assert inits == {"c2"} and inits <= {i.name for i in out.graph.input}
    check_equivalent(m, out)


def test_idempotent(tmp_path):
    m = mlp_model(static_batch=False)
    once = run_pass(m, tmp_path)
    (tmp_path / "2").mkdir()
    twice = run_pass(once, tmp_path / "2")
    assert once.graph == twice.graph


# ---- parameters and errors ----

def test_everything_off_changes_nothing(tmp_path):
    m = mlp_model(static_batch=True)
    out = run_pass(m, tmp_path, "fold_constants=false", "remove_noops=false", "simplify_reshapes=false",
                   "remove_unused=false", "deduplicate_initializers=false")
    assert op_counts(out.graph) == op_counts(m.graph)
    assert len(out.graph.initializer) == len(m.graph.initializer)


def test_bad_parameter_is_one_error_line(tmp_path):
    m = mlp_model(static_batch=True)
    proc = run_pass(m, tmp_path, "max_fold_bytes=-5", expect_ok=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "max_fold_bytes" in lines[0]
    assert not (tmp_path / "out.onnx").exists()


def test_olive_alias(tmp_path):
    m = mlp_model(static_batch=True)
    src, dst = tmp_path / "in.onnx", tmp_path / "out.onnx"
    onnx.save(m, str(src))
    proc = subprocess.run([TOOL, "OnnxPeepholeOptimizer", str(src), str(dst)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert op_counts(onnx.load(str(dst)).graph)["Identity"] == 0


# ---- ONNX test data ----

TESTDATA_MODELS = sorted(
    os.path.relpath(os.path.dirname(p), TESTDATA)
    for suite in ("simple", "pytorch-converted", "pytorch-operator", "node")
    for p in glob.glob(os.path.join(TESTDATA, suite, "*", "model.onnx"))
)


def load_data_sets(model, folder):
    """[(feeds, bundled outputs)] per test_data_set folder; None unless every input and output
    is a plain tensor."""
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if any(v.type.WhichOneof("value") != "tensor_type" for v in list(inputs) + list(model.graph.output)):
        return None
    sets = []
    for ds in sorted(glob.glob(os.path.join(folder, "test_data_set_*"))):
        def read(kind):
            files = sorted(glob.glob(os.path.join(ds, f"{kind}_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
            arrays = []
            for path in files:
                t = TensorProto()
                with open(path, "rb") as f:
                    t.ParseFromString(f.read())
                arrays.append(numpy_helper.to_array(t))
            return arrays
        ins, outs = read("input"), read("output")
        if len(ins) != len(inputs):
            return None  # not plain tensors
        sets.append(({vi.name: a for vi, a in zip(inputs, ins)}, outs))
    return sets


@pytest.mark.skipif(not TESTDATA_MODELS, reason="libonnx-testdata is not installed")
@pytest.mark.parametrize("name", TESTDATA_MODELS)
def test_testdata_model(tmp_path, name):
    folder = os.path.join(TESTDATA, name)
    orig = onnx.load(os.path.join(folder, "model.onnx"))
    sets = load_data_sets(orig, folder)
    if not sets:
        pytest.skip("no tensor test data")
    try:
        expected = [list(ort_run(orig, feeds).values()) for feeds, _ in sets]
    except Exception as e:  # noqa: BLE001 - any failure means ORT cannot run the original
        pytest.skip(f"onnxruntime cannot run the original: {str(e).splitlines()[0][:200]}")
    out = run_pass(orig, tmp_path, check=False)
    # The checker accepts the result at least as far as it accepts the original.
    assert checker_level(out) >= checker_level(orig)
    assert output_names(out) == output_names(orig)
    for (feeds, bundled), exp in zip(sets, expected):
        got = list(ort_run(out, feeds).values())
        assert len(got) == len(exp) == len(bundled)
        for b, g, e in zip(bundled, got, exp):
            assert g.dtype == e.dtype and g.shape == e.shape
            # Unchanged against the original's run...
            if np.issubdtype(g.dtype, np.floating):
                np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
            else:
                np.testing.assert_array_equal(g, e)
            # ...and as close to the bundled reference as the original is.
            if not np.issubdtype(g.dtype, np.floating):
                if np.array_equal(e, b):
                    np.testing.assert_array_equal(g, b)
            elif e.shape == b.shape and np.allclose(e, b, rtol=1e-3, atol=1e-4):
                np.testing.assert_allclose(g, b, rtol=1e-3, atol=1e-4)
